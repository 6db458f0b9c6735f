"""The lägesbild: daily counts to week and month rows, last year beside, rates and deviations (pure).

The warehouse counts distinct units per (measure, local date, area) for the partition's year and the
year before (load/lagesbild.py); this module turns them into `period_aggregate` rows. The rules:
- weeks are ISO weeks (Monday–Sunday) clipped to the calendar year: a week across New Year is two
  rows, one in each year, so the week rows of a year add up to the year, as the month rows do;
- every week and month has an ALL row, zeros included; area rows as in the follow-up (an area with
  nothing all year is left out; one counted at all gets every period);
- `value_last_year` is the same period of the year before: the same month, the same ISO week number.
  The New Year fragments pair with each other: the days of January that belong to the previous ISO
  year pair with last year's such days, the days of December that belong to next year's week 1 with
  last year's such days (NULL when last year had none). NULL when the source had no rows last year;
- `deviation`: the value is above the upper limit of the two-sided 95 % Poisson interval (the 97.5th
  percentile) around the mean of the previous eight periods of the same kind, reading back into last
  year when it was loaded; NULL with fewer than eight. A New Year fragment is one period;
- `rate_per_100k` = value × 100 000 / population, where a population is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from schemas.promises import Measure
from transform.followup import ALL

WEEK, MONTH = "week", "month"
HISTORY = 8  # previous periods the deviation compares with
QUANTILE = 0.975  # upper limit of the two-sided 95 % Poisson interval
# The key that pairs a New Year fragment with last year's (ISO week numbers are 1–53).
FIRST_DAYS, LAST_DAYS = 0, 54
PERIOD_COLUMNS = [
    "measure_id",
    "area_id",
    "period",
    "period_start",
    "value",
    "value_last_year",
    "population",
    "rate_per_100k",
    "deviation",
]


@dataclass(frozen=True)
class Loaded:
    """Whether the measure's source had rows in the partition's year and in the year before."""

    this_year: bool
    last_year: bool


def calendar(year: int) -> pd.DataFrame:
    """One row per day of `year`: its week (start clipped to the year, pairing key) and its month."""
    days = pd.date_range(date(year, 1, 1), date(year, 12, 31), freq="D")
    iso = days.isocalendar()
    monday = days - pd.to_timedelta(days.day_of_week, unit="D")
    week_start = np.maximum(monday, pd.Timestamp(year, 1, 1))
    offset = iso["year"].to_numpy() - year
    week_key = np.where(offset < 0, FIRST_DAYS, np.where(offset > 0, LAST_DAYS, iso["week"].to_numpy()))
    return pd.DataFrame(
        {
            "datum": days,
            "year": year,
            "week_start": week_start,
            "week_key": week_key.astype(np.int64),
            "month_start": days.to_period("M").to_timestamp(),
            "month_key": days.month,
        }
    )


def periods(year: int) -> pd.DataFrame:
    """The year's weeks and months: (period, period_start, key), in date order per kind."""
    days = calendar(year)
    weeks = days[["week_start", "week_key"]].drop_duplicates().set_axis(["period_start", "key"], axis=1)
    months = days[["month_start", "month_key"]].drop_duplicates().set_axis(["period_start", "key"], axis=1)
    return pd.concat([weeks.assign(period=WEEK), months.assign(period=MONTH)], ignore_index=True)


def poisson_upper(mean: np.ndarray, quantile: float = QUANTILE) -> np.ndarray:
    """The smallest k with P(X ≤ k) ≥ quantile for X ~ Poisson(mean), per element (NaN stays NaN).

    Exact, summed in log space over a window of ±8 standard deviations around each mean (the mass
    outside it is below 1e-14), so a large mean costs a window, not every k from 0."""
    mean = np.asarray(mean, dtype=float)
    result = np.full(mean.shape, np.nan)
    known = ~np.isnan(mean)
    if not known.any():
        return result
    means, inverse = np.unique(mean[known], return_inverse=True)  # few distinct means: sums of 8 counts / 8
    spread = 8 * np.sqrt(means) + 8
    low = np.maximum(np.floor(means - spread), 0).astype(np.int64)
    width = int(np.ceil(2 * spread.max())) + 2
    k = low[:, None] + np.arange(width)[None, :]
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, int(k.max()) + 1)))])
    log_mean = np.log(np.where(means > 0, means, 1.0))
    log_pmf = k * log_mean[:, None] - means[:, None] - log_factorial[k]
    log_pmf[(means == 0)[:, None] & (k > 0)] = -np.inf  # Poisson(0) is always 0
    cdf = np.cumsum(np.exp(log_pmf), axis=1)
    limits = (low + np.argmax(cdf >= quantile - 1e-12, axis=1)).astype(float)
    result[known] = limits[inverse]
    return result


