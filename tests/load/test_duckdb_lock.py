"""A DuckDB file has one writer: while an analyst's process holds it open, a run waits with a clear
message and then goes on; if the holder does not let go in time, the run stops with a one-line error."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from load import warehouse as wh
from schemas.errors import WarehouseError
from schemas.settings import Settings


def _hold(path: Path) -> subprocess.Popen[bytes]:
    """Another process holding the file open until it is sent a line (or killed): no sleep to outlast."""
    code = (
        f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('open', flush=True); "
        "sys.stdin.readline(); c.close()"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"open"
    return holder


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_a_run_waits_for_an_open_connection(warehouse_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The holder lets go only once the run has said it waits: the run must have waited, then opened."""
    holder = _hold(warehouse_file)
    opened: list[wh.Warehouse] = []
    failed: list[BaseException] = []

    def open_warehouse() -> None:
        try:
            opened.append(
                wh.Warehouse(f"duckdb:///{warehouse_file}", settings=Settings(lock_wait_seconds=600))
            )
        except BaseException as exc:
            failed.append(exc)

    opener = threading.Thread(target=open_warehouse)
    try:
        opener.start()
        printed = ""
        while "is locked by another process" not in printed and opener.is_alive():
            printed += capsys.readouterr().out
            opener.join(0.05)  # polls for the message, not a time the run should take
        printed += capsys.readouterr().out
        assert not opened and not failed, "the run did not wait for the holder"
    finally:
        assert holder.stdin is not None
        holder.stdin.write(b"release\n")
        holder.stdin.close()
        holder.wait()
        opener.join()
    assert not failed, failed
    assert "is locked by another process (an open connection?): waiting up to 600 s" in printed
    assert printed.count("waiting up to") == 1
    store = opened[0]
    store.migrate()
    store.dispose()


def test_a_run_gives_up_with_one_line_when_the_holder_stays(warehouse_file: Path) -> None:
    holder = _hold(warehouse_file)
    try:
        with pytest.raises(WarehouseError, match=r"w\.duckdb is locked by another process") as raised:
            wh.Warehouse(f"duckdb:///{warehouse_file}", settings=Settings(lock_wait_seconds=1))
        assert "\n" not in str(raised.value)
    finally:
        holder.kill()
        holder.wait()
