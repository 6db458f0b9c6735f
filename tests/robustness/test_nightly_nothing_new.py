"""A `lofte nightly` that finds nothing says so without starting a flow: most nights bring nothing, and a
flow's orchestration costs seconds. A night with something to do, or an inbox entry it cannot read,
still runs as a flow."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from sample.generator import write_sample
from schemas import warehouse as w
from tests.robustness.conftest import PrefectServer, run_lofte

pytestmark = pytest.mark.flow


def _flow_runs(server: PrefectServer) -> int:
    request = urllib.request.Request(f"{server.api_url}/flow_runs/count", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return int(json.loads(answer.read()))


def _runs(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [
            (r.run_id, r.status) for r in conn.execute(sa.select(w.load_run).order_by(w.load_run.c.run_id))
        ]
    engine.dispose()
    return rows


def test_a_night_with_nothing_new_starts_no_flow(
    prefect_server: PrefectServer, tmp_path: Path, duckdb_url: str
) -> None:
    write_sample(tmp_path / "sample", [2019], kommuner=1, scale=1, seed=5)
    args = [
        "nightly",
        "--config",
        str(tmp_path / "sample" / "config"),
        "--inbox",
        str(tmp_path / "sample" / "inbox"),
    ]
    first = run_lofte(prefect_server, *args, "--warehouse", duckdb_url)
    assert first.returncode == 0, first.stderr
    loaded = _runs(duckdb_url)
    assert [status for _, status in loaded] == ["finished"]
    flows_before = _flow_runs(prefect_server)

    again = run_lofte(prefect_server, *args, "--warehouse", duckdb_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "nothing new: the warehouse is unchanged"
    assert _flow_runs(prefect_server) == flows_before  # no flow run for it
    assert _runs(duckdb_url) == loaded

    # A stray file in the inbox root is not nothing: the flow runs, says it, and exits 3.
    (tmp_path / "sample" / "inbox" / "dropped-here.csv").write_text("x;y\n1;2\n", encoding="utf-8")
    stray = run_lofte(prefect_server, *args, "--warehouse", duckdb_url)
    assert stray.returncode == 3, stray.stderr
    assert "dropped-here.csv" in stray.stderr
    assert _flow_runs(prefect_server) == flows_before + 1
    assert _runs(duckdb_url) == loaded
