"""The open-data portal (数据开放): public pages, portal accounts, the CKAN Action API and DCAT."""
