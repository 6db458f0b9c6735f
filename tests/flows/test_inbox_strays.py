"""Exports dropped outside the inbox's source folders are named and make the scheduled run exit 3; their
measures stay missing (NULL), never published as zero."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from load.warehouse import Warehouse
from schemas import warehouse as w
from tests.conftest import ESKILSTUNA_2020

NOT_READ = "not in status/, storm/ or activities/: not read"


def test_files_outside_the_source_folders_are_named_and_exit_3(tmp_path: Path, duckdb_url: str) -> None:
    config = tmp_path / "config"
    (config / "promises").mkdir(parents=True)
    shutil.copy(ESKILSTUNA_2020 / "areas.geojson", config / "areas.geojson")
    shutil.copy(ESKILSTUNA_2020 / "promises.yaml", config / "promises" / "0484-2020.yaml")
    inbox = tmp_path / "inbox"
    shutil.copytree(ESKILSTUNA_2020 / "activities", inbox / "activities")
    storm = sorted((ESKILSTUNA_2020 / "storm").iterdir())
    shutil.copy(storm[0], inbox / storm[0].name)  # dropped in the root
    (inbox / "stormen").mkdir()  # a misspelt source folder
    shutil.copy(storm[1], inbox / "stormen" / storm[1].name)
    (inbox / ".DS_Store").write_text("", encoding="utf-8")  # hidden: not an export

    args = ["nightly", "--config", str(config), "--inbox", str(inbox), "--warehouse", duckdb_url]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 3, first.output
    named = [line for line in first.stderr.splitlines() if NOT_READ in line]
    assert named == [f"{inbox / storm[0].name}: {NOT_READ}", f"{inbox / 'stormen'}/: {NOT_READ}"]
    assert "aktiviteter_2020.csv: 9 rows read, 9 loaded, 0 rejected" in first.stdout

    store = Warehouse(duckdb_url, read_only=True)
    fa = w.followup_aggregate
    with store.begin() as conn:
        values = (
            conn.execute(
                sa.select(fa.c.value).where(
                    fa.c.measure_id == "trafikkontroller-utsatta-omraden", fa.c.area_id == "ALL"
                )
            )
            .scalars()
            .all()
        )
    store.dispose()
    assert values == [None, None, None]  # STORM was never read: missing, not 0

    again = runner.invoke(app, args)  # nothing new, the strays still there: still said, still exit 3
    assert again.exit_code == 3, again.output
    assert "nothing new" in again.stdout
    assert len([line for line in again.stderr.splitlines() if NOT_READ in line]) == 2
