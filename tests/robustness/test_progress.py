"""A piped `lofte run` says how each file went as it finishes, before the run ends, one line per message
whatever the width; `lofte sample` prints a readable summary."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ESKILSTUNA_2020
from tests.robustness.conftest import LOFTE, PrefectServer
from tests.robustness.test_interrupts import RUNNING, _start, _wait_for

pytestmark = pytest.mark.flow


def test_a_line_per_file_before_the_run_ends_unwrapped_in_a_pipe(
    postgres_url: str, prefect_server: PrefectServer, tmp_path: Path
) -> None:
    env = prefect_server.env(LOFTE_TEST_PAUSE_AT="merge")
    env.pop("COLUMNS")  # rich's default for a pipe is 80 columns: nothing may be wrapped at it
    process = _start(postgres_url, env, tmp_path)
    files = sorted(p.name for d in ("status", "storm") for p in (ESKILSTUNA_2020 / d).iterdir())
    _wait_for(RUNNING, postgres_url, process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stdout = (tmp_path / "stdout").read_text()
        if all(f"{name} (" in stdout for name in files):
            break
        assert process.poll() is None, (tmp_path / "stderr").read_text()
        time.sleep(0.2)
    assert process.poll() is None  # every file's line came while the run still waits at its merge
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=30)
    lines = [line for line in stdout.splitlines() if line.split(" (")[0] in files]
    assert len(lines) == len(files)
    for line in lines:
        assert re.fullmatch(
            r".+ \((status|storm)\): \d+ rows read, \d+ loaded, \d+ rejected, [\d ]+ rows/s", line
        )


def test_sample_prints_a_readable_summary(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(LOFTE), "sample", str(tmp_path / "demo"), "--year", "2019"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "60"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "SampleSummary" not in done.stdout and "PosixPath" not in done.stdout
    assert re.search(r"wrote .*demo: \d+ files for kommun 0484, 2019\n", done.stdout)
    assert re.search(r"lines: \d+ STATUS, \d+ STORM, \d+ activities", done.stdout)


def test_a_terminal_gets_a_progress_bar_with_rows_and_throughput(
    duckdb_url: str, prefect_server: PrefectServer
) -> None:
    import pty

    primary, secondary = pty.openpty()
    args = [
        str(LOFTE), "run", "--promises", str(ESKILSTUNA_2020 / "promises.yaml"),
        "--areas", str(ESKILSTUNA_2020 / "areas.geojson"), "--status", str(ESKILSTUNA_2020 / "status"),
        "--warehouse", duckdb_url,
    ]  # fmt: skip
    process = subprocess.Popen(args, env=prefect_server.env(), stdout=secondary, stderr=secondary)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=300)
    os.close(primary)
    text = seen.decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert re.search(r"files · [\d ]+ rows · [\d ]+ rows/s", text)  # the bar's own columns
    assert re.search(r"status_2020_\S+ \(status\): \d+ rows read", text)  # and still a line per file
