"""Backup and restore as docs/operations.md describes them: pg_dump/pg_restore of a loaded PostgreSQL
warehouse into a new database, and `lofte backup` of a DuckDB file (which waits while another process
holds the file); each restored copy gives the same report."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from schemas import warehouse as w
from tests.analyst.conftest import load_fixture
from tests.analyst.test_report_html import KOMMUN, YEAR
from tests.conftest import fresh_postgres_database


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _state(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in w.metadata.sorted_tables
        }
    engine.dispose()
    return counts


def _report(url: str) -> str:
    done = CliRunner().invoke(app, ["report", "--kommun", KOMMUN, "--year", str(YEAR), "--warehouse", url])
    assert done.exit_code == 0, done.output
    return done.output


def test_pg_dump_and_pg_restore_round_trip(postgres_url: str, tmp_path: Path) -> None:
    load_fixture(postgres_url)
    dump = tmp_path / "lofte.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", _libpq(postgres_url)], check=True, timeout=300
    )
    with fresh_postgres_database() as restored:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(restored)}", str(dump)],
            check=True,
            timeout=300,
        )
        assert _state(restored) == _state(postgres_url)
        assert _report(restored) == _report(postgres_url)


def test_lofte_backup_copies_a_duckdb_file_once_the_holder_lets_go(duckdb_url: str, tmp_path: Path) -> None:
    load_fixture(duckdb_url)
    path = duckdb_url.removeprefix("duckdb:///")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({path!r}); print('held', flush=True); time.sleep(3)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    copy = tmp_path / "backup" / "lofte-copy.duckdb"
    done = CliRunner().invoke(app, ["backup", "--out", str(copy), "--warehouse", duckdb_url])
    waited = time.monotonic() - started
    holder.wait(timeout=30)
    assert done.exit_code == 0, done.output
    assert waited > 1  # it waited for the other process to let go of the file
    assert f"wrote {copy}" in done.output
    assert _report(f"duckdb:///{copy}") == _report(duckdb_url)
    again = CliRunner().invoke(app, ["backup", "--out", str(copy), "--warehouse", duckdb_url])
    assert again.exit_code == 1 and "exists" in again.output
