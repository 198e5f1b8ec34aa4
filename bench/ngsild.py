"""The NGSI-LD broker under load: entity updates, single-entity GETs and queries over 100,000 entities, on the
embedded store and on PostgreSQL, beside the same reads and writes done directly through SQLAlchemy.

For each store the script
1. builds a fresh database with the real migrations and a department user's API token;
2. serves the platform with uvicorn in a child process (`--workers`, default one per core; the background worker
   off) on a free port, and loads N entities through POST /ngsi-ld/v1/entityOperations/create, 1,000 a request
   (a quarter each WaterObserved, AirQualityObserved, TrafficFlowObserved, Streetlight, spread over Yuyao);
3. drives it from this process with `--concurrency` keep-alive HTTP/1.1 clients on asyncio (a few microseconds a
   request, so it leaves the cores to the server), each phase for `--seconds`:
   GET /entities/{id} of a random entity; PATCH /entities/{id}/attrs of a random gauge's height;
   GET /entities?type=WaterObserved&q=height>… (20 a page); GET /entities?…&georel=near;maxDistance==500;
4. does the same single-entity read, attribute update (read, change the JSON, write, commit) and type page
   directly through SQLAlchemy on one pooled connection (no HTTP, no token, no JSON-LD), and prints the ratio.

    .venv/bin/python bench/ngsild.py                          # 100,000 entities, SQLite and PostgreSQL
    .venv/bin/python bench/ngsild.py --entities 20000 --store sqlite --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.data_service import Connection, server, store  # noqa: E402

TYPES = ("WaterObserved", "AirQualityObserved", "TrafficFlowObserved", "Streetlight")
WEST, SOUTH, EAST, NORTH = 121.0, 29.9, 121.4, 30.2  # about Yuyao


def entity(n: int, rng: random.Random) -> dict[str, Any]:
    kind = TYPES[n % 4]
    value = {"type": "Property", "value": round(rng.uniform(0, 10), 2), "observedAt": "2026-12-04T08:00:00Z"}
    return {
        "id": f"urn:ngsi-ld:{kind}:YY-{n:06d}",
        "type": kind,
        "name": {"type": "Property", "value": f"余姚{kind}{n}"},
        "height" if kind == "WaterObserved" else "reading": value,
        "status": {"type": "Property", "value": "ok" if rng.random() > 0.02 else "fault"},
        "location": {
            "type": "GeoProperty",
            "value": {
                "type": "Point",
                "coordinates": [round(rng.uniform(WEST, EAST), 6), round(rng.uniform(SOUTH, NORTH), 6)],
            },
        },
    }


def prepare(url: str) -> str:
    """Migrations, a department, a staff user and their token."""
    from tests.factories import make_department, make_token, make_user, principal

    from smartcity import db as dbmod
    from smartcity import migrate
    from smartcity.app import declare_permissions
    from smartcity.platform.permissions import Role

    declare_permissions()
    engine = dbmod.build_engine(url)
    migrate.upgrade(engine)
    dbmod.configure(engine)
    with dbmod.unit_of_work() as session:
        make_department(session, "SLJ", "余姚市水利局")
        token = make_token(session, principal(make_user(session, "slj_bench", Role.DEPT_STAFF, "SLJ")))
    engine.dispose()
    return token


def load(base: str, token: str, count: int) -> float:
    rng = random.Random(2026)
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
        for first in range(0, count, 1000):
            batch = [entity(n, rng) for n in range(first, min(first + 1000, count))]
            response = client.post("/ngsi-ld/v1/entityOperations/create", json=batch)
            if response.status_code != 201:
                raise SystemExit(f"loading failed: HTTP {response.status_code} {response.text[:300]}")
    return count / (time.perf_counter() - started)


def request(host: str, token: str, method: str, target: str, body: bytes | None = None) -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


async def phase(base: str, make: Callable[[random.Random], bytes], seconds: float, concurrency: int) -> dict[str, Any]:
    """`concurrency` clients sending `make()` requests back to back for `seconds`; rate, p50/p99 ms, errors."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        connection = await Connection.open(base)
        while time.perf_counter() < stop:
            payload = make(rng)
            began = time.perf_counter()
            status = await connection.get(payload)
            latencies.append(time.perf_counter() - began)
            if status >= 300:
                errors += 1
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "p50": 1000 * latencies[len(latencies) // 2],
        "p99": 1000 * latencies[int(len(latencies) * 0.99)],
        "errors": errors,
    }


