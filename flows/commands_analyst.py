"""Commands registered on `lofte` (see flows/cli.py): what analysts take out of the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli import EXIT_USAGE, WarehouseOption, _fail, app, out
from schemas.errors import LofteError


@app.command()
def export(
    out_dir: Annotated[Path, typer.Option("--out", help="folder for <kommunkod>/<year>/<name>.parquet|.csv")],
    kommun: Annotated[
        list[str] | None, typer.Option("--kommun", help="kommunkod; repeatable; default all")
    ] = None,
    year: Annotated[list[int] | None, typer.Option("--year", help="year; repeatable; default all")] = None,
    format: Annotated[
        list[str] | None, typer.Option("--format", help="parquet or csv; repeatable; default both")
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Write facts and follow-up per kommun and year as Parquet and CSV (UTF-8 with BOM, `;`, for Excel)."""
    from load.export import FORMATS
    from load.export import export as write_export
    from load.warehouse import Warehouse

    formats = tuple(format or FORMATS)
    if unknown := [f for f in formats if f not in FORMATS]:
        raise _fail(f"--format {unknown[0]!r}: choose parquet or csv", EXIT_USAGE)
    kommuner = [k.zfill(4) for k in kommun] if kommun else None
    try:
        store = Warehouse(warehouse, read_only=True)
        with store.begin() as conn:
            result = write_export(conn, out_dir, kommuner, year, formats)
        store.dispose()
    except LofteError as exc:
        raise _fail(str(exc)) from None
    if not result.files:
        raise _fail("nothing to export: no facts or follow-up for the kommuner and years asked for")
    partitions = sorted({(k, y) for k, y, _ in result.rows})
    for kommunkod, y in partitions:
        counts = ", ".join(
            f"{name} {n}" for (k, yy, name), n in result.rows.items() if (k, yy) == (kommunkod, y)
        )
        out.print(f"{kommunkod} {y}: {counts}", highlight=False)
    out.print(f"wrote {len(result.files)} files under {out_dir}", highlight=False)
