"""The data service under load: keyed lookups and filtered pages over a 2,000,000-row entry, on the embedded store
and on PostgreSQL, through HTTP with masking and audit on, beside the same queries through bare SQLAlchemy.

For each store the script
1. builds a fresh database (an SQLite file in a temporary folder; a throw-away PostgreSQL schema) with the real
   migrations, 市公安局 and 市民政局, a population entry of 7 fields (resident ID as the key; name, phone and
   address personal) and N residents loaded through data collection, and a masked grant to 市民政局;
2. serves the platform with uvicorn in a child process (`--workers`, default one per core, as a city deploys it;
   the background worker off) on a free port;
3. drives it from this process with an open-loop load generator (keep-alive HTTP/1.1 connections on asyncio,
   a few microseconds a request, so it leaves the cores to the server): requests start on a fixed schedule at
   each of `--rates` per second (default 100 and 300) for `--seconds`, by one driver that starts each request
   when it is due, half keyed lookups of a random resident
   (`/data/{code}/records/{id}`), half filtered pages (`?f.town_code=…&f.gender_code=…&limit=50`); latency is
   measured from the moment each request was due, so a stalled server shows in p99 (no coordinated omission);
4. then a closed-loop run with `--concurrency` clients for the highest throughput;
5. and the same two queries done directly through SQLAlchemy on a pooled connection (no HTTP, no masking, no
   audit), for p50/p99 of the bare query; the ratio API/bare is printed.

    .venv/bin/python bench/data_service.py                      # 2,000,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/data_service.py --rows 200000 --store sqlite --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("SMARTCITY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CODE = "330281-GAJ-09101"
FIELDS: list[dict[str, Any]] = [
    {"name": "resident_id", "title": "公民身份号码", "required": True, "key": True, "sensitive": True},
    {"name": "full_name", "title": "姓名", "required": True, "sensitive": True},
    {"name": "gender_code", "title": "性别", "required": True},
    {"name": "birth_date", "title": "出生日期", "type": "date", "required": True},
    {"name": "phone", "title": "联系电话", "sensitive": True},
    {"name": "town_code", "title": "所属乡镇（街道）"},
    {"name": "registered_address", "title": "户籍地址", "sensitive": True},
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of the machine so far: on a shared virtual machine the host may take cores away
    during a run, which shows as latency no change of the server explains."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def store(kind: str, folder: Path) -> Iterator[str]:
    """The database URL of a fresh store of `kind`."""
    from smartcity import db as dbmod

    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    with dbmod.scratch_postgres_schema(PG_URL, prefix="bench_ds") as engine:
        yield engine.url.render_as_string(hide_password=False)


def load(url: str, rows: int, folder: Path) -> tuple[str, list[str], list[tuple[str, str]]]:
    """Departments, users, the entry and its rows, the grant; (API token, resident IDs, (town, sex) filters)."""
    os.environ["SMARTCITY_DATA_DIR"] = str(folder)
    from tests.factories import make_department, make_entry, make_user

    from smartcity import db as dbmod
    from smartcity import migrate
    from smartcity.app import declare_permissions
    from smartcity.demo import records
    from smartcity.exchange import sharing
    from smartcity.exchange.schemas import DecisionIn, RequestIn
    from smartcity.ingest import files, pipeline
    from smartcity.ingest import service as batches
    from smartcity.ingest.vocab import Source
    from smartcity.platform.identity import service as identity
    from smartcity.platform.identity import tokens
    from smartcity.platform.identity.schemas import TokenCreate
    from smartcity.platform.permissions import Role

    declare_permissions()
    engine = dbmod.build_engine(url)
    migrate.upgrade(engine)
    dbmod.configure(engine)
    with dbmod.unit_of_work() as session:
        make_department(session, "GAJ", "余姚市公安局")
        make_department(session, "MZJ", "余姚市民政局")
        gaj = identity.principal_for(make_user(session, "gaj_bench", Role.DEPT_ADMIN, "GAJ"))
        make_entry(session, code=CODE, name="人口基础信息（数据服务基准）", fields=FIELDS)
    clock = time.perf_counter()
    people = records.people(rows, seed=2026).with_columns(records.phones(np.random.default_rng(9), rows).alias("phone"))
    people = people.select([f["name"] for f in FIELDS])
    csv_path = folder / "people.csv"
    people.write_csv(csv_path)
    with dbmod.unit_of_work() as session, csv_path.open("rb") as handle:
        stored = files.store_chunks(iter(lambda: handle.read(1 << 20), b""), "people.csv")
        batch = batches.submit_batch(
            session, by=gaj, code=CODE, stored=stored, source=Source.CLI, enqueue=False
        ).batch.id
    pipeline.process_batch(batch)
    print(f"  loaded {rows:,} rows through data collection in {time.perf_counter() - clock:.1f} s", flush=True)
    with dbmod.unit_of_work() as session:
        mzj = identity.principal_for(make_user(session, "mzj_bench", Role.DEPT_ADMIN, "MZJ"))
        asked = sharing.create_request(
            session,
            by=mzj,
            data=RequestIn(
                entry_code=CODE,
                purpose="最低生活保障对象家庭人口核对",
                legal_basis="《社会救助暂行办法》第十一条",
                fields=[f["name"] for f in FIELDS],
                valid_until=dt.date.today() + dt.timedelta(days=30),
            ),
        )
        sharing.decide_request(session, by=gaj, number=asked.number, data=DecisionIn(approve=True))
        _, token = tokens.create_token(
            session, by=mzj, data=TokenCreate(name="bench", scopes=["exchange.data"], expires_in_days=1)
        )
    engine.dispose()
    ids = people["resident_id"].sample(5000, seed=1).to_list()
    pairs = people.select("town_code", "gender_code").unique().rows()
    return token, ids, [(str(t), str(g)) for t, g in pairs]


@contextmanager
def server(url: str, folder: Path, workers: int) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "SMARTCITY_DATABASE_URL": url,
        "SMARTCITY_DATA_DIR": str(folder),
        "SMARTCITY_RUN_WORKER": "false",
        "SMARTCITY_EXCHANGE_RATE_LIMIT": "100000",
        "SMARTCITY_EXCHANGE_RATE_BURST": "100000",
    }
    command = [
        sys.executable, "-m", "uvicorn", "smartcity.app:create_served_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def requests_mix(ids: list[str], pairs: list[tuple[str, str]], n: int, seed: int) -> list[tuple[str, str, dict]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(("lookup", f"/api/v1/exchange/data/{CODE}/records/{rng.choice(ids)}", {}))
        else:
            town, sex = rng.choice(pairs)
            out.append(
                ("page", f"/api/v1/exchange/data/{CODE}", {"f.town_code": town, "f.gender_code": sex, "limit": 50})
            )
    return out


class Connection:
    """One keep-alive HTTP/1.1 connection that sends prepared GET requests and reads whole responses (a load
    generator has to cost little of the two cores it shares with the server; httpx costs milliseconds a request)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return int(head[9:12])

    def close(self) -> None:
        self.writer.close()


