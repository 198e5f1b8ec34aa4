"""The data table of an entry version (design.md §4): typed columns from the schema, provenance, upsert by key.

Like CKAN's DataStore, each catalogue entry version gets its own table, named `ds_<code>_v<version>`, with one
typed column per field, a unique index on the business key, and provenance columns on every row: the batch
that last wrote it, that batch's file hash, when, and the providing department. A batch writes in the caller's
transaction, so it commits whole or not at all. Rows whose stored values are identical are left untouched
(keeping their original provenance), which is what makes re-submitting a file change nothing.

Writing is dialect-specific, behind `write_rows`: SQLite gets `executemany` of an upsert over rows sorted by key
(index pages are then filled in order); PostgreSQL gets COPY, straight into the table when it is empty and
otherwise into a temporary table followed by one INSERT … ON CONFLICT DO UPDATE.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.engine import Connection

from smartcity.catalog.schemas import FieldSpec
from smartcity.catalog.vocab import FieldType
from smartcity.db import UTCDateTime
from smartcity.ingest.formats.read import ROW

PROVENANCE = ("_batch_id", "_file_hash", "_loaded_at", "_department_id", "_source_row")
ID = "_id"
CHUNK_ROWS = 50_000
Progress = Callable[[int], None]


def table_name(code: str, version: int) -> str:
    """`ds_<code>_v<version>` in lower case with underscores, within PostgreSQL's 63 characters."""
    slug = re.sub(r"[^a-z0-9]+", "_", code.lower()).strip("_")
    return f"ds_{slug}_v{version}"[:63]


def column_type(field_type: FieldType) -> Any:
    """The column type of a field type."""
    return {
        FieldType.STRING: Text(),
        FieldType.INTEGER: BigInteger(),
        FieldType.DECIMAL: Numeric(),
        FieldType.BOOLEAN: Boolean(),
        FieldType.DATE: Date(),
        FieldType.DATETIME: UTCDateTime(),
    }[field_type]


def data_table(name: str, schema: Sequence[FieldSpec]) -> Table:
    """The SQLAlchemy table of an entry version (on its own MetaData: these tables are data, not schema).

    Its indexes are not declared here: `create_indexes` builds them once the first batch is in.
    """
    columns: list[Any] = [
        Column(ID, BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    ]
    columns += [Column(spec.name, column_type(spec.type), nullable=not spec.required) for spec in schema]
    columns += [
        Column("_batch_id", Integer, nullable=False),
        Column("_file_hash", String(64), nullable=False),
        Column("_loaded_at", UTCDateTime(), nullable=False),
        Column("_department_id", Integer, nullable=False),
        Column("_source_row", Integer, nullable=False),
    ]
    return Table(name, MetaData(), *columns)


def create_indexes(connection: Connection, table: Table, schema: Sequence[FieldSpec]) -> None:
    """Build the business-key and batch indexes of a freshly loaded table (one sort beats a million inserts)."""
    keys = [spec.name for spec in schema if spec.key]
    Index(f"uq_{table.name}"[:63], *(table.c[k] for k in keys), unique=True).create(connection)
    Index(f"ix_{table.name}_batch"[:63], table.c["_batch_id"]).create(connection)
    analyze(connection, table)


def analyze(connection: Connection, table: Table) -> None:
    """Gather the planner's statistics of a table that a load has just filled (SQLite: ANALYZE; PostgreSQL:
    ANALYZE, which autovacuum would only do later: until then a freshly loaded table of millions of rows is planned
    as if it held none, and a filtered page sorts the whole table instead of walking `_id`)."""
    quoted = connection.dialect.identifier_preparer.quote(table.name)
    connection.exec_driver_sql(f"ANALYZE {quoted}")


@dataclass(frozen=True)
class Provenance:
    """What every row written by one batch records about where it came from."""

    batch_id: int
    file_hash: str
    loaded_at: dt.datetime
    department_id: int


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    updated: int
    unchanged: int


def _for_driver(frame: pl.DataFrame, schema: Sequence[FieldSpec], *, offset: str = "") -> pl.DataFrame:
    """Values as the drivers take them without per-value adapters: dates and UTC times as ISO text."""
    exprs = []
    for spec in schema:
        if spec.name not in frame.columns:
            continue
        if spec.type is FieldType.DATE:
            exprs.append(pl.col(spec.name).dt.strftime("%Y-%m-%d"))
        elif spec.type is FieldType.DATETIME:
            utc = pl.col(spec.name).dt.convert_time_zone("UTC")
            exprs.append(utc.dt.strftime("%Y-%m-%d %H:%M:%S.%6f" + offset))
    return frame.with_columns(exprs) if exprs else frame


def write_rows(
    connection: Connection,
    table: Table,
    schema: Sequence[FieldSpec],
    frame: pl.DataFrame,
    provenance: Provenance,
    *,
    table_was_empty: bool,
    progress: Progress | None = None,
) -> WriteResult:
    """Upsert `frame` (typed columns named like the fields, plus `__row`) by business key, in the open transaction."""
    keys = [spec.name for spec in schema if spec.key]
    frame = frame.sort(keys)
    before = connection.execute(select(func.coalesce(func.max(table.c[ID]), 0))).scalar_one()
    job = _Write(connection, table, schema, frame, provenance, table_was_empty, progress)
    changed = _write_postgresql(job) if connection.dialect.name == "postgresql" else _write_sqlite(job)
    inserted = connection.execute(select(func.count()).select_from(table).where(table.c[ID] > before)).scalar_one()
    return WriteResult(inserted=inserted, updated=changed - inserted, unchanged=frame.height - changed)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Write:
    """One batch's rows on their way into an entry's table."""

    connection: Connection
    table: Table
    schema: Sequence[FieldSpec]
    frame: pl.DataFrame
    provenance: Provenance
    table_was_empty: bool
    progress: Progress | None

    @property
    def fields(self) -> list[str]:
        return [spec.name for spec in self.schema if spec.name in self.frame.columns]

    @property
    def keys(self) -> list[str]:
        return [spec.name for spec in self.schema if spec.key]

    @property
    def values(self) -> list[str]:
        """The written fields that are not part of the key (compared and updated on a conflict)."""
        return [name for name in self.fields if name not in self.keys]

    def report(self, done: int) -> None:
        if self.progress:
            self.progress(min(done, self.frame.height))


def _write_sqlite(job: _Write) -> int:
    table, provenance, fields, keys, values = job.table, job.provenance, job.fields, job.keys, job.values
    loaded = provenance.loaded_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    # Provenance is the same for every row of the batch; it goes into the statement as literals we generated.
    constants = f"{int(provenance.batch_id)}, '{provenance.file_hash}', '{loaded}', {int(provenance.department_id)}"
    sql = (
        f"INSERT INTO {_q(table.name)} ({', '.join(_q(c) for c in [*fields, *PROVENANCE])}) "
        f"VALUES ({', '.join('?' for _ in fields)}, {constants}, ?)"
    )
    if not job.table_was_empty:
        updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in [*values, *PROVENANCE])
        differs = " OR ".join(f"{_q(table.name)}.{_q(c)} IS NOT excluded.{_q(c)}" for c in values) or "0"
        sql += f" ON CONFLICT ({', '.join(_q(k) for k in keys)}) DO UPDATE SET {updates} WHERE {differs}"
    cursor = job.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    prepared = _for_driver(job.frame, job.schema)
    changed = 0
    try:
        for offset in range(0, prepared.height, CHUNK_ROWS):
            part = prepared.slice(offset, CHUNK_ROWS)
            rows = zip(*(part.get_column(c).to_list() for c in [*fields, ROW]), strict=True)
            cursor.executemany(sql, rows)
            changed += cursor.rowcount
            job.report(offset + CHUNK_ROWS)
    finally:
        cursor.close()
    return changed


