"""The repository names no path of one machine (a clone must work anywhere) and no tracker numbers in
its text (a comment says why, not where a discussion was)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
# /home/lofte is the image's own user (Dockerfile), not a machine's.
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|tmp)/|(?<![\w.~-])/home/(?!lofte\b)")
ISSUE_NUMBER = re.compile(r"\bissues? #?\d+", re.IGNORECASE)


def _tracked_text() -> dict[str, str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    names = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    texts = {}
    for name in filter(None, names):
        if name == "tests/ops/test_repo_hygiene.py":  # its own patterns
            continue
        data = (ROOT / name).read_bytes() if (ROOT / name).is_file() else b""
        if b"\0" not in data[:8192]:
            texts[name] = data.decode("utf-8", errors="replace")
    return texts


def test_no_machine_paths_and_no_issue_numbers() -> None:
    found = [
        f"{name}:{number}: {line.strip()}"
        for name, text in _tracked_text().items()
        for number, line in enumerate(text.splitlines(), 1)
        if MACHINE_PATH.search(line) or ISSUE_NUMBER.search(line)
    ]
    assert not found, "\n".join(found[:20])
