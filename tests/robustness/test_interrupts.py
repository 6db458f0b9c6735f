"""Ctrl-C and SIGTERM end a real `lofte run` within seconds: one line, exit 130/143, the run recorded
'interrupted' with nothing staged, and no orchestration chatter after it. Also while the merge waits on
another writer's lock. PostgreSQL, so the test can watch the run's row while the run holds the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from load.warehouse import Warehouse
from schemas import warehouse as w
from tests.conftest import ESKILSTUNA_2020
from tests.robustness.conftest import LOFTE, PrefectServer

pytestmark = pytest.mark.flow
PROMISES, AREAS = ESKILSTUNA_2020 / "promises.yaml", ESKILSTUNA_2020 / "areas.geojson"


def _start(url: str, env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    args = [
        str(LOFTE), "run", "--promises", str(PROMISES), "--areas", str(AREAS),
        "--status", str(ESKILSTUNA_2020 / "status"), "--storm", str(ESKILSTUNA_2020 / "storm"),
        "--warehouse", url,
    ]  # fmt: skip
    # Its own process group, as a command started from a shell: a Ctrl-C reaches the whole group.
    return subprocess.Popen(
        args, env=env, stdout=(out / "stdout").open("wb"), stderr=(out / "stderr").open("wb"),
        start_new_session=True,
    )  # fmt: skip


def _wait_for(condition: str, url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    engine = sa.create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before the signal"
            try:
                with engine.connect() as conn:
                    if conn.execute(sa.text(condition)).scalar():
                        return
            except sa.exc.ProgrammingError:
                pass  # the schema is not made yet
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for: {condition}")
    finally:
        engine.dispose()


def _after(url: str) -> tuple[list[tuple[str, str]], int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        runs = [tuple(r) for r in conn.execute(sa.select(w.load_run.c.status, w.load_run.c.message))]
        staged = sum(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in w.metadata.sorted_tables
            if t.name.startswith("stg_")
        )
        published = conn.execute(sa.select(sa.func.count()).select_from(w.fact_brott)).scalar_one()
    engine.dispose()
    assert published == 0  # nothing was published
    return runs, staged


def _ends_within(process: subprocess.Popen[bytes], seconds: float) -> float:
    start = time.monotonic()
    process.wait(timeout=seconds)
    return time.monotonic() - start


RUNNING = "select count(*) from load_run where status = 'running'"


def test_ctrl_c_while_reading_with_the_commands_own_prefect_api(
    postgres_url: str, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    """The case met in a terminal: no Prefect server, the command's temporary API, Ctrl-C to the group."""
    env = prefect_server.env(LOFTE_TEST_PAUSE_AT="read")
    env.pop("PREFECT_API_URL", None)
    process = _start(postgres_url, env, tmp_path)
    _wait_for(RUNNING, postgres_url, process)
    os.killpg(process.pid, signal.SIGINT)
    took = _ends_within(process, 30)
    # The temporary API runs in its own session, so Ctrl-C left it alive: it must end with the command.
    time.sleep(1)
    assert process.returncode == 130
    stdout, stderr = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    assert stderr.strip() == "avbrutet: inget ändrat", stderr
    assert "EventsWorker" not in stdout + stderr and "Error logging" not in stdout + stderr
    assert took < 15
    runs, staged = _after(postgres_url)
    assert [status for status, _ in runs] == ["interrupted"] and staged == 0


def test_ctrl_c_before_the_orchestration_is_up_ends_the_begun_run(
    postgres_url: str, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    """`lofte run` begins loading while its temporary API boots (pipeline/headstart.py): a Ctrl-C before
    the flow has taken the run over must end that run just the same."""
    env = prefect_server.env(LOFTE_TEST_PAUSE_AT="orchestration")
    env.pop("PREFECT_API_URL", None)
    process = _start(postgres_url, env, tmp_path)
    _wait_for("select count(*) from load_file where status = 'staged'", postgres_url, process)
    os.killpg(process.pid, signal.SIGINT)
    took = _ends_within(process, 30)
    assert process.returncode == 130
    assert (tmp_path / "stderr").read_text().strip() == "avbrutet: inget ändrat"
    assert took < 15
    runs, staged = _after(postgres_url)
    assert [status for status, _ in runs] == ["interrupted"] and staged == 0


def test_an_orchestration_that_never_answers_ends_the_begun_run(
    postgres_url: str, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    """The temporary API does not answer in time: one line, exit 1, and the run the command began while
    waiting for it is marked failed with nothing staged."""
    env = prefect_server.env(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="0")
    env.pop("PREFECT_API_URL", None)
    process = _start(postgres_url, env, tmp_path)
    process.wait(timeout=120)
    stderr = (tmp_path / "stderr").read_text()
    assert process.returncode == 1, stderr
    assert len(stderr.strip().splitlines()) == 1 and "did not answer within" in stderr, stderr
    runs, staged = _after(postgres_url)
    assert [status for status, _ in runs] == ["failed"] and staged == 0
    assert "did not answer" in str(runs[0][1])


def test_sigterm_while_the_merge_waits_on_a_lock(
    postgres_url: str, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    """Another session holds a table the merge writes: the run waits inside PostgreSQL; SIGTERM must
    still end it."""
    store = Warehouse(postgres_url)
    store.migrate()
    store.dispose()
    blocker = sa.create_engine(postgres_url)
    with blocker.connect() as held:
        held.execute(sa.text("LOCK TABLE fact_brott IN ACCESS EXCLUSIVE MODE"))  # until the rollback
        process = _start(postgres_url, prefect_server.env(), tmp_path)
        waiting = (
            "select exists(select 1 from load_run where status = 'running') and exists(select 1 from "
            "pg_locks where relation = 'fact_brott'::regclass and not granted)"
        )
        _wait_for(waiting, postgres_url, process)
        process.send_signal(signal.SIGTERM)
        took = _ends_within(process, 30)
        held.rollback()
    blocker.dispose()
    stderr = (tmp_path / "stderr").read_text()
    assert process.returncode == 143, stderr
    assert stderr.strip() == "avbrutet: inget ändrat", stderr
    assert took < 15
    runs, staged = _after(postgres_url)
    assert [status for status, _ in runs] == ["interrupted"] and staged == 0


FINALISER_TAKES_THE_SIGNAL = """
import signal, time
from pipeline import interrupt

interrupt.install()


class Finalised:
    def __del__(self):  # the signal arrives while Python runs a finaliser, as met inside Prefect's imports
        signal.raise_signal(signal.SIGINT)
        sum(range(1000))


try:
    Finalised()
    time.sleep(10)
    print("lost")
except interrupt.Interrupted as exc:
    print("interrupted", exc.signum)
"""


def test_a_signal_landing_in_a_finaliser_still_interrupts_the_command(tmp_path: Path) -> None:
    """Python prints and drops an exception raised in a finaliser (a __del__, a weakref callback): the
    Ctrl-C must still reach the main thread, with nothing printed (a CI run once showed the traceback)."""
    script = tmp_path / "finaliser.py"
    script.write_text(FINALISER_TAKES_THE_SIGNAL)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert (done.stdout.strip(), done.stderr) == ("interrupted 2", "")
