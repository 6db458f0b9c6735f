"""A command's own Prefect API when no Prefect server is configured, started before anything else.

Without `PREFECT_API_URL` Prefect starts a temporary API server when the first flow runs: it imports
its server package into this process, then boots the server in a subprocess, and the flow waits for
both (about 10 s here). A command instead starts the same server process (the command line Prefect
uses for it) as its first step, and works on the other core meanwhile (reads its configuration; `lofte
run` begins loading, pipeline/headstart.py; `lofte nightly` finds whether there is anything to do); its
flows then use it through `PREFECT_API_URL`, and it stops when the command ends. With a configured server (the
compose stack, a deployment's worker) nothing is started.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from pipeline.memory import GC_THRESHOLDS

STARTUP_TIMEOUT_S = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))


class PrefectApiError(RuntimeError):
    pass


_running: list[_TemporaryApi] = []


def stop_temporary_api() -> None:
    """Stop the command's temporary API now (an interrupted command exits without its exit handlers)."""
    for server in _running:
        server.stop()


def start_prefect_api() -> AbstractContextManager[None]:
    """Call first in a command: the temporary API (when one is needed) begins booting in its own process
    now; entering the returned context waits until it answers and runs the command's flows against it.
    Between the two the command may do its own work (`lofte run` begins loading: pipeline/headstart.py)."""
    if os.environ.get("PREFECT_API_URL"):
        return nullcontext()
    return _Booting(_TemporaryApi())  # started before Prefect is even imported: that import takes seconds too


class _Booting(AbstractContextManager[None]):
    def __init__(self, server: _TemporaryApi) -> None:
        self.server = server
        self.serving: AbstractContextManager[None] = nullcontext()

    def __enter__(self) -> None:
        from prefect.settings import get_current_settings

        from load.faults import checkpoint
        from pipeline import interrupt

        # A Ctrl-C raised inside the imports above can be lost there (code that ignores what its
        # finalizers or callbacks raise): the signal's flag is asked too, wherever this command waits.
        interrupt.raise_if_interrupted()
        checkpoint("orchestration", interrupt.raise_if_interrupted)  # tests: held before the flow starts

        settings = get_current_settings()
        if settings.api.url or not settings.server.ephemeral.enabled:  # a profile names a server
            self.server.stop()
        else:
            self.serving = self.server.serving()
        self.serving.__enter__()
        if interrupt.requested():  # while the API was awaited: leave it as if never entered
            self.serving.__exit__(None, None, None)
            interrupt.raise_if_interrupted()

    def __exit__(self, *exc: object) -> bool | None:
        return self.serving.__exit__(*exc)  # type: ignore[arg-type]


# `python -m uvicorn`, as Prefect starts its temporary server, but with the command's garbage-collector
# thresholds: the server's imports build a million objects, on the core the reading threads share.
_UVICORN = (
    f"import gc, runpy; gc.set_threshold{GC_THRESHOLDS}; "
    "runpy.run_module('uvicorn', run_name='__main__', alter_sys=True)"
)


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when this command dies, even by SIGKILL (atexit never runs then)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _TemporaryApi:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        spec = importlib.util.find_spec("prefect")
        assert spec is not None and spec.submodule_search_locations
        env = {
            **os.environ,
            # As Prefect's own temporary server: no UI, marked ephemeral.
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        command = [sys.executable, "-c", _UVICORN, "--factory", "prefect.server.api.server:create_app"]
        command += ["--app-dir", os.path.dirname(spec.submodule_search_locations[0])]
        command += [
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ]
        # Its own session: a Ctrl-C in the terminal reaches the process group, and the API must outlive
        # the command's clean-up after it (it still dies with the command: _die_with_parent).
        self.process = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent, start_new_session=True)
        _running.append(self)
        atexit.register(self.stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Runs inside use this API. It stops at exit (atexit), after Prefect has flushed the run's logs
        and events to it: stopping it any earlier leaves them retrying against a closed port."""
        from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        self._wait_until_up()
        # No heartbeats: they let a server find a crashed run, but this one dies with the command; and
        # stopping the heartbeat thread cost up to a second at the end of every flow.
        updates = {PREFECT_API_URL: self.url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        with temporary_settings(updates=updates):
            yield

    def _wait_until_up(self) -> None:
        import httpx

        from pipeline import interrupt

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                interrupt.raise_if_interrupted()
                if self.process.poll() is not None:
                    raise PrefectApiError(f"the temporary Prefect API exited with {self.process.returncode}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise PrefectApiError(f"the temporary Prefect API did not answer within {STARTUP_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