def _write_postgresql(job: _Write) -> int:
    table, provenance, fields, keys, values = job.table, job.provenance, job.fields, job.keys, job.values
    loaded = provenance.loaded_at.astimezone(dt.UTC).isoformat()
    out = _for_driver(job.frame, job.schema, offset="+00:00").select(
        *fields,
        pl.lit(provenance.batch_id).alias("_batch_id"),
        pl.lit(provenance.file_hash).alias("_file_hash"),
        pl.lit(loaded).alias("_loaded_at"),
        pl.lit(provenance.department_id).alias("_department_id"),
        pl.col(ROW).alias("_source_row"),
    )
    columns = ", ".join(_q(c) for c in [*fields, *PROVENANCE])
    raw = job.connection.connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        target = _q(table.name)
        if not job.table_was_empty:
            # The written columns as the table types them, without its constraints (dropped again below).
            cursor.execute(f"CREATE TEMP TABLE _incoming AS SELECT {columns} FROM {target} WITH NO DATA")
            target = "_incoming"
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            for offset in range(0, out.height, CHUNK_ROWS):
                copy.write(out.slice(offset, CHUNK_ROWS).write_csv(include_header=False, null_value=""))
                job.report(offset + CHUNK_ROWS)
        if job.table_was_empty:
            return out.height
        updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in [*values, *PROVENANCE])
        if values:
            mine = ", ".join(f"{_q(table.name)}.{_q(c)}" for c in values)
            theirs = ", ".join(f"excluded.{_q(c)}" for c in values)
            conflict = f"DO UPDATE SET {updates} WHERE ROW({mine}) IS DISTINCT FROM ROW({theirs})"
        else:
            conflict = "DO NOTHING"
        cursor.execute(
            f"INSERT INTO {_q(table.name)} ({columns}) SELECT {columns} FROM _incoming "
            f"ORDER BY {', '.join(_q(k) for k in keys)} "
            f"ON CONFLICT ({', '.join(_q(k) for k in keys)}) {conflict}"
        )
        changed = cursor.rowcount
        cursor.execute("DROP TABLE _incoming")
    return changed
