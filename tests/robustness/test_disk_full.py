"""A full disk (a DuckDB warehouse's, or where a PostgreSQL run stages): the run ends with one line naming
the cause and exit code 1, and the next run with room is exact. A real size-limited file system (tmpfs) and real `lofte run` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ESKILSTUNA_2020
from tests.expected import assert_matches
from tests.robustness.conftest import Finished, PrefectServer, run_lofte

pytestmark = pytest.mark.flow
EXPECTED = json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8"))
RUN = [
    "run", "--promises", str(ESKILSTUNA_2020 / "promises.yaml"), "--areas", str(ESKILSTUNA_2020 / "areas.geojson"),
    "--status", str(ESKILSTUNA_2020 / "status"), "--storm", str(ESKILSTUNA_2020 / "storm"),
    "--activities", str(ESKILSTUNA_2020 / "activities"),
]  # fmt: skip


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 600 kB tmpfs (needs root); `_resize` gives it room later."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _resize(disk: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(disk)], check=True)


def _one_line(done: Finished) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_no_room_for_the_run_is_one_line_before_anything_is_written(
    small_disk: Path, prefect_server: PrefectServer
) -> None:
    url = f"duckdb:///{small_disk / 'w.duckdb'}"
    _resize(small_disk, "8m")  # room for the schema, not for the run's estimate
    done = run_lofte(prefect_server, *RUN, "--warehouse", url)
    assert done.returncode == 1
    line = _one_line(done)
    assert line.startswith("error: disk full:") and "MB free" in line and "needs about" in line, line

    _resize(small_disk, "64m")
    again = run_lofte(prefect_server, *RUN, "--warehouse", url)
    assert again.returncode == 0, again.stderr
    assert_matches(url, EXPECTED)


def test_a_disk_that_fills_during_the_run_is_named_and_the_next_run_is_exact(
    small_disk: Path, prefect_server: PrefectServer
) -> None:
    url = f"duckdb:///{small_disk / 'w.duckdb'}"
    # The estimate turned off, so the disk really fills (here: in the merge's commit).
    unchecked = (
        "import sys, pipeline.run as r; r.FREE_SPACE_OVERHEAD_BYTES = 0; r.FREE_SPACE_FACTOR = 0; "
        "from cli import main; sys.argv[0] = 'lofte'; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", unchecked, *RUN, "--warehouse", url],
        env=prefect_server.env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr  # no native crash (134), no traceback
    line = _one_line(Finished(done.returncode, done.stdout, done.stderr))
    assert line.startswith("error: disk full:") and "No space left on device" in line, line

    _resize(small_disk, "64m")
    again = run_lofte(prefect_server, *RUN, "--warehouse", url)
    assert again.returncode == 0, again.stderr
    assert_matches(url, EXPECTED)
    audit = run_lofte(prefect_server, "audit", "--warehouse", url)
    assert audit.returncode == 0 and "loaded]" in audit.stdout


def test_no_room_to_stage_a_postgres_run_is_one_line_and_a_full_staging_disk_too(
    small_disk: Path, prefect_server: PrefectServer, postgres_url: str
) -> None:
    """PostgreSQL: the run stages on this machine (LOFTE_STAGING_DIR). No room by the estimate: one line
    before anything is written; a disk that fills while staging: one line, the run rolled back; then a
    run with room is exact."""
    staging = str(small_disk / "staging")
    _resize(small_disk, "1m")  # less than the estimate's 16 MB of overhead
    done = run_lofte(prefect_server, *RUN, "--warehouse", postgres_url, LOFTE_STAGING_DIR=staging)
    assert done.returncode == 1
    line = _one_line(done)
    assert line.startswith(f"error: disk full: {small_disk}") and "needs about" in line, line

    unchecked = (
        "import sys, pipeline.run as r; r.FREE_SPACE_OVERHEAD_BYTES = 0; r.STAGING_SPACE_FACTOR = 0; "
        "from cli import main; sys.argv[0] = 'lofte'; main()"
    )
    _resize(small_disk, "64k")  # the estimate turned off: the staged files fill the disk
    filled = subprocess.run(
        [sys.executable, "-c", unchecked, *RUN, "--warehouse", postgres_url],
        env=prefect_server.env(LOFTE_STAGING_DIR=staging),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert filled.returncode == 1, filled.stderr
    line = _one_line(Finished(filled.returncode, filled.stdout, filled.stderr))
    assert line.startswith("error: disk full:") and "No space left on device" in line, line

    _resize(small_disk, "64m")
    again = run_lofte(prefect_server, *RUN, "--warehouse", postgres_url, LOFTE_STAGING_DIR=staging)
    assert again.returncode == 0, again.stderr
    assert_matches(postgres_url, EXPECTED)
    assert not list(small_disk.rglob("*.parquet"))
