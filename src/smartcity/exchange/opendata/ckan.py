"""The open-data portal as a CKAN Action API (/api/3/action/<name> and /api/action/<name>), so CKAN clients such
as `ckanapi.RemoteCKAN` work against it unchanged.

Mapping: a department with open entries is an organization (name: its code in lower case); an open catalogue
entry is a dataset (name: its code in lower case, id: a UUID derived from the code) with one resource, its public
fields in the DataStore. Actions read GET query parameters or a JSON body (clients POST every call), answer CKAN's
envelope `{"help", "success", "result"}`, and fail the way CKAN does: `{"__type": "Not Found Error" | "Validation
Error" | "Authorization Error" | "Search Query Error", ...}` with 404, 409, 403 or 400, and a bare JSON string with
400 for an unknown action or a body that is not a JSON object. Silent caps follow CKAN: 1000 rows a search, 32000
records a DataStore query, 1000 organizations (25 with all_fields).
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from smartcity import __version__
from smartcity.catalog.schemas import EntryRead, FieldSpec
from smartcity.catalog.vocab import FieldType, OpenType
from smartcity.config import get_settings
from smartcity.exchange.models import PortalAccount
from smartcity.exchange.opendata import accounts, portal
from smartcity.ingest import service as hub
from smartcity.platform.deps import DbSession
from smartcity.platform.errors import DomainError, InvalidInput, NotFound
from smartcity.platform.i18n import gettext
from smartcity.platform.permissions import PUBLIC

NAMESPACE = uuid.UUID("6f1c1d0e-5a4b-4f61-9b1e-330281000000")
ROWS_MAX, ROWS_DEFAULT = 1000, 10
RECORDS_MAX, RECORDS_DEFAULT = 32000, 100
ORGS_MAX, ORGS_ALL_FIELDS_MAX = 1000, 25
DEFAULT_SORT = "score desc, metadata_modified desc"
LICENSES = {
    "cc-by-4.0": ("Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "cc-by": ("Creative Commons Attribution", "http://www.opendefinition.org/licenses/cc-by"),
    "cc-zero": ("Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero"),
    "odc-by": ("Open Data Commons Attribution License", "http://www.opendefinition.org/licenses/odc-by"),
}
DATASTORE_TYPES = {
    FieldType.STRING: "text",
    FieldType.INTEGER: "int8",
    FieldType.DECIMAL: "numeric",
    FieldType.BOOLEAN: "bool",
    FieldType.DATE: "date",
    FieldType.DATETIME: "timestamp",
}
SEARCH_PARAMETERS = {
    "q", "fq", "fq_list", "sort", "rows", "start", "facet", "facet.field", "facet.limit", "facet.mincount", "fl",
    "include_private", "include_drafts", "include_deleted", "use_default_schema", "qf", "wt", "bf", "boost", "tie",
    "defType", "mm", "df", "extras",
}  # fmt: skip
DATASTORE_PARAMETERS = {
    "resource_id", "id", "q", "filters", "fields", "sort", "limit", "offset", "include_total", "records_format",
    "distinct", "plain", "language", "full_text", "total_estimation_threshold", "include_next_page",
}  # fmt: skip
FACETS = ("organization", "tags", "res_format", "license_id", "groups")

router = APIRouter(include_in_schema=False, dependencies=[Depends(PUBLIC)])


class CkanError(Exception):
    """An error as CKAN reports it: its `__type`, HTTP status and error body."""

    def __init__(self, kind: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(kind)
        self.kind, self.status, self.body = kind, status, body


def not_found(message: str = "") -> CkanError:
    return CkanError("Not Found Error", 404, {"message": f"Not found: {message}" if message else "Not found"})


def invalid(field: str, message: str) -> CkanError:
    return CkanError("Validation Error", 409, {field: [message]})


def search_query_error(message: str) -> CkanError:
    return CkanError("Search Query Error", 400, {"message": f"Search Query is invalid: {message!r}"})


def denied(message: str) -> CkanError:
    return CkanError("Authorization Error", 403, {"message": f"Access denied: {message}"})


# --- reading the request ------------------------------------------------------------------------------------------


def _int(data: dict[str, Any], name: str, default: int, *, low: int = 0) -> int:
    value = data.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(name, "Invalid integer") from None
    if number < low:
        raise invalid(name, "Must be a natural number")
    return number


def _bool(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "on", "y", "t", "1"}:
        return True
    if text in {"false", "no", "off", "n", "f", "0"}:
        return False
    raise invalid(name, "Not a boolean value")


def _json_value(data: dict[str, Any], name: str) -> Any:
    value = data.get(name)
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise invalid(name, "Could not parse as valid JSON") from None
    return value


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


async def request_data(request: Request) -> dict[str, Any]:
    """The action's arguments: GET query parameters (a repeated key is a list) or the JSON object POSTed."""
    if request.method == "GET":
        data: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in data:
                data[key] = [*(data[key] if isinstance(data[key], list) else [data[key]]), value]
            else:
                data[key] = value
        data.pop("callback", None)
        return data
    body = await request.body()
    if not body.strip():
        return {}
    content_type = request.headers.get("content-type", "")
    if "form" in content_type:
        return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"JSON Error: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError("JSON Error: Request data JSON decoded to non-dictionary")
    return parsed


