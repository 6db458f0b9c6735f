"""The `postgres` and `flow` markers select: a run with `-m "not postgres"` collects no test that needs the
PostgreSQL server, `-m "not flow"` no real Prefect run. Checked on the real suite by pytest itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _collect(*marker: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *marker],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ids(process: subprocess.Popen[str]) -> set[str]:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stdout[-2000:] + stderr[-2000:]
    return {line for line in stdout.splitlines() if "::" in line}


def _on_postgres(test_id: str) -> bool:
    """A test run with the backend parameter "postgres" (`[postgres]`, `[postgres-merge]`)."""
    return "postgres" in test_id.partition("[")[2].rstrip("]").split("-")


def test_markers_select_postgres_and_flow_tests() -> None:
    # Started together: each collection imports the suite (Prefect included), a dozen seconds apiece.
    no_postgres, only_postgres, no_flow = (
        _collect("-m", "not postgres"),
        _collect("-m", "postgres"),
        _collect("-m", "not flow"),
    )
    without_pg, with_pg, without_flow = map(_ids, (no_postgres, only_postgres, no_flow))
    every = without_pg | with_pg

    assert not without_pg & with_pg and without_flow <= every
    needs_pg = {i for i in every if _on_postgres(i) or "test_warehouse_roles" in i}
    assert needs_pg and needs_pg <= with_pg
    assert not any(_on_postgres(i) for i in without_pg)
    assert any(i.endswith("[duckdb]") for i in without_pg)  # the DuckDB half of a two-backend test stays

    flows = {i for i in every if i.startswith(("tests/flows/", "tests/robustness/test_crash_safety.py"))}
    assert flows and not flows & without_flow
    assert "tests/test_markers.py::test_markers_select_postgres_and_flow_tests" in without_flow
