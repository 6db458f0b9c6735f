"""`lofte audit`: what each file of a run gave, read from the warehouse's load audit; `lofte status`:
what the warehouse holds and how the last runs went."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from cli.common import (
    WarehouseOption,
    app,
    fail,
    handled,
    out,
    read_warehouse,
    settings_or_exit,
    warehouse_or_exit,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from read.audit import RunAudit
    from read.status import WarehouseStatus


@app.command()
def audit(
    run: Annotated[str | None, typer.Option("--run", help="run id; default the latest run")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Per file of a run: rows read = loaded + rejected, the reasons of rejection grouped and counted."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    with handled(settings):
        from read.audit import audit_lines, latest_run_id, read_run_audit

        def read(conn: Connection) -> RunAudit | None:
            run_id = run or latest_run_id(conn)
            return read_run_audit(conn, run_id) if run_id else None

        # the load audit's tables are the same in every revision: an older warehouse's audit is readable
        found = read_warehouse(target, settings, read, current_schema=False)
    if found is None:
        fail(f"no run {run!r} in the warehouse" if run else "no runs in the warehouse yet")
    for line in audit_lines(found):
        out.print(line, highlight=False, markup=False, soft_wrap=True)


@app.command()
def status(warehouse: WarehouseOption = None) -> None:
    """What is loaded: per kommun-year the sources (rows, latest file and its dates), the data's last date
    per source, the last run of each kind, and the runs that failed since the last success."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    with handled(settings):
        from read.status import read_status

        found = read_warehouse(target, settings, read_status, current_schema=False)
    for line in status_lines(found):
        out.print(line, highlight=False, markup=False)


def _when(moment: datetime | None) -> str:
    """A time as an operator in Sweden reads it."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d %H:%M")


def status_lines(found: WarehouseStatus) -> list[str]:
    lines = ["Loaded (kommun year: source rows, latest file and its dates):"]
    if not found.partitions:
        lines.append("  nothing loaded yet")
    for (kommunkod, year), sources in found.partitions.items():
        lines.append(f"  {kommunkod} {year}:")
        for s in sources:
            lines.append(
                f"    {s.source:<10} {s.rows:>9} {'row ' if s.rows == 1 else 'rows'}  {s.latest_file or '?'} "
                f"({s.first_date} – {s.last_date}, loaded {_when(s.latest_loaded_at)})"
            )
    if found.last_date:
        dates = ", ".join(f"{source} {day}" for source, day in found.last_date.items())
        lines.append(f"Data up to: {dates}")
    lines.append("Last runs:")
    if not found.last_runs:
        lines.append("  none yet")
    for run in found.last_runs:
        lines.append(f"  {run.kind:<9} {run.status:<11} {_when(run.started_at)}  {run.run_id}")
    if found.failed_since_success:
        lines.append(f"Failed since the last successful run: {len(found.failed_since_success)}")
        for run in found.failed_since_success:
            reason = (run.message or "").splitlines()[0][:160] if run.message else ""
            lines.append(f"  {run.kind:<9} {run.status:<11} {_when(run.started_at)}  {run.run_id}  {reason}")
    else:
        lines.append("Failed since the last successful run: none")
    return lines


@app.command()
def backup(
    out_file: Annotated[Path, typer.Option("--out", help="the copy to write (a new file)")],
    warehouse: WarehouseOption = None,
) -> None:
    """Copy a DuckDB warehouse consistently: waits for a running load and keeps the next one out meanwhile."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    with handled(settings):
        from load.backup import backup_duckdb

        revision = backup_duckdb(target, out_file, settings)
    out.print(f"wrote {out_file} (schema revision {revision})", highlight=False)
