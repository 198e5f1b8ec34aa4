"""DCAT (W3C Data Catalog Vocabulary) in JSON-LD for one entry or the whole catalogue.

Field schemas are described with the W3C CSV on the Web vocabulary (csvw:tableSchema), access
rights and frequencies with the EU Publications Office authority tables that DCAT-AP uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from smartcity.catalog.schemas import EntryRead
from smartcity.catalog.vocab import FieldType, OpenType, SharingType, UpdateCycle

JSON_LD = "application/ld+json"
CATALOGUE_TITLE = "余姚市政务信息资源目录"
EU = "http://publications.europa.eu/resource/authority"
CONTEXT: dict[str, Any] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "csvw": "http://www.w3.org/ns/csvw#",
    "sc": "urn:smartcity:terms:",
}
FREQUENCY = {
    UpdateCycle.REALTIME: "UPDATE_CONT",
    UpdateCycle.DAILY: "DAILY",
    UpdateCycle.WEEKLY: "WEEKLY",
    UpdateCycle.MONTHLY: "MONTHLY",
    UpdateCycle.QUARTERLY: "QUARTERLY",
    UpdateCycle.SEMIANNUAL: "ANNUAL_2",
    UpdateCycle.YEARLY: "ANNUAL",
    UpdateCycle.IRREGULAR: "IRREG",
}
ACCESS_RIGHTS = {OpenType.UNCONDITIONAL: "PUBLIC", OpenType.CONDITIONAL: "RESTRICTED", OpenType.NONE: "NON_PUBLIC"}
SHARING_LABEL = {
    SharingType.UNCONDITIONAL: "无条件共享",
    SharingType.CONDITIONAL: "有条件共享",
    SharingType.NONE: "不予共享",
}
DATATYPE = {
    FieldType.STRING: "xsd:string",
    FieldType.INTEGER: "xsd:integer",
    FieldType.DECIMAL: "xsd:decimal",
    FieldType.BOOLEAN: "xsd:boolean",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
}


def _zh(text: str) -> dict[str, str]:
    return {"@value": text, "@language": "zh-CN"}


def _when(entry_time: Any) -> dict[str, str]:
    return {"@value": entry_time.isoformat(), "@type": "xsd:dateTime"}


def dataset(entry: EntryRead, base_url: str) -> dict[str, Any]:
    """One entry as a dcat:Dataset node."""
    base = base_url.rstrip("/")
    node: dict[str, Any] = {
        "@id": f"{base}/api/v1/catalog/entries/{entry.code}",
        "@type": "dcat:Dataset",
        "dct:identifier": entry.code,
        "dct:title": _zh(entry.name),
        "dct:description": _zh(entry.description),
        "dct:publisher": {
            "@id": f"{base}/api/v1/departments/{entry.department.code}",
            "@type": "foaf:Organization",
            "foaf:name": _zh(entry.department.name),
        },
        "dcat:keyword": [_zh(tag) for tag in entry.tags],
        "dct:accrualPeriodicity": {"@id": f"{EU}/frequency/{FREQUENCY[UpdateCycle(entry.update_cycle)]}"},
        "dct:accessRights": {"@id": f"{EU}/access-right/{ACCESS_RIGHTS[entry.open_type]}"},
        "dct:issued": _when(entry.created_at),
        "dct:modified": _when(entry.updated_at),
        "dcat:version": str(entry.version),
        "dcat:landingPage": {"@id": f"{base}/catalog/{entry.code}"},
        "sc:sharingType": entry.sharing_type.value,
        "sc:sharingTypeLabel": _zh(SHARING_LABEL[entry.sharing_type]),
        "sc:openType": entry.open_type.value,
        "sc:format": entry.format.value,
        "csvw:tableSchema": {
            "@type": "csvw:Schema",
            "csvw:column": [
                {
                    "@type": "csvw:Column",
                    "csvw:name": spec.name,
                    "csvw:title": _zh(spec.title),
                    "csvw:datatype": {"@id": DATATYPE[spec.type]},
                    "csvw:required": spec.required,
                    "dct:description": _zh(spec.description),
                    "sc:sensitive": spec.sensitive,
                }
                for spec in entry.fields
            ],
            "csvw:primaryKey": [spec.name for spec in entry.fields if spec.key],
        },
    }
    if entry.sharing_condition:
        node["sc:sharingCondition"] = _zh(entry.sharing_condition)
    if entry.open_condition:
        node["sc:openCondition"] = _zh(entry.open_condition)
    return node


def entry_document(entry: EntryRead, base_url: str) -> dict[str, Any]:
    """A JSON-LD document describing one entry."""
    return {"@context": CONTEXT, **dataset(entry, base_url)}


def catalogue_document(entries: Iterable[EntryRead], base_url: str, title: str) -> dict[str, Any]:
    """A JSON-LD document: the whole catalogue as a dcat:Catalog with its datasets."""
    base = base_url.rstrip("/")
    return {
        "@context": CONTEXT,
        "@id": f"{base}/api/v1/catalog/dcat",
        "@type": "dcat:Catalog",
        "dct:title": _zh(title),
        "dct:language": {"@id": f"{EU}/language/ZHO"},
        "dcat:dataset": [dataset(entry, base_url) for entry in entries],
    }
