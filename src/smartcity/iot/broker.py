"""The embedded MQTT broker (amqtt) that `smartcity serve` starts when no broker is configured, so a development
machine needs no Mosquitto. It speaks MQTT 3.1.1 only and keeps sessions in memory: fine for trying the platform,
not for production, where Mosquitto (or a cluster) is configured with SMARTCITY_MQTT_URL.

Persistent sessions need a client to send a user name (any; no password is checked): amqtt gives anonymous clients
no offline queue."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """amqtt on 127.0.0.1:`port`, on an event loop of its own thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mqtt-broker", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker; raises if it cannot listen (the port is taken, say)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the embedded MQTT broker did not start within {timeout:g} s")
        if self._failed is not None:
            raise self._failed

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = self._loop = asyncio.new_event_loop()
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 10_000}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}},
        }

        async def boot() -> None:
            self._broker = Broker(config)
            await self._broker.start()

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:
            self._failed = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._broker.shutdown())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
