"""The kernel every module shares: identity, permissions, audit, errors, i18n, paging."""
