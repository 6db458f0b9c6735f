"""Runs killed with SIGKILL at each phase leave the warehouse as before the run; the next run completes to
the exact answer and counts no file twice. Real `lofte run` processes, DuckDB file and PostgreSQL."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from load.backend import backend_for
from load.faults import PHASES
from load.warehouse import Warehouse
from load.warehouse_url import parse_warehouse_url
from pipeline.config import read_config
from pipeline.run import load_exports
from schemas import warehouse as w
from schemas.contracts import Source
from schemas.settings import load_settings
from tests.conftest import ESKILSTUNA_2020
from tests.expected import assert_matches
from tests.robustness.conftest import PrefectServer, run_lofte

pytestmark = pytest.mark.flow
PROMISES, AREAS = ESKILSTUNA_2020 / "promises.yaml", ESKILSTUNA_2020 / "areas.geojson"
AUDIT_TABLES = {"load_run", "load_file", "schema_version"}


def _load_in_process(url: str, files: list[tuple[Source, Path]]) -> None:
    """The state before the killed run: a finished load of some files, without Prefect (fast)."""
    load_exports(url, files, read_config([PROMISES], AREAS, None))


def _snapshot(url: str) -> dict[str, Any]:
    """Everything an analyst sees: every table but staging, with the audit reduced to finished loads."""
    store = Warehouse(url)
    state: dict[str, Any] = {}
    with store.begin() as conn:
        for table in w.metadata.sorted_tables:
            if table.name.startswith("stg_") or table.name == "schema_version":
                continue
            query = sa.select(table)
            if table is w.load_file:
                query = query.where(table.c.status == "loaded")
            if table is w.load_run:
                query = query.where(table.c.status == "finished")
            state[table.name] = sorted(repr(tuple(row)) for row in conn.execute(query))
    store.dispose()
    return state


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_a_run_killed_at_any_phase_changes_nothing_and_the_next_run_is_exact(
    backend: str, phase: str, request: pytest.FixtureRequest, prefect_server: PrefectServer
) -> None:
    url = str(request.getfixturevalue(f"{backend}_url"))
    status = sorted((ESKILSTUNA_2020 / "status").iterdir())
    _load_in_process(url, [(Source.STATUS, p) for p in status[:2]])
    before = _snapshot(url)
    assert before["fact_brott"] and before["followup_aggregate"]

    args = [
        "run", "--promises", str(PROMISES), "--areas", str(AREAS),
        "--status", str(ESKILSTUNA_2020 / "status"), "--storm", str(ESKILSTUNA_2020 / "storm"),
        "--activities", str(ESKILSTUNA_2020 / "activities"), "--warehouse", url,
    ]  # fmt: skip
    killed = run_lofte(prefect_server, *args, LOFTE_TEST_KILL_AT=phase)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _snapshot(url) == before
    # DuckDB stages in files beside it, PostgreSQL in LOFTE_STAGING_DIR (tests/conftest.py)
    staging = backend_for(parse_warehouse_url(url), load_settings()).staging_root()
    assert staging is not None
    if phase in ("merge", "commit"):  # the files outlast a merge not committed
        assert list(staging.rglob("*.parquet"))  # the killed run's staged rows, left on disk

    store = Warehouse(url)
    with store.begin() as conn:
        dead = conn.execute(
            sa.select(w.load_run.c.run_id).where(w.load_run.c.status == "running")
        ).scalar_one()
    store.dispose()

    again = run_lofte(prefect_server, *args)
    assert again.returncode == 0, again.stderr
    assert_matches(url, json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8")))

    store = Warehouse(url)
    with store.begin() as conn:
        lf, lr = w.load_file, w.load_run
        last = conn.execute(sa.select(lr.c.run_id).order_by(lr.c.started_at.desc()).limit(1)).scalar_one()
        loaded = (
            conn.execute(sa.select(lf.c.file_name).where(lf.c.run_id == last, lf.c.status == "loaded"))
            .scalars()
            .all()
        )
        dead_files = conn.execute(sa.select(lf.c.status).where(lf.c.run_id == dead)).scalars().all()
        dead_status = conn.execute(sa.select(lr.c.status).where(lr.c.run_id == dead)).scalar_one()
        leftovers = sum(
            conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.run_id == last)).scalar_one()
            for t in w.metadata.sorted_tables
            if t.name.startswith("stg_")
        )
    store.dispose()
    files = [
        p.name for d in ("status", "storm", "activities") for p in sorted((ESKILSTUNA_2020 / d).iterdir())
    ]
    assert sorted(loaded) == sorted(files)  # each file once, as loaded, in the run that finished
    assert "loaded" not in dead_files  # the killed run's files are never taken for loaded
    # DuckDB: the next run knows the killed one is dead. PostgreSQL: several runs may be alive at once, so
    # a 'running' run only counts as dead after load.staging.STALE_AFTER, unless the run lock says so.
    assert dead_status == "interrupted" if backend == "duckdb" else dead_status in ("running", "interrupted")
    assert leftovers == 0
    assert not staging.exists()  # the next run removed the killed run's staged files, then its own

    audit = run_lofte(prefect_server, "audit", "--run", dead, "--warehouse", url)
    assert audit.returncode == 0 and "loaded]" not in audit.stdout
    assert dead_files and "interrupted]" in audit.stdout  # the audit tells an interrupted load apart
