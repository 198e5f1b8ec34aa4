"""The open-data portal's DCAT catalogue: the same datasets the portal pages and the CKAN API show, each with its
distributions (CSV and JSON downloads, the DataStore query), its public fields only, and its access rights."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from smartcity.catalog import dcat
from smartcity.catalog.schemas import EntryRead
from smartcity.config import get_settings
from smartcity.exchange.opendata import ckan, portal

TITLE = "余姚市公共数据开放目录"


def _dataset(entry: EntryRead, base: str, has_data: bool) -> dict[str, Any]:
    public = entry.model_copy(update={"fields": portal.public_fields(entry)})
    node = dcat.dataset(public, base)
    name = entry.code.lower()
    node["@id"] = f"{base}/open/dataset/{name}"
    node["dcat:landingPage"] = {"@id": f"{base}/open/dataset/{name}"}
    node["dct:license"] = {"@id": ckan.LICENSES.get(get_settings().open_data_license, ("", ""))[1] or ""}
    distributions = [
        {
            "@id": f"{base}/open/dataset/{name}/download.{fmt}",
            "@type": "dcat:Distribution",
            "dct:title": {"@value": f"{entry.name}（{fmt.upper()}）", "@language": "zh-CN"},
            "dcat:downloadURL": {"@id": f"{base}/open/dataset/{name}/download.{fmt}"},
            "dcat:mediaType": media,
        }
        for fmt, media in (("csv", "text/csv"), ("json", "application/json"))
    ]
    distributions.append(
        {
            "@id": f"{base}/api/3/action/datastore_search?resource_id={ckan.ckan_id('resource', entry.code)}",
            "@type": "dcat:Distribution",
            "dct:title": {"@value": "DataStore API", "@language": "en"},
            "dcat:accessURL": {"@id": f"{base}/api/3/action/datastore_search"},
            "dcat:mediaType": "application/json",
        }
    )
    if has_data:
        node["dcat:distribution"] = distributions
    return node


def catalogue(session: Session) -> dict[str, Any]:
    """The DCAT JSON-LD document of every open dataset."""
    base = get_settings().public_url.rstrip("/")
    entries = portal.datasets(session)
    return {
        "@context": dcat.CONTEXT,
        "@id": f"{base}/open/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": {"@value": TITLE, "@language": "zh-CN"},
        "dct:language": {"@id": f"{dcat.EU}/language/ZHO"},
        "dcat:dataset": [_dataset(e, base, portal.stored(session, e) is not None) for e in entries],
    }
