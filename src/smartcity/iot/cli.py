"""Command line of the IoT platform: `smartcity iot consume` reads telemetry from an MQTT broker into the store."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.console import Console

from smartcity.config import get_settings
from smartcity.iot.mqtt import Broker, Consumer

app = typer.Typer(help="IoT platform: devices and telemetry.", no_args_is_help=True)
err = Console(stderr=True)


def broker_option(url: str | None, command: str) -> Broker:
    """The broker a command was pointed at (`--url`, else SMARTCITY_MQTT_URL); exits with a one-line message."""
    target = url or get_settings().mqtt_url
    if not target:
        err.print(f"{command}: name the broker with --url or SMARTCITY_MQTT_URL", style="red")
        raise typer.Exit(code=2)
    try:
        return Broker.parse(target)
    except ValueError as exc:
        err.print(f"{command}: {exc}", style="red")
        raise typer.Exit(code=2) from None


@app.command()
def consume(
    url: Annotated[str | None, typer.Option(help="mqtt://host:port (default SMARTCITY_MQTT_URL)")] = None,
    prefix: Annotated[str | None, typer.Option(help="topic prefix (default SMARTCITY_MQTT_TOPIC_PREFIX)")] = None,
    client_id: Annotated[str, typer.Option(help="the persistent session's client id")] = "smartcity-ingest",
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    share: Annotated[
        str | None,
        typer.Option(
            help="shared-subscription group: consumers of one group (each its own --client-id) split the stream"
        ),
    ] = None,
) -> None:
    """Store the telemetry devices publish, acknowledging each message once its batch is committed (Ctrl-C ends)."""
    settings = get_settings()
    broker = broker_option(url, "consume")
    if share is not None and not share.replace("-", "").replace("_", "").isalnum():
        err.print(f"consume: --share is letters, digits, '-' and '_', not {share!r}", style="red")
        raise typer.Exit(code=2)
    consumer = Consumer(
        broker, prefix=prefix or settings.mqtt_topic_prefix, client_id=client_id, batch_size=batch_size, share=share
    )
    try:
        consumer.connect()
    except (OSError, ConnectionError) as exc:
        err.print(f"consume: cannot reach the broker at {broker.host}:{broker.port}: {exc}", style="red")
        raise typer.Exit(code=2) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    group = f" in group {share}" if share else ""
    err.print(f"consuming telemetry from {broker.host}:{broker.port} as {client_id}{group}")
    consumer.run(stop)
    consumer.close()
    stats = consumer.stats
    err.print(f"received {stats.received}, stored {stats.accepted}, refused {stats.refused}, ignored {stats.ignored}")
