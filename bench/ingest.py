"""Batch ingestion throughput and peak memory: the full pipeline against a bare Polars bulk insert of the same CSV.

For each store (the embedded SQLite file, PostgreSQL) the script

1. builds a fresh database with the real migrations, one catalogue entry of 12 fields (resident ID as the key,
   sex, birth date, phone, town, employer credit code, dates, amounts) and its validation rules: the resident ID
   checksum with its embedded birth date and sex, the credit code checksum, GB/T 2261.1 sex codes, the city's
   towns, phones, plausible dates, ranges — 13 declared rules beside the schema's own type/required/key checks;
2. writes N rows as a UTF-8 CSV file (generated, seeded; about 1% of the rows carry a realistic error);
3. runs, each in a child process of its own so its peak memory (ru_maxrss) is its own:
   - **pipeline**: `smartcity`'s whole path as `smartcity ingest FILE` runs it — keep a copy of the file
     (SHA-256), detect the encoding, count fields per row, read, check every rule, write the accepted rows
     into the entry's table (upsert by key, provenance on every row), quarantine the rest, feedback, report;
   - **floor**: Polars reads the same CSV (every column as text: type inference stops at the first bad value,
     and department files have them) and bulk-inserts it with no validation into a table with the same columns
     and the same unique index on the key (SQLite: executemany in one transaction; PostgreSQL: COPY);
4. prints rows/s, seconds and peak memory side by side, and the ratio pipeline/floor. Each path runs `--repeat`
   times (default 2) on fresh databases, alternating which goes first; the fastest run of each is compared and
   every run's time is printed. On PostgreSQL a CHECKPOINT precedes each run, so no run pays for the dirty
   pages of the one before.

    .venv/bin/python bench/ingest.py                       # 1,000,000 rows on SQLite and PostgreSQL
    .venv/bin/python bench/ingest.py --rows 200000 --store sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("SMARTCITY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CODE = "330281-RSJ-09001"
FIELDS: list[dict[str, Any]] = [
    {"name": "resident_id", "title": "公民身份号码", "required": True, "key": True, "sensitive": True},
    {"name": "full_name", "title": "姓名", "required": True, "sensitive": True},
    {"name": "gender_code", "title": "性别", "required": True},
    {"name": "birth_date", "title": "出生日期", "type": "date", "required": True},
    {"name": "phone", "title": "联系电话"},
    {"name": "town_code", "title": "所属乡镇（街道）"},
    {"name": "employer_credit_code", "title": "参保单位统一社会信用代码", "required": True},
    {"name": "employer_name", "title": "参保单位名称"},
    {"name": "insured_status", "title": "参保状态", "required": True},
    {"name": "start_date", "title": "本次参保日期", "type": "date", "required": True},
    {"name": "contribution_base", "title": "月缴费基数", "type": "decimal"},
    {"name": "paid_months", "title": "累计缴费月数", "type": "integer"},
]
RULES: list[dict[str, Any]] = [
    {
        "field": "resident_id",
        "kind": "resident_id",
        "params": {"birth_date_field": "birth_date", "sex_field": "gender_code"},
    },
    {"field": "gender_code", "kind": "enum", "params": {"code_table": "gb2261_1"}},
    {"field": "birth_date", "kind": "date_sanity", "params": {}},
    {"field": "phone", "kind": "phone", "params": {}},
    {"field": "town_code", "kind": "enum", "params": {"code_table": "towns"}},
    {"field": "employer_credit_code", "kind": "uscc", "params": {}},
    {"field": "employer_name", "kind": "length", "params": {"min": 2, "max": 100}},
    {"field": "insured_status", "kind": "enum", "params": {"values": ["1", "2", "3"]}},
    {"field": "start_date", "kind": "date_sanity", "params": {"earliest": "1990-01-01"}},
    {"field": "start_date", "kind": "cross_field", "params": {"op": ">=", "other": "birth_date"}},
    {"field": "contribution_base", "kind": "range", "params": {"min": "0", "max": "100000"}},
    {"field": "paid_months", "kind": "range", "params": {"min": "0", "max": "600"}},
    {"field": "full_name", "kind": "length", "params": {"min": 2, "max": 20}},
]


def generate(rows: int, path: Path, seed: int) -> None:
    """The CSV file: valid rows from the demo generator, about 1% broken the way department data breaks."""
    from smartcity.demo import records

    people = records.people(rows, seed=seed)
    firms = records.companies(max(rows // 50, 10), seed=seed + 1)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, firms.height, size=rows)
    # Insured from 16 years of age, not before the scheme's records begin in 1995.
    start = (
        people.select(pl.col("birth_date").str.to_date().dt.offset_by("16y").alias("d"))
        .with_columns(
            pl.max_horizontal("d", pl.lit(dt.date(1995, 1, 1)))
            + pl.Series(rng.integers(0, 3000, size=rows)) * pl.duration(days=1)
        )
        .select(pl.min_horizontal("d", pl.lit(dt.date(2026, 10, 31))))
        .to_series()
    )
    frame = pl.DataFrame(
        {
            "公民身份号码": people["resident_id"],
            "姓名": people["full_name"],
            "性别": people["gender_code"],
            "出生日期": people["birth_date"],
            "联系电话": records.phones(rng, rows),
            "所属乡镇（街道）": people["town_code"],
            "参保单位统一社会信用代码": firms["credit_code"].gather(pick),
            "参保单位名称": firms["org_name"].gather(pick),
            "参保状态": pl.Series(rng.choice(np.array(["1", "1", "1", "2", "3"]), size=rows)),
            "本次参保日期": start.dt.strftime("%Y-%m-%d"),
            "月缴费基数": pl.Series(np.round(rng.uniform(3000, 30000, size=rows), 2)).cast(pl.String),
            "累计缴费月数": pl.Series(rng.integers(0, 400, size=rows)).cast(pl.String),
        }
    )
    bad = rng.random(rows) < 0.01
    kind = rng.integers(0, 4, size=rows)
    frame = frame.with_columns(
        pl.when(pl.Series(bad & (kind == 0)))
        .then(pl.col("公民身份号码").str.slice(0, 17) + pl.lit("0"))
        .otherwise(pl.col("公民身份号码"))
        .alias("公民身份号码"),
        pl.when(pl.Series(bad & (kind == 1))).then(pl.lit("0574-123")).otherwise(pl.col("联系电话")).alias("联系电话"),
        pl.when(pl.Series(bad & (kind == 2)))
        .then(pl.col("参保单位统一社会信用代码").str.slice(0, 17) + pl.lit("Z"))
        .otherwise(pl.col("参保单位统一社会信用代码"))
        .alias("参保单位统一社会信用代码"),
        pl.when(pl.Series(bad & (kind == 3)))
        .then(pl.lit("2099-01-01"))
        .otherwise(pl.col("本次参保日期"))
        .alias("本次参保日期"),
    )
    frame.write_csv(path)


def prepare_store(url: str) -> None:
    """Migrations, the bureau and its towns, the entry and its rules."""
    from smartcity import db as dbmod
    from smartcity import migrate
    from smartcity.app import declare_permissions
    from smartcity.catalog import service as catalog
    from smartcity.catalog.schemas import EntryCreate
    from smartcity.demo.load import load_departments
    from smartcity.ingest import ruleset
    from smartcity.ingest.schemas import RuleIn
    from smartcity.platform.identity import service as identity

    declare_permissions()
    engine = dbmod.build_engine(url)
    migrate.upgrade(engine)
    dbmod.configure(engine)
    root = identity.system_principal("bench")
    with dbmod.unit_of_work() as session:
        load_departments(session, root)  # the city's departments and towns (RSJ provides the entry)
        catalog.create_entry(
            session,
            by=root,
            data=EntryCreate.model_validate(
                {
                    "code": CODE,
                    "name": "社会保险参保登记信息（基准测试）",
                    "department": "RSJ",
                    "sharing_type": "conditional",
                    "sharing_condition": "基准测试",
                    "update_cycle": "daily",
                    "fields": FIELDS,
                }
            ),
        )
        for rule in RULES:
            ruleset.create_rule(session, by=root, code=CODE, data=RuleIn.model_validate(rule))
    engine.dispose()


def run_pipeline(url: str, csv: Path, data_dir: Path) -> dict[str, Any]:
    """Child: the whole pipeline, as `smartcity ingest` runs it."""
    os.environ["SMARTCITY_DATABASE_URL"] = url
    os.environ["SMARTCITY_DATA_DIR"] = str(data_dir)
    from smartcity import db as dbmod
    from smartcity.app import declare_permissions
    from smartcity.ingest import files, pipeline
    from smartcity.ingest import service as batches
    from smartcity.ingest.models import Batch
    from smartcity.ingest.vocab import Source
    from smartcity.platform.identity import service as identity

    declare_permissions()
    dbmod.configure(dbmod.build_engine(url))
    started = time.perf_counter()
    stored = files.store_local(csv)
    with dbmod.unit_of_work() as session:
        submission = batches.submit_batch(
            session, by=identity.system_principal("bench"), code=CODE, stored=stored, source=Source.CLI, enqueue=False
        )
        batch_id = submission.batch.id
    outcome = pipeline.process_batch(batch_id)
    seconds = time.perf_counter() - started
    with dbmod.unit_of_work() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        result = {
            "status": outcome.status.value,
            "rows": batch.rows_total,
            "inserted": batch.rows_inserted,
            "rejected": batch.rows_rejected,
            "timings": batch.report.get("timings", {}),
        }
    return {"seconds": seconds, **result}


def run_floor(url: str, csv: Path) -> dict[str, Any]:
    """Child: Polars reads the CSV as text and bulk-inserts it, no validation."""
    started = time.perf_counter()
    frame = pl.read_csv(csv, infer_schema=False)
    columns = [f["name"] for f in FIELDS]
    frame.columns = columns
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"CREATE TABLE floor (_id INTEGER PRIMARY KEY, {', '.join(columns)})")
        connection.execute("CREATE UNIQUE INDEX floor_key ON floor (resident_id)")
        connection.execute("BEGIN")
        sql = f"INSERT OR REPLACE INTO floor ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        for offset in range(0, frame.height, 50_000):
            connection.executemany(sql, frame.slice(offset, 50_000).iter_rows())
        connection.execute("COMMIT")
        connection.close()
    else:
        import psycopg

        with (
            psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection,
            connection.cursor() as cursor,
        ):
            types = {pl.Int64: "bigint", pl.Float64: "double precision", pl.String: "text", pl.Boolean: "boolean"}
            cursor.execute(
                "CREATE TABLE floor (_id bigserial PRIMARY KEY, "
                + ", ".join(f"{c} {types.get(frame.schema[c], 'text')}" for c in columns)
                + ")"
            )
            cursor.execute("CREATE UNIQUE INDEX floor_key ON floor (resident_id)")
            with cursor.copy(f"COPY floor ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
                for offset in range(0, frame.height, 100_000):
                    copy.write(frame.slice(offset, 100_000).write_csv(include_header=False))
            connection.commit()
    return {"seconds": time.perf_counter() - started, "rows": frame.height}


def child(args: argparse.Namespace) -> None:
    if args.child == "pipeline":
        result = run_pipeline(args.url, Path(args.csv), Path(args.data_dir))
    else:
        result = run_floor(args.url, Path(args.csv))
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def spawn(kind: str, url: str, csv: Path, data_dir: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--url", url, "--csv", str(csv), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))  # type: ignore[no-any-return]
    raise SystemExit(f"{kind} run failed:\n{completed.stdout}\n{completed.stderr}")


def _quiet_postgresql() -> None:
    """Flush the server's dirty pages before a timed run, so no run pays for the previous one's writes."""
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute("CHECKPOINT")


def run_once(store: str, kind: str, csv: Path, work: Path, attempt: int) -> dict[str, Any]:
    """One timed run of `kind` on a fresh database of `store`."""
    from smartcity import db as dbmod

    if store == "sqlite":
        url = f"sqlite:///{work / f'{kind}-{attempt}.db'}"
        if kind == "pipeline":
            prepare_store(url)
        return spawn(kind, url, csv, work / f"data-{attempt}")
    with dbmod.scratch_postgres_schema(PG_URL, prefix=f"bench_{kind}") as engine:
        url = engine.url.render_as_string(hide_password=False)
        if kind == "pipeline":
            prepare_store(url)
        _quiet_postgresql()
        return spawn(kind, url, csv, work / f"data-{attempt}")


def bench_store(store: str, rows: int, csv: Path, work: Path, repeat: int) -> dict[str, Any]:
    """Both paths `repeat` times, alternating which goes first; the fastest run of each is reported."""
    runs: dict[str, list[dict[str, Any]]] = {"pipeline": [], "floor": []}
    for attempt in range(repeat):
        order = ("pipeline", "floor") if attempt % 2 == 0 else ("floor", "pipeline")
        for kind in order:
            runs[kind].append(run_once(store, kind, csv, work, attempt))
    best = {kind: min(found, key=lambda r: r["seconds"]) for kind, found in runs.items()}
    return {"store": store, **best, "all": {k: [round(r["seconds"], 2) for r in v] for k, v in runs.items()}}


def report(result: dict[str, Any], rows: int) -> None:
    ours, floor = result["pipeline"], result["floor"]
    rate, floor_rate = rows / ours["seconds"], rows / floor["seconds"]
    ratio = ours["seconds"] / floor["seconds"]
    print(f"\n{result['store']}: {rows:,} rows × 12 columns")
    print(f"  {'':10} {'seconds':>9} {'rows/s':>10} {'peak MB':>9}")
    print(f"  {'pipeline':10} {ours['seconds']:9.2f} {rate:10,.0f} {ours['peak_mb']:9.0f}")
    print(f"  {'floor':10} {floor['seconds']:9.2f} {floor_rate:10,.0f} {floor['peak_mb']:9.0f}")
    print(f"  pipeline/floor time ratio {ratio:.2f}x (fastest of each; every run: {result['all']})")
    print(
        f"  pipeline: {ours['status']}, {ours['inserted']:,} rows stored, {ours['rejected']:,} quarantined; "
        f"stages {ours['timings']}"
    )
    checks = [
        (f"≥ 100,000 rows/s end to end ({rate:,.0f})", rate >= 100_000),
        (f"within 3× of the floor ({ratio:.2f}x)", ratio <= 3),
        (f"peak memory under 1.5 GB ({ours['peak_mb']:.0f} MB)", ours["peak_mb"] < 1536),
    ]
    for text, ok in checks:
        print(f"  {'met ' if ok else 'MISSED'} {text}")
    print(
        f"{result['store']}: {rows} rows, pipeline {ours['seconds']:.2f} s "
        f"({rate:,.0f} rows/s, {ours['peak_mb']:.0f} MB) | "
        f"floor {floor['seconds']:.2f} s ({floor_rate:,.0f} rows/s, {floor['peak_mb']:.0f} MB) | ratio {ratio:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each path (the fastest is reported)")
    parser.add_argument("--child", choices=["pipeline", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        work = Path(folder)
        csv = work / "insured.csv"
        started = time.perf_counter()
        generate(args.rows, csv, args.seed)
        print(
            f"generated {args.rows:,} rows ({csv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        for store in stores:
            report(bench_store(store, args.rows, csv, work, args.repeat), args.rows)
    print(f"\n(run on {dt.date.today().isoformat()}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
