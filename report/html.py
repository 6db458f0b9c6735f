"""The follow-up as one self-contained HTML page (pure): data in, one HTML string out.

Everything is inline: CSS, the bar charts and the map are SVG written here, no script, no font, no
external file, so the page opens without a network and prints (A4, `@media print`). The tables are the
Markdown report's cells (report/render.py), so the two never disagree.

The map is the police's "prickar i kartan": every event report with coordinates is a dot on the area
polygons, projected equirectangularly with cos(latitude) (plenty for a municipality), fitted to the areas
and the dots; the reports without coordinates are counted beside it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import UTC
from html import escape
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from read.followup import Followup, MeasureFollowup
from read.report_data import MapData, Polygon, ReportData
from report.render import activity_lines, area_table
from schemas.contracts import Source, hobit_display
from transform.followup import ALL, TERTIALS

# Okabe–Ito: distinguishable for colour-blind readers and in greyscale print.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
LAYER_STYLES = [
    'fill="#dfe7ef" fill-opacity="0.55" stroke="#4a6584" stroke-width="1"',
    'fill="url(#hatch)" stroke="#b3261e" stroke-width="1.6" stroke-dasharray="5 3"',
    'fill="none" stroke="#5b3f8c" stroke-width="1.4" stroke-dasharray="2 2"',
]
MAP_WIDTH, MAP_MAX_HEIGHT = 760.0, 900.0
STOCKHOLM = ZoneInfo("Europe/Stockholm")

CSS = """
:root { --ink: #1b1f24; --muted: #5a6470; --line: #c9d1da; --accent: #0072B2; --bar-light: #a9c8e3; }
* { box-sizing: border-box; }
body { font-family: system-ui, "Segoe UI", Arial, sans-serif; color: var(--ink); margin: 0 auto;
       max-width: 1100px; padding: 24px; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
.meta, figcaption, .note { color: var(--muted); font-size: .85rem; }
blockquote { margin: .5rem 0 1rem; padding: .3rem .9rem; border-left: 4px solid var(--accent);
             background: #f4f7fa; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .95rem; }
th, td { border: 1px solid var(--line); padding: .35rem .55rem; vertical-align: top; }
thead th { background: #eef2f6; text-align: left; }
tbody th { text-align: left; font-weight: 500; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; break-inside: avoid; }
figure.chart { flex: 1 1 320px; max-width: 420px; border: 1px solid var(--line); padding: 8px; }
ul.activities { margin: .2rem 0 1rem; }
.map-wrap { display: flex; gap: 20px; align-items: flex-start; flex-wrap: wrap; }
.map-wrap figure { flex: 1 1 560px; }
.map-wrap svg { width: 100%; height: auto; border: 1px solid var(--line); background: #fbfcfd; }
aside { flex: 0 1 300px; font-size: .9rem; }
aside table { font-size: .85rem; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 50%; margin-right: .35em;
          vertical-align: -.05em; }
.dots-line { font-weight: 600; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  table, figure, aside { break-inside: avoid; }
  .map-wrap { display: block; }
  .map-wrap svg { max-height: 170mm; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def provenance_line(followup: Followup) -> str:
    """ "Data t.o.m. 2019-12-31 (STATUS), 2019-12-30 (STORM); framtagen 2020-01-08 04:15" (Swedish time)."""
    until = ", ".join(f"{day:%Y-%m-%d} ({source.upper()})" for source, day in followup.data_until.items())
    parts = [f"Data t.o.m. {until}" if until else "Ingen data inläst"]
    if followup.produced_at is not None:
        produced = followup.produced_at
        if produced.tzinfo is None:
            produced = produced.replace(tzinfo=UTC)  # DuckDB returns the stored UTC time without its zone
        parts.append(f"framtagen {produced.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}")
    return "; ".join(parts)


def to_html(data: ReportData, *, public: bool = False) -> str:
    """`public`: the per-area tables too, small counts suppressed as in the Markdown report."""
    followup = data.followup
    title = f"{followup.kommun} ({followup.kommunkod})" if followup.kommun else followup.kommunkod
    heading = f"Medborgarlöften {title} {followup.year}: uppföljning per tertial"
    body = [
        "<header>",
        f"<h1>{escape(heading)}</h1>",
        f'<p class="meta provenance">{escape(provenance_line(followup))}</p>',
        '<p class="meta">Värde under tertialen, hittills under året inom parentes.</p>',
        "</header>",
        "<main>",
    ]
    for section in followup.sections:
        items = [m for m in followup.measures if m.section_no == section["section_no"]]
        body += _section(section, items, public)
    body += _map_section(data.map)
    body += [
        '<section id="datakvalitet"><h2>Datakvalitet</h2><ul class="quality">',
        *[f"<li>{escape(line)}</li>" for line in followup.quality_lines() + followup.warning_lines()],
        "</ul></section>",
        "</main>",
        # The run ids are for whoever traces a number back to its load (lofte audit --run …).
        f'<footer><p class="note">Körning: {escape(", ".join(followup.run_ids) or "–")}</p></footer>',
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="sv">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',  # no favicon request: the page needs no network
            f"<title>{escape(heading)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _section(section: dict, items: list[MeasureFollowup], public: bool = False) -> list[str]:
    out = [f'<section class="promise" id="avsnitt-{int(section["section_no"])}">']
    out.append(f"<h2>{escape(str(section['title']))}</h2>")
    if section.get("promise"):
        out.append(f"<blockquote>{escape(str(section['promise']))}</blockquote>")
    out += [
        '<table class="followup">',
        "<thead><tr><th>Aktivitet</th><th>Tertial 1</th><th>Tertial 2</th><th>Tertial 3</th>"
        "<th>Mål</th></tr></thead>",
        "<tbody>",
    ]
    for item in items:
        cells = "".join(f'<td class="num">{escape(c)}</td>' for c in item.cells)
        out.append(
            f'<tr data-measure="{escape(item.measure.id)}"><th scope="row">{escape(item.measure.label)}</th>'
            f"{cells}<td>{escape(item.target_text)}</td></tr>"
        )
    out += ["</tbody>", "</table>"]
    for item in items:
        if item.measure.source is Source.ACTIVITIES:
            out.append(f"<p><strong>{escape(item.measure.label)}</strong></p>")
            out.append('<ul class="activities">')
            out += [f"<li>{escape(line.replace('**', ''))}</li>" for line in activity_lines(item)]
            out.append("</ul>")
    for item in items if public else []:
        table = area_table(item)
        if table is None:
            continue
        out.append(
            f"<p><strong>{escape(item.measure.label)}: per område</strong> "
            '<span class="note">(färre än 3 visas som &lt;3, .. döljs)</span></p>'
        )
        out.append(
            f'<table class="areas" data-measure="{escape(item.measure.id)}"><thead><tr><th>Område</th>'
            "<th>Tertial 1</th><th>Tertial 2</th><th>Tertial 3</th></tr></thead><tbody>"
        )
        for area, shown_cells in zip(*table, strict=True):
            tds = "".join(f'<td class="num">{escape(c)}</td>' for c in shown_cells)
            out.append(f'<tr><th scope="row">{escape(area)}</th>{tds}</tr>')
        out.append("</tbody></table>")
    out.append('<div class="charts">')
    out += [_chart(item) for item in items]
    out += ["</div>", "</section>"]
    return out


def _all_rows(item: MeasureFollowup) -> dict[int, tuple[int, int]]:
    rows = item.rows[item.rows["area_id"] == ALL] if len(item.rows) else item.rows
    return {
        int(r["tertial"]): (int(r["value"]), int(r["cumulative_value"]))
        for _, r in rows.iterrows()
        if pd.notna(r["value"])  # no data: no bar
    }


def _chart(item: MeasureFollowup) -> str:
    """Bars per tertial: earlier tertials (light) under this tertial's value (dark); the target dashed."""
    values = _all_rows(item)
    target = item.measure.target
    width, height, left, bottom, top = 400.0, 210.0, 44.0, 28.0, 18.0
    right = width - 56  # the plot's right edge: the target's label stands beside the line
    plot_h = height - bottom - top
    peak = max([c for _, c in values.values()] + [target or 0, 1])
    step = _nice_step(peak)
    scale_max = step * math.ceil(peak * 1.08 / step)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / scale_max)

    parts = [
        f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" class="bars" '
        f'aria-label="{escape(item.measure.label)}: per tertial">'
    ]
    for tick in np.arange(0, scale_max + step / 2, step):
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e3e8ee"/>'
            f'<text x="{left - 5}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#5a6470">{int(tick)}</text>'
        )
    slot = (right - left) / 3
    cells = item.cells
    for tertial, cell in zip(TERTIALS, cells, strict=True):
        value, cumulative = values.get(tertial, (0, 0))
        x = left + slot * (tertial - 1) + slot * 0.2
        bar_w = slot * 0.6
        before = cumulative - value
        parts.append(
            f'<rect class="bar-before" x="{x:.1f}" y="{y(before):.1f}" width="{bar_w:.1f}" '
            f'height="{y(0) - y(before):.1f}" fill="var(--bar-light)"/>'
            f'<rect class="bar" data-tertial="{tertial}" data-value="{value}" data-cumulative="{cumulative}" '
            f'x="{x:.1f}" y="{y(cumulative):.1f}" width="{bar_w:.1f}" '
            f'height="{y(before) - y(cumulative):.1f}" '
            f'fill="var(--accent)"><title>Tertial {tertial}: {escape(cell)}</title></rect>'
            f'<text x="{x + bar_w / 2:.1f}" y="{y(cumulative) - 4:.1f}" font-size="11" '
            f'text-anchor="middle">{escape(cell)}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 10:.1f}" font-size="11" '
            f'text-anchor="middle">T{tertial}</text>'
        )
    if target is not None:
        parts.append(
            f'<line class="target" data-target="{target}" x1="{left}" x2="{right}" y1="{y(target):.1f}" '
            f'y2="{y(target):.1f}" stroke="#b3261e" stroke-width="1.5" stroke-dasharray="6 3"/>'
            f'<text x="{right + 4}" y="{y(target) + 4:.1f}" font-size="11" fill="#b3261e">Mål {target}</text>'
        )
    parts.append(f'<line x1="{left}" x2="{right}" y1="{y(0)}" y2="{y(0)}" stroke="#5a6470"/></svg>')
    caption = "Mörk stapel: tertialen; ljus: tidigare tertial (hittills under året = hela stapeln)"
    caption += f"; streckad linje: årsmålet {target}." if target is not None else "."
    return (
        f'<figure class="chart" data-measure="{escape(item.measure.id)}">'
        f"<figcaption><strong>{escape(item.measure.label)}</strong></figcaption>"
        + "".join(parts)
        + f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _nice_step(peak: float) -> float:
    """A round tick step giving about four grid lines."""
    raw = max(peak / 4, 1)  # counts: never a step below 1
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


class _Projection:
    """lon/lat → SVG x/y: equirectangular with cos(mid-latitude), fitted to the bounds with a margin."""

    def __init__(self, lon: np.ndarray, lat: np.ndarray):
        lon_min, lon_max = float(lon.min()), float(lon.max())
        lat_min, lat_max = float(lat.min()), float(lat.max())
        pad_lon, pad_lat = max((lon_max - lon_min) * 0.04, 0.005), max((lat_max - lat_min) * 0.04, 0.003)
        self.lon0, self.lat1 = lon_min - pad_lon, lat_max + pad_lat
        self.k = math.cos(math.radians((lat_min + lat_max) / 2))
        span_x = (lon_max - lon_min + 2 * pad_lon) * self.k
        span_y = lat_max - lat_min + 2 * pad_lat
        self.scale = min(MAP_WIDTH / span_x, MAP_MAX_HEIGHT / span_y)
        self.width, self.height = span_x * self.scale, span_y * self.scale

    def xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (lon - self.lon0) * self.k * self.scale, (self.lat1 - lat) * self.scale


def _path(projection: _Projection, polygons: Iterable[Polygon]) -> str:
    pieces = []
    for polygon in polygons:
        for ring in polygon:
            coords = np.asarray(ring, dtype=float)
            x, y = projection.xy(coords[:, 0], coords[:, 1])
            pieces.append("M" + "L".join(f"{a:.1f} {b:.1f}" for a, b in zip(x, y, strict=True)) + "Z")
    return "".join(pieces)


def _map_section(data: MapData) -> list[str]:
    with_coordinates = len(data.lon)
    missing = data.missing + data.invalid
    line = (
        f"STORM: {data.rows_counted} händelserapporter - {with_coordinates} prickar i kartan "
        f"({missing} saknar koordinater)"
    )
    out = [
        '<section id="karta"><h2>Händelserapporter på kartan</h2>',
        f'<p class="dots-line" data-dots="{with_coordinates}" data-missing="{missing}">{escape(line)}</p>',
        '<div class="map-wrap">',
    ]
    codes = [code for code, _ in Counter(data.hobit.tolist()).most_common()]
    colour = {code: PALETTE[i % len(PALETTE)] for i, code in enumerate(codes)}
    out.append(_map_svg(data, colour))
    out.append(_map_aside(data, codes, colour, missing))
    out += ["</div>", "</section>"]
    return out


def _map_svg(data: MapData, colour: dict[str, str]) -> str:
    ring_points = [np.asarray(ring) for area in data.areas for polygon in area.polygons for ring in polygon]
    lon = np.concatenate([data.lon, *[r[:, 0] for r in ring_points]])
    lat = np.concatenate([data.lat, *[r[:, 1] for r in ring_points]])
    if not len(lon):
        return '<figure class="map"><p class="note">Inga områden och inga prickar att visa.</p></figure>'
    projection = _Projection(lon, lat)
    w, h = projection.width, projection.height
    parts = [
        f'<figure class="map"><svg id="map" viewBox="0 0 {w:.0f} {h:.0f}" role="img" '
        'aria-label="Händelserapporter som prickar på områdena">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#b3261e" '
        'stroke-opacity="0.35" stroke-width="2"/></pattern></defs>',
    ]
    if data.kommun_outline:
        parts.append(
            f'<path class="kommun" d="{_path(projection, data.kommun_outline)}" fill="#f1f3ee" '
            'stroke="#9aa39a" stroke-width="1"/>'
        )
    layers = list(dict.fromkeys(a.layer for a in data.areas))
    for area in sorted(data.areas, key=lambda a: layers.index(a.layer)):
        style = LAYER_STYLES[layers.index(area.layer) % len(LAYER_STYLES)]
        parts.append(
            f'<path class="area" data-area="{escape(area.area_id)}" data-layer="{escape(area.layer)}" '
            f'd="{_path(projection, area.polygons)}" fill-rule="evenodd" {style}>'
            f"<title>{escape(area.name)} ({escape(area.layer)})</title></path>"
        )
    # Dots on top, one circle per position and code (coincident reports stack: data-n).
    x, y = projection.xy(data.lon, data.lat)
    stacked = Counter(zip(np.round(x, 1).tolist(), np.round(y, 1).tolist(), data.hobit.tolist(), strict=True))
    parts.append('<g class="dots" stroke="#ffffff" stroke-width="0.6">')
    for (cx, cy, code), n in stacked.items():
        count = f' data-n="{n}"' if n > 1 else ""
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="{3 if n == 1 else 4}" fill="{colour[code]}" '
            f'data-hobit="{escape(code)}"{count}/>'
        )
    parts.append("</g>")
    # Names of the first layer's areas at their mean vertex (labels drawn last: always readable).
    labelled = [a for a in data.areas if layers and a.layer == layers[0]]
    for area in labelled:
        ring = np.asarray(max((p[0] for p in area.polygons), key=len))
        lx, ly = projection.xy(ring[:-1, 0].mean(keepdims=True), ring[:-1, 1].mean(keepdims=True))
        parts.append(
            f'<text x="{lx[0]:.1f}" y="{ly[0]:.1f}" font-size="12" text-anchor="middle" fill="#1b1f24" '
            f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{escape(area.name)}</text>'
        )
    parts.append("</svg>")
    parts.append(
        "<figcaption>Varje prick är en händelserapport med koordinater (SWEREF 99 TM, omräknad till "
        "WGS84). Områdenas former är de som finns i lagret.</figcaption></figure>"
    )
    return "".join(parts)


def _map_aside(data: MapData, codes: list[str], colour: dict[str, str], missing: int) -> str:
    counts = Counter(data.hobit.tolist())
    legend = "".join(
        f'<tr><td><span class="swatch" style="background:{colour[c]}"></span>{escape(hobit_display(c))}</td>'
        f'<td class="num">{counts[c]}</td></tr>'
        for c in codes
    )
    legend += f'<tr class="no-coordinates"><td>Saknar koordinater</td><td class="num">{missing}</td></tr>'
    # The outlines: one entry per layer, drawn as on the map (solid, dashed), and the kommun's border.
    layers = list(dict.fromkeys(a.layer for a in data.areas))
    outlines = "".join(
        f'<tr class="layer" data-layer="{escape(layer)}"><td><svg width="28" height="14" aria-hidden="true">'
        f'<rect x="1" y="1" width="26" height="12" {LAYER_STYLES[i % len(LAYER_STYLES)]}/></svg></td>'
        f"<td>{escape(layer)}</td></tr>"
        for i, layer in enumerate(layers)
    )
    if data.kommun_outline:
        outlines += (
            '<tr class="layer kommun"><td><svg width="28" height="14" aria-hidden="true"><rect x="1" y="1" '
            'width="26" height="12" fill="#f1f3ee" stroke="#9aa39a" stroke-width="1"/></svg></td>'
            "<td>Kommungräns</td></tr>"
        )

    areas = "".join(
        f'<tr data-area="{escape(a.area_id)}"><td>{escape(a.name)}</td><td>{escape(a.layer)}</td>'
        f'<td class="num">{a.dots}</td></tr>'
        for a in data.areas
    )
    invalid = (
        f'<p class="note">Varav {data.invalid} med ogiltiga koordinater (utanför Sverige).</p>'
        if data.invalid
        else ""
    )
    return (
        "<aside>"
        f'<table class="legend"><thead><tr><th>HOBIT</th><th>Antal</th></tr></thead><tbody>{legend}'
        f"</tbody></table>{invalid}"
        '<table class="outlines"><thead><tr><th>Linje</th><th>Områdeslager</th></tr></thead>'
        f"<tbody>{outlines}</tbody></table>"
        '<table class="area-dots"><thead><tr><th>Område</th><th>Lager</th><th>Prickar</th></tr></thead>'
        f"<tbody>{areas}</tbody></table>"
        "</aside>"
    )
