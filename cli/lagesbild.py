"""`lofte lagesbild`: weeks and months per measure and area, last year beside, what is going the wrong way."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    EXIT_USAGE,
    WarehouseOption,
    app,
    emit,
    fail,
    handled,
    out_file_or_exit,
    read_warehouse,
    settings_or_exit,
    warehouse_or_exit,
)


@app.command()
def lagesbild(
    kommun: Annotated[str, typer.Option("--kommun", help="kommunkod, e.g. 0484")],
    year: Annotated[int, typer.Option("--year")],
    format: Annotated[str, typer.Option("--format", help="md or html")] = "md",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to this file")] = None,
    public: Annotated[
        bool, typer.Option("--public", help="areas and times of day with counts below 3 suppressed")
    ] = False,
    until: Annotated[
        str | None,
        typer.Option("--until", help="last day shown (YYYY-MM-DD); default today or the year's end"),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Print the lägesbild: the last weeks and the months per measure, areas, weekday × time of day."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    if format not in ("md", "html"):
        fail(f"--format {format!r}: choose md or html", EXIT_USAGE)
    try:
        last_day = date.fromisoformat(until) if until else None
    except ValueError:
        fail(f"--until {until!r}: not a date (YYYY-MM-DD)", EXIT_USAGE)
    out_file_or_exit("--out", out_file)
    kommunkod = kommun.zfill(4)
    with handled(settings):
        from read.lagesbild import read_lagesbild
        from report.lagesbild import to_markdown
        from report.lagesbild_html import to_html

        data = read_warehouse(
            target, settings, lambda conn: read_lagesbild(conn, kommunkod, year, with_map=format == "html")
        )
        if data is None:
            fail(f"no lägesbild for kommun {kommunkod} {year} in the warehouse: run `lofte run` first")
        render = to_html if format == "html" else to_markdown
        emit(render(data, public=public, until=last_day), out_file)
