"""`lofte run`, `lofte nightly`, `lofte backfill`: the commands that load exports into the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    EXIT_UNREADABLE,
    WarehouseOption,
    app,
    err,
    expand,
    handled,
    keep_password_out_of_flows,
    out,
    quiet_prefect,
    settings_or_exit,
    warehouse_or_exit,
)
from flows.prefect_api import start_prefect_api
from schemas.contracts import Source
from schemas.settings import Settings

if TYPE_CHECKING:
    from pipeline.run import RunSummary

ConfigOption = Annotated[Path, typer.Option("--config", help="folder with areas.geojson and promises/")]
InboxOption = Annotated[Path, typer.Option("--inbox", help="folder with status/, storm/, activities/")]


@contextmanager
def orchestrated(settings: Settings) -> Iterator[None]:
    """The command's own Prefect API (none when PREFECT_API_URL names a server), booting while the
    pipeline is imported; errors handled once."""
    quiet_prefect()
    with handled(settings), start_prefect_api():
        yield


@app.command()
def run(
    promises: Annotated[list[Path], typer.Option("--promises", help="promises file (YAML) or folder")],
    areas: Annotated[Path | None, typer.Option("--areas", help="areas file (GeoJSON)")] = None,
    status: Annotated[list[Path] | None, typer.Option("--status", help="STATUS export or folder")] = None,
    storm: Annotated[list[Path] | None, typer.Option("--storm", help="STORM-HOBIT log or folder")] = None,
    activities: Annotated[list[Path] | None, typer.Option("--activities", help="activity register")] = None,
    aliases: Annotated[Path | None, typer.Option("--aliases", help="header aliases (YAML)")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Load exports (in the order given) and recompute the follow-up of the partitions they touch."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    files = [
        *[(Source.STATUS, p) for p in expand(status or [])],
        *[(Source.STORM, p) for p in expand(storm or [])],
        *[(Source.ACTIVITIES, p) for p in expand(activities or [])],
    ]
    with orchestrated(settings):
        from flows.followup import file_task_runner, followup_run

        flow = followup_run.with_options(task_runner=file_task_runner(settings.file_workers))
        with out.status(f"loading {len(files)} files…"):
            summary = flow(expand(promises), areas, files, aliases, keep_password_out_of_flows(target))
    report_summary(summary)


@app.command()
def nightly(config: ConfigOption, inbox: InboxOption, warehouse: WarehouseOption = None) -> None:
    """Load the exports not loaded before (by SHA-256) and recompute the partitions they touch."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    with orchestrated(settings):
        from flows.followup import file_task_runner
        from flows.nightly import nightly_run

        flow = nightly_run.with_options(task_runner=file_task_runner(settings.file_workers))
        summary = flow(config, inbox, keep_password_out_of_flows(target))
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
    """Recompute the years from every export in the inbox, published together in one transaction."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    with orchestrated(settings):
        from flows.backfill import backfill_run
        from flows.followup import file_task_runner

        flow = backfill_run.with_options(task_runner=file_task_runner(settings.file_workers))
        summary = flow(config, inbox, from_year, to_year, keep_password_out_of_flows(target))
    report_summary(summary)


def report_summary(summary: RunSummary) -> None:
    """Per file: rows read, loaded, rejected (reasons grouped), warnings; then the partitions rewritten.
    Exits 3 when a file could not be read at all."""
    for audit in summary.audits:
        name = Path(audit.path).name
        if audit.status == "unreadable":
            err.print(f"[red]unreadable:[/] {audit.error}", highlight=False, soft_wrap=True)
            continue
        counts = f"{audit.rows_read} rows read, {audit.rows_loaded} loaded, {audit.rows_rejected} rejected"
        out.print(f"{name}: {counts}", highlight=False)
        for reason, lines in sorted(audit.rejection_reasons.items()):
            shown = ", ".join(str(n) for n in lines[:10]) + (", …" if len(lines) > 10 else "")
            out.print(f"  rejected: {reason}: {len(lines)} rows, lines {shown}", highlight=False)
        for warning in audit.warnings:
            out.print(f"  [yellow]warning:[/] {warning}", highlight=False)
    merged = summary.merged
    if merged:
        done = ", ".join(f"{k} {y}" for k, y in merged.followup_partitions) or "none"
        out.print(f"run {summary.run_id}: follow-up recomputed for {done}", highlight=False)
    if summary.unreadable:
        raise typer.Exit(EXIT_UNREADABLE)
