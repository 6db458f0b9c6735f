"""A backfill and a nightly run started at the same moment on one warehouse: one waits for the other,
nothing is counted twice and the answer is exact (real `lofte` processes, on both backends)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sample.generator import write_sample
from tests.expected import assert_matches

LOFTE = [str(Path(sys.executable).parent / "lofte")]


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("concurrent")
    write_sample(root, [2019], kommuner=1, scale=1, seed=11)
    return root


def _start(args: list[str], home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PREFECT_HOME": str(home), "LOFTE_LOCK_WAIT_SECONDS": "300"}
    return subprocess.Popen(
        [*LOFTE, *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_backfill_and_nightly_at_the_same_moment(
    sample_dir: Path, tmp_path: Path, warehouse_url: str
) -> None:
    common = [
        "--config",
        str(sample_dir / "config"),
        "--inbox",
        str(sample_dir / "inbox"),
        "--warehouse",
        warehouse_url,
    ]
    runs = [
        _start(["backfill", *common, "--from-year", "2019", "--to-year", "2019"], tmp_path / "home-a"),
        _start(["nightly", *common], tmp_path / "home-b"),
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr[-2000:]
        assert "Traceback" not in stderr
    expected = json.loads((sample_dir / "expected" / "0484-2019.json").read_text(encoding="utf-8"))
    assert_matches(warehouse_url, expected)
