"""`lofte status` says what is loaded and how the runs went; `lofte --version` names the version."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from pipeline.config import read_config
from pipeline.run import abandon, begin_run, load_exports, open_warehouse
from schemas.contracts import Source
from tests.conftest import ESKILSTUNA_2020

PROMISES, AREAS = ESKILSTUNA_2020 / "promises.yaml", ESKILSTUNA_2020 / "areas.geojson"


def _files(source: str) -> list[Path]:
    return sorted((ESKILSTUNA_2020 / source).iterdir())


def test_status_lists_partitions_last_dates_last_runs_and_failures(warehouse_url: str) -> None:
    config = read_config([PROMISES], AREAS, None)
    files = [(Source.STATUS, p) for p in _files("status")] + [(Source.STORM, p) for p in _files("storm")]
    load_exports(warehouse_url, files, config)
    store = open_warehouse(warehouse_url)
    begin_run(store, "20991231T000000Z-deadbeef", "nightly")
    abandon(store, "20991231T000000Z-deadbeef", RuntimeError("disk full"))
    store.dispose()

    done = CliRunner().invoke(app, ["status", "--warehouse", warehouse_url])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    partition = lines.index("  0484 2020:")
    status_line, storm_line = lines[partition + 1], lines[partition + 2]
    assert status_line.split()[:3] == ["status", status_line.split()[1], "rows"]
    assert _files("status")[-1].name in status_line and "2020-" in status_line  # latest file, its dates
    assert storm_line.startswith("    storm") and _files("storm")[-1].name in storm_line
    assert "Data up to: status 2021-01-27, storm 2021-01-27" in lines  # the fixture runs into 2021
    runs = lines[lines.index("Last runs:") + 1 :]
    assert runs[0].split()[:2] == ["nightly", "failed"] and runs[1].split()[:2] == ["run", "finished"]
    assert "Failed since the last successful run: 1" in lines
    assert any("disk full" in line for line in lines)


def test_status_of_an_empty_warehouse(duckdb_url: str) -> None:
    open_warehouse(duckdb_url).dispose()
    done = CliRunner().invoke(app, ["status", "--warehouse", duckdb_url])
    assert done.exit_code == 0, done.output
    assert "nothing loaded yet" in done.output and "Failed since the last successful run: none" in done.output


def test_version() -> None:
    done = CliRunner().invoke(app, ["--version"])
    assert done.exit_code == 0 and done.output.strip() == f"lofte {version('lofte')}"
