"""`lofte run`'s flow end to end against known answers, on DuckDB and on PostgreSQL.

The Eskilstuna 2020 fixture was made independently of this code, from the contract alone: it catches a reader
and a generator that share one misreading of the contract.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect.artifacts import Artifact
from typer.testing import CliRunner

from cli import app
from flows.followup import followup_run
from sample.generator import write_sample
from tests.conftest import ESKILSTUNA_2020
from tests.expected import actual_answers, assert_matches, export_files, scan_warehouse


def test_eskilstuna_2020_gives_the_known_answers(warehouse_url: str) -> None:
    expected = json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8"))
    summary = followup_run(
        [ESKILSTUNA_2020 / "promises.yaml"],
        ESKILSTUNA_2020 / "areas.geojson",
        export_files(ESKILSTUNA_2020),
        warehouse=warehouse_url,
    )
    assert summary.merged is not None and ("0484", 2020) in summary.merged.followup_partitions
    assert all(a.rows_read == a.rows_loaded + a.rows_rejected for a in summary.audits)
    assert_matches(warehouse_url, expected)

    # The run's artifact in the Prefect UI holds the follow-up table and no personal data.
    data = getattr(Artifact.get("lofte-run-summary"), "data", None)
    assert isinstance(data, str)
    assert (
        "| Ingripande narkotikabrott (enligt STATUS; brottskod 5010, 5011) | 498 | 455 (953) | 431 (1384) |"
        in data
    )
    assert "Registreringsdatum unparseable: 1 rows" in data
    assert not [m for m in expected["pii_markers"] if m in data]

    # A rerun of the same files gives identical values (only run_id and updated_at move).
    first = actual_answers(warehouse_url, "0484", 2020)
    followup_run(
        [ESKILSTUNA_2020 / "promises.yaml"],
        ESKILSTUNA_2020 / "areas.geojson",
        export_files(ESKILSTUNA_2020),
        warehouse=warehouse_url,
    )
    assert actual_answers(warehouse_url, "0484", 2020) == first

    # No personal data anywhere in the warehouse.
    assert scan_warehouse(warehouse_url, expected["pii_markers"]) == []


def test_generated_sample_gives_its_known_answers(tmp_path: Path, warehouse_url: str) -> None:
    write_sample(tmp_path, [2019], kommuner=2, scale=1, seed=3)
    promises = sorted((tmp_path / "config" / "promises").iterdir())
    summary = followup_run(
        promises,
        tmp_path / "config" / "areas.geojson",
        export_files(tmp_path / "inbox"),
        None,
        warehouse_url,
    )
    assert summary.unreadable == []
    for expected_file in sorted((tmp_path / "expected").iterdir()):
        expected = json.loads(expected_file.read_text(encoding="utf-8"))
        assert_matches(warehouse_url, expected)
        assert scan_warehouse(warehouse_url, expected["pii_markers"]) == []


def test_cli_exit_codes(tmp_path: Path, duckdb_url: str) -> None:
    runner = CliRunner()
    bad = tmp_path / "promises.yaml"
    bad.write_text("kommunkod: '0484'\nyear: 2020\nsections: []\n", encoding="utf-8")
    failed = runner.invoke(app, ["run", "--promises", str(bad), "--warehouse", duckdb_url])
    assert failed.exit_code == 1
    assert "promises.yaml:3:11: sections" in failed.output and "Traceback" not in failed.output
    assert runner.invoke(app, ["run", "--warehouse", duckdb_url]).exit_code == 2  # --promises missing
    run = [
        "run",
        "--promises",
        str(ESKILSTUNA_2020 / "promises.yaml"),
        "--areas",
        str(ESKILSTUNA_2020 / "areas.geojson"),
        "--activities",
        str(ESKILSTUNA_2020 / "activities"),
        "--warehouse",
        duckdb_url,
    ]
    # A path that does not exist is a usage error before anything runs: nothing is written.
    missing = runner.invoke(app, [*run, "--status", str(tmp_path / "no-such-export.csv")])
    assert missing.exit_code == 2
    assert "no-such-export.csv: no such file or folder" in missing.output
    assert not (tmp_path / "warehouse.duckdb").exists()
    loaded = runner.invoke(app, run)
    assert loaded.exit_code == 0, loaded.output
    assert "aktiviteter_2020.csv: 9 rows read, 9 loaded, 0 rejected" in loaded.output
    report = runner.invoke(app, ["report", "--kommun", "484", "--year", "2020", "--warehouse", duckdb_url])
    assert report.exit_code == 0
    assert "| Trygghetsvandring | 2 | 3 (5) | 0 (5) |" in report.output
    # STATUS and STORM were not loaded: their measures are missing, not zero.
    assert "| – | – | – |" in report.output and "STATUS: inga rader inlästa" in report.output
