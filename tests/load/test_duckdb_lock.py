"""A DuckDB file has one writer: while an analyst's process holds it open, a run waits with a clear
message and then goes on; if the holder does not let go in time, the run stops with a one-line error."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from load import warehouse as wh
from schemas.errors import WarehouseError
from schemas.settings import Settings


def _hold(path: Path, seconds: float) -> subprocess.Popen[bytes]:
    code = f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('open', flush=True); time.sleep({seconds})"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"open"
    return holder


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_a_run_waits_for_an_open_connection(warehouse_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    holder = _hold(warehouse_file, 2)
    started = time.monotonic()
    store = wh.Warehouse(f"duckdb:///{warehouse_file}", settings=Settings(lock_wait_seconds=60))
    waited = time.monotonic() - started
    store.migrate()
    store.dispose()
    holder.wait()
    assert "is locked by another process (an open connection?): waiting up to 60 s" in capsys.readouterr().out
    assert waited > 0.5  # it did wait for the holder, rather than failing or skipping the lock


def test_a_run_gives_up_with_one_line_when_the_holder_stays(warehouse_file: Path) -> None:
    holder = _hold(warehouse_file, 30)
    try:
        with pytest.raises(WarehouseError, match=r"w\.duckdb is locked by another process") as raised:
            wh.Warehouse(f"duckdb:///{warehouse_file}", settings=Settings(lock_wait_seconds=1))
        assert "\n" not in str(raised.value)
    finally:
        holder.kill()
        holder.wait()
