"""The open-data portal served over HTTP and read by the unmodified `ckanapi` client (RemoteCKAN): datasets,
organizations, resources and DataStore queries, CKAN's errors as ckanapi's exceptions, conditional data behind an
account and an agreement, the DCAT catalogue in step with the API, and the public pages with their downloads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import ckanapi
import httpx
import pytest
from sqlalchemy import Engine

from smartcity import db as dbmod
from smartcity import migrate
from smartcity.app import create_app
from smartcity.catalog import service as catalog
from smartcity.catalog.schemas import EntryUpdate
from smartcity.exchange.opendata import accounts, portal
from smartcity.exchange.opendata.ckan import ckan_id
from smartcity.exchange.opendata.schemas import AccountIn, AgreementIn
from tests.factories import load_text, make_department, make_entry, root
from tests.servers import serve

ROADS = "330281-JTJ-00091"
ADDRESSES = "330281-GHJ-00091"
EMPTY = "330281-JTJ-00092"
CLOSED = "330281-JTJ-00093"
ROAD_FIELDS = [
    {"name": "road_code", "title": "道路编码", "required": True, "key": True},
    {"name": "road_name", "title": "道路名称", "required": True},
    {"name": "length_km", "title": "长度（公里）", "type": "decimal"},
    {"name": "opened", "title": "通车日期", "type": "date"},
    {"name": "inspector", "title": "养护联系人", "sensitive": True},
]
ADDRESS_FIELDS = [
    {"name": "address_code", "title": "地址编码", "required": True, "key": True},
    {"name": "full_address", "title": "标准地址", "required": True},
    {"name": "longitude", "title": "经度", "type": "decimal"},
]
ROADS_CSV = (
    "road_code,road_name,length_km,opened,inspector\n"
    "R001,新建北路,2.4,1998-05-01,王建国\nR002,阳明西路,3.1,2003-10-01,李秀英\nR003,阳明东路,1.7,2008-01-15,张伟\n"
)
ADDRESSES_CSV = "address_code,full_address,longitude\nA1,浙江省宁波市余姚市梨洲街道新建北路12号,121.154\n"
CONDITIONS = "仅用于城市规划研究，不得用于商业用途，引用须注明来源"


@pytest.fixture(scope="module")
def portal_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    previous = dbmod._engine, dbmod._factory
    app = create_app()
    engine = dbmod.build_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('portal')) / 'portal.db'}")
    migrate.upgrade(engine)
    dbmod.configure(engine)
    with dbmod.unit_of_work() as session:
        make_department(session, "JTJ", "余姚市交通运输局")
        make_department(session, "GHJ", "余姚市规划局")
        make_entry(
            session,
            code=ROADS,
            name="城市道路信息",
            department="JTJ",
            fields=ROAD_FIELDS,
            sharing_type="unconditional",
            sharing_condition="",
            open_type="unconditional",
            tags=["道路", "交通"],
        )
        make_entry(
            session,
            code=ADDRESSES,
            name="标准地址数据（开放测试）",
            department="GHJ",
            fields=ADDRESS_FIELDS,
            sharing_type="unconditional",
            sharing_condition="",
            open_type="conditional",
            open_condition=CONDITIONS,
            tags=["地址"],
        )
        make_entry(
            session,
            code=EMPTY,
            name="公交站点信息",
            department="JTJ",
            fields=ROAD_FIELDS,
            sharing_type="unconditional",
            sharing_condition="",
            open_type="unconditional",
            tags=["公交"],
        )
        make_entry(
            session,
            code=CLOSED,
            name="执法案件信息",
            department="JTJ",
            fields=ROAD_FIELDS,
            sharing_type="conditional",
            sharing_condition="依法共享",
            open_type="none",
        )
    load_text(ROADS, ROADS_CSV)
    load_text(ADDRESSES, ADDRESSES_CSV)
    try:
        with serve(app) as url:
            yield url, engine
    finally:
        engine.dispose()
        dbmod._engine, dbmod._factory = previous


@pytest.fixture(autouse=True)
def _portal_database(portal_url: tuple[str, Engine]) -> None:
    dbmod.configure(portal_url[1])


def _researcher(name: str, *, agree: bool) -> str:
    """A portal account (with the address conditions accepted or not); its API key."""
    with dbmod.unit_of_work() as session:
        account = accounts.register(
            session,
            data=AccountIn(
                username=name,
                display_name="宁大规划研究所",
                email=f"{name}@nbu.edu.cn",
                password="a-long-password-2026",
            ),
        )
        if agree:
            entry = portal.dataset(session, ADDRESSES)
            accounts.accept(
                session, account=account, entry=entry, data=AgreementIn(purpose="城市更新研究", accept=True)
            )
        return accounts.issue_api_key(session, account=account)


def test_ckanapi_reads_datasets_organizations_and_resources(portal_url: tuple[str, Engine]) -> None:
    site = ckanapi.RemoteCKAN(portal_url[0])
    names = site.action.package_list()
    assert names == sorted([ROADS.lower(), ADDRESSES.lower(), EMPTY.lower()])  # not the closed entry
    found = site.action.package_search(q="道路", rows=10)
    assert found["count"] == 1 and found["results"][0]["name"] == ROADS.lower()
    by_org = site.action.package_search(fq="organization:jtj", **{"facet.field": ["organization", "tags"]})
    assert by_org["count"] == 2 and by_org["facets"]["organization"] == {"jtj": 2}
    assert {i["name"] for i in by_org["search_facets"]["tags"]["items"]} == {"道路", "交通", "公交"}
    everything = site.action.package_search(rows=1, start=1, sort="name asc")
    assert everything["count"] == 3 and everything["results"][0]["name"] == ROADS.lower()

    package = site.action.package_show(id=ROADS.lower())
    assert package == site.action.package_show(id=ckan_id("dataset", ROADS))
    assert package["title"] == "城市道路信息" and package["organization"]["name"] == "jtj"
    assert package["num_resources"] == 1 and {t["name"] for t in package["tags"]} == {"道路", "交通"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", package["metadata_modified"])
    resource = package["resources"][0]
    assert resource["datastore_active"] and resource["format"] == "CSV"
    assert site.action.resource_show(id=resource["id"]) == resource
    assert "养护联系人" not in resource["description"]  # a sensitive field is not published

    orgs = site.action.organization_list(all_fields=True)
    assert {(o["name"], o["package_count"]) for o in orgs} == {("jtj", 2), ("ghj", 1)}
    org = site.action.organization_show(id="jtj", include_datasets=True)
    assert {p["name"] for p in org["packages"]} == {ROADS.lower(), EMPTY.lower()}


def test_ckanapi_queries_the_datastore(portal_url: tuple[str, Engine]) -> None:
    site = ckanapi.RemoteCKAN(portal_url[0])
    resource_id = ckan_id("resource", ROADS)
    everything = site.action.datastore_search(resource_id=resource_id)
    assert everything["total"] == 3
    assert [f["id"] for f in everything["fields"]] == ["_id", "road_code", "road_name", "length_km", "opened"]
    assert {f["id"]: f["type"] for f in everything["fields"]}["length_km"] == "numeric"
    assert all("inspector" not in r for r in everything["records"])  # never published
    assert everything["records"][0] == {
        "_id": 1,
        "road_code": "R001",
        "road_name": "新建北路",
        "length_km": 2.4,
        "opened": "1998-05-01",
    }
    filtered = site.action.datastore_search(resource_id=resource_id, filters={"road_name": "阳明西路"})
    assert filtered["total"] == 1 and filtered["records"][0]["road_code"] == "R002"
    text = site.action.datastore_search(resource_id=resource_id, q="阳明", sort="length_km desc", fields=["road_code"])
    assert [r["road_code"] for r in text["records"]] == ["R002", "R003"]
    paged = site.action.datastore_search(resource_id=resource_id, limit=1, offset=1, records_format="lists")
    assert paged["records"] == [[2, "R002", "阳明西路", 3.1, "2003-10-01"]] and paged["_links"]["next"].endswith(
        "offset=2"
    )


def test_ckan_errors_arrive_as_ckanapi_exceptions(portal_url: tuple[str, Engine]) -> None:
    site = ckanapi.RemoteCKAN(portal_url[0])
    with pytest.raises(ckanapi.NotFound):
        site.action.package_show(id="no-such-dataset")
    with pytest.raises(ckanapi.NotFound):
        site.action.package_show(id=CLOSED.lower())  # not open: as if it did not exist
    with pytest.raises(ckanapi.ValidationError) as missing:
        site.action.package_show()
    assert missing.value.error_dict["name_or_id"] == ["Missing value"]
    with pytest.raises(ckanapi.SearchQueryError):
        site.action.package_search(shoe_size=42)
    with pytest.raises(ckanapi.ValidationError):
        site.action.datastore_search(resource_id=ckan_id("resource", ROADS), filters={"inspector": "张伟"})
    with pytest.raises(ckanapi.errors.CKANAPIError):
        site.call_action("package_delete", {"id": ROADS.lower()})  # not an action this API has
    raw = httpx.post(f"{portal_url[0]}/api/3/action/package_show", json={"id": "nope"})
    assert raw.status_code == 404 and raw.json()["error"]["__type"] == "Not Found Error"
    assert raw.json()["help"].endswith("/api/3/action/help_show?name=package_show")


def test_conditional_data_needs_an_account_that_accepted_the_conditions(portal_url: tuple[str, Engine]) -> None:
    resource_id = ckan_id("resource", ADDRESSES)
    package = ckanapi.RemoteCKAN(portal_url[0]).action.package_show(id=ADDRESSES.lower())
    assert {"key": "open_condition", "value": CONDITIONS} in package["extras"]  # the metadata is public
    with pytest.raises(ckanapi.NotAuthorized):
        ckanapi.RemoteCKAN(portal_url[0]).action.datastore_search(resource_id=resource_id)
    with pytest.raises(ckanapi.NotAuthorized):
        ckanapi.RemoteCKAN(portal_url[0], apikey=_researcher("not-agreed", agree=False)).action.datastore_search(
            resource_id=resource_id
        )
    agreed = ckanapi.RemoteCKAN(portal_url[0], apikey=_researcher("agreed", agree=True))
    found = agreed.action.datastore_search(resource_id=resource_id)
    assert found["total"] == 1 and found["records"][0]["address_code"] == "A1"
    assert httpx.get(f"{portal_url[0]}/open/dataset/{ADDRESSES.lower()}/download.csv").status_code == 403


def test_dcat_catalogue_lists_what_the_api_lists(portal_url: tuple[str, Engine]) -> None:
    url = portal_url[0]

    def dcat_names() -> list[str]:
        document = httpx.get(f"{url}/open/catalog.jsonld").json()
        assert document["@type"] == "dcat:Catalog"
        return sorted(d["@id"].rsplit("/", 1)[1] for d in document["dcat:dataset"])

    site = ckanapi.RemoteCKAN(url)
    assert dcat_names() == site.action.package_list()
    roads = next(d for d in httpx.get(f"{url}/open/catalog.jsonld").json()["dcat:dataset"] if ROADS.lower() in d["@id"])
    assert [c["csvw:name"] for c in roads["csvw:tableSchema"]["csvw:column"]] == [
        "road_code", "road_name", "length_km", "opened",
    ]  # fmt: skip
    assert roads["dcat:distribution"][0]["dcat:downloadURL"]["@id"].endswith(
        f"/open/dataset/{ROADS.lower()}/download.csv"
    )
    with dbmod.unit_of_work() as session:  # the department closes an entry: both lists lose it at once
        catalog.update_entry(session, by=root(), code=EMPTY, data=EntryUpdate(open_type="none"))
    assert EMPTY.lower() not in site.action.package_list()
    assert dcat_names() == site.action.package_list()
    with dbmod.unit_of_work() as session:
        catalog.update_entry(session, by=root(), code=EMPTY, data=EntryUpdate(open_type="unconditional"))


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_portal_pages_search_preview_download_and_the_agreement(portal_url: tuple[str, Engine]) -> None:
    url = portal_url[0]
    with httpx.Client(base_url=url, follow_redirects=False, headers={"Accept-Language": "zh-CN"}) as browser:
        home = browser.get("/open", params={"q": "道路"})
        assert home.status_code == 200 and "城市道路信息" in home.text and "执法案件信息" not in home.text
        page = browser.get(f"/open/dataset/{ROADS.lower()}")
        assert page.status_code == 200 and "阳明西路" in page.text and "王建国" not in page.text
        csv_file = browser.get(f"/open/dataset/{ROADS.lower()}/download.csv")
        assert csv_file.status_code == 200 and csv_file.content.startswith("\ufeff".encode())
        lines = csv_file.content.decode("utf-8-sig").splitlines()
        assert (
            lines[0] == "道路编码,道路名称,长度（公里）,通车日期" and lines[1] == "road_code,road_name,length_km,opened"
        )
        assert len(lines) == 5 and "李秀英" not in csv_file.text
        assert browser.get(f"/open/dataset/{ROADS.lower()}/download.json").json()["records"][2]["road_code"] == "R003"
        assert browser.get("/open/dataset/330281-jtj-00093").status_code == 404

        conditional = browser.get(f"/open/dataset/{ADDRESSES.lower()}")
        assert CONDITIONS in conditional.text and "新建北路12号" not in conditional.text
        form = browser.get("/open/register")
        bad = browser.post(
            "/open/register",
            data={
                "csrf_token": _csrf(form.text),
                "username": "X",
                "display_name": "",
                "email": "nope",
                "password": "short",
            },
        )
        assert bad.status_code == 422 and 'data-field="username"' in bad.text and 'data-field="email"' in bad.text
        made = browser.post(
            "/open/register",
            data={
                "csrf_token": _csrf(bad.text),
                "username": "planner",
                "display_name": "规划师",
                "email": "planner@example.cn",
                "password": "a-long-password-2026",
            },
        )
        assert made.status_code == 303
        page = browser.get(f"/open/dataset/{ADDRESSES.lower()}")
        refused = browser.post(
            f"/open/dataset/{ADDRESSES.lower()}/agreement",
            data={"csrf_token": _csrf(page.text), "purpose": "城市更新研究"},
        )
        assert refused.status_code == 422 and 'data-field="accept"' in refused.text
        accepted = browser.post(
            f"/open/dataset/{ADDRESSES.lower()}/agreement",
            data={"csrf_token": _csrf(page.text), "purpose": "城市更新研究", "accept": "on"},
        )
        assert accepted.status_code == 303
        assert "新建北路12号" in browser.get(f"/open/dataset/{ADDRESSES.lower()}").text
        assert browser.get(f"/open/dataset/{ADDRESSES.lower()}/download.csv").status_code == 200
        account = browser.get("/open/account")
        assert "标准地址数据（开放测试）" in account.text
