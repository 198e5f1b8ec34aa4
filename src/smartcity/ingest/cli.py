"""Command line of data collection: `smartcity ingest FILE --entry CODE`, and `smartcity data …` for batches."""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from smartcity.db import unit_of_work
from smartcity.ingest import files, pipeline, pulls, reports
from smartcity.ingest import service as batches
from smartcity.ingest.vocab import LABELS, BatchStatus, Source, Stage
from smartcity.platform.errors import DomainError, InvalidInput
from smartcity.platform.i18n import N_, gettext
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.paging import PageParams

app = typer.Typer(help="Data collection: batches, reports, re-runs, pulls.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
LOCALE = "en"


def _principal(username: str | None) -> Principal:
    with unit_of_work() as session:
        return identity.command_line_principal(session, username)


def _fail(where: str, exc: DomainError) -> typer.Exit:
    err.print(f"{where}: {exc.localised_detail(LOCALE)}", style="red", highlight=False, markup=False)
    return typer.Exit(code=2)


def _mapping(pairs: list[str], ignored: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for pair in pairs:
        if "=" not in pair:
            err.print(f"--map '{pair}': write HEADER=FIELD", style="red", markup=False)
            raise typer.Exit(code=2)
        header, field = pair.split("=", 1)
        found[header.strip()] = field.strip()
    for header in ignored:
        found[header.strip()] = None
    return found


def received_time(text: str | None) -> dt.datetime | None:
    """A date (midnight, city time) or an ISO date and time; InvalidInput for anything else."""
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(N_("'{value}' is not a date (YYYY-MM-DD)."), field="received", value=text) from None


def _run(batch_id: int) -> BatchStatus:
    stages = {stage: LABELS["stage"][stage] for stage in Stage}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[Stage, TaskID] = {}

        def progress(stage: Stage, done: int, total: int) -> None:
            if stage is Stage.DONE:
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task(gettext(LOCALE, stages[stage]), total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        outcome = pipeline.process_batch(batch_id, progress=progress)
        for task in tasks.values():
            current = bar.tasks[task]
            bar.update(task, completed=current.total or current.completed)
    return outcome.status


def _summary(batch_id: int) -> int:
    with unit_of_work() as session:
        root = identity.system_principal("cli")
        report = reports.quality_report(session, by=root, batch_id=batch_id, locale=LOCALE)
        batch = batches.batch_reads(session, [batches.get_batch(session, by=root, batch_id=batch_id)], LOCALE)[0]
    if batch.status is BatchStatus.FAILED:
        err.print(f"{batch.filename}: {batch.error.message if batch.error else 'failed'}", style="red", markup=False)
        return 1
    rows = report.rows
    console.print(
        f"batch {batch_id} committed: {rows.total} rows read, {rows.accepted} accepted "
        f"({rows.inserted} new, {rows.updated} changed, {rows.unchanged} unchanged), {rows.rejected} rejected, "
        f"{rows.warned} with warnings; score {report.score}",
        highlight=False,
    )
    if report.by_rule:
        table = Table("field", "rule", "rows", title="problems")
        for count in report.by_rule[:15]:
            table.add_row(f"{count.title} ({count.field})", count.label, str(count.rows))
        console.print(table)
    return 0


def ingest(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GBK), XLSX or JSON Lines file")],
    entry: Annotated[str, typer.Option(help="catalogue entry code, e.g. 330281-GAJ-00001")],
    version: Annotated[int | None, typer.Option(help="schema version (default: current)")] = None,
    map_: Annotated[list[str], typer.Option("--map", help="HEADER=FIELD, repeatable")] = [],  # noqa: B006
    ignore: Annotated[list[str], typer.Option(help="a column to ignore, repeatable")] = [],  # noqa: B006
    force: Annotated[bool, typer.Option(help="process even if this file was already loaded")] = False,
    user: Annotated[str | None, typer.Option("--as", help="submit as this console user")] = None,
    received: Annotated[
        str | None, typer.Option(help="date a file delivered offline was received, YYYY-MM-DD (default: now)")
    ] = None,
) -> None:
    """Ingest FILE into a catalogue entry: check every row, store the good ones, quarantine and report the rest."""
    if not file.is_file():
        err.print(f"{file}: no such file", style="red", markup=False)
        raise typer.Exit(code=2)
    principal = _principal(user)
    try:
        received_at = received_time(received)
        stored = files.store_local(file)
        with unit_of_work() as session:
            submission = batches.submit_batch(
                session,
                by=principal,
                code=entry,
                stored=stored,
                source=Source.CLI,
                version=version,
                overrides=_mapping(map_, ignore) or None,
                force=force,
                enqueue=False,
                received_at=received_at,
            )
            batch_id, duplicate = submission.batch.id, submission.duplicate
            finished = submission.batch.finished_at
    except DomainError as exc:
        raise _fail(file.name, exc) from None
    if duplicate:
        when = finished.isoformat(timespec="seconds") if finished else "earlier"
        console.print(f"{file.name} was already ingested as batch {batch_id} ({when}); nothing changed")
        return
    console.print(f"batch {batch_id}: {file.name} → {entry}")
    status = _run(batch_id)
    code = _summary(batch_id)
    if status is not BatchStatus.COMMITTED or code:
        raise typer.Exit(code=1)


@app.command("batches")
def list_batches(
    entry: Annotated[str | None, typer.Option(help="entry code")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """The most recent batches."""
    with unit_of_work() as session:
        root = identity.system_principal("cli")
        items, total = batches.list_batches(
            session, by=root, flt=batches.BatchFilter(entry_code=entry), params=PageParams(page=1, page_size=limit)
        )
        reads = batches.batch_reads(session, items, LOCALE)
    table = Table("id", "entry", "file", "status", "rows", "rejected", "score", title=f"{total} batches")
    for b in reads:
        table.add_row(
            str(b.id), b.entry_code, b.filename, b.status.value, str(b.rows.total), str(b.rows.rejected), str(b.score)
        )
    console.print(table)


@app.command("report")
def report(batch_id: int) -> None:
    """Print a batch's quality report."""
    try:
        code = _summary(batch_id)
    except DomainError as exc:
        raise _fail(f"batch {batch_id}", exc) from None
    raise typer.Exit(code=code)


@app.command("rerun")
def rerun(batch_id: int, user: Annotated[str | None, typer.Option("--as")] = None) -> None:
    """Run a failed or interrupted batch again, here and now."""
    principal = _principal(user)
    try:
        with unit_of_work() as session:
            batches.rerun_batch(session, by=principal, batch_id=batch_id, enqueue=False)
    except DomainError as exc:
        raise _fail(f"batch {batch_id}", exc) from None
    status = _run(batch_id)
    code = _summary(batch_id)
    if status is not BatchStatus.COMMITTED or code:
        raise typer.Exit(code=1)


@app.command("pull")
def pull(name: Annotated[str, typer.Argument(help="the pull's name or id")]) -> None:
    """Run a scheduled pull now, here."""
    try:
        with unit_of_work() as session:
            pull_id = pulls.find_pull(session, name).id
        batch_id = pulls.run_pull(pull_id, username=getpass.getuser())
    except DomainError as exc:
        raise _fail(name, exc) from None
    if batch_id is None:
        raise typer.Exit(code=2)
    sys.exit(_summary(batch_id))
