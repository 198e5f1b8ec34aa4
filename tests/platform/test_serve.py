"""`smartcity serve`: several server processes on one port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from smartcity.cli import app as cli


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


def test_a_server_process_runs_at_most_server_threads_requests_at_once() -> None:
    import anyio
    from anyio import to_thread

    from smartcity.app import _served, create_app
    from smartcity.config import Settings

    app = create_app(Settings(server_threads=3))

    async def limit_inside_the_lifespan() -> float:
        async with _served(app):
            return to_thread.current_default_thread_limiter().total_tokens

    assert anyio.run(limit_inside_the_lifespan) == 3