def period_rows(
    daily: pd.DataFrame,
    measures: list[Measure],
    year: int,
    loaded: dict[str, Loaded],
    population: int | None,
    area_population: dict[str, int],
) -> pd.DataFrame:
    """`daily`: (measure_id, datum, area_id, value) for `year` and `year - 1`, as counted (area_id ALL
    for layer-less measures). `loaded` per measure id. Returns `year`'s rows (PERIOD_COLUMNS)."""
    days = pd.concat([calendar(year - 1), calendar(year)], ignore_index=True)
    kinds = {WEEK: ("week_start", "week_key"), MONTH: ("month_start", "month_key")}
    grid_periods = pd.concat(
        [periods(y).assign(year=y) for y in (year - 1, year)], ignore_index=True
    ).sort_values(["period", "period_start"], kind="stable")
    daily = daily.assign(datum=pd.to_datetime(daily["datum"]))
    frames = []
    for measure in measures:
        state = loaded[measure.id]
        mine = daily[daily["measure_id"] == measure.id]
        if measure.layer:
            areas = mine[mine["area_id"] != ALL]
            this_year_areas = sorted(areas.loc[areas["datum"].dt.year == year, "area_id"].unique())
            # ALL is the sum of the area rows (scope: its areas; breakdown: plus OUTSIDE, NO_COORDINATES)
            mine = pd.concat([areas.assign(area_id=ALL), areas[areas["area_id"].isin(this_year_areas)]])
            area_ids = [ALL, *this_year_areas]
        else:
            area_ids = [ALL]
        per_day = mine.groupby(["area_id", "datum"])["value"].sum().reset_index()
        with_days = per_day.merge(days, on="datum")
        counted = pd.concat(
            [
                with_days.groupby(["area_id", start])["value"]
                .sum()
                .reset_index()
                .rename(columns={start: "period_start"})
                .assign(period=kind)
                for kind, (start, _) in kinds.items()
            ],
            ignore_index=True,
        )
        grid = pd.MultiIndex.from_product([area_ids, range(len(grid_periods))]).to_frame(
            index=False, name=["area_id", "i"]
        )
        grid = grid.join(grid_periods.reset_index(drop=True), on="i").drop(columns="i")
        rows = grid.merge(counted, on=["area_id", "period", "period_start"], how="left")
        rows["value"] = rows["value"].fillna(0).astype(float)
        if not state.last_year:
            rows.loc[rows["year"] == year - 1, "value"] = np.nan
        if not state.this_year:
            rows.loc[rows["year"] == year, "value"] = np.nan
        rows = rows.sort_values(["area_id", "period", "period_start"], kind="stable").reset_index(drop=True)
        keys = [rows["area_id"], rows["period"]]
        previous = rows.groupby(keys)["value"].shift(1)
        # min_periods=HISTORY: a missing (NULL) period among the eight leaves too few to judge
        mean = previous.groupby(keys).rolling(HISTORY, min_periods=HISTORY).mean()
        mean = mean.reset_index(level=[0, 1], drop=True).reindex(rows.index)
        limit = poisson_upper(mean.to_numpy())
        deviation = pd.Series(rows["value"].to_numpy() > limit, dtype="boolean")
        deviation[np.isnan(limit) | rows["value"].isna().to_numpy()] = pd.NA
        rows["deviation"] = deviation.to_numpy()
        last = rows[rows["year"] == year - 1][["area_id", "period", "key", "value"]]
        this = rows[rows["year"] == year].drop(columns="year")
        this = this.merge(
            last.rename(columns={"value": "value_last_year"}), on=["area_id", "period", "key"], how="left"
        )
        this["measure_id"] = measure.id
        frames.append(this)
    if not frames:
        return pd.DataFrame(columns=PERIOD_COLUMNS)
    result = pd.concat(frames, ignore_index=True)
    result["population"] = (
        result["area_id"].map(lambda a: population if a == ALL else area_population.get(a)).astype("Int64")
    )
    result["rate_per_100k"] = result["value"] * 100_000 / result["population"].astype(float)
    for column in ("value", "value_last_year"):
        result[column] = result[column].round().astype("Int64")
    result["period_start"] = result["period_start"].dt.date
    return result[PERIOD_COLUMNS].reset_index(drop=True)


def weekday_hour_rows(counts: pd.DataFrame, measures: list[Measure]) -> pd.DataFrame:
    """`counts`: (measure_id, weekday, hour, area_id, value) as counted; adds the ALL rows of measures
    with a layer (the sum of their area rows). Zeros stay out."""
    frames = []
    for measure in measures:
        mine = counts[counts["measure_id"] == measure.id]
        if measure.layer:
            totals = mine.groupby(["weekday", "hour"])["value"].sum().reset_index()
            mine = pd.concat([totals.assign(area_id=ALL, measure_id=measure.id), mine], ignore_index=True)
        frames.append(mine)
    columns = ["measure_id", "area_id", "weekday", "hour", "value"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns].astype({"weekday": int, "hour": int, "value": int})
