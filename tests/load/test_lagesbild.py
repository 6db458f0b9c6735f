"""The lägesbild (`period_aggregate`) against known answers computed here, independently of the pipeline.

The test writes its own STATUS exports for two consecutive years (a steady background of crimes, some
inside an area with a population, some without coordinates, and one burst week) and counts the weeks and
months itself, day by day, with the plain rules of the contract. The pipeline runs as a backfill does:
files staged, then one merge transaction per year.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from pyproj import Transformer
from shapely.geometry import shape

from load.warehouse import Warehouse, now_utc
from pipeline.config import read_config
from pipeline.run import (
    begin_run,
    load_exports,
    merge_backfill,
    new_run_id,
    open_warehouse,
    run_guard,
)
from pipeline.stage import stage_export
from schemas.contracts import Source

REFERENCE_AREAS = Path(__file__).resolve().parents[2] / "schemas" / "reference" / "eskilstuna_areas.geojson"
REFERENCE_PROMISES = REFERENCE_AREAS.with_name("eskilstuna_2019_promises.yaml")
YEARS = (2019, 2020)
MEASURE = "narkotika-ingripanden"
CODES = {"5010", "5011"}
AREA, AREA_POPULATION = "stadsdel-centrum", 12_000
# 31 December, as published by SCB (the reference file's README quotes Eskilstuna's figures).
ESKILSTUNA = {2019: 106_859, 2020: 106_975}
BURST_WEEK = date(2020, 3, 2)  # a Monday: 60 extra crimes that week


def _point_in(area_id: str) -> tuple[float, float]:
    """A SWEREF 99 TM point (nord, öst) well inside the area."""
    features = json.loads(REFERENCE_AREAS.read_text(encoding="utf-8"))["features"]
    geometry = shape(next(f for f in features if f["properties"]["area_id"] == area_id)["geometry"])
    lon, lat = geometry.representative_point().coords[0]
    ost, nord = Transformer.from_crs(4326, 3006, always_xy=True).transform(lon, lat)
    return nord, ost


def _crimes() -> list[dict[str, Any]]:
    """The raw rows: every day 0–6 crimes of varying codes and hours; a third in the area, a third
    without coordinates, the rest far outside every area (in the kommun's box)."""
    rng = random.Random(16)
    nord, ost = _point_in(AREA)
    rows: list[dict[str, Any]] = []
    day = date(YEARS[0], 1, 1)
    while day.year <= YEARS[-1]:
        n = rng.randint(0, 6) + (60 if BURST_WEEK <= day < BURST_WEEK + timedelta(days=7) else 0)
        for _ in range(n):
            i = len(rows)
            where = i % 3
            rows.append(
                {
                    "Ärendenummer": f"5000-K{i:06d}-{day.year % 100:02d}",
                    "Brottsnummer": 1,
                    "Brottskod": rng.choice(["5010", "5011", "5010", "1201"]),
                    "time": datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59)),
                    "Nord": f"{nord:.1f}" if where == 0 else ("" if where == 1 else "6700000"),
                    "Öst": f"{ost:.1f}" if where == 0 else ("" if where == 1 else "500000"),
                }
            )
        day += timedelta(days=1)
    return rows


