"""`lofte run`, `lofte nightly`, `lofte backfill`: the commands that load exports into the warehouse."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from cli.common import (
    EXIT_UNREADABLE,
    EXIT_USAGE,
    WarehouseOption,
    app,
    config_or_exit,
    err,
    expand,
    fail,
    folder_or_exit,
    handled,
    keep_password_out_of_flows,
    out,
    paths_or_exit,
    quiet_prefect,
    settings_or_exit,
    shown_path,
    warehouse_or_exit,
)
from flows.prefect_api import start_prefect_api
from schemas.contracts import Source
from schemas.errors import shown
from schemas.settings import Settings

if TYPE_CHECKING:
    from pipeline.config import RunConfig
    from pipeline.run import RunSummary

ConfigOption = Annotated[Path, typer.Option("--config", help="folder with areas.geojson and promises/")]
InboxOption = Annotated[Path, typer.Option("--inbox", help="folder with status/, storm/, activities/")]


def boot_prefect_api() -> AbstractContextManager[None]:
    """The command's own Prefect API (none when PREFECT_API_URL names a server) begins booting in its
    own process; entering the result waits for it. Quiet first: the server inherits the environment."""
    quiet_prefect()
    return start_prefect_api()


@contextmanager
def orchestrated(
    settings: Settings, files: list[Path] | None = None, api: AbstractContextManager[None] | None = None
) -> Iterator[None]:
    """The command's flows against its Prefect API (`api`: one the command started booting earlier,
    else one started now, booting while the pipeline is imported); errors handled once; progress shown
    while the files load."""
    with handled(settings), api or boot_prefect_api(), shown_progress(files):
        yield


def _rate(rows: float, seconds: float) -> str:
    return f"{rows / seconds:,.0f}".replace(",", " ") if seconds > 0 else "–"


@contextmanager
def shown_progress(files: list[Path] | None) -> Iterator[None]:
    """A line per file as it finishes (in pipes and logs too); in a terminal, also a bar over the files
    with the rows staged so far and the throughput."""
    from pipeline import progress

    bar: Progress | None = None
    task: TaskID | None = None
    lock = threading.Lock()
    started = time.monotonic()
    rows = 0

    class Shown(progress.Listener):
        def batch_staged(self, path: str, n: int, bytes_read: int | None) -> None:
            nonlocal rows
            with lock:
                rows += n
                if bar is not None and task is not None:
                    elapsed = time.monotonic() - started
                    bar.update(task, rows=f"{rows:,}".replace(",", " "), rate=_rate(rows, elapsed))

        def file_done(self, done: progress.FileDone) -> None:
            a = done.audit
            name = f"{shown(Path(a.path).name)} ({a.source})"  # a name may hold a line break
            if a.status == "unreadable":
                line = f"{name}: unreadable"
            else:
                line = (
                    f"{name}: {a.rows_read} rows read, {a.rows_loaded} loaded, {a.rows_rejected} rejected, "
                    f"{_rate(a.rows_read, done.seconds)} rows/s"
                )
            with lock:
                out.print(line, highlight=False, markup=False)
                if bar is not None and task is not None:
                    bar.advance(task)

    stop = progress.listen(Shown())
    try:
        if out.is_terminal:
            bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files · {task.fields[rows]} rows · {task.fields[rate]} rows/s"),
                TimeElapsedColumn(),
                console=out,
                transient=True,
            )
            with bar:
                # The nightly and the backfill find their files inside the flow: no total, no bar length.
                task = bar.add_task("loading", total=len(files) if files else None, rows="0", rate="–")
                yield
        else:
            yield
    finally:
        stop()


@app.command()
def run(
    promises: Annotated[list[Path], typer.Option("--promises", help="promises file (YAML) or folder")],
    areas: Annotated[Path | None, typer.Option("--areas", help="areas file (GeoJSON)")] = None,
    status: Annotated[list[Path] | None, typer.Option("--status", help="STATUS export or folder")] = None,
    storm: Annotated[list[Path] | None, typer.Option("--storm", help="STORM-HOBIT log or folder")] = None,
    activities: Annotated[list[Path] | None, typer.Option("--activities", help="activity register")] = None,
    aliases: Annotated[Path | None, typer.Option("--aliases", help="header aliases (YAML)")] = None,
    population: Annotated[
        Path | None,
        typer.Option("--population", help="population per kommun and year (CSV like the shipped one)"),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Load exports (in the order given) and recompute the follow-up of the partitions they touch."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    # Everything that can be checked without the orchestration is, first: a mistake costs seconds.
    for option, given in (
        ("--promises", promises),
        ("--areas", [areas]),
        ("--aliases", [aliases]),
        ("--population", [population]),
        ("--status", status or []),
        ("--storm", storm or []),
        ("--activities", activities or []),
    ):
        paths_or_exit(option, given)
    promise_files = expand(promises)
    if not promise_files:
        fail(f"--promises {' '.join(shown_path(p) for p in promises)}: no promises files", EXIT_USAGE)
    files = [
        *[(Source.STATUS, p) for p in expand(status or [])],
        *[(Source.STORM, p) for p in expand(storm or [])],
        *[(Source.ACTIVITIES, p) for p in expand(activities or [])],
    ]

    def read_run_config() -> RunConfig:
        from pipeline.config import read_config

        return read_config(promise_files, areas, aliases, population)

    # The orchestration boots on the other core while this command reads its configuration and begins
    # loading; a configuration found wrong stops it at exit (flows/prefect_api.py), a second later.
    api = boot_prefect_api()
    config = config_or_exit(read_run_config, settings)
    with handled(settings), shown_progress([p for _, p in files]):
        from pipeline.headstart import head_start

        # The files stage while the orchestration boots; the flow takes the run over (its id) once it can.
        with head_start(target, settings, files, config) as begun, api:
            from flows.followup import file_task_runner, followup_run

            flow = followup_run.with_options(task_runner=file_task_runner(settings.file_workers))
            summary = flow(
                promise_files, areas, files, aliases, keep_password_out_of_flows(target), population,
                run_id=begun.run_id,
            )  # fmt: skip
    report_summary(summary)


@app.command()
def nightly(config: ConfigOption, inbox: InboxOption, warehouse: WarehouseOption = None) -> None:
    """Load the exports not loaded before (by SHA-256) and recompute the partitions they touch."""
    settings = settings_or_exit()
    target = warehouse_or_exit(warehouse, settings)
    run_config = check_folders(config, inbox, settings)
    api = boot_prefect_api()  # boots on the other core while the inbox is looked at
    with handled(settings):
        from pipeline.plan import nothing_new

        # Most nights bring nothing: said without starting a flow (the serving process's scheduled runs
        # are flows whatever they find). Anything else, an entry not read too, goes to the flow.
        if nothing_new(target, settings, run_config, inbox):
            out.print("nothing new: the warehouse is unchanged", highlight=False)
            return
    with orchestrated(settings, api=api):
        from flows.followup import file_task_runner
        from flows.nightly import nightly_run

        flow = nightly_run.with_options(task_runner=file_task_runner(settings.file_workers))
        summary = flow(config, inbox, keep_password_out_of_flows(target))
    if summary.merged is None and not summary.audits:
        for line in summary.skipped:
            err.print(f"[yellow]skipped:[/] {escape(shown(line))}", highlight=False, soft_wrap=True)
        out.print("nothing new: the warehouse is unchanged", highlight=False)
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
    if from_year > to_year:
        fail(f"--from-year {from_year} is after --to-year {to_year}", EXIT_USAGE)
    check_folders(config, inbox, settings)
    with orchestrated(settings):
        from flows.backfill import backfill_run
        from flows.followup import file_task_runner

        flow = backfill_run.with_options(task_runner=file_task_runner(settings.file_workers))
        summary = flow(config, inbox, from_year, to_year, keep_password_out_of_flows(target))
    report_summary(summary)


def check_folders(config: Path, inbox: Path, settings: Settings) -> RunConfig:
    """A scheduled run's folders exist and its configuration reads, before the orchestration starts."""
    folder_or_exit("--config", config)
    folder_or_exit("--inbox", inbox)

    def check_config() -> RunConfig:
        from pipeline.config import read_config_folder

        return read_config_folder(config)

    return config_or_exit(check_config, settings)