@dataclass
class Context:
    session: Session
    account: PortalAccount | None
    request: Request

    @property
    def base(self) -> str:
        return get_settings().public_url.rstrip("/")


# --- dictionaries -------------------------------------------------------------------------------------------------


def ckan_id(kind: str, code: str) -> str:
    """The UUID a CKAN client sees for a dataset, resource, organization or tag (derived, so it never changes)."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{code}"))


def _time(value: Any) -> str | None:
    return portal.plain(value) if value is not None else None


def _org_dict(code: str, name: str, created: Any, count: int | None = None) -> dict[str, Any]:
    org: dict[str, Any] = {
        "id": ckan_id("organization", code),
        "name": code.lower(),
        "title": name,
        "display_name": name,
        "type": "organization",
        "description": "",
        "image_url": "",
        "image_display_url": "",
        "created": _time(created),
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    }
    if count is not None:
        org["package_count"] = count
    return org


def _resource(ctx: Context, entry: EntryRead, loaded: Any) -> dict[str, Any]:
    stored = portal.stored(ctx.session, entry) is not None
    public = [f.title for f in portal.public_fields(entry)]
    return {
        "id": ckan_id("resource", entry.code),
        "package_id": ckan_id("dataset", entry.code),
        "name": f"{entry.name}.csv",
        "description": "公开数据项：" + "、".join(public),
        "format": "CSV",
        "url": f"{ctx.base}/open/dataset/{entry.code.lower()}/download.csv",
        "url_type": "datastore" if stored else None,
        "mimetype": "text/csv",
        "mimetype_inner": None,
        "size": None,
        "hash": "",
        "created": _time(entry.created_at),
        "last_modified": _time(loaded),
        "metadata_modified": _time(loaded or entry.updated_at),
        "cache_url": None,
        "cache_last_updated": None,
        "resource_type": None,
        "position": 0,
        "state": "active",
        "datastore_active": stored,
    }


def package_dict(ctx: Context, entry: EntryRead, loaded: Any = None) -> dict[str, Any]:
    """An open entry as a CKAN dataset."""
    license_id = get_settings().open_data_license
    title, url = LICENSES.get(license_id, (license_id, None))
    modified = max(v for v in (entry.updated_at, loaded) if v is not None)
    extras = [
        {"key": "access", "value": "conditional" if entry.open_type is OpenType.CONDITIONAL else "open"},
        {"key": "catalogue_code", "value": entry.code},
        {"key": "update_cycle", "value": str(entry.update_cycle)},
    ]
    if entry.open_condition:
        extras.append({"key": "open_condition", "value": entry.open_condition})
    package: dict[str, Any] = {
        "id": ckan_id("dataset", entry.code),
        "name": entry.code.lower(),
        "title": entry.name,
        "notes": entry.description,
        "author": None,
        "author_email": None,
        "maintainer": entry.department.name,
        "maintainer_email": None,
        "creator_user_id": None,
        "license_id": license_id,
        "license_title": title,
        "isopen": entry.open_type is OpenType.UNCONDITIONAL,
        "metadata_created": _time(entry.created_at),
        "metadata_modified": _time(modified),
        "num_resources": 1,
        "num_tags": len(entry.tags),
        "organization": _org_dict(entry.department.code, entry.department.name, entry.created_at),
        "owner_org": ckan_id("organization", entry.department.code),
        "private": False,
        "state": "active",
        "type": "dataset",
        "url": f"{ctx.base}/open/dataset/{entry.code.lower()}",
        "version": str(entry.version),
        "extras": sorted(extras, key=lambda e: e["key"]),
        "groups": [],
        "resources": [_resource(ctx, entry, loaded)],
        "tags": [
            {"id": ckan_id("tag", tag), "name": tag, "display_name": tag, "state": "active", "vocabulary_id": None}
            for tag in entry.tags
        ],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }
    if url:
        package["license_url"] = url
    return package


def _loads(ctx: Context, entries: list[EntryRead]) -> dict[str, Any]:
    return hub.last_loads(ctx.session, [e.code for e in entries])


def _dataset(ctx: Context, data: dict[str, Any]) -> EntryRead:
    name = data.get("id") or data.get("name_or_id")
    if not name:
        raise invalid("name_or_id", "Missing value")
    for entry in portal.datasets(ctx.session):
        if str(name) in (entry.code.lower(), entry.code, ckan_id("dataset", entry.code)):
            return entry
    raise not_found()


def _by_resource(ctx: Context, resource_id: str) -> EntryRead:
    for entry in portal.datasets(ctx.session):
        if resource_id in (ckan_id("resource", entry.code), entry.code.lower()):
            return entry
    raise CkanError("Not Found Error", 404, {"message": f'Not found: Resource "{resource_id}" was not found.'})


# --- actions ------------------------------------------------------------------------------------------------------


def package_list(ctx: Context, data: dict[str, Any]) -> list[str]:
    """The names of the open datasets, in name order (`limit`, `offset`)."""
    names = sorted(e.code.lower() for e in portal.datasets(ctx.session))
    offset = _int(data, "offset", 0)
    limit = _int(data, "limit", len(names)) if "limit" in data else len(names)
    return names[offset : offset + limit]


_FQ = re.compile(r'^\+?([a-z_]+):(?:"([^"]*)"|(\S+))$')


def _filter_terms(text: str, where: str) -> tuple[list[tuple[str, str]], list[str]]:
    """`field:value` terms and plain words of a q or fq string."""
    terms, words = [], []
    for token in re.findall(r'\+?[a-z_]+:"[^"]*"|\S+', text):
        if token.upper() in ("AND", "OR"):
            continue
        m = _FQ.match(token)
        if m:
            terms.append((m[1], m[2] if m[2] is not None else m[3]))
        elif ":" in token and where == "fq":
            raise search_query_error(f"Invalid fq term {token!r}")
        else:
            words.append(token)
    return terms, words


def _facet_values(ctx: Context, entry: EntryRead, field: str) -> list[tuple[str, str]]:
    if field == "organization":
        return [(entry.department.code.lower(), entry.department.name)]
    if field == "tags":
        return [(t, t) for t in entry.tags]
    if field == "res_format":
        return [("CSV", "CSV")]
    if field == "license_id":
        lic = get_settings().open_data_license
        return [(lic, LICENSES.get(lic, (lic, None))[0])]
    return []


def _term_matches(ctx: Context, entry: EntryRead, field: str, value: str) -> bool:
    if field == "capacity":
        return value == "public"
    if field in ("organization", "tags", "res_format", "license_id"):
        return value in {v for v, _ in _facet_values(ctx, entry, field)}
    if field == "owner_org":
        return value == ckan_id("organization", entry.department.code)
    if field == "name":
        return value == entry.code.lower()
    if field == "id":
        return value == ckan_id("dataset", entry.code)
    if field in ("title", "notes", "text"):
        source = entry.name if field == "title" else entry.description if field == "notes" else entry.name
        return value.lower() in source.lower()
    raise search_query_error(f"Invalid search field {field!r}")


def _sort_key(sort: str) -> list[tuple[str, bool]]:
    order = []
    for part in sort.split(","):
        bits = part.split()
        if not bits:
            continue
        field, direction = bits[0], (bits[1].lower() if len(bits) > 1 else "asc")
        if field not in ("score", "metadata_modified", "metadata_created", "name", "title_string", "title") or (
            direction not in ("asc", "desc")
        ):
            raise search_query_error('Invalid "sort" parameter')
        order.append((field, direction == "desc"))
    return order


def package_search(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Datasets matching `q` (words, or field:value) and `fq`, sorted, paged with `rows`/`start`, with facets."""
    unknown = sorted(k for k in data if k not in SEARCH_PARAMETERS and not k.startswith("ext_"))
    if unknown:
        raise search_query_error(f"Invalid search parameters: {unknown}")
    rows = min(_int(data, "rows", ROWS_DEFAULT), ROWS_MAX)
    start = _int(data, "start", 0)
    q = str(data.get("q") or "").strip()
    terms, words = ([], []) if q in ("", "*:*", '""', "''") else _filter_terms(q, "q")
    for fq in [
        str(data.get("fq") or ""),
        *(_list(data.get("fq_list")) if isinstance(data.get("fq_list"), list) else []),
    ]:
        more, plain = _filter_terms(fq, "fq")
        terms += more
        words += plain
    entries = portal.datasets(ctx.session)
    loads = _loads(ctx, entries)
    found = [
        e
        for e in entries
        if portal.matches(e, portal.Search(q=" ".join(words))) and all(_term_matches(ctx, e, f, v) for f, v in terms)
    ]
    sort = str(data.get("sort") or DEFAULT_SORT)
    for field, desc in reversed(_sort_key(sort)):
        key: Callable[[EntryRead], Any] = {
            "score": lambda e: 0,
            "metadata_modified": lambda e: max(x for x in (e.updated_at, loads.get(e.code)) if x is not None),
            "metadata_created": lambda e: e.created_at,
            "name": lambda e: e.code.lower(),
            "title_string": lambda e: e.name,
            "title": lambda e: e.name,
        }[field]
        found.sort(key=key, reverse=desc)
    facet_fields = _json_value(data, "facet.field") or []
    if isinstance(facet_fields, str):
        facet_fields = [facet_fields]
    facet_limit = _int(data, "facet.limit", 50, low=-1)
    mincount = _int(data, "facet.mincount", 1)
    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, Any] = {}
    for name in facet_fields:
        counts: Counter[tuple[str, str]] = Counter(v for e in found for v in _facet_values(ctx, e, name))
        items = [(v, label, n) for (v, label), n in counts.most_common() if n >= mincount]
        if facet_limit >= 0:
            items = items[:facet_limit]
        facets[name] = {v: n for v, _, n in items}
        search_facets[name] = {
            "title": name,
            "items": sorted(
                ({"name": v, "display_name": label, "count": n} for v, label, n in items),
                key=lambda i: i["display_name"],
                reverse=True,
            ),
        }
    return {
        "count": len(found),
        "results": [package_dict(ctx, e, loads.get(e.code)) for e in found[start : start + rows]],
        "facets": facets,
        "search_facets": search_facets,
        "sort": sort,
    }


