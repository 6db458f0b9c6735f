"""The lägesbild as Markdown (pure): per measure the last weeks and the months with last year beside,
rates per 100 000 inhabitants, deviations marked, the areas, and weekday × time of day.

The texts in the cells (week and month names, "23 (31)", "19,6", "▲") are the views' (load/views.py).
`--public` follows the report's rule (report/suppression.py): the whole kommun's counts are published as
they are; tables of areas, and of weekday × time of day, hide counts below 3 and whatever would reveal them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from load.views import DEVIATION_MARK, MISSING, TIMES_OF_DAY, WEEKDAYS
from read.lagesbild import Lagesbild, MeasureLagesbild
from report.suppression import shown
from transform.followup import ALL, NO_COORDINATES, OUTSIDE

WEEKS_SHOWN = 8
AREA_MONTHS_SHOWN = 6
AREA_LAST = (OUTSIDE, NO_COORDINATES)
EXPLAINED = (
    f"Antal under perioden, förra årets antal för samma period inom parentes. {DEVIATION_MARK} = avvikelse: "
    "fler än den övre gränsen för ett 95 %-intervall (Poisson) kring medelvärdet av de åtta föregående "
    "perioderna. Per 100 000 invånare: kommunens folkmängd 31 december (baserat på SCB:s "
    "befolkningsstatistik), områdens befolkning enligt områdesfilen."
)
PUBLIC_NOTE = "Områden och tider: färre än 3 visas som <3, .. döljs för att <3 inte ska kunna räknas fram."


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
    deviating: list[bool]  # per row: a deviation among its cells


def until_of(year: int, today: date | None = None) -> date:
    """The last day shown: today within the year, else the year's last day."""
    today = today or date.today()
    return min(today, date(year, 12, 31)) if today.year >= year else date(year, 12, 31)


def _text(value: object) -> str:
    return MISSING if value is None or pd.isna(value) else str(value)


def _marked(row: pd.Series) -> str:
    return _text(row["cell"]) + (f" {DEVIATION_MARK}" if row["deviation_mark"] else "")


def period_table(item: MeasureLagesbild, period: str, until: date) -> Table:
    """The whole kommun per week (the last weeks) or per month (the year so far)."""
    rows = item.rows[(item.rows["area_id"] == ALL) & (item.rows["period"] == period)]
    rows = rows[rows["period_start"] <= until]
    if period == "week":
        rows = rows.tail(WEEKS_SHOWN)
    name = "Vecka" if period == "week" else "Månad"
    caption = "Senaste veckorna" if period == "week" else "Månader"
    return Table(
        f"{caption}, hela kommunen",
        [name, "Antal (förra året)", "Per 100 000 inv.", "Avvikelse"],
        [
            [str(r["period_name"]), _text(r["cell"]), _text(r["rate_text"]), str(r["deviation_mark"] or "")]
            for _, r in rows.iterrows()
        ],
        [bool(r["deviation"]) if pd.notna(r["deviation"]) else False for _, r in rows.iterrows()],
    )


def _area_order(area_ids: list[str]) -> list[str]:
    return sorted(area_ids, key=lambda a: (a in AREA_LAST, AREA_LAST.index(a) if a in AREA_LAST else 0, a))


def area_table(item: MeasureLagesbild, until: date, *, public: bool) -> Table | None:
    """Areas × the last months; None for a measure without areas."""
    rows = item.rows[(item.rows["area_id"] != ALL) & (item.rows["period"] == "month")]
    rows = rows[rows["period_start"] <= until]
    if not len(rows):
        return None
    months = sorted(set(rows["period_start"]))[-AREA_MONTHS_SHOWN:]
    rows = rows[rows["period_start"].isin(months)]
    areas = _area_order(sorted(set(rows["area_id"])))
    by_key = {(r["area_id"], r["period_start"]): r for _, r in rows.iterrows()}
    names = {r["area_id"]: str(r["area_name"]) for _, r in rows.iterrows()}
    month_names = {r["period_start"]: str(r["period_name"]) for _, r in rows.iterrows()}
    grid = [[by_key[(a, m)] for m in months] for a in areas]
    if public:
        this = shown([[_count(r["value"]) for r in line] for line in grid])
        last = shown([[_count(r["value_last_year"]) for r in line] for line in grid])
        cells = [
            [
                (this[i][j] if pd.notna(r["value"]) else MISSING)
                + (f" ({last[i][j]})" if pd.notna(r["value_last_year"]) else "")
                + (f" {DEVIATION_MARK}" if r["deviation_mark"] else "")
                for j, r in enumerate(line)
            ]
            for i, line in enumerate(grid)
        ]
    else:
        cells = [[_marked(r) for r in line] for line in grid]
    deviating = [any(bool(r["deviation_mark"]) for r in line) for line in grid]
    return Table(
        "Per område, senaste månaderna",
        ["Område", *[month_names[m] for m in months]],
        [[names[a], *line] for a, line in zip(areas, cells, strict=True)],
        deviating,
    )


def _count(value: object) -> int:
    return 0 if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


def hours_table(item: MeasureLagesbild, *, public: bool) -> Table | None:
    """Weekday × time of day for the whole kommun, the year so far."""
    hours = item.hours[item.hours["area_id"] == ALL] if len(item.hours) else item.hours
    if not len(hours):
        return None
    bands = [label for _, label in TIMES_OF_DAY]
    counts = hours.groupby(["weekday", "time_of_day"])["value"].sum()
    grid = [[int(counts.get((day, band), 0)) for band in bands] for day in range(1, 8)]
    cells = shown(grid) if public else [[str(v) for v in line] for line in grid]
    totals = [sum(line) for line in grid]
    return Table(
        "Veckodag och tid på dygnet, hela kommunen (året hittills)",
        ["Veckodag", *bands, "Totalt"],
        [[WEEKDAYS[i].capitalize(), *cells[i], str(totals[i])] for i in range(7)],
        [False] * 7,
    )


def measure_tables(item: MeasureLagesbild, until: date, *, public: bool) -> list[Table]:
    tables = [period_table(item, "week", until), period_table(item, "month", until)]
    tables += [t for t in (area_table(item, until, public=public), hours_table(item, public=public)) if t]
    return tables


def title_of(data: Lagesbild) -> str:
    where = f"{data.kommun} ({data.kommunkod})" if data.kommun else data.kommunkod
    return f"Lägesbild {where} {data.year}"


def _markdown_table(table: Table) -> list[str]:
    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    out = [f"**{table.caption}**", "", "| " + " | ".join(escape(h) for h in table.header) + " |"]
    out.append("|---|" + "---:|" * (len(table.header) - 1))
    out += ["| " + " | ".join(escape(c) for c in row) + " |" for row in table.rows]
    return [*out, ""]


def to_markdown(data: Lagesbild, *, public: bool = False, until: date | None = None) -> str:
    until = until or until_of(data.year)
    out = [f"# {title_of(data)}", "", f"Till och med {until:%Y-%m-%d}. {EXPLAINED}", ""]
    if public:
        out += [PUBLIC_NOTE, ""]
    for item in data.measures:
        out += [f"## {item.label}", ""]
        for table in measure_tables(item, until, public=public):
            out += _markdown_table(table)
    return "\n".join(out)
