"""`lofte audit`: what each file of a run gave, read from the warehouse's load audit."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli import EXIT_FAILED, WarehouseOption, _fail, app, out
from schemas.errors import LofteError


@app.command()
def audit(
    run: Annotated[str | None, typer.Option("--run", help="run id; default the latest run")] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Per file of a run: rows read = loaded + rejected, the reasons of rejection grouped and counted."""
    from load.audit import audit_lines, latest_run_id, read_run_audit
    from load.warehouse import Warehouse

    try:
        store = Warehouse(warehouse, read_only=True)
        try:
            with store.begin() as conn:
                run_id = run or latest_run_id(conn)
                found = read_run_audit(conn, run_id) if run_id else None
        finally:
            store.dispose()
    except LofteError as exc:
        raise _fail(str(exc)) from None
    if found is None:
        raise _fail(
            f"no run {run!r} in the warehouse" if run else "no runs in the warehouse yet", EXIT_FAILED
        )
    for line in audit_lines(found):
        out.print(line, highlight=False, markup=False, soft_wrap=True)
