"""The analysts' views on DuckDB and PostgreSQL, against the Eskilstuna 2020 fixture's known answers.

The known answers come from expected.json (made independently of this code) and from the fixture's own
files (promises.yaml, areas.geojson, the shipped crime-code list), never from the code under test.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from load import migrations, views
from load.views import view
from tests.analyst.conftest import fixture_files
from tests.conftest import ESKILSTUNA_2020

EXPECTED = json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8"))
PROMISES = yaml.safe_load((ESKILSTUNA_2020 / "promises.yaml").read_text(encoding="utf-8"))
TARGETS = {m["id"]: m.get("target") for s in PROMISES["sections"] for m in s["measures"]}
KOMMUN, YEAR = EXPECTED["kommunkod"], EXPECTED["year"]
ALL_VIEWS = [v.table.name for v in views.VIEWS]


def rows(url: str, query: sa.Select) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def in_partition(v: sa.Table) -> sa.Select:
    return sa.select(v).where(v.c.kommunkod == KOMMUN, v.c.year == YEAR)


def published_cell(entry: dict[str, int], tertial: int) -> str:
    return str(entry["value"]) if tertial == 1 else f"{entry['value']} ({entry['cumulative_value']})"


def half_up_percent(part: int, whole: int) -> int:
    return int(Decimal(100 * part) / Decimal(whole) + Decimal("0.5"))


def test_every_view_exists_and_reflects(loaded_url: str) -> None:
    """Analysts' tools reflect: each view is listed and has the documented columns."""
    engine = sa.create_engine(loaded_url)
    try:
        inspector = sa.inspect(engine)
        assert set(ALL_VIEWS) <= set(inspector.get_view_names())
        for definition in views.VIEWS:
            reflected = [c["name"] for c in inspector.get_columns(definition.table.name)]
            assert reflected == [c.name for c in definition.table.columns]
    finally:
        engine.dispose()


def test_followup_table_reads_as_published(loaded_url: str) -> None:
    v = view("v_followup_table")
    got = {r["measure_id"]: r for r in rows(loaded_url, in_partition(v))}
    assert set(got) == set(EXPECTED["measures"])
    for measure_id, tertials in EXPECTED["measures"].items():
        row = got[measure_id]
        for t in (1, 2, 3):
            assert row[f"tertial_{t}"] == published_cell(tertials[str(t)], t)
        reached = tertials["3"]["cumulative_value"]
        assert row["year_to_date"] == reached
        target = TARGETS[measure_id]
        assert row["target"] == target
        if target is None:
            assert row["target_text"] is None and row["target_share_pct"] is None
        else:
            share = half_up_percent(reached, target)
            assert row["target_share_pct"] == share
            assert row["target_text"] == f"{reached} av {target} ({share} %)"


def test_followup_rows_per_area_and_target_progress(loaded_url: str) -> None:
    v = view("v_followup")
    got = rows(loaded_url, in_partition(v))
    for measure_id, tertials in EXPECTED["measures"].items():
        target = TARGETS[measure_id]
        for t, entry in tertials.items():
            mine = [r for r in got if r["measure_id"] == measure_id and r["tertial"] == int(t)]
            (total,) = [r for r in mine if r["area_id"] == "ALL"]
            assert (total["value"], total["cumulative_value"]) == (entry["value"], entry["cumulative_value"])
            assert total["cell"] == published_cell(entry, int(t))
            assert total["area_name"] == "Hela kommunen"
            if target is not None:
                assert total["target_share_pct"] == half_up_percent(entry["cumulative_value"], target)
                assert total["target_remaining"] == max(target - entry["cumulative_value"], 0)
            areas = {r["area_id"]: r["value"] for r in mine if r["area_id"] != "ALL" and r["value"]}
            assert areas == {k: n for k, n in entry.get("areas", {}).items() if n}
    names = {r["area_id"]: r["area_name"] for r in got}
    assert names["NO_COORDINATES"] == "Saknar koordinater" and names["OUTSIDE"] == "Utanför områdena"
    area_names = {
        f["properties"]["area_id"]: f["properties"]["name"]
        for f in json.loads((ESKILSTUNA_2020 / "areas.geojson").read_text(encoding="utf-8"))["features"]
    }
    assert all(names[a] == area_names[a] for a in names if a in area_names)


