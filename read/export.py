"""`lofte export`: facts and aggregates to Parquet and CSV, one folder per kommun and year, for Excel and R.

Read from the analysts' views (load/views.py), so the files carry the same columns as the documented
views: `<out>/<kommunkod>/<year>/<name>.parquet|.csv`. CSV is what Swedish Excel opens on a double click:
UTF-8 with BOM, `;` between fields, decimal comma; dates and times ISO 8601. In R: `read.csv2(file,
fileEncoding = "UTF-8-BOM")` or `arrow::read_parquet(file)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from load.views import view
from report.csvfile import write_csv
from schemas import warehouse as w
from schemas.errors import WarehouseError

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
    version = conn.execute(sa.select(sa.func.max(w.schema_version.c.version))).scalar()
    if (version or 0) < 2:  # the views came with schema step 2; a read-only export cannot upgrade
        raise WarehouseError("the warehouse predates the analysts' views: run `lofte run` once to upgrade it")
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
                result.files.append(_parquet(frame, folder / f"{name}.parquet"))
            if "csv" in formats:
                result.files.append(_csv(frame, folder / f"{name}.csv"))
    return result


def _parquet(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    """Swedish Excel: BOM, `;`, decimal comma; times as ISO text (Excel leaves text times alone)."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.DatetimeTZDtype) or out[name].dtype.kind == "M":
            out[name] = out[name].map(lambda t: t.isoformat() if pd.notna(t) else None)
    return write_csv(out, path)
