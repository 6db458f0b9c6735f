"""`lofte nightly` and `lofte backfill`: the scheduled and the on-demand runs over an inbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli import WarehouseOption, _fail, _quiet_prefect, _unexpected, app, out, report_summary
from flows.prefect_api import start_prefect_api
from schemas.errors import LofteError

ConfigOption = Annotated[Path, typer.Option("--config", help="folder with areas.geojson and promises/")]
InboxOption = Annotated[Path, typer.Option("--inbox", help="folder with status/, storm/, activities/")]


@app.command()
def nightly(config: ConfigOption, inbox: InboxOption, warehouse: WarehouseOption = None) -> None:
    """Load the exports not loaded before (by SHA-256) and recompute the partitions they touch."""
    _quiet_prefect()
    prefect_api = start_prefect_api()  # boots while the pipeline is imported
    from flows.nightly import nightly_run

    try:
        with prefect_api:
            summary = nightly_run(config, inbox, warehouse)
    except LofteError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _unexpected(exc) from None
    if summary.merged is None and not summary.audits:
        out.print("nothing new: the warehouse is unchanged", highlight=False)
        return
    report_summary(summary)


@app.command()
def backfill(
    config: ConfigOption,
    inbox: InboxOption,
    from_year: Annotated[int, typer.Option("--from-year")],
    to_year: Annotated[int, typer.Option("--to-year")],
    warehouse: WarehouseOption = None,
) -> None:
    """Recompute the years from every export in the inbox, each year in its own transaction."""
    _quiet_prefect()
    prefect_api = start_prefect_api()  # boots while the pipeline is imported
    from flows.backfill import backfill_run

    try:
        with prefect_api:
            summary = backfill_run(config, inbox, from_year, to_year, warehouse)
    except LofteError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _unexpected(exc) from None
    report_summary(summary)