def package_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """One dataset by `id` (its UUID or name)."""
    entry = _dataset(ctx, data)
    return package_dict(ctx, entry, _loads(ctx, [entry]).get(entry.code))


def _organizations(ctx: Context) -> list[tuple[str, str, Any, int]]:
    by_code: dict[str, list[EntryRead]] = {}
    for entry in portal.datasets(ctx.session):
        by_code.setdefault(entry.department.code, []).append(entry)
    return [
        (code, entries[0].department.name, min(e.created_at for e in entries), len(entries))
        for code, entries in by_code.items()
    ]


def organization_list(ctx: Context, data: dict[str, Any]) -> list[Any]:
    """Departments that publish open data: names, or dictionaries with `all_fields`."""
    all_fields = _bool(data, "all_fields", False)
    cap = ORGS_ALL_FIELDS_MAX if all_fields else ORGS_MAX
    limit = min(_int(data, "limit", cap), cap)
    offset = _int(data, "offset", 0)
    orgs = _organizations(ctx)
    q = str(data.get("q") or "").lower()
    if q:
        orgs = [o for o in orgs if q in o[0].lower() or q in o[1].lower()]
    wanted = set(_list(data.get("organizations")))
    if wanted:
        orgs = [o for o in orgs if o[0].lower() in wanted]
    sort = str(data.get("sort") or data.get("order_by") or "title asc").split()
    field, desc = sort[0], len(sort) > 1 and sort[1].lower() == "desc"
    if field in ("package_count", "packages"):
        orgs.sort(key=lambda o: o[3], reverse=len(sort) == 1 or desc)
    elif field in ("name", "title"):
        orgs.sort(key=lambda o: o[0].lower() if field == "name" else o[1], reverse=desc)
    else:
        raise invalid("sort", f"Cannot sort by field `{field}`")
    page = orgs[offset : offset + limit]
    if not all_fields:
        return [o[0].lower() for o in page]
    return [{**_org_dict(code, name, created, count), "num_followers": 0} for code, name, created, count in page]


