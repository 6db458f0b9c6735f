"""Fail fast: every mistake in arguments, paths, configuration files, code lists or the warehouse URL is
one line on stderr, exit 1 or 2, in seconds, before the orchestration starts, with nothing written.

The timed cases run the real `lofte` command without a Prefect API, and count the CPU time it used: wall
time on a shared machine measures the neighbours (on a quiet one these take 0.4-1.2 s of wall time),
while starting the orchestration costs more CPU than the limit and writes Prefect's home folder, which
the tests also rule out. The property test feeds random arguments to
every command in this process, with the orchestration replaced by a failure: reaching it with arguments
that cannot be valid is the bug it looks for."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import cli.runs
import sample.generator
from cli import app
from tests.conftest import ESKILSTUNA_2020, command_env

LOFTE = Path(sys.executable).parent / "lofte"
LIMIT_SECONDS = 5.0
PROMISES = ESKILSTUNA_2020 / "promises.yaml"
AREAS = ESKILSTUNA_2020 / "areas.geojson"


def _lofte(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """The finished command and the CPU seconds (user + system) it used."""
    env = command_env()
    env.update(COLUMNS="200", PREFECT_HOME=str(cwd / "prefect-home"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [str(LOFTE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    output = done.stdout + done.stderr
    assert "Traceback" not in output and 'File "' not in output, output
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def _mistakes(tmp: Path) -> dict[str, tuple[list[str], int, str]]:
    """name → (arguments, exit code, a part of the one line)."""
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text('kommunkod: "0484"\nyear: 2020\nsections: [\n', encoding="utf-8")
    typo = tmp / "typo.yaml"
    typo.write_text(
        PROMISES.read_text(encoding="utf-8").replace("HOBIT: [TRAFIKKONTROLL]", "HOBIT: [TRAFIKONTROLL]"),
        encoding="utf-8",
    )
    run = ["run", "--areas", str(AREAS), "--status", str(ESKILSTUNA_2020 / "status")]
    return {
        "missing promises file": (
            [*run, "--promises", "nope.yaml", "--warehouse", "w.duckdb"],
            2,
            "--promises nope.yaml: no such file or folder",
        ),
        "YAML error": ([*run, "--promises", str(bad_yaml), "--warehouse", "w.duckdb"], 1, "bad.yaml:4:1"),
        "bad warehouse URL": (
            [*run, "--promises", str(PROMISES), "--warehouse", "sqlite:///x.db"],
            2,
            "sqlite:// is not supported",
        ),
        "postgres:// without a database": (
            [*run, "--promises", str(PROMISES), "--warehouse", "postgres://"],
            2,
            "names no database",
        ),
        "--out into a missing folder": (
            ["report", "--kommun", "0484", "--year", "2020", "--out", "nodir/r.md", "--warehouse", "w.duckdb"],
            2,
            "--out nodir/r.md: no such folder nodir",
        ),
        "export --out under a missing folder": (
            ["export", "--out", "nodir/deeper", "--warehouse", "w.duckdb"],
            2,
            "no such folder nodir",
        ),
        "a --status path that does not exist": (
            ["run", "--promises", str(PROMISES), "--areas", str(AREAS), "--status", "statsu", "--warehouse", "w.duckdb"],
            2,
            "--status statsu: no such file or folder",
        ),
        "unknown HOBIT code": (
            [*run, "--promises", str(typo), "--warehouse", "lofte-2020.duckdb"],
            1,
            "did you mean TRAFIKKONTROLL?",
        ),
        "nightly without its config": (
            ["nightly", "--config", "noconfig", "--inbox", ".", "--warehouse", "w.duckdb"],
            2,
            "--config noconfig: no such folder",
        ),
        "backfill years reversed": (
            ["backfill", "--config", ".", "--inbox", ".", "--from-year", "2024", "--to-year", "2019"],
            2,
            "--from-year 2024 is after --to-year 2019",
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "missing promises file",
        "YAML error",
        "bad warehouse URL",
        "postgres:// without a database",
        "--out into a missing folder",
        "export --out under a missing folder",
        "a --status path that does not exist",
        "unknown HOBIT code",
        "nightly without its config",
        "backfill years reversed",
    ],
)
def test_each_mistake_is_one_line_in_seconds_and_writes_nothing(tmp_path: Path, name: str) -> None:
    args, code, part = _mistakes(tmp_path)[name]
    before = set(tmp_path.iterdir())
    done, seconds = _lofte(tmp_path, *args)
    line = _one_line(done)
    assert part in line, line
    assert done.returncode == code, line
    assert seconds < LIMIT_SECONDS, f"{name}: {seconds:.1f} s of CPU"
    assert set(tmp_path.iterdir()) == before  # no warehouse, no report, no Prefect home: nothing ran


@contextmanager
def _orchestration_forbidden() -> Iterator[None]:
    @contextmanager
    def forbidden(*_: object) -> Iterator[None]:
        raise AssertionError("the orchestration started")
        yield  # pragma: no cover

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli.runs, "orchestrated", forbidden)
        # A valid `lofte sample` would write a data set: its argument handling is what is tested.
        patch.setattr(
            sample.generator,
            "write_sample",
            lambda outdir, years, **_: sample.generator.SampleSummary(outdir, years, [], []),
        )
        yield


OPTIONS = {
    "run": ["--promises", "--areas", "--status", "--storm", "--activities", "--aliases", "--warehouse"],
    "nightly": ["--config", "--inbox", "--warehouse"],
    "backfill": ["--config", "--inbox", "--from-year", "--to-year", "--warehouse"],
    "report": ["--kommun", "--year", "--format", "--out", "--warehouse", "--public"],
    "export": ["--out", "--kommun", "--year", "--format", "--warehouse"],
    "audit": ["--run", "--warehouse"],
    "sample": ["--year", "--kommuner", "--scale", "--seed"],
}
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            ".",
            "-",
            "nope.yaml",
            "nodir/x.md",
            "0484",
            "2019",
            "-1",
            "0",
            "md",
            "csv",
            "sqlite:///x.db",
            "postgres://",
            "postgresql://",
            "http://example",
            "duckdb://x",
            "lofte-2019.duckdb",
            "a\nb",
            "[bold]x[/]",
            "--unknown",
        ]
    ),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    command=st.sampled_from(sorted(OPTIONS)),
)
def test_random_arguments_to_every_command_give_one_line_and_no_traceback(
    data: st.DataObject, command: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tokens = data.draw(st.lists(st.one_of(st.sampled_from(OPTIONS[command]), VALUES), max_size=8))
    folder = tmp_path_factory.mktemp("cwd")
    cwd = Path.cwd()
    os.chdir(folder)  # an empty folder: no argument can name a valid file
    try:
        with _orchestration_forbidden():
            result = CliRunner(env={"LOFTE_WAREHOUSE_URL": None}).invoke(app, [command, *tokens])
    finally:
        os.chdir(cwd)
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (tokens, result.exception)
    assert "Traceback" not in output, (tokens, output)
    if result.exit_code != 0:
        assert result.exit_code in (1, 2), (tokens, result.exit_code, output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (tokens, output)
    assert not any(folder.iterdir()) or command == "sample", (tokens, list(folder.iterdir()))
