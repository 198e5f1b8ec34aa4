"""The device map: located devices as GeoJSON with their health and worst open alarm, per department unless the
caller oversees the platform, with a tally per town; and the town areas every map draws, public."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from smartcity.iot import alarms, mapping, telemetry
from smartcity.iot.schemas import Condition, RuleIn
from smartcity.platform.errors import InvalidInput
from smartcity.platform.permissions import Role
from tests.factories import auth, make_token, make_user, principal
from tests.iot.world import GAUGE, LIFT, YMJD, build


def _rule(level: float, severity: str) -> RuleIn:
    conditions = [Condition(measure="currentLevel", op=">", value=level)]
    return RuleIn(name=f"水位>{level}", device_type="water_level_gauge", conditions=conditions, severity=severity)


def test_the_map_shows_the_callers_located_devices_with_health_and_worst_alarm(db: Session) -> None:
    telemetry.FLOOD.clear()
    world = build(db)
    alarms.create_rule(db, by=world.slj, data=_rule(2.0, "warning"))
    alarms.create_rule(db, by=world.slj, data=_rule(3.0, "critical"))
    telemetry.ingest(db, [telemetry.Message(GAUGE, b'{"values": {"currentLevel": 3.4}}', world.gauge_credential)])

    mine = mapping.device_map(db, by=world.slj)
    assert mine["type"] == "FeatureCollection" and [f["id"] for f in mine["features"]] == [GAUGE]
    (gauge,) = mine["features"]
    assert gauge["geometry"] == {"type": "Point", "coordinates": [121.154, 30.046]}
    assert gauge["properties"]["health"] == "online" and gauge["properties"]["alarm"] == "critical"
    assert mine["alarmed"] == 1 and mine["unlocated"] == 0
    assert mine["towns"] == {YMJD: {"devices": 1, "online": 1, "alarms": 1}}

    everyone = mapping.device_map(db, by=world.admin)  # the elevator has no location: counted, not drawn
    assert [f["id"] for f in everyone["features"]] == [GAUGE] and everyone["unlocated"] == 1
    assert everyone["health"] == {"online": 1, "late": 0, "silent": 1, "disabled": 0}
    assert everyone["towns"][YMJD]["devices"] == 2

    theirs = mapping.device_map(db, by=world.scj)
    assert theirs["features"] == [] and theirs["alarmed"] == 0  # another department's alarm stays unseen
    lifts = mapping.device_map(db, by=world.admin, type="elevator_monitor")
    assert lifts["features"] == [] and lifts["unlocated"] == 1 and LIFT not in str(lifts["features"])


def test_an_unknown_type_is_refused_by_name(db: Session) -> None:
    world = build(db)
    try:
        mapping.device_map(db, by=world.slj, type="toaster")
    except InvalidInput as bad:
        assert bad.field == "type" and "toaster" in str(bad)
    else:
        raise AssertionError("an unknown device type was accepted")


def test_the_map_api_speaks_geojson_and_the_town_areas_are_public(client: TestClient, db: Session) -> None:
    build(db)
    token = make_token(db, principal(make_user(db, "slj_reader", Role.DEPT_STAFF, "SLJ")))
    answer = client.get("/api/v1/iot/map", headers=auth(token))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/geo+json")
    assert [f["id"] for f in answer.json()["features"]] == [GAUGE]
    bad = client.get("/api/v1/iot/map", params={"type": "toaster"}, headers=auth(token))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/iot/map").status_code == 401
    towns = client.get("/geo/towns.geojson")
    assert towns.status_code == 200 and towns.headers["content-type"].startswith("application/geo+json")
    assert len(towns.json()["features"]) == 21 and towns.json()["properties"]["approximate"] is True
