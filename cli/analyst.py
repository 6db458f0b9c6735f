"""`lofte report` and `lofte export`: what analysts and coordinators take out of the warehouse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import (
    EXIT_USAGE,
    WarehouseOption,
    app,
    emit,
    fail,
    handled,
    out,
    out_file_or_exit,
    out_folder_or_exit,
    read_warehouse,
    settings_or_exit,
    warehouse_or_exit,
)


@app.command()
def report(
    kommun: Annotated[str, typer.Option("--kommun", help="kommunkod, e.g. 0484")],
    year: Annotated[int, typer.Option("--year")],
    format: Annotated[
        str | None, typer.Option("--format", help="md, csv or html; default from --out's suffix, else md")
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="write to this file")] = None,
    warehouse: WarehouseOption = None,
    public: Annotated[
        bool, typer.Option("--public", help="add per-area tables, counts below 3 suppressed")
    ] = False,
) -> None:
    """Print the follow-up as the municipality publishes it."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    formats = ("md", "csv", "html")
    if format is None:  # `--out rapport.html` means HTML
        suffix = out_file.suffix.lower().lstrip(".") if out_file else ""
        format = {"htm": "html", "markdown": "md", "txt": "md"}.get(suffix, suffix)
        format = format if format in formats else "md"
    if format not in formats:
        fail(f"--format {format!r}: choose one of {', '.join(formats)}", EXIT_USAGE)
    out_file_or_exit("--out", out_file)
    kommunkod = kommun.zfill(4)
    with handled(settings):
        from read.followup import read_followup
        from read.report_data import read_report
        from report.html import to_html
        from report.render import to_csv, to_markdown

        renderers: dict[str, Callable[..., str]] = {"md": to_markdown, "csv": to_csv, "html": to_html}
        reader: Callable[..., Any] = read_report if format == "html" else read_followup
        followup = read_warehouse(target, settings, lambda conn: reader(conn, kommunkod, year))
        if followup is None:
            fail(f"no promises for kommun {kommunkod} {year} in the warehouse: run `lofte run` first")
        # --public adds per-area tables with small counts suppressed (report/suppression.py)
        text = renderers[format](followup, public=True) if public else renderers[format](followup)
        emit(text, out_file, "utf-8-sig" if format == "csv" else "utf-8")  # Excel wants the BOM


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
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    out_folder_or_exit("--out", out_dir)
    with handled(settings):
        from read.export import FORMATS
        from read.export import export as write_export

        formats = tuple(format or FORMATS)
        if unknown := [f for f in formats if f not in FORMATS]:
            fail(f"--format {unknown[0]!r}: choose parquet or csv", EXIT_USAGE)
        kommuner = [k.zfill(4) for k in kommun] if kommun else None
        # export() checks the schema itself, before it writes a file
        result = read_warehouse(
            target,
            settings,
            lambda conn: write_export(conn, out_dir, kommuner, year, formats),
            current_schema=False,
        )
    if not result.files:
        fail("nothing to export: no facts or follow-up for the kommuner and years asked for")
    partitions = sorted({(k, y) for k, y, _ in result.rows})
    for kommunkod, y in partitions:
        counts = ", ".join(
            f"{name} {n}" for (k, yy, name), n in result.rows.items() if (k, yy) == (kommunkod, y)
        )
        out.print(f"{kommunkod} {y}: {counts}", highlight=False)
    out.print(f"wrote {len(result.files)} files under {out_dir}", highlight=False)
