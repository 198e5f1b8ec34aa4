"""`smartcity registry …`: resolve a registry, show a golden record, parse an address."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smartcity.db import unit_of_work
from smartcity.platform.errors import DomainError
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.registry import service as registry
from smartcity.registry.vocab import Kind

app = typer.Typer(help="Base registries: persons, legal entities, standard addresses.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _principal(username: str | None) -> Principal:
    with unit_of_work() as session:
        return identity.command_line_principal(session, username)


def _fail(exc: DomainError) -> typer.Exit:
    err.print(f"registry: {exc.localised_detail('en')}", markup=False)
    return typer.Exit(code=2)


@app.command()
def resolve(
    kind: Annotated[Kind, typer.Argument(help="person, entity or address")],
    retrain: Annotated[bool, typer.Option(help="train the linkage model again")] = False,
    as_user: Annotated[str | None, typer.Option("--as", help="act as this user (default: the platform)")] = None,
) -> None:
    """Read the feeds, link records, rebuild the golden records; prints each blocking rule's pair count."""
    by = _principal(as_user)
    try:
        with unit_of_work() as session:
            run = registry.start_resolution(session, by=by, kind=kind, retrain=retrain)
    except DomainError as exc:
        raise _fail(exc) from exc
    stats = run.stats
    table = Table(title=f"run {run.id}: {kind.value}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name in (
        "records",
        "identified",
        "linked_by_key",
        "linked_by_model",
        "linked_by_review",
        "refused",
        "review_pending",
        "golden",
        "golden_created",
        "golden_changed",
        "golden_merged",
    ):
        table.add_row(name, str(stats.get(name)))
    for rule, count in stats.get("blocking", []):
        table.add_row(f"pairs: {rule}", f"{count:,}")
    for step, seconds in stats.get("seconds", {}).items():
        table.add_row(f"seconds: {step}", f"{seconds:.1f}")
    out.print(table)


@app.command()
def show(
    kind: Annotated[Kind, typer.Argument(help="person, entity or address")],
    number: Annotated[str, typer.Argument(help="the golden record's number, e.g. RK0000000001")],
    as_of: Annotated[str | None, typer.Option(help="as the registry knew it then (ISO 8601 date or time)")] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="act as this user (default: the platform)")] = None,
) -> None:
    """Print a golden record with lineage and sources as JSON (masked unless the user may see plain values)."""
    when = None
    if as_of is not None:
        try:
            when = dt.datetime.fromisoformat(as_of)
        except ValueError:
            err.print(f"registry: --as-of: '{as_of}' is not an ISO 8601 date or time")
            raise typer.Exit(code=2) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    by = _principal(as_user)
    try:
        with unit_of_work() as session:
            record = registry.get_golden(session, by=by, kind=kind, number=number, as_of=when)
    except DomainError as exc:
        raise _fail(exc) from exc
    out.print_json(json.dumps(record.model_dump(mode="json"), ensure_ascii=False))


@app.command("parse-address")
def parse_address(text: Annotated[str, typer.Argument(help="an address, e.g. 余姚市阳明街道新建北路12号")]) -> None:
    """Take an address apart and match it to the address registry."""
    by = _principal(None)
    with unit_of_work() as session:
        parsed = registry.parse_and_match(session, by=by, text=text)
    out.print_json(json.dumps(parsed.model_dump(mode="json"), ensure_ascii=False))