def organization_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """One department that publishes open data (`include_datasets`: its datasets under `packages`)."""
    name = data.get("id")
    if not name:
        raise invalid("id", "Missing value")
    for code, title, created, count in _organizations(ctx):
        if str(name) in (code.lower(), code, ckan_id("organization", code)):
            org = {
                **_org_dict(code, title, created, count),
                "extras": [],
                "groups": [],
                "users": [],
                "num_followers": 0,
            }
            if _bool(data, "include_datasets", False):
                entries = [e for e in portal.datasets(ctx.session) if e.department.code == code]
                loads = _loads(ctx, entries)
                org["packages"] = [package_dict(ctx, e, loads.get(e.code)) for e in entries[:ROWS_DEFAULT]]
            return org
    raise not_found()


def resource_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """One resource by `id`."""
    resource_id = data.get("id")
    if not resource_id:
        raise invalid("id", "Missing value")
    entry = _by_resource(ctx, str(resource_id))
    return _resource(ctx, entry, _loads(ctx, [entry]).get(entry.code))


def _datastore_fields(entry: EntryRead, names: list[str]) -> list[dict[str, Any]]:
    specs: dict[str, FieldSpec] = {f.name: f for f in portal.public_fields(entry)}
    out: list[dict[str, Any]] = []
    for name in names:
        if name == portal.ID:
            out.append({"id": portal.ID, "type": "int"})
        else:
            spec = specs[name]
            out.append(
                {
                    "id": name,
                    "type": DATASTORE_TYPES[spec.type],
                    "info": {"label": spec.title, "notes": spec.description},
                }
            )
    return out


