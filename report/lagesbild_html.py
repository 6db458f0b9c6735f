"""The lägesbild as one self-contained HTML page (pure): the Markdown's tables, a small chart per area and
a map where the areas with a deviation stand out.

As the follow-up's page (report/html.py, whose CSS, projection and paths it reuses): inline CSS and SVG, no
script, no font, no network; prints on A4.
"""

from __future__ import annotations

from datetime import date
from html import escape

import numpy as np
import pandas as pd

from load.views import DEVIATION_MARK
from read.lagesbild import Lagesbild, MeasureLagesbild
from report.html import CSS, LAYER_STYLES, _path, _Projection
from report.lagesbild import (
    EXPLAINED,
    PUBLIC_NOTE,
    WEEKS_SHOWN,
    Table,
    _area_order,
    measure_tables,
    title_of,
    until_of,
)
from transform.followup import ALL

DEVIATION_COLOUR = "#b3261e"
LAST_YEAR_COLOUR = "#9aa3ad"
EXTRA_CSS = """
tr.deviation td, tr.deviation th { background: #fbe9e7; }
.small-multiples { display: flex; flex-wrap: wrap; gap: 10px; }
figure.spark { flex: 0 0 250px; border: 1px solid var(--line); padding: 6px; }
figure.spark figcaption { font-size: .8rem; }
figure.spark.deviation { border-color: #b3261e; }
.deviating-area { fill: #b3261e; fill-opacity: .55; stroke: #7f1d17; stroke-width: 2; }
"""


def to_html(data: Lagesbild, *, public: bool = False, until: date | None = None) -> str:
    until = until or until_of(data.year)
    heading = title_of(data)
    body = [
        "<header>",
        f"<h1>{escape(heading)}</h1>",
        f'<p class="meta">Till och med {until:%Y-%m-%d}. {escape(EXPLAINED)} '
        f"Körning: {escape(', '.join(data.run_ids) or '–')}</p>",
        f'<p class="note">{escape(PUBLIC_NOTE)}</p>' if public else "",
        "</header>",
        "<main>",
    ]
    for item in data.measures:
        body.append(f'<section class="measure" data-measure="{escape(item.measure_id)}">')
        body.append(f"<h2>{escape(item.label)}</h2>")
        for table in measure_tables(item, until, public=public):
            body.append(_table(table))
        if not public:  # the charts show every count: not for publication
            body.append(_small_multiples(item, until))
        body.append("</section>")
    body += _map_section(data, until)
    body.append("</main>")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="sv">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            f"<title>{escape(heading)}</title>",
            f"<style>{CSS}{EXTRA_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    rows = []
    for row, deviating in zip(table.rows, table.deviating, strict=True):
        cells = "".join(f'<td class="num">{escape(c)}</td>' for c in row[1:])
        mark = ' class="deviation"' if deviating else ""
        rows.append(f'<tr{mark}><th scope="row">{escape(row[0])}</th>{cells}</tr>')
    return (
        f'<table class="lagesbild"><caption>{escape(table.caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _small_multiples(item: MeasureLagesbild, until: date) -> str:
    """Per area (the whole kommun first): this year's weeks (line), last year's (grey), deviations (red)."""
    weeks = item.rows[(item.rows["period"] == "week") & (item.rows["period_start"] <= until)]
    if not weeks["value"].notna().any():  # the source had no rows: nothing to draw (missing is not zero)
        return ""
    areas = [ALL, *_area_order(sorted(set(weeks["area_id"]) - {ALL}))]
    figures = [_spark(weeks[weeks["area_id"] == a]) for a in areas]
    return (
        f"<h3>Vecka för vecka per område (senaste {WEEKS_SHOWN} veckorna i tabellen ovan)</h3>"
        f'<div class="small-multiples">{"".join(figures)}</div>'
    )


def _spark(rows: pd.DataFrame) -> str:
    width, height, pad = 240.0, 70.0, 4.0
    value = rows["value"].astype("Float64").fillna(np.nan).to_numpy(dtype=float)
    last = rows["value_last_year"].astype("Float64").fillna(np.nan).to_numpy(dtype=float)
    peak = max(np.nanmax(np.concatenate([value, last, [1.0]])), 1.0)
    n = max(len(rows) - 1, 1)

    def points(series: np.ndarray) -> str:
        return " ".join(
            f"{pad + (width - 2 * pad) * i / n:.1f},{height - pad - (height - 2 * pad) * v / peak:.1f}"
            for i, v in enumerate(series)
            if not np.isnan(v)
        )

    deviations = [
        f'<circle cx="{pad + (width - 2 * pad) * i / n:.1f}" '
        f'cy="{height - pad - (height - 2 * pad) * value[i] / peak:.1f}" r="3" fill="{DEVIATION_COLOUR}">'
        f"<title>{escape(str(r['period_name']))}: {escape(str(r['cell']))} {DEVIATION_MARK}</title></circle>"
        for i, (_, r) in enumerate(rows.iterrows())
        if r["deviation"] is True or (pd.notna(r["deviation"]) and bool(r["deviation"]))
    ]
    name = str(rows.iloc[0]["area_name"])
    total = int(np.nansum(value))
    mark = " deviation" if deviations else ""
    return (
        f'<figure class="spark{mark}" data-area="{escape(str(rows.iloc[0]["area_id"]))}">'
        f"<figcaption><strong>{escape(name)}</strong>: {total} hittills i år</figcaption>"
        f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(name)} per vecka">'
        f'<polyline class="last-year" points="{points(last)}" fill="none" stroke="{LAST_YEAR_COLOUR}" '
        'stroke-width="1.2" stroke-dasharray="3 2"/>'
        f'<polyline class="this-year" points="{points(value)}" fill="none" stroke="var(--accent)" '
        'stroke-width="1.6"/>' + "".join(deviations) + "</svg></figure>"
    )