def prepared(base: str, token: str, mix: list[tuple[str, str, dict]]) -> list[tuple[str, bytes]]:
    host = base.removeprefix("http://")
    out = []
    for kind, path, params in mix:
        target = path + ("?" + urlencode(params) if params else "")
        out.append((kind, f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()))
    return out


async def open_loop(base: str, token: str, mix: list[tuple[str, str, dict]], rate: float) -> dict[str, Any]:
    """Requests started on a fixed schedule by one driver, on a pool of connections; latency from each request's
    due time, so a request the driver itself starts late (a busy generator) counts against the server too."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(await Connection.open(base))
    latencies: dict[str, list[float]] = {"lookup": [], "page": []}
    errors = 0
    requests = prepared(base, token, mix)

    async def one(due: float, kind: str, request: bytes) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            if await connection.get(request) != 200:
                errors += 1
        finally:
            pool.put_nowait(connection)
        latencies[kind].append((time.perf_counter() - due) * 1000)

    started: list[asyncio.Task[None]] = []
    start = time.perf_counter() + 0.1
    for i, (kind, request) in enumerate(requests):
        due = start + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        started.append(asyncio.create_task(one(due, kind, request)))
    await asyncio.gather(*started)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed, "count": len(mix)}


async def closed_loop(base: str, token: str, mix: list[tuple[str, str, dict]], concurrency: int) -> dict[str, Any]:
    """`concurrency` clients, each sending its next request when the last one is answered."""
    requests = list(reversed(prepared(base, token, mix)))
    done = 0
    start = time.perf_counter()

    async def client() -> None:
        nonlocal done
        connection = await Connection.open(base)
        while requests:
            await connection.get(requests.pop()[1])
            done += 1
        connection.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return {"rate": done / (time.perf_counter() - start)}


def bare(url: str, ids: list[str], pairs: list[tuple[str, str]], n: int) -> dict[str, list[float]]:
    """The same lookups and pages straight through SQLAlchemy: no HTTP, no grant check, no masking, no audit."""
    from sqlalchemy import select

    from smartcity import db as dbmod
    from smartcity.ingest import service as hub
    from smartcity.platform.identity import service as identity

    engine = dbmod.build_engine(url)
    dbmod.configure(engine)
    with dbmod.unit_of_work() as session:
        table = hub.stored_table(session, by=identity.system_principal("bench"), code=CODE).table
    rng = random.Random(7)
    out: dict[str, list[float]] = {"lookup": [], "page": []}
    names = [f["name"] for f in FIELDS]
    with engine.connect() as conn:
        for i in range(n):
            clock = time.perf_counter()
            if i % 2 == 0:
                conn.execute(select(*(table.c[c] for c in names)).where(table.c.resident_id == rng.choice(ids))).all()
                kind = "lookup"
            else:
                town, sex = rng.choice(pairs)
                conn.execute(
                    select(table.c["_id"], *(table.c[c] for c in names))
                    .where(table.c["_id"] > 0, table.c.town_code == town, table.c.gender_code == sex)
                    .order_by(table.c["_id"])
                    .limit(51)
                ).all()
                kind = "page"
            out[kind].append((time.perf_counter() - clock) * 1000)
    engine.dispose()
    return out


def run(kind: str, args: argparse.Namespace) -> None:
    print(f"\n{kind}: {args.rows:,} rows", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-ds-") as tmp, store(kind, Path(tmp)) as url:
        folder = Path(tmp)
        token, ids, pairs = load(url, args.rows, folder)
        baseline = bare(url, ids, pairs, 2000)
        with server(url, folder, args.workers) as base:
            warm = requests_mix(ids, pairs, 1500, seed=3)  # on 64 connections, so every worker process is warm
            asyncio.run(closed_loop(base, token, warm, 64))
            runs = []
            for rate in args.rates:
                mix = requests_mix(ids, pairs, int(rate * args.seconds), seed=int(rate))
                before = cpu_ticks()
                loaded = asyncio.run(open_loop(base, token, mix, rate))
                after = cpu_ticks()
                loaded["stolen"] = (after[1] - before[1]) / max(1, after[0] - before[0])
                runs.append((rate, loaded))
            peak = asyncio.run(closed_loop(base, token, requests_mix(ids, pairs, 3000, seed=11), args.concurrency))
        for rate, loaded in runs:
            achieved = loaded["count"] / loaded["elapsed"]
            print(
                f"  offered {rate:.0f} req/s for {args.seconds:.0f} s: completed {achieved:.0f} req/s,"
                f" {loaded['errors']} errors; {loaded['stolen']:.0%} of the machine's CPU time was stolen by its host"
            )
            print(
                f"    {'query':8} {'API p50':>9} {'API p99':>9} {'bare p50':>9} {'bare p99':>9}"
                f" {'ratio p50':>9} {'ratio p99':>9}"
            )
            for name in ("lookup", "page"):
                api, raw = loaded["latencies"][name], baseline[name]
                a50, a99, b50, b99 = percentile(api, 50), percentile(api, 99), percentile(raw, 50), percentile(raw, 99)
                print(
                    f"    {name:8} {a50:7.1f}ms {a99:7.1f}ms {b50:7.2f}ms {b99:7.2f}ms"
                    f" {a50 / b50:8.1f}x {a99 / b99:8.1f}x"
                )
            every = loaded["latencies"]["lookup"] + loaded["latencies"]["page"]
            print(
                f"    all: p50 {percentile(every, 50):.1f} ms, p99 {percentile(every, 99):.1f} ms"
                f" (mean {statistics.fmean(every):.1f} ms); target p99 < 50 ms at 300 req/s"
            )
        print(f"  highest throughput, {args.concurrency} clients in a closed loop: {peak['rate']:.0f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[100.0, 300.0],
        help="request rates offered, one open-loop run each (default 100,300)",
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes (default: one per core)"
    )
    args = parser.parse_args()
    reference = min(timeit.repeat("sum(range(10000))", number=200, repeat=5)) / 200 * 1e6
    print(
        f"machine: {os.cpu_count()} cores; reference loop sum(range(10000)) {reference:.0f} µs"
        " (the figures below scale with it: compare runs on different machines by it)"
    )
    print(f"server: {args.workers} uvicorn worker(s); load generator in this process", flush=True)
    for kind in ("sqlite", "postgresql") if args.store == "both" else (args.store,):
        run(kind, args)


if __name__ == "__main__":
    main()