def _write_status(path: Path, rows: list[dict[str, Any]]) -> None:
    lines = ["Ärendenummer;Brottsnummer;Brottskod;Registreringsdatum;Kommunkod;Nord;Öst"]
    for r in rows:
        stamp = r["time"].strftime("%Y-%m-%d %H:%M")
        lines.append(f"{r['Ärendenummer']};1;{r['Brottskod']};{stamp};0484;{r['Nord']};{r['Öst']}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _config(tmp_path: Path) -> tuple[list[Path], Path]:
    areas = json.loads(REFERENCE_AREAS.read_text(encoding="utf-8"))
    for feature in areas["features"]:
        if feature["properties"]["area_id"] == AREA:
            feature["properties"]["befolkning"] = AREA_POPULATION
    areas_path = tmp_path / "areas.geojson"
    areas_path.write_text(json.dumps(areas), encoding="utf-8")
    promises = []
    for year in YEARS:
        document = yaml.safe_load(REFERENCE_PROMISES.read_text(encoding="utf-8"))
        document["year"] = year
        path = tmp_path / f"0484-{year}.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        promises.append(path)
    return promises, areas_path


# --- the known answers, counted here day by day ------------------------------------------------------


def _week_label(day: date) -> tuple[date, tuple[str, int]]:
    """The clipped week's first day, and what pairs it with last year's: the ISO week number, or which
    New Year fragment it is."""
    iso_year, week, weekday = day.isocalendar()
    start = max(day - timedelta(days=weekday - 1), date(day.year, 1, 1))
    if iso_year < day.year:
        return start, ("january-days-of-last-iso-year", 0)
    if iso_year > day.year:
        return start, ("december-days-of-next-iso-year", 0)
    return start, ("week", week)


def _expected(
    rows: list[dict[str, Any]], area: str | None = None
) -> dict[tuple[int, str], list[dict[str, Any]]]:
    """Per (year, period kind): the periods in order with value and pairing label."""
    counted: Counter[date] = Counter()
    for r in rows:
        in_area = r["Nord"] not in ("", "6700000")
        if r["Brottskod"] in CODES and (area is None or in_area):
            counted[r["time"].date()] += 1
    result: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for year in YEARS:
        weeks: dict[date, dict[str, Any]] = {}
        months: dict[date, dict[str, Any]] = {}
        day = date(year, 1, 1)
        while day.year == year:
            start, label = _week_label(day)
            weeks.setdefault(start, {"start": start, "label": label, "value": 0})["value"] += counted[day]
            first = date(year, day.month, 1)
            months.setdefault(first, {"start": first, "label": ("month", day.month), "value": 0})[
                "value"
            ] += counted[day]
            day += timedelta(days=1)
        result[(year, "week")] = list(weeks.values())
        result[(year, "month")] = list(months.values())
    return result


def _poisson_upper(mean: float) -> int:
    """The smallest k with P(X <= k) >= 0.975, X ~ Poisson(mean), by summing the terms."""
    k, term = 0, math.exp(-mean)
    total = term
    while total < 0.975 - 1e-12:
        k += 1
        term *= mean / k
        total += term
    return k


def _with_deviation(expected: dict[tuple[int, str], list[dict[str, Any]]]) -> None:
    for kind in ("week", "month"):
        series = expected[(YEARS[0], kind)] + expected[(YEARS[1], kind)]
        for i, period in enumerate(series):
            if i < 8:
                period["deviation"] = None
            else:
                mean = sum(p["value"] for p in series[i - 8 : i]) / 8
                period["deviation"] = period["value"] > _poisson_upper(mean)


# --- the runs -----------------------------------------------------------------------------------------


def _backfill(url: str, files: list[Path], promises: list[Path], areas: Path, years: tuple[int, ...]) -> None:
    """What `lofte backfill` does, through the flow's own functions (no Prefect start-up)."""
    config = read_config(promises, areas, None)
    warehouse = open_warehouse(url)
    run_id = new_run_id()
    with run_guard(warehouse, run_id):
        begin_run(warehouse, run_id, "backfill")
        for seq, path in enumerate(files, start=1):
            stage_export(warehouse, run_id, seq, Source.STATUS, path, config)
        merge_backfill(warehouse, run_id, config.promises, list(years), config.areas, now_utc())


def _read(url: str, sql: str) -> pd.DataFrame:
    store = Warehouse(url)
    try:
        with store.begin() as conn:
            return pd.read_sql(sa.text(sql), conn)
    finally:
        store.dispose()


Data = tuple[list[dict[str, Any]], list[Path], list[Path], Path]


def make_data(tmp_path: Path) -> Data:
    """The raw rows, one STATUS file per year, the promises of both years and the areas file."""
    rows = _crimes()
    files = []
    for year in YEARS:
        path = tmp_path / f"status_{year}.csv"
        _write_status(path, [r for r in rows if r["time"].year == year])
        files.append(path)
    promises, areas = _config(tmp_path)
    return rows, files, promises, areas


@pytest.fixture
def data(tmp_path: Path) -> Data:
    return make_data(tmp_path)


def _period_rows(url: str, area: str = "ALL") -> pd.DataFrame:
    frame = _read(
        url,
        "SELECT * FROM period_aggregate WHERE kommunkod = '0484' AND measure_id = '" + MEASURE + "'"
        " AND area_id = '" + area + "' ORDER BY year, period, period_start",
    )
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    return frame


def test_two_year_backfill_gives_known_weeks_months_last_year_rates_and_deviations(
    warehouse_url: str, data: Data
) -> None:
    rows, files, promises, areas = data
    _backfill(warehouse_url, files, promises, areas, YEARS)
    expected = _expected(rows)
    _with_deviation(expected)
    actual = _period_rows(warehouse_url)
    tertials = _read(
        warehouse_url,
        f"SELECT year, SUM(value) AS total FROM followup_aggregate WHERE measure_id = '{MEASURE}'"
        " AND area_id = 'ALL' GROUP BY year",
    ).set_index("year")["total"]
    for year in YEARS:
        for kind in ("week", "month"):
            want = expected[(year, kind)]
            got = actual[(actual["year"] == year) & (actual["period"] == kind)]
            # every period has its row, zeros included, and the rows add up to the tertial follow-up
            assert list(got["period_start"]) == [p["start"] for p in want]
            assert list(got["value"]) == [p["value"] for p in want]
            assert got["value"].sum() == tertials[year] == sum(p["value"] for p in want)
            assert (got["population"] == ESKILSTUNA[year]).all()
            assert got["rate_per_100k"].tolist() == pytest.approx(
                [p["value"] * 100_000 / ESKILSTUNA[year] for p in want]
            )
            deviations = [None if pd.isna(d) else bool(d) for d in got["deviation"]]
            assert deviations == [p["deviation"] for p in want]
            if year == YEARS[0]:
                assert got["value_last_year"].isna().all()  # 2018 was never loaded
            else:
                before = {p["label"]: p["value"] for p in expected[(YEARS[0], kind)]}
                assert [None if pd.isna(v) else int(v) for v in got["value_last_year"]] == [
                    before.get(p["label"]) for p in want
                ]
    burst = actual[(actual["period"] == "week") & (actual["period_start"] == BURST_WEEK)]
    assert burst["deviation"].tolist() == [True]
    assert len(actual[(actual["year"] == 2020) & (actual["period"] == "week")]) == 53  # 1 Jan is a Wednesday


def test_area_rows_carry_the_areas_population(warehouse_url: str, data: Data) -> None:
    rows, files, promises, areas = data
    _backfill(warehouse_url, files, promises, areas, YEARS)
    expected = _expected(rows, area=AREA)
    actual = _period_rows(warehouse_url, AREA)
    for year in YEARS:
        got = actual[(actual["year"] == year) & (actual["period"] == "month")]
        assert list(got["value"]) == [p["value"] for p in expected[(year, "month")]]
        assert (got["population"] == AREA_POPULATION).all()
        assert got["rate_per_100k"].tolist() == pytest.approx(
            [p["value"] * 100_000 / AREA_POPULATION for p in expected[(year, "month")]]
        )
    outside = _period_rows(warehouse_url, "OUTSIDE")
    assert len(outside) and outside["population"].isna().all() and outside["rate_per_100k"].isna().all()


def test_loading_the_year_before_later_fills_last_year_of_the_next(warehouse_url: str, data: Data) -> None:
    rows, files, promises, areas = data
    _backfill(warehouse_url, files[1:], promises[1:], areas, YEARS[1:])
    assert _period_rows(warehouse_url)["value_last_year"].isna().all()
    _backfill(warehouse_url, files[:1], promises[:1], areas, YEARS[:1])
    got = _period_rows(warehouse_url)
    got = got[(got["year"] == YEARS[1]) & (got["period"] == "month")]
    assert list(got["value_last_year"]) == [p["value"] for p in _expected(rows)[(YEARS[0], "month")]]


def test_a_measure_whose_source_was_never_loaded_has_null_values(warehouse_url: str, data: Data) -> None:
    _, files, promises, areas = data
    _backfill(warehouse_url, files, promises, areas, YEARS)
    storm = _read(
        warehouse_url,
        "SELECT period, value, deviation FROM period_aggregate"
        " WHERE measure_id = 'trafikkontroller-utsatta-omraden' AND year = 2020",
    )
    assert sorted(Counter(storm["period"]).items()) == [("month", 12), ("week", 53)]
    assert storm["value"].isna().all() and storm["deviation"].isna().all()


def test_a_population_file_overrides_the_shipped_year(tmp_path: Path, warehouse_url: str, data: Data) -> None:
    _, files, promises, areas = data
    _backfill(warehouse_url, files, promises, areas, YEARS)
    population = tmp_path / "folkmangd.csv"
    population.write_text('"kommunkod","kommun","year","folkmangd"\n"0484","Eskilstuna",2020,200000\n')
    load_exports(warehouse_url, [], read_config([], None, None, population))
    got = _period_rows(warehouse_url)
    assert (got.loc[got["year"] == 2020, "population"] == 200_000).all()
    assert (got.loc[got["year"] == 2019, "population"] == ESKILSTUNA[2019]).all()
    mine = got[got["year"] == 2020]
    assert mine["rate_per_100k"].tolist() == pytest.approx((mine["value"] * 100_000 / 200_000).tolist())


def test_revision_0003_upgrades_a_warehouse_made_before_the_lagesbild(warehouse_url: str) -> None:
    """A warehouse at revision 0002 (no lägesbild tables, dim_area without befolkning) gets them, the
    shipped population and the views."""
    from alembic import command

    from load import migrations

    engine = sa.create_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrations.config(conn), "0002")
            assert migrations.current_revision(conn) == "0002"
            assert "dim_folkmangd" not in sa.inspect(conn).get_table_names()
        with engine.begin() as conn:
            assert migrations.upgrade(conn) == migrations.HEAD
            columns = {c["name"] for c in sa.inspect(conn).get_columns("dim_area")}
            assert "befolkning" in columns
            population = conn.execute(
                sa.text("SELECT folkmangd FROM dim_folkmangd WHERE kommunkod = '0484' AND year = 2019")
            ).scalar_one()
            assert population == ESKILSTUNA[2019]
            assert conn.execute(sa.text("SELECT COUNT(*) FROM dim_folkmangd")).scalar_one() == 290 * 7
            assert {"v_lagesbild", "v_tid_pa_dygnet"} <= set(sa.inspect(conn).get_view_names())
            assert migrations.current_revision(conn) == migrations.HEAD
    finally:
        engine.dispose()
