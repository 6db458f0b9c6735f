"""A backfill killed between its years publishes nothing; the next backfill completes all of them exactly.
Real `lofte backfill` processes killed by SIGKILL, DuckDB file and PostgreSQL."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from load.warehouse import Warehouse
from pipeline.config import read_config_folder
from pipeline.plan import inbox_files
from pipeline.run import load_exports
from sample.generator import write_sample
from schemas import warehouse as w
from tests.expected import assert_matches
from tests.robustness.conftest import PrefectServer, run_lofte
from tests.robustness.test_crash_safety import _snapshot

pytestmark = pytest.mark.flow
YEARS = [2019, 2020]


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backfill-sample")
    write_sample(root, YEARS, kommuner=1, scale=1, seed=11)
    return root


@pytest.mark.parametrize("phase", ["year", "commit"])
@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_a_killed_backfill_publishes_nothing_and_the_next_one_is_exact(
    backend: str, phase: str, sample_dir: Path, request: pytest.FixtureRequest, prefect_server: PrefectServer
) -> None:
    url = str(request.getfixturevalue(f"{backend}_url"))
    config, inbox = sample_dir / "config", sample_dir / "inbox"
    first = [(item.source, item.path) for item in inbox_files(inbox)][:1]
    load_exports(url, first, read_config_folder(config))  # the warehouse before: one file loaded
    before = _snapshot(url)
    assert before["fact_brott"]

    args = ["backfill", "--config", str(config), "--inbox", str(inbox), "--warehouse", url]
    years = ["--from-year", str(YEARS[0]), "--to-year", str(YEARS[-1])]
    # 'year': the first year merged, the second not begun; 'commit': every year merged, not committed
    killed = run_lofte(prefect_server, *args, *years, LOFTE_TEST_KILL_AT=phase)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _snapshot(url) == before

    again = run_lofte(prefect_server, *args, *years)
    assert again.returncode == 0, again.stderr
    for year in YEARS:
        assert_matches(
            url, json.loads((sample_dir / "expected" / f"0484-{year}.json").read_text(encoding="utf-8"))
        )

    store = Warehouse(url)
    with store.begin() as conn:
        statuses = (
            conn.execute(sa.select(w.load_run.c.status).order_by(w.load_run.c.started_at)).scalars().all()
        )
        staged = sum(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in w.metadata.sorted_tables
            if t.name.startswith("stg_")
        )
    store.dispose()
    # the killed backfill was found dead by the next one at once, and left nothing staged behind
    assert statuses == ["finished", "interrupted", "finished"], statuses
    assert staged == 0