def report_summary(summary: RunSummary) -> None:
    """Per file: rows read, loaded, rejected (reasons grouped), warnings; then the partitions rewritten.
    Exits 3 when a file could not be read at all, or an inbox entry was not read. Every name and
    message is escaped: a file name may hold a line break or markup, and must not print a line of its own."""
    for line in summary.skipped:
        err.print(f"[yellow]skipped:[/] {escape(shown(line))}", highlight=False, soft_wrap=True)
    for audit in summary.audits:
        name = escape(shown(Path(audit.path).name))
        if audit.status == "unreadable":
            err.print(f"[red]unreadable:[/] {escape(shown(audit.error))}", highlight=False, soft_wrap=True)
            continue
        counts = f"{audit.rows_read} rows read, {audit.rows_loaded} loaded, {audit.rows_rejected} rejected"
        out.print(f"{name}: {counts}", highlight=False)
        for reason, rejected in sorted(audit.rejection_reasons.items()):
            more = ", …" if rejected.rows > len(rejected.first) else ""
            shown_lines = ", ".join(str(n) for n in rejected.first) + more
            rows = "1 row, line" if rejected.rows == 1 else f"{rejected.rows} rows, lines"
            out.print(f"  rejected: {escape(shown(reason))}: {rows} {shown_lines}", highlight=False)
        for warning in audit.warnings:
            out.print(f"  [yellow]warning:[/] {escape(shown(warning))}", highlight=False)
    merged = summary.merged
    if merged:
        done = ", ".join(f"{k} {y}" for k, y in merged.followup_partitions) or "none"
        out.print(f"run {summary.run_id}: follow-up recomputed for {done}", highlight=False)
        for warning in merged.warnings:
            out.print(f"[yellow]warning:[/] {escape(shown(warning))}", highlight=False, soft_wrap=True)
    for line in summary.not_read:
        err.print(Text(shown(line)), highlight=False, soft_wrap=True)
    if summary.unreadable or summary.not_read:
        raise typer.Exit(EXIT_UNREADABLE)
