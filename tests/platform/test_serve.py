"""`smartcity serve`: several server processes on one port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from typer.testing import CliRunner

from smartcity.cli import app as cli
from smartcity.platform.middleware import ConcurrencyMiddleware


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_reload_and_several_workers_are_refused_together() -> None:
    result = CliRunner().invoke(cli, ["serve", "--reload", "--workers", "2"])
    assert result.exit_code == 2
    assert "--reload runs one process" in result.output


def test_two_workers_serve_the_same_port(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SMARTCITY_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SMARTCITY_DATA_DIR": str(tmp_path),
        "SMARTCITY_RUN_WORKER": "false",
        "SMARTCITY_MQTT_EMBEDDED_PORT": str(_free_port()),  # serve starts its development broker there
    }
    upgraded = subprocess.run([sys.executable, "-m", "smartcity.cli", "db", "upgrade"], env=env, capture_output=True)
    assert upgraded.returncode == 0, upgraded.stderr
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "smartcity.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        answered = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not answered:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    answered = response.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        assert answered, "no answer from /healthz"
        # uvicorn's supervisor runs the workers as its children (one more child tracks them: multiprocessing's
        # resource tracker, which serves nothing)
        workers = [c for c in _children(server.pid) if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text()]
        assert len(workers) == 2
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def test_at_most_the_limit_of_requests_are_worked_on_at_once() -> None:
    busy = {"now": 0, "most": 0}

    async def slow(request: Request) -> Response:
        busy["now"] += 1
        busy["most"] = max(busy["most"], busy["now"])
        await asyncio.sleep(0.05)
        busy["now"] -= 1
        return PlainTextResponse("done")

    async def stream(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            await asyncio.sleep(0.3)  # streams after its response started: outside the limit
            yield b"rows"

        return StreamingResponse(body())

    app = ConcurrencyMiddleware(Starlette(routes=[Route("/slow", slow), Route("/stream", stream)]), limit=2)

    async def run() -> tuple[list[int], float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            streams = [asyncio.create_task(client.get("/stream")) for _ in range(2)]
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            answers = await asyncio.gather(*(client.get("/slow") for _ in range(6)))
            waited = time.perf_counter() - started
            await asyncio.gather(*streams)
        return [a.status_code for a in answers], waited

    with ThreadPoolExecutor(1) as thread:  # a loop of its own: browser tests leave one running on this thread
        statuses, waited = thread.submit(asyncio.run, run()).result()
    assert statuses == [200] * 6
    assert busy["most"] == 2
    assert waited < 0.3, "the streaming responses held their turns while streaming"
