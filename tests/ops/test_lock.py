"""The compiled locks agree with pyproject.toml: every pin there is the version locked, every locked
package has hashes, and the runtime lock is the dev lock's runtime part (same versions)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(path: Path) -> dict[str, str]:
    """Package → version of a `uv pip compile --generate-hashes` file, each checked to carry a hash."""
    text = path.read_text(encoding="utf-8")
    locked: dict[str, str] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2]):
        found = PIN.match(entry)
        assert found, entry[:100]
        assert "--hash=sha256:" in entry, f"{path.name}: {found[1]} has no hash"
        locked[_name(found[1])] = found[2]
    return locked


def test_locks_hold_every_pin_of_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime, dev = _locked(ROOT / "requirements.lock"), _locked(ROOT / "requirements-dev.lock")
    for requirement in project["dependencies"]:
        name, version = PIN.match(requirement).groups()  # type: ignore[union-attr]
        assert runtime.get(_name(name)) == version, f"{name}: run `make lock`"
    for requirement in project["optional-dependencies"]["dev"]:
        name, version = PIN.match(requirement).groups()  # type: ignore[union-attr]
        assert dev.get(_name(name)) == version, f"{name}: run `make lock`"
    assert {name: dev.get(name) for name in runtime} == runtime