def test_crimes_by_area_reproduce_the_known_breakdown(loaded_url: str) -> None:
    """v_brott_area counted by hand gives expected.json's narkotika breakdown (layer stadsdelar)."""
    v = view("v_brott_area")
    query = in_partition(v).where(v.c.brottskod.in_(["5010", "5011"]), v.c.layer == "stadsdelar")
    counted = Counter((r["tertial"], r["area_id"]) for r in rows(loaded_url, query))
    expected = {
        (int(t), area): n
        for t, entry in EXPECTED["measures"]["narkotika-ingripanden"].items()
        for area, n in entry["areas"].items()
        if n
    }
    assert dict(counted) == expected


def test_crime_code_names_come_from_bras_list(loaded_url: str) -> None:
    text = resources.files("schemas").joinpath("reference/brottskoder.csv").read_text(encoding="utf-8")
    names = {r["brottskod"]: r["benamning"] for r in csv.DictReader(text.splitlines(), delimiter=";")}
    v = view("v_brott")
    got = rows(loaded_url, in_partition(v))
    assert len(got) == EXPECTED["source_quality"]["status"]["rows_counted"]
    assert (
        sum(r["koordinat_status"] == "ok" for r in got)
        == EXPECTED["source_quality"]["status"]["rows_with_coordinates"]
    )
    assert all(r["brottskod_benamning"] == names.get(r["brottskod"]) for r in got)
    assert {"5010", "5011"} <= {r["brottskod"] for r in got}


def test_event_reports_by_area_reproduce_the_known_scope_counts(loaded_url: str) -> None:
    v = view("v_handelserapport_area")
    query = in_partition(v).where(
        v.c.hobit == "TRAFIKKONTROLL",
        v.c.layer == "utsatta_omraden",
        v.c.area_id.not_in(["OUTSIDE", "NO_COORDINATES"]),
    )
    counted = Counter((r["tertial"], r["area_id"]) for r in rows(loaded_url, query))
    expected = {
        (int(t), area): n
        for t, entry in EXPECTED["measures"]["trafikkontroller-utsatta-omraden"].items()
        for area, n in entry["areas"].items()
        if n
    }
    assert dict(counted) == expected
    reports = rows(loaded_url, in_partition(view("v_handelserapport")))
    assert len(reports) == EXPECTED["source_quality"]["storm"]["rows_counted"]


def test_area_year_sums_the_facts(loaded_url: str) -> None:
    v = view("v_area_year")
    got = rows(loaded_url, in_partition(v))
    assert all(r["n_year"] == r["n_t1"] + r["n_t2"] + r["n_t3"] for r in got)
    narkotika: Counter[str] = Counter()
    for r in got:
        if r["source"] == "status" and r["layer"] == "stadsdelar" and r["kod"] in ("5010", "5011"):
            narkotika[r["area_id"]] += r["n_year"]
    expected: Counter[str] = Counter()
    for entry in EXPECTED["measures"]["narkotika-ingripanden"].values():
        expected.update(entry["areas"])
    assert +narkotika == +expected
    # Every layer partitions the facts: per layer, the counts add up to all HRs of the year.
    storm = [r for r in got if r["source"] == "storm"]
    for layer in {r["layer"] for r in storm}:
        total = sum(r["n_year"] for r in storm if r["layer"] == layer)
        assert total == EXPECTED["source_quality"]["storm"]["rows_counted"]


def test_activities_and_quality_lines(loaded_url: str) -> None:
    activities = rows(loaded_url, in_partition(view("v_aktivitet")))
    items = sorted(f"{r['plats']} {r['datum']:%Y-%m-%d}" for r in activities)
    expected_items = sorted(
        i
        for m in ("trygghetsvandringar", "medborgarforum")
        for e in EXPECTED["measures"][m].values()
        for i in e["items"]
    )
    assert items == expected_items
    quality = {r["source"]: r for r in rows(loaded_url, in_partition(view("v_source_quality")))}
    storm = EXPECTED["source_quality"]["storm"]
    line = (
        f"STORM: {storm['rows_counted']} händelserapporter - {storm['rows_with_coordinates']} prickar i "
        f"kartan ({storm['rows_missing_coordinates']} saknar koordinater)"
    )
    rejected = quality["storm"]["rows_rejected"]
    assert quality["storm"]["quality_line"] == line + (f"; {rejected} rader avvisade" if rejected else "")
    assert quality["status"]["quality_line"].startswith(
        f"STATUS: {EXPECTED['source_quality']['status']['rows_counted']} brott - "
    )


