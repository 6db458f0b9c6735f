"""`lofte`: the command line beside the flows.

Exit codes: 0 every file read (rows may be rejected); 1 the run failed and nothing changed; 2 usage
error; 3 the run finished but one or more input files could not be read at all.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from flows.prefect_api import start_prefect_api
from schemas.contracts import Source
from schemas.errors import LofteError

if TYPE_CHECKING:
    from flows.followup import RunSummary

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="lofte: follow-up of medborgarlöften from STATUS and STORM-HOBIT exports.",
)
out = Console()
err = Console(stderr=True)

WarehouseOption = Annotated[
    str | None,
    typer.Option("--warehouse", help="SQLAlchemy URL; else LOFTE_WAREHOUSE_URL; else ./lofte.duckdb"),
]


def _quiet_prefect() -> None:
    """Prefect's own chatter goes to its log; the command prints its summary."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # The run logs reach the Prefect API (one line per file); the terminal gets the command's own summary.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _unexpected(exc: Exception) -> typer.Exit:
    """A bug or an outage still gets one line (LOFTE_DEBUG=1 shows the traceback); nothing was changed."""
    if os.environ.get("LOFTE_DEBUG"):
        raise exc
    from load.warehouse import mask_url

    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return _fail(f"the run failed and changed nothing: {type(exc).__name__}: {mask_url(first)}")


def expand(paths: list[Path]) -> list[Path]:
    """A folder stands for its files in file-name order; hidden files are skipped."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            files.append(path)
    return files


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
    _quiet_prefect()
    prefect_api = start_prefect_api()  # boots while the pipeline is imported
    from flows.followup import followup_run

    files = [
        *[(Source.STATUS, p) for p in expand(status or [])],
        *[(Source.STORM, p) for p in expand(storm or [])],
        *[(Source.ACTIVITIES, p) for p in expand(activities or [])],
    ]
    try:
        with prefect_api, out.status(f"loading {len(files)} files…"):
            summary = followup_run(expand(promises), areas, files, aliases, warehouse)
    except LofteError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _unexpected(exc) from None
    report_summary(summary)


@app.command()
def report(
    kommun: Annotated[str, typer.Option("--kommun", help="kommunkod, e.g. 0484")],
    year: Annotated[int, typer.Option("--year")],
    format: Annotated[str, typer.Option("--format", help="md, csv or html")] = "md",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to this file")] = None,
    warehouse: WarehouseOption = None,
    public: Annotated[
        bool, typer.Option("--public", help="add per-area tables, counts below 3 suppressed (md, csv)")
    ] = False,
) -> None:
    """Print the follow-up as the municipality publishes it."""
    from collections.abc import Callable

    from load.queries import read_followup
    from load.report_data import read_report
    from load.warehouse import Warehouse
    from report.html import to_html
    from report.render import to_csv, to_markdown

    renderers: dict[str, Callable[..., str]] = {"md": to_markdown, "csv": to_csv, "html": to_html}
    reader = read_report if format == "html" else read_followup  # html: the follow-up plus the map's data
    if format not in renderers:
        raise _fail(f"--format {format!r}: choose one of {', '.join(renderers)}", EXIT_USAGE)
    if public and format not in ("md", "csv"):
        raise _fail("--public: choose --format md or csv", EXIT_USAGE)
    kommunkod = kommun.zfill(4)
    try:
        store = Warehouse(warehouse, read_only=True)
        with store.begin() as conn:
            followup = reader(conn, kommunkod, year)
        store.dispose()
    except LofteError as exc:
        raise _fail(str(exc)) from None
    if followup is None:
        raise _fail(f"no promises for kommun {kommunkod} {year} in the warehouse: run `lofte run` first")
    # --public adds per-area tables with small counts suppressed (report/suppression.py)
    text = renderers[format](followup, public=True) if public else renderers[format](followup)
    if out_file:
        encoding = "utf-8-sig" if format == "csv" else "utf-8"  # Excel wants the BOM
        out_file.write_text(text, encoding=encoding)
        out.print(f"wrote {out_file}", highlight=False)
    else:
        sys.stdout.write(text)


@app.command()
def sample(
    outdir: Annotated[Path, typer.Argument(help="folder to write config/, inbox/ and expected/ into")],
    year: Annotated[list[int], typer.Option("--year", help="year; repeatable")],
    kommuner: Annotated[int, typer.Option("--kommuner", min=1, max=290)] = 1,
    scale: Annotated[int, typer.Option("--scale", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 2019,
) -> None:
    """Write a realistic data set per the contract, with its known answers in expected/."""
    from rich.progress import Progress

    from sample.generator import write_sample

    with Progress(console=err, transient=True) as progress:
        bar = progress.add_task("generating", total=None)

        def step(what: str, done: int, total: int) -> None:
            progress.update(bar, description=what, completed=done, total=total)

        summary = write_sample(
            outdir, sorted(set(year)), kommuner=kommuner, scale=scale, seed=seed, progress=step
        )
    out.print(f"wrote {outdir}: {summary}", highlight=False)


# Commands of their own modules register on `app` when imported (kept apart so each file stays small).
from flows import commands_analyst, commands_audit, commands_schedule  # noqa: E402, F401
