"""`lofte export`: facts and aggregates to Parquet and CSV, one folder per kommun and year, for Excel and R.

Read from the analysts' views (load/views.py), so the files carry the same columns as the documented
views: `<out>/<kommunkod>/<year>/<name>.parquet|.csv`. CSV is what Swedish Excel opens on a double click:
UTF-8 with BOM, `;` between fields, decimal comma; dates and times ISO 8601. In R: `read.csv2(file,
fileEncoding = "UTF-8-BOM")` or `arrow::read_parquet(file)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load.migrations import require_head
from load.views import view
from report.csvfile import write_csv
from schemas import warehouse as w

# File name → (view, sort order), in the order written. Each is filtered to one kommun and year.
EXPORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "uppfoljning": ("v_followup", ("position", "tertial", "area_id")),
    "uppfoljning_tabell": ("v_followup_table", ("position",)),
    "datakvalitet": ("v_source_quality", ("source",)),
    "brott": ("v_brott", ("arendenummer", "brottsnummer")),
    "brott_omrade": ("v_brott_area", ("arendenummer", "brottsnummer", "layer")),
    "handelserapporter": ("v_handelserapport", ("handelsenummer",)),
    "handelserapporter_omrade": ("v_handelserapport_area", ("handelsenummer", "layer")),
    "aktiviteter": ("v_aktivitet", ("datum", "aktivitet", "plats")),
    "omraden_per_ar": ("v_area_year", ("source", "kod", "layer", "area_id")),
    "lagesbild": ("v_lagesbild", ("position", "period", "period_start", "area_id")),
    "tid_pa_dygnet": ("v_tid_pa_dygnet", ("position", "area_id", "weekday", "hour")),
}
FORMATS = ("parquet", "csv")


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    rows: dict[tuple[str, int, str], int] = field(default_factory=dict)  # (kommunkod, year, name) → rows


def partitions(
    conn: Connection, kommuner: list[str] | None, years: list[int] | None
) -> list[tuple[str, int]]:
    """Every (kommunkod, year) with facts or a follow-up, narrowed to the kommuner and years asked for."""
    tables = (w.fact_brott, w.fact_handelserapport, w.fact_aktivitet, w.followup_aggregate)
    union = sa.union(*[sa.select(t.c.kommunkod, t.c.year) for t in tables]).subquery("p")
    query = sa.select(union.c.kommunkod, union.c.year).order_by(union.c.kommunkod, union.c.year)
    if kommuner:
        query = query.where(union.c.kommunkod.in_(kommuner))
    if years:
        query = query.where(union.c.year.in_(years))
    return [(str(k), int(y)) for k, y in conn.execute(query)]


def export(
    conn: Connection,
    outdir: Path,
    kommuner: list[str] | None = None,
    years: list[int] | None = None,
    formats: tuple[str, ...] = FORMATS,
) -> ExportResult:
    require_head(conn)  # the views are those of this lofte's schema; a read-only export cannot upgrade
    result = ExportResult()
    for kommunkod, year in partitions(conn, kommuner, years):
        folder = outdir / kommunkod / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        for name, (view_name, order) in EXPORTS.items():
            v = view(view_name)
            query = sa.select(v).where(v.c.kommunkod == kommunkod, v.c.year == year)
            # Nullable integers stay integers (a target is 200, not 200.0), in Parquet and in CSV.
            frame = pd.read_sql(
                query.order_by(*[v.c[c] for c in order]), conn, dtype_backend="numpy_nullable"
            )
            result.rows[(kommunkod, year, name)] = len(frame)
            if "parquet" in formats:
                result.files.append(_parquet(frame, v, folder / f"{name}.parquet"))
            if "csv" in formats:
                result.files.append(_csv(frame, folder / f"{name}.csv"))
    if result.rows:
        _manifest(conn, outdir, result)
    return result


def _arrow_type(column: sa.ColumnElement) -> pa.DataType | None:
    """The Parquet type of a view column, from its SQL type; None: as pandas gives it."""
    kind = column.type
    if isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
        return pa.date32()
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us", tz="UTC") if kind.timezone else pa.timestamp("us")
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.Float | sa.Numeric):
        return pa.float64()
    if isinstance(kind, sa.String):
        return pa.string()
    return None


def _parquet(frame: pd.DataFrame, source: sa.Table, path: Path) -> Path:
    """Typed as in the warehouse: a DATE stays a date (the driver hands some back as text), and an empty
    view still gives its columns with their types."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for column in source.columns:
        wanted = _arrow_type(column)
        if column.name not in table.column_names:
            continue
        index = table.column_names.index(column.name)
        current = table.column(index).type
        if wanted is None:
            wanted = pa.string() if pa.types.is_null(current) else current
        if current != wanted:
            table = table.set_column(index, column.name, pc.cast(table.column(index), wanted))
    pq.write_table(table, path)
    return path


def _manifest(conn: Connection, outdir: Path, result: ExportResult) -> None:
    """manifest.json: what the export holds (files, rows, partitions, data up to), for whoever opens the
    folder and for scripts that check it; a view with no rows is listed with 0."""
    done: dict[tuple[str, int], dict[str, object]] = {}
    for (kommunkod, year, name), rows in result.rows.items():
        entry = done.setdefault((kommunkod, year), {"kommunkod": kommunkod, "year": year, "files": {}})
        entry["files"][name] = rows  # type: ignore[index]
    for (kommunkod, year), entry in done.items():
        until = {}
        for source, table in (("status", w.fact_brott), ("storm", w.fact_handelserapport)):
            last = conn.execute(
                sa.select(sa.func.max(table.c.datum)).where(
                    table.c.kommunkod == kommunkod, table.c.year == year
                )
            ).scalar()
            if last is not None:
                until[source] = str(last)[:10]
        entry["data_until"] = until
    manifest = {
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "layout": "<kommunkod>/<year>/<name>.parquet|.csv",
        "partitions": list(done.values()),
    }
    path = outdir / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    result.files.append(path)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    """Swedish Excel: BOM, `;`, decimal comma; times as ISO text (Excel leaves text times alone)."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.DatetimeTZDtype) or out[name].dtype.kind == "M":
            out[name] = out[name].map(lambda t: t.isoformat() if pd.notna(t) else None)
    return write_csv(out, path)
