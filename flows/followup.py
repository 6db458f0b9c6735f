"""The follow-up run: exports in, the tertial follow-up out. Only wiring: each step is a task."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from prefect import flow
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.tasks import abandon, begin_run, load_config, merge, open_warehouse, publish_summary, stage_export
from load.staging import FileAudit
from load.warehouse import Warehouse
from pipeline import interrupt
from pipeline.config import RunConfig
from pipeline.run import RunSummary, new_run_id, run_guard
from schemas.contracts import Source
from schemas.settings import load_settings


def file_task_runner(workers: int = 2) -> TaskRunner[PrefectFuture[Any]]:
    """Files are read in parallel threads: reading, typing and classifying run mostly in pyarrow, numpy
    and shapely kernels that release the GIL. Each thread holds one batch in memory at a time. The
    flows are decorated with the default; commands and the serving process apply the settings'
    `LOFTE_FILE_WORKERS` with `with_options`."""
    runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=workers)
    return cast("TaskRunner[PrefectFuture[Any]]", runner)  # Prefect's generics are invariant here


@flow(name="lofte-followup-run", validate_parameters=False, task_runner=file_task_runner())
def followup_run(
    promises: list[Path],
    areas: Path | None,
    files: list[tuple[Source, Path]],
    aliases: Path | None = None,
    warehouse: str | None = None,
    population: Path | None = None,
    run_id: str | None = None,
) -> RunSummary:
    """Load the given exports (in the order given) and recompute the partitions they touch.

    `warehouse` is the warehouse's URL without a password (flow parameters are stored by Prefect); None
    is LOFTE_WAREHOUSE_URL, else ./lofte.duckdb. `run_id`: a run `lofte run` began while the
    orchestration booted (pipeline/headstart.py); its steps take over what has begun."""
    interrupt.rearm()
    settings = load_settings()
    config = load_config(promises, areas, aliases, population, run_id)
    store = open_warehouse(warehouse, settings, run_id)
    now = scheduled_time()
    summary = RunSummary(run_id=run_id or new_run_id(now))
    with run_guard(store, summary.run_id, on_failure=abandon):
        begin_run(store, summary.run_id, "run", [path for _, path in files])
        summary.audits = stage_files(store, summary.run_id, files, config)
        summary.merged = merge(
            store, summary.run_id, config.promises, config.areas, now, population=config.population
        )
        publish_summary(store, summary)
    return summary


def stage_files(
    warehouse: Warehouse, run_id: str, files: list[tuple[Source, Path]], config: RunConfig
) -> list[FileAudit]:
    """One task per file. They may finish in any order: each file's number (its place in the load
    order) decides which version of a duplicate wins, not the order the rows were staged in."""
    futures = [
        stage_export.submit(warehouse, run_id, file_seq, source, path, config)
        for file_seq, (source, path) in enumerate(files, start=1)
    ]
    try:
        wait(futures)  # all files are done (or failed) before the run goes on or is abandoned
    except BaseException:
        # A signal reached this thread: the reading threads stop at their next batch, and the run is
        # cleared only once they have, so no batch is staged after the clean-up.
        interrupt.request()
        wait(futures, timeout=60)
        raise
    return [future.result() for future in futures]


def scheduled_time() -> datetime:
    """'Now' of a run: the flow run's scheduled time (a late nightly run still writes its own night)."""
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    return datetime.fromisoformat(str(scheduled)).astimezone(UTC) if scheduled else datetime.now(UTC)
