"""The follow-up as the municipality publishes it: Markdown or CSV text from a `Followup` (pure).

The cells, target texts and data-quality lines are the views' (read/followup.py): this module lays them
out, it does not write them again.
"""

from __future__ import annotations

import pandas as pd

from read.followup import Followup, MeasureFollowup
from report.csvfile import csv_text
from report.suppression import shown
from schemas.contracts import Source
from transform.followup import ALL, TERTIALS


def activity_lines(item: MeasureFollowup) -> list[str]:
    """Per tertial, the activities in date order as `Plats YY-MM-DD`; promised places without one."""
    lines = []
    for tertial in TERTIALS:
        held = item.activities[item.activities["tertial"] == tertial] if len(item.activities) else []
        listed = ", ".join(
            f"{r.plats} {pd.Timestamp(r.datum):%y-%m-%d}" for r in getattr(held, "itertuples", list)()
        )
        lines.append(f"Tertial {tertial}: {listed or 'inga'}")
    for place in item.measure.expected_places:
        mark = "**ingen aktivitet**" if place in item.places_missing else "genomförd"
        lines.append(f"Utlovad plats {place}: {mark}")
    return lines


AREA_LAST = ("OUTSIDE", "NO_COORDINATES")  # the breakdown's own rows go after the areas


def area_table(item: MeasureFollowup) -> tuple[list[str], list[list[str]]] | None:
    """`--public`: the measure's areas × tertials with small counts suppressed (report/suppression.py);
    None for a measure without area rows. Areas absent from the warehouse had zero in every tertial."""
    rows = item.rows[item.rows["area_id"] != ALL] if len(item.rows) else item.rows
    if not len(rows):
        return None
    areas = sorted(
        set(rows["area_id"]), key=lambda a: (a in AREA_LAST, AREA_LAST.index(a) if a in AREA_LAST else 0, a)
    )
    values = {(str(r.area_id), int(r.tertial)): int(r.value) for r in rows.itertuples() if pd.notna(r.value)}
    counts = [[values.get((area, t), 0) for t in TERTIALS] for area in areas]
    # Readers know the areas by name: the view's name (its Swedish label for the breakdown's own rows).
    names = dict(zip(rows["area_id"].astype(str), rows["area_name"].astype(str), strict=True))
    return [names.get(area, area) for area in areas], shown(counts)


def to_markdown(followup: Followup, *, public: bool = False) -> str:
    title = f"{followup.kommun} ({followup.kommunkod})" if followup.kommun else followup.kommunkod
    out = [f"# Medborgarlöften {title} {followup.year}: uppföljning per tertial", ""]
    for section in followup.sections:
        out += [f"## {section['title']}", ""]
        if section.get("promise"):
            out += [f"> {section['promise']}", ""]
        items = [m for m in followup.measures if m.section_no == section["section_no"]]
        out += ["| Aktivitet | Tertial 1 | Tertial 2 | Tertial 3 | Mål |", "|---|---:|---:|---:|---|"]
        for item in items:
            label = item.measure.label.replace("|", "\\|")
            out.append(f"| {label} | " + " | ".join(item.cells) + f" | {item.target_text} |")
        out.append("")
        for item in items:
            if item.measure.source is Source.ACTIVITIES:
                out += (
                    [f"**{item.measure.label}**", ""] + [f"- {line}" for line in activity_lines(item)] + [""]
                )
        for item in items if public else []:
            table = area_table(item)
            if table is not None:
                out += [f"**{item.measure.label}: per område** (färre än 3 visas som <3, .. döljs)", ""]
                out += ["| Område | Tertial 1 | Tertial 2 | Tertial 3 |", "|---|---:|---:|---:|"]
                out += [f"| {area} | " + " | ".join(cells) + " |" for area, cells in zip(*table, strict=True)]
                out.append("")
    quality = followup.quality_lines() + followup.warning_lines()
    out += ["## Datakvalitet", ""] + [f"- {line}" for line in quality] + [""]
    return "\n".join(out)


def to_csv(followup: Followup, *, public: bool = False) -> str:
    header = ["Avsnitt", "Mått", "Aktivitet", "Tertial 1", "Tertial 2", "Tertial 3", "Mål"]
    rows: list[list[str]] = []
    titles = {s["section_no"]: s["title"] for s in followup.sections}
    for item in followup.measures:
        rows.append(
            [
                titles[item.section_no],
                item.measure.id,
                item.measure.label,
                *item.cells,
                item.target_text,
            ]
        )
        table = area_table(item) if public else None
        for area, cells in zip(*table, strict=True) if table else []:
            rows.append(
                [titles[item.section_no], item.measure.id, f"{item.measure.label}: {area}", *cells, ""]
            )
    return csv_text(pd.DataFrame(rows, columns=header, dtype=object))
