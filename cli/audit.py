"""`lofte audit`: what each file of a run gave, read from the warehouse's load audit."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import WarehouseOption, app, fail, handled, out, settings_or_exit, warehouse_or_exit


@app.command()
def audit(
    run: Annotated[str | None, typer.Option("--run", help="run id; default the latest run")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Per file of a run: rows read = loaded + rejected, the reasons of rejection grouped and counted."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    with handled(settings):
        from load.warehouse import Warehouse
        from read.audit import audit_lines, latest_run_id, read_run_audit

        store = Warehouse(target, settings=settings, read_only=True)
        try:
            with store.begin() as conn:
                run_id = run or latest_run_id(conn)
                found = read_run_audit(conn, run_id) if run_id else None
        finally:
            store.dispose()
    if found is None:
        fail(f"no run {run!r} in the warehouse" if run else "no runs in the warehouse yet")
    for line in audit_lines(found):
        out.print(line, highlight=False, markup=False, soft_wrap=True)
