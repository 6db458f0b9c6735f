"""Real `lofte` processes for the robustness tests, against one Prefect server per test worker.

A `lofte run` with no Prefect API starts a temporary server of its own (10-25 s each on these machines);
against a running `prefect server start` a run costs a few seconds. If the server cannot start, the runs
fall back to the temporary one (slower, same behaviour).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import command_env

LOFTE = Path(sys.executable).parent / "lofte"
PREFECT = Path(sys.executable).parent / "prefect"


@dataclass
class PrefectServer:
    home: Path
    api_url: str | None

    def env(self, **extra: str) -> dict[str, str]:
        env = command_env()
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
            COLUMNS="200",  # rich wraps nothing: one message, one line
        )
        if self.api_url:
            env["PREFECT_API_URL"] = self.api_url
        env.update(extra)
        return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    server = PrefectServer(home, None)
    process = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                server.api_url = f"http://127.0.0.1:{port}/api"
                break
        except OSError:
            time.sleep(0.5)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


def run_lofte(server: PrefectServer, *args: str, **env: str) -> Finished:
    done = subprocess.run(
        [str(LOFTE), *args], env=server.env(**env), capture_output=True, text=True, timeout=600
    )
    return Finished(done.returncode, done.stdout, done.stderr)