def _sort_fields(text: Any) -> list[tuple[str, bool]]:
    parts = text if isinstance(text, list) else str(text or "").split(",")
    order = []
    for part in parts:
        bits = str(part).replace('"', "").split()
        if not bits:
            continue
        if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise invalid("sort", f'invalid value "{part}"')
        order.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
    return order


def datastore_search(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Records of a resource: `filters`, `q`, `fields`, `sort`, `limit` (≤ 32000), `offset`, `include_total`,
    `records_format` (objects, lists, csv, tsv)."""
    unknown = sorted(k for k in data if k not in DATASTORE_PARAMETERS)
    if unknown:
        raise invalid(unknown[0], f"The input field {unknown[0]} was not expected.")
    resource_id = data.get("resource_id") or data.get("id")
    if not resource_id:
        raise invalid("resource_id", "Missing value")
    entry = _by_resource(ctx, str(resource_id))
    filters = _json_value(data, "filters") or {}
    if not isinstance(filters, dict):
        raise invalid("filters", "Not a JSON object")
    q = _json_value(data, "q")
    fields = _list(_json_value(data, "fields")) or None
    records_format = str(data.get("records_format") or "objects")
    if records_format not in ("objects", "lists", "csv", "tsv"):
        raise invalid("records_format", f'invalid value "{records_format}"')
    limit = min(_int(data, "limit", RECORDS_DEFAULT), RECORDS_MAX)
    offset = _int(data, "offset", 0)
    query = portal.RowQuery(
        filters={k: v if isinstance(v, list) else [v] for k, v in filters.items()},
        q=q if isinstance(q, dict | str) else None,
        fields=fields,
        sort=_sort_fields(data.get("sort")),
        limit=limit,
        offset=offset,
        total=_bool(data, "include_total", True),
    )
    try:
        names, records, total = portal.rows(ctx.session, entry, query, account=ctx.account)
    except portal.AgreementRequired as exc:
        raise denied(exc.localised_detail("en")) from None
    except InvalidInput as exc:
        raise invalid(exc.field or "filters", exc.localised_detail("en")) from None
    result: dict[str, Any] = {
        "include_total": query.total,
        "limit": limit,
        "records_format": records_format,
        "resource_id": str(resource_id),
        "total_estimation_threshold": None,
        "fields": _datastore_fields(entry, names),
        "records": _format(records, names, records_format),
        "_links": _links(ctx.request, data, offset, limit),
        "total_was_estimated": False,
    }
    if total is not None:
        result["total"] = total
    for echo in ("offset", "filters", "sort", "fields", "q"):
        if echo in data:
            result[echo] = data[echo]
    return result


def _format(records: list[dict[str, Any]], names: list[str], records_format: str) -> Any:
    if records_format == "objects":
        return records
    rows = [[r[n] for n in names] for r in records]
    if records_format == "lists":
        return rows
    out = io.StringIO()
    csv.writer(out, delimiter="\t" if records_format == "tsv" else ",", lineterminator="\n").writerows(rows)
    return out.getvalue()


def _links(request: Request, data: dict[str, Any], offset: int, limit: int) -> dict[str, str]:
    path = request.url.path
    args = {k: v for k, v in request.query_params.items() if k != "offset"} if request.method == "GET" else {}
    start = path + ("?" + urlencode(args) if args else "")
    links = {"start": start, "next": path + "?" + urlencode({**args, "offset": offset + limit})}
    if offset - limit > 0:
        links["prev"] = path + "?" + urlencode({**args, "offset": offset - limit})
    return links


def help_show(ctx: Context, data: dict[str, Any]) -> str | None:
    """The documentation of an action."""
    name = data.get("name")
    if not name:
        raise invalid("name", "Missing value")
    action = ACTIONS.get(str(name))
    if action is None:
        raise not_found("Action function not found")
    return action.__doc__


def status_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """The site: title, URL, default language, the extensions this API mirrors."""
    return {
        "site_title": gettext("zh_CN", "Yuyao open data"),
        "site_description": "",
        "site_url": ctx.base,
        "error_emails_to": None,
        "locale_default": "zh_Hans_CN",
        "extensions": ["datastore"],
        "ckan_version": "2.11.0",
        "smartcity_version": __version__,
    }


def site_read(ctx: Context, data: dict[str, Any]) -> bool:
    """Whether the site can be read (always)."""
    return True


ACTIONS: dict[str, Callable[[Context, dict[str, Any]], Any]] = {
    f.__name__: f
    for f in (
        package_list,
        package_search,
        package_show,
        organization_list,
        organization_show,
        resource_show,
        datastore_search,
        help_show,
        status_show,
        site_read,
    )
}


def _envelope(ctx_base: str, name: str, **body: Any) -> dict[str, Any]:
    return {"help": f"{ctx_base}/api/3/action/help_show?name={name}", **body}


async def action(request: Request, name: str, session: DbSession) -> Response:
    base = get_settings().public_url.rstrip("/")
    function = ACTIONS.get(name)
    if function is None:
        return JSONResponse(f"Bad request - Action name not known: {name}", status_code=400)
    try:
        data = await request_data(request)
    except ValueError as exc:
        return JSONResponse(f"Bad request - {exc}", status_code=400)
    key = request.headers.get("authorization") or request.headers.get("x-ckan-api-key")
    ctx = Context(session=session, account=accounts.from_api_key(session, key), request=request)
    try:
        result = function(ctx, data)
    except CkanError as exc:
        error = {"__type": exc.kind, **exc.body}
        return JSONResponse(_envelope(base, name, success=False, error=error), status_code=exc.status)
    except NotFound as exc:
        error = {"__type": "Not Found Error", "message": f"Not found: {exc.localised_detail('en')}"}
        return JSONResponse(_envelope(base, name, success=False, error=error), status_code=404)
    except DomainError as exc:
        error = {"__type": "Validation Error", exc.field or "message": [exc.localised_detail("en")]}
        return JSONResponse(_envelope(base, name, success=False, error=error), status_code=409)
    return JSONResponse(_envelope(base, name, success=True, result=result))


for prefix in ("/api/3/action", "/api/action"):
    router.add_api_route(prefix + "/{name}", action, methods=["GET", "POST"])


@router.get("/api/3")
def api_version_3() -> dict[str, int]:
    return {"version": 3}


@router.get("/api")
def api_version() -> dict[str, int]:
    return {"version": 1}