def bare(url: str, count: int, seconds: float) -> dict[str, float]:
    """The same single read, attribute update and type page straight through SQLAlchemy on one connection."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    rng = random.Random(7)
    results: dict[str, float] = {}
    read = text("SELECT entity_id, types, attrs FROM ngsild_entity WHERE tenant = '' AND entity_id = :id")
    write = text("UPDATE ngsild_entity SET attrs = :attrs WHERE pk = :pk")
    page = text(
        "SELECT entity_id, attrs FROM ngsild_entity WHERE tenant = '' AND pk IN (SELECT entity_pk FROM "
        "ngsild_entity_type WHERE tenant = '' AND type = :type) ORDER BY pk LIMIT 20 OFFSET :offset"
    )
    water = "https://uri.etsi.org/ngsi-ld/default-context/WaterObserved"
    height = "https://uri.etsi.org/ngsi-ld/default-context/height"
    with engine.connect() as connection:

        def timed(work: Callable[[], None]) -> float:
            done = 0
            stop = time.perf_counter() + seconds
            started = time.perf_counter()
            while time.perf_counter() < stop:
                work()
                done += 1
            return done / (time.perf_counter() - started)

        def get() -> None:
            row = connection.execute(
                read, {"id": f"urn:ngsi-ld:{TYPES[0]}:YY-{rng.randrange(0, count, 4):06d}"}
            ).first()
            assert row is not None
            json.loads(row.attrs) if isinstance(row.attrs, str) else row.attrs

        def update() -> None:
            row = connection.execute(
                text("SELECT pk, attrs FROM ngsild_entity WHERE tenant = '' AND entity_id = :id"),
                {"id": f"urn:ngsi-ld:{TYPES[0]}:YY-{rng.randrange(0, count, 4):06d}"},
            ).first()
            assert row is not None
            attrs = json.loads(row.attrs) if isinstance(row.attrs, str) else row.attrs
            attrs[height][0]["value"] = round(rng.uniform(0, 10), 2)
            connection.execute(write, {"attrs": json.dumps(attrs), "pk": row.pk})
            connection.commit()

        def query() -> None:
            rows = connection.execute(page, {"type": water, "offset": rng.randrange(0, 200) * 20}).all()
            for row in rows:
                json.loads(row.attrs) if isinstance(row.attrs, str) else row.attrs

        results["get"] = timed(get)
        results["update"] = timed(update)
        results["query"] = timed(query)
    engine.dispose()
    return results


def run(kind: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ngsild-") as folder, store(kind, Path(folder)) as url:
        token = prepare(url)
        with server(url, Path(folder), args.workers) as base:
            loaded = load(base, token, args.entities)
            print(f"  loaded {args.entities:,} entities by batch create at {loaded:,.0f} entities/s", flush=True)
            host = base.removeprefix("http://")
            prefix = "/ngsi-ld/v1"

            def one_id(rng: random.Random, only_water: bool = False) -> str:
                n = rng.randrange(0, args.entities, 4) if only_water else rng.randrange(args.entities)
                return f"urn:ngsi-ld:{TYPES[n % 4]}:YY-{n:06d}"

            def get(rng: random.Random) -> bytes:
                return request(host, token, "GET", f"{prefix}/entities/{one_id(rng)}")

            def patch(rng: random.Random) -> bytes:
                body = json.dumps(
                    {
                        "height": {
                            "type": "Property",
                            "value": round(rng.uniform(0, 10), 2),
                            "observedAt": "2026-12-04T09:00:00Z",
                        }
                    }
                ).encode()
                return request(host, token, "PATCH", f"{prefix}/entities/{one_id(rng, True)}/attrs", body)

            def query(rng: random.Random) -> bytes:
                params = {"type": "WaterObserved", "q": f'height>{rng.uniform(0, 9):.1f};status=="ok"', "limit": "20"}
                return request(host, token, "GET", f"{prefix}/entities?{urlencode(params)}")

            def near(rng: random.Random) -> bytes:
                point = [round(rng.uniform(WEST, EAST), 5), round(rng.uniform(SOUTH, NORTH), 5)]
                params = {
                    "type": "WaterObserved",
                    "georel": "near;maxDistance==2000",
                    "geometry": "Point",
                    "coordinates": json.dumps(point),
                    "limit": "20",
                }
                return request(host, token, "GET", f"{prefix}/entities?{urlencode(params)}")

            figures = {}
            for name, make in (("get", get), ("update", patch), ("query", query), ("geo", near)):
                figures[name] = asyncio.run(phase(base, make, args.seconds, args.concurrency))
        baseline = bare(url, args.entities, args.seconds)
    target = {"get": 3000, "update": 2000}
    print(f"\n  {kind}: {args.entities:,} entities, {args.workers} server workers, {args.concurrency} clients")
    print(
        f"  {'operation':<30}{'broker /s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'bare SQL /s':>13}{'ratio':>7}{'target':>8}"
    )
    labels = {
        "get": "GET /entities/{id}",
        "update": "PATCH /entities/{id}/attrs",
        "query": "GET /entities?type&q",
        "geo": "GET /entities?georel=near",
    }
    for name, figure in figures.items():
        base_rate = baseline.get(name)
        ratio = f"{figure['rate'] / base_rate:.2f}" if base_rate else "-"
        print(
            f"  {labels[name]:<30}{figure['rate']:>11,.0f}{figure['p50']:>9.1f}{figure['p99']:>9.1f}"
            f"{figure['errors']:>8}{(f'{base_rate:,.0f}' if base_rate else '-'):>13}{ratio:>7}"
            f"{(f'≥{target[name]:,}' if name in target else ''):>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    for kind in ("sqlite", "postgresql") if args.store == "both" else (args.store,):
        run(kind, args)


if __name__ == "__main__":
    main()