def test_load_audit_tells_which_files_fed_the_numbers(loaded_url: str) -> None:
    audit = rows(loaded_url, sa.select(view("v_load_audit")))
    assert sorted(r["file_name"] for r in audit) == sorted(p.name for _, p in fixture_files(ESKILSTUNA_2020))
    assert all(r["rows_read"] == r["rows_loaded"] + r["rows_rejected"] for r in audit)
    assert {r["run_status"] for r in audit} == {"finished"} and {r["file_status"] for r in audit} == {
        "loaded"
    }
    # Every current fact is traced to exactly one file load.
    for source, fact_view in (
        ("status", "v_brott"),
        ("storm", "v_handelserapport"),
        ("activities", "v_aktivitet"),
    ):
        query = sa.select(sa.func.count().label("n")).select_from(view(fact_view))
        assert (
            sum(r["facts_current"] for r in audit if r["source"] == source) == rows(loaded_url, query)[0]["n"]
        )


def test_views_are_identical_on_both_backends(loaded_duckdb: str, loaded_postgres: str) -> None:
    moving = {"updated_at", "run_started_at", "run_finished_at", "loaded_at", "file_path"}

    def content(url: str, name: str) -> list[tuple]:
        v = view(name)
        columns = [c for c in v.columns if c.name not in moving]
        return sorted(tuple(str(x) for x in row.values()) for row in rows(url, sa.select(*columns)))

    for name in ALL_VIEWS:
        assert content(loaded_duckdb, name) == content(loaded_postgres, name), name


def test_create_all_is_repeatable_and_step_2_upgrades_a_v1_warehouse(duckdb_url: str) -> None:
    engine = sa.create_engine(duckdb_url)
    try:
        with engine.begin() as conn:  # a warehouse made before the views existed: step 1 only
            steps, migrations.STEPS[:] = list(migrations.STEPS), migrations.STEPS[:1]
            try:
                assert migrations.upgrade(conn) == 1
            finally:
                migrations.STEPS[:] = steps
        with engine.begin() as conn:
            assert not set(ALL_VIEWS) & set(sa.inspect(conn).get_view_names())
            assert migrations.upgrade(conn) == max(v for v, _, _ in migrations.STEPS)
            views.create_all(conn)  # again: drops and recreates
            assert set(ALL_VIEWS) <= set(sa.inspect(conn).get_view_names())
            assert conn.execute(sa.select(sa.func.count()).select_from(view("v_followup"))).scalar_one() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ALL_VIEWS)
def test_every_view_is_documented(name: str) -> None:
    from tests.conftest import FIXTURES

    docs = (FIXTURES.parent.parent / "docs" / "warehouse.md").read_text(encoding="utf-8")
    assert f"### `{name}`" in docs
    for column in view(name).columns:
        assert f"`{column.name}`" in docs, f"{name}.{column.name} undocumented"


def _doc_queries() -> list[str]:
    from tests.conftest import FIXTURES

    docs = (FIXTURES.parent.parent / "docs" / "warehouse.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in docs.split("```sql\n")[1:]]
    return [q.strip() for block in blocks for q in block.split(";") if q.strip()]


def test_the_documented_example_queries_run(loaded_url: str) -> None:
    queries = _doc_queries()
    assert len(queries) >= 8
    engine = sa.create_engine(loaded_url)
    try:
        with engine.connect() as conn:
            answered = [len(conn.execute(sa.text(q)).all()) for q in queries]  # our own fixed text
    finally:
        engine.dispose()
    assert all(n > 0 for n in answered[:-1]), answered  # the last (rejected rows of one file) may be empty
