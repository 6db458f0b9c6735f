"""The stack's processes, run as docker-compose.yml runs them but without Docker: a real `prefect server
start`, and `python -m flows.deployments` (the `lofte` service's command) with the service's environment
against a PostgreSQL warehouse. Through the server's API the test runs the nightly deployment, a backfill,
and a backfill that fails (which must alert), then checks the warehouse and the runs' states, and stops
both processes with SIGTERM as `docker compose stop` does."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sample.generator import write_sample
from schemas import warehouse as w
from tests.conftest import command_env

pytestmark = [pytest.mark.slow, pytest.mark.flow]
PREFECT = Path(sys.executable).parent / "prefect"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = command_env()
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", **extra)
    return env


def _wait(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out: {what}")


def _run(api: httpx.Client, deployment: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    found = api.get(f"/deployments/name/{deployment}").json()
    # The server's SQLite can refuse a write under load (a 5xx): asked again with the same idempotency
    # key, it creates the run once.
    body = {"parameters": parameters or {}, "idempotency_key": f"{deployment}-{uuid.uuid4()}"}
    for _ in range(5):
        created = api.post(f"/deployments/{found['id']}/create_flow_run", json=body)
        if created.status_code < 500:
            break
        time.sleep(1)
    assert created.status_code in (200, 201), f"{deployment}: {created.status_code} {created.text[:1000]}"
    run = created.json()

    def final() -> dict[str, Any] | None:
        state = api.get(f"/flow_runs/{run['id']}").json()
        return state if state["state_type"] in FINAL else None

    result: dict[str, Any] = _wait(f"{deployment} run", final, 300)
    return result


def test_the_stack_serves_runs_and_alerts(postgres_url: str, tmp_path: Path) -> None:
    write_sample(tmp_path / "data", [2019], kommuner=1, scale=1, seed=2019)
    alert = tmp_path / "alert.txt"
    home = tmp_path / "prefect-home"
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    timings: dict[str, float] = {}
    started = time.monotonic()
    server = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    serving: subprocess.Popen[bytes] | None = None
    try:
        with httpx.Client(base_url=api_url, timeout=10) as api:
            _wait("server health", lambda: api.get("/health").status_code == 200, 120)
            timings["server_ready_s"] = time.monotonic() - started
            service_env = _env(
                home,
                PREFECT_API_URL=api_url,
                PREFECT_RUNNER_SERVER_ENABLE="true",
                PREFECT_RUNNER_SERVER_HOST="127.0.0.1",
                PREFECT_RUNNER_SERVER_PORT=str(_free_port()),
                LOFTE_CONFIG_DIR=str(tmp_path / "data" / "config"),
                LOFTE_INBOX_DIR=str(tmp_path / "data" / "inbox"),
                LOFTE_WAREHOUSE_URL=postgres_url,
                LOFTE_ALERT_COMMAND=f'echo "$LOFTE_ALERT_FLOW $LOFTE_ALERT_STATE" >> {alert}',
            )
            serving_started = time.monotonic()
            serving = subprocess.Popen(
                [sys.executable, "-m", "flows.deployments"],
                env=service_env,
                stdout=(tmp_path / "serving.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for name in ("lofte-nightly/nightly", "lofte-backfill/backfill"):
                _wait(
                    f"deployment {name}",
                    lambda n=name: api.get(f"/deployments/name/{n}").status_code == 200,
                    120,
                )
            timings["deployments_registered_s"] = time.monotonic() - serving_started

            t = time.monotonic()
            nightly = _run(api, "lofte-nightly/nightly")
            timings["nightly_run_s"] = time.monotonic() - t
            assert nightly["state_type"] == "COMPLETED", (tmp_path / "serving.log").read_text()[-3000:]
            t = time.monotonic()
            backfill = _run(api, "lofte-backfill/backfill", {"from_year": 2019, "to_year": 2019})
            timings["backfill_run_s"] = time.monotonic() - t
            assert backfill["state_type"] == "COMPLETED", (tmp_path / "serving.log").read_text()[-3000:]
            wrong = _run(api, "lofte-backfill/backfill", {"from_year": 2020, "to_year": 2019})
            assert wrong["state_type"] == "FAILED"

        engine = sa.create_engine(postgres_url)
        with engine.connect() as conn:
            runs = conn.execute(
                sa.select(w.load_run.c.kind, w.load_run.c.status).order_by(w.load_run.c.started_at)
            ).all()
            facts = conn.execute(sa.select(sa.func.count()).select_from(w.fact_brott)).scalar_one()
            followup = conn.execute(sa.select(sa.func.count()).select_from(w.followup_aggregate)).scalar_one()
        engine.dispose()
        assert [tuple(r) for r in runs] == [("nightly", "finished"), ("backfill", "finished")]
        assert facts > 0 and followup > 0
        assert (
            _wait("alert", lambda: alert.exists() and alert.read_text(), 30).strip()
            == "lofte-backfill Failed"
        )

        t = time.monotonic()
        serving.send_signal(signal.SIGTERM)
        serving.wait(timeout=60)
        timings["serving_stop_s"] = time.monotonic() - t
        print("stack timings:", {k: round(v, 1) for k, v in timings.items()})
    finally:
        for process in (serving, server):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
