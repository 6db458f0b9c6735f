"""Missing is not zero, in a real warehouse (both backends): a measure whose source had no row loaded in
the partition is NULL in `followup_aggregate`, "–" in the report, NULL in the views and the exports; a
measure that matched no row of a loaded source is warned about in the run's result and the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from load.warehouse import Warehouse
from pipeline.config import read_config
from pipeline.run import load_exports
from read.export import export
from read.followup import read_followup
from report.render import to_markdown
from schemas import warehouse as w
from schemas.contracts import Source
from tests.conftest import ESKILSTUNA_2020

PROMISES = ESKILSTUNA_2020 / "promises.yaml"  # 0484 2020: a STATUS, two activities and a STORM measure
AREAS = ESKILSTUNA_2020 / "areas.geojson"
STORM_FILES = sorted((ESKILSTUNA_2020 / "storm").iterdir())


def _aggregate(url: str) -> pd.DataFrame:
    store = Warehouse(url)
    fa = w.followup_aggregate
    with store.begin() as conn:
        query = sa.select(fa.c.measure_id, fa.c.tertial, fa.c.value, fa.c.cumulative_value).where(
            fa.c.area_id == "ALL"
        )
        frame = pd.DataFrame(conn.execute(query).all(), columns=["measure", "tertial", "value", "cumulative"])
    store.dispose()
    return frame


def test_a_source_without_rows_is_published_as_missing_not_zero(tmp_path: Path, warehouse_url: str) -> None:
    # Only the STORM exports: STATUS and the activity register were never loaded for 0484 2020.
    files = [(Source.STORM, p) for p in STORM_FILES]
    summary = load_exports(warehouse_url, files, read_config([PROMISES], AREAS, None))
    assert summary.merged is not None and summary.merged.followup_partitions == [("0484", 2020)]

    rows = _aggregate(warehouse_url)
    missing = rows[rows["measure"] != "trafikkontroller-utsatta-omraden"]
    assert set(missing["measure"]) == {"narkotika-ingripanden", "trygghetsvandringar", "medborgarforum"}
    assert len(missing) == 9 and missing["value"].isna().all() and missing["cumulative"].isna().all()
    storm = rows[rows["measure"] == "trafikkontroller-utsatta-omraden"]
    assert len(storm) == 3 and storm["value"].notna().all() and storm["cumulative"].max() > 0

    store = Warehouse(warehouse_url, read_only=True)
    try:
        with store.begin() as conn:
            followup = read_followup(conn, "0484", 2020)
            written = export(conn, tmp_path / "out", ["0484"], [2020], ("parquet", "csv"))
    finally:
        store.dispose()
    assert followup is not None
    cells = {m.measure.id: m.cells for m in followup.measures}
    assert cells["narkotika-ingripanden"] == ["–", "–", "–"]
    assert cells["trafikkontroller-utsatta-omraden"][0] != "–"
    text = to_markdown(followup)
    assert "STATUS: inga rader inlästa" in text and "STATUS: 0 brott" not in text
    assert "| – | – | – |" in text
    assert written.files

    exported = pd.read_parquet(tmp_path / "out" / "0484" / "2020" / "uppfoljning.parquet")
    narkotika = exported[(exported["measure_id"] == "narkotika-ingripanden") & (exported["area_id"] == "ALL")]
    assert len(narkotika) == 3 and narkotika["value"].isna().all()
    csv = (tmp_path / "out" / "0484" / "2020" / "uppfoljning.csv").read_text(encoding="utf-8-sig")
    line = next(x for x in csv.splitlines() if "narkotika-ingripanden" in x and ";ALL;" in x)
    assert ";0;" not in line


def test_the_missing_measure_gets_its_numbers_once_its_source_is_loaded(warehouse_url: str) -> None:
    config = read_config([PROMISES], AREAS, None)
    load_exports(warehouse_url, [(Source.STORM, p) for p in STORM_FILES], config)
    status = sorted((ESKILSTUNA_2020 / "status").iterdir())
    load_exports(warehouse_url, [(Source.STATUS, p) for p in status], config)
    rows = _aggregate(warehouse_url)
    narkotika = rows[rows["measure"] == "narkotika-ingripanden"]
    assert narkotika["value"].notna().all() and narkotika["cumulative"].max() > 0
    activities = rows[rows["measure"] == "medborgarforum"]
    assert activities["value"].isna().all()  # the activity register is still missing


def test_a_measure_that_matches_no_row_is_warned_about(tmp_path: Path, warehouse_url: str) -> None:
    # 3201 (sjöfylleri) is in Brå's list: the file passes the code check, but no crime of it is in the data.
    promises = tmp_path / "promises.yaml"
    text = PROMISES.read_text(encoding="utf-8")
    promises.write_text(text.replace('["5010", "5011"]', '["3201"]'), encoding="utf-8")
    assert '["3201"]' in promises.read_text(encoding="utf-8")
    status = sorted((ESKILSTUNA_2020 / "status").iterdir())
    summary = load_exports(
        warehouse_url, [(Source.STATUS, p) for p in status], read_config([promises], AREAS, None)
    )
    assert summary.merged is not None
    assert summary.merged.warnings == [
        "0484 2020: measure narkotika-ingripanden matched no row of its source"
    ]

    rows = _aggregate(warehouse_url)
    narkotika = rows[rows["measure"] == "narkotika-ingripanden"]
    assert narkotika["value"].tolist() == [0, 0, 0]  # STATUS was loaded: a real zero, not missing

    store = Warehouse(warehouse_url, read_only=True)
    try:
        with store.begin() as conn:
            followup = read_followup(conn, "0484", 2020)
    finally:
        store.dispose()
    assert followup is not None
    warnings = followup.warning_lines()
    assert len(warnings) == 1 and "ingen rad matchade i STATUS" in warnings[0]
    assert warnings[0] in to_markdown(followup)
