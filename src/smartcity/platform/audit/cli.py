"""`smartcity audit …`: verify the hash chain from the command line."""

from __future__ import annotations

import typer
from rich.console import Console

from smartcity.db import unit_of_work
from smartcity.platform.audit import service as audit

app = typer.Typer(help="Audit log: verify the hash chain.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Walk the audit chain; exit 1 and name the first broken entry if it was altered or cut."""
    console = Console()
    with unit_of_work() as session:
        result = audit.verify(session)
    if result.ok:
        console.print(f"audit chain intact: {result.checked} entries checked")
        return
    console.print(
        f"audit chain BROKEN at entry {result.first_broken_seq}: {result.reason} "
        f"({result.checked} entries verified before it)",
        style="bold red",
    )
    raise typer.Exit(code=1)
