"""The `smartcity` command: database, demo data, server, and each module's command group."""

from __future__ import annotations

import contextlib
import getpass
from typing import Annotated

import typer
from rich.console import Console

from smartcity.config import get_settings

app = typer.Typer(help="smartcity: the city data platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Yuyao demo data.", no_args_is_help=True)
user_app = typer.Typer(help="Console users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(user_app, name="user")
console = Console()


def _register_module_commands() -> None:
    from smartcity.app import MODULES, declare_permissions

    declare_permissions()
    for module in MODULES:
        if module.cli is not None:
            app.add_typer(module.cli, name=module.cli_name or module.name)
        for command in module.commands:
            app.command()(command)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from smartcity import migrate
    from smartcity.db import get_engine

    migrate.upgrade(get_engine(), revision)
    console.print(f"database at {revision}")


@demo_app.command("load")
def demo_load(
    scale: Annotated[str, typer.Option(help="small (default) or full")] = "small",
) -> None:
    """Load Yuyao's departments, demo users and the resource catalogue (idempotent)."""
    from smartcity.demo.load import load_demo

    if scale not in {"small", "full"}:
        console.print(f"--scale must be 'small' or 'full', not '{scale}'", style="red")
        raise typer.Exit(code=2)
    summary = load_demo(scale=scale)
    console.print(str(summary))


@demo_app.command("simulate")
def demo_simulate(
    url: Annotated[
        str | None, typer.Option(help="the broker, e.g. mqtt://127.0.0.1:1883 (default SMARTCITY_MQTT_URL)")
    ] = None,
) -> None:
    """Play the loaded demo fleet: its devices publish telemetry over MQTT, faults included, until Ctrl-C."""
    import signal
    import threading

    from smartcity.demo.iot_demo import simulator
    from smartcity.iot.cli import broker_option

    player = simulator(broker_option(url, "simulate"), prefix=get_settings().mqtt_topic_prefix)
    if player is None:
        console.print("simulate: no demo fleet; run `smartcity demo load` first", style="red")
        raise typer.Exit(code=1)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    console.print(player.start() + "; Ctrl-C to stop", highlight=False)
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    player.stop()
    console.print(f"simulate: {player.published} messages published")


@user_app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option(help="platform_admin, dept_admin, dept_staff or auditor")],
    name: Annotated[str, typer.Option(help="display name")],
    department: Annotated[str | None, typer.Option(help="department code for department roles")] = None,
) -> None:
    """Create a console user; the password is asked for on the terminal."""
    from pydantic import ValidationError

    from smartcity.db import unit_of_work
    from smartcity.platform.errors import DomainError
    from smartcity.platform.identity import service as identity
    from smartcity.platform.identity.schemas import UserCreate
    from smartcity.platform.permissions import Role

    password = getpass.getpass("password: ")
    try:
        data = UserCreate(
            username=username, display_name=name, password=password, role=Role(role), department=department
        )
        with unit_of_work() as session:
            if identity.user_exists(session, data.username):
                console.print(f"username: '{data.username}' is taken", style="red")
                raise typer.Exit(code=2)
            identity.ensure_user(
                session,
                username=data.username,
                display_name=data.display_name,
                password=data.password,
                role=data.role,
                department_code=data.department,
            )
    except ValueError as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = ".".join(str(p) for p in first["loc"]) if first else "role"
        console.print(f"{where}: {first['msg'] if first else exc}", style="red")
        raise typer.Exit(code=2) from None
    except DomainError as exc:
        console.print(f"{exc.field or 'error'}: {exc}", style="red")
        raise typer.Exit(code=2) from None
    console.print(f"user {username} created")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (SMARTCITY_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (SMARTCITY_PORT)")] = None,
    reload: bool = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="server processes; one per core uses the machine (each limits the data service's rate on its own)",
        ),
    ] = 1,
    simulate: Annotated[
        bool, typer.Option(help="also play the demo fleet: its devices publish telemetry, faults included")
    ] = False,
) -> None:
    """Serve the console and APIs."""
    import uvicorn

    if reload and workers > 1:
        console.print("workers: --reload runs one process; leave out --workers or --reload", style="red")
        raise typer.Exit(code=2)
    settings = get_settings()
    # MQTT telemetry runs once, in this process, whatever the number of server processes.
    telemetry = None
    if settings.mqtt_consume:
        from smartcity.iot.mqtt import Telemetry

        telemetry = Telemetry(
            settings.mqtt_url, prefix=settings.mqtt_topic_prefix, embedded_port=settings.mqtt_embedded_port
        )
        console.print(telemetry.start(), highlight=False)
    player = None
    if simulate:
        from smartcity.demo.iot_demo import simulator
        from smartcity.iot.mqtt import Broker

        target = telemetry.url if telemetry else settings.mqtt_url
        player = simulator(Broker.parse(target), prefix=settings.mqtt_topic_prefix) if target else None
        console.print(player.start() if player else "simulator: no demo fleet (run `smartcity demo load`) or no broker")
    try:
        uvicorn.run(
            "smartcity.app:create_served_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            reload=reload,
            workers=workers,
            proxy_headers=False,
        )
    finally:
        if player is not None:
            player.stop()
        if telemetry is not None:
            telemetry.stop()


@app.command()
def worker(poll: Annotated[float, typer.Option(help="seconds between looks for due jobs")] = 1.0) -> None:
    """Run only the background job worker (batches, scheduled pulls), e.g. beside API servers started without it."""
    import signal
    import threading

    from smartcity.platform.jobs.worker import Worker

    runner = Worker(poll_seconds=poll)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    runner.start()
    console.print(f"worker {runner.worker} running; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    runner.stop()


_register_module_commands()


if __name__ == "__main__":
    app()