def deviating_areas(data: Lagesbild, until: date) -> dict[str, tuple[str, list[str]]]:
    """Area id → its name and the measures with a deviation in the area in the last weeks or the
    latest month."""
    found: dict[str, tuple[str, list[str]]] = {}
    for item in data.measures:
        rows = item.rows[(item.rows["area_id"] != ALL) & (item.rows["period_start"] <= until)]
        weeks = rows[rows["period"] == "week"]
        recent_weeks = sorted(set(weeks["period_start"]))[-WEEKS_SHOWN:]
        months = rows[rows["period"] == "month"]
        latest_month = max(months["period_start"], default=None)
        recent = rows[
            ((rows["period"] == "week") & rows["period_start"].isin(recent_weeks))
            | ((rows["period"] == "month") & (rows["period_start"] == latest_month))
        ]
        flagged = recent[recent["deviation"].fillna(False).astype(bool)]
        for area_id, name in sorted(set(zip(flagged["area_id"], flagged["area_name"], strict=True))):
            found.setdefault(str(area_id), (str(name), []))[1].append(item.label)
    return found


def _map_section(data: Lagesbild, until: date) -> list[str]:
    if not data.areas:
        return []
    deviating = deviating_areas(data, until)
    ring_points = [np.asarray(ring) for area in data.areas for polygon in area.polygons for ring in polygon]
    projection = _Projection(
        np.concatenate([r[:, 0] for r in ring_points]), np.concatenate([r[:, 1] for r in ring_points])
    )
    layers = list(dict.fromkeys(a.layer for a in data.areas))
    parts = [
        f'<svg id="map" viewBox="0 0 {projection.width:.0f} {projection.height:.0f}" role="img" '
        'aria-label="Områden, de med avvikelse markerade">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#b3261e" '
        'stroke-opacity="0.35" stroke-width="2"/></pattern></defs>',
    ]
    if data.kommun_outline:
        parts.append(
            f'<path class="kommun" d="{_path(projection, data.kommun_outline)}" fill="#f1f3ee" '
            'stroke="#9aa39a" stroke-width="1"/>'
        )
    for area in sorted(data.areas, key=lambda a: layers.index(a.layer)):
        measures = deviating.get(area.area_id, ("", []))[1]
        style = (
            'class="area deviating-area"'
            if measures
            else f'class="area" {LAYER_STYLES[layers.index(area.layer) % len(LAYER_STYLES)]}'
        )
        why = f": avvikelse i {', '.join(measures)}" if measures else ""
        parts.append(
            f'<path data-area="{escape(area.area_id)}" data-layer="{escape(area.layer)}" '
            f'd="{_path(projection, area.polygons)}" fill-rule="evenodd" {style}>'
            f"<title>{escape(area.name)} ({escape(area.layer)}){escape(why)}</title></path>"
        )
    for area in data.areas:
        if area.layer != layers[0]:
            continue
        ring = np.asarray(max((p[0] for p in area.polygons), key=len))
        lx, ly = projection.xy(ring[:-1, 0].mean(keepdims=True), ring[:-1, 1].mean(keepdims=True))
        parts.append(
            f'<text x="{lx[0]:.1f}" y="{ly[0]:.1f}" font-size="12" text-anchor="middle" fill="#1b1f24" '
            f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{escape(area.name)}</text>'
        )
    parts.append("</svg>")
    listed = "".join(
        f'<li data-area="{escape(a)}">{escape(name)}: {escape(", ".join(m))}</li>'
        for a, (name, m) in sorted(deviating.items(), key=lambda kv: kv[1][0])
    )
    return [
        '<section id="karta"><h2>Områden med avvikelse</h2>',
        '<div class="map-wrap"><figure class="map">',
        "".join(parts),
        "<figcaption>Rött: området har en avvikelse under de senaste veckorna eller den senaste "
        "månaden. Områdenas former är de som finns i lagret.</figcaption></figure>",
        f'<aside><ul class="deviating">{listed or "<li>Inga avvikelser.</li>"}</ul></aside>',
        "</div></section>",
    ]
