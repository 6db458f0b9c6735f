"""The follow-up run: exports in, the tertial follow-up out. Only wiring: the work is in the tasks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.tasks import RunConfig, abandon, begin_run, load_config, merge, open_warehouse, stage_file
from load.merge import MergeResult
from load.queries import read_followup
from load.staging import FileAudit
from load.warehouse import Warehouse
from report.render import to_markdown
from schemas.contracts import Source


@dataclass
class RunSummary:
    run_id: str
    audits: list[FileAudit] = field(default_factory=list)
    merged: MergeResult | None = None

    @property
    def unreadable(self) -> list[FileAudit]:
        return [a for a in self.audits if a.status == "unreadable"]


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and unique: the UTC start time and a random suffix."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def file_task_runner() -> TaskRunner[PrefectFuture[Any]]:
    """Files are read in parallel threads: reading, typing and classifying run mostly in pyarrow, numpy
    and shapely kernels that release the GIL. Each thread holds one batch in memory at a time."""
    runner: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(
        max_workers=max(1, int(os.environ.get("LOFTE_FILE_WORKERS", "2")))
    )
    return cast("TaskRunner[PrefectFuture[Any]]", runner)  # Prefect's generics are invariant here


@flow(name="lofte-followup-run", validate_parameters=False, task_runner=file_task_runner())
def followup_run(
    promises: list[Path],
    areas: Path | None,
    files: list[tuple[Source, Path]],
    aliases: Path | None = None,
    warehouse_url: str | None = None,
) -> RunSummary:
    """Load the given exports (in the order given) and recompute the partitions they touch."""
    config = load_config(promises, areas, aliases)
    warehouse = open_warehouse(warehouse_url)
    now = scheduled_time()
    summary = RunSummary(run_id=new_run_id(now))
    with run_guard(warehouse, summary.run_id):
        begin_run(warehouse, summary.run_id, "run")
        summary.audits = stage_files(warehouse, summary.run_id, files, config)
        summary.merged = merge(warehouse, summary.run_id, config.promises, config.areas, now)
        publish_summary(warehouse, summary)
    return summary


def stage_files(
    warehouse: Warehouse, run_id: str, files: list[tuple[Source, Path]], config: RunConfig
) -> list[FileAudit]:
    """One task per file. They may finish in any order: each file's number (its place in the load
    order) decides which version of a duplicate wins, not the order the rows were staged in."""
    futures = [
        stage_file.submit(warehouse, run_id, file_seq, source, path, config.aliases, config.index)
        for file_seq, (source, path) in enumerate(files, start=1)
    ]
    wait(futures)  # all files are done (or failed) before the run goes on or is abandoned
    return [future.result() for future in futures]


@contextmanager
def run_guard(warehouse: Warehouse, run_id: str) -> Iterator[None]:
    """A run that fails is marked failed and its staged rows dropped; the warehouse is released always."""
    try:
        yield
    except BaseException as exc:
        abandon(warehouse, run_id, exc)
        raise
    finally:
        warehouse.dispose()


def scheduled_time() -> datetime:
    """'Now' of a run: the flow run's scheduled time (a late nightly run still writes its own night)."""
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    return datetime.fromisoformat(str(scheduled)).astimezone(UTC) if scheduled else datetime.now(UTC)


ARTIFACT_PARTITIONS = 10  # follow-up tables shown in a run's artifact; a large backfill lists the rest


@task(cache_policy=NO_CACHE)
def publish_summary(warehouse: Warehouse, summary: RunSummary) -> None:
    """A markdown artifact in the Prefect UI: files and rejected rows, then the follow-up tables."""
    lines = [
        f"# lofte run {summary.run_id}",
        "",
        "| file | source | read | loaded | rejected | status |",
        "|---|---|---:|---:|---:|---|",
    ]
    for a in summary.audits:
        lines.append(
            f"| {Path(a.path).name} | {a.source} | {a.rows_read} | {a.rows_loaded} | {a.rows_rejected} | "
            f"{a.error or a.status} |"
        )
    rejections = [
        f"- {Path(a.path).name}: {reason}: {len(rows)} rows"
        for a in summary.audits
        for reason, rows in sorted(a.rejection_reasons.items())
    ]
    if rejections:
        lines += ["", "## Rejected rows", "", *rejections]
    partitions = summary.merged.followup_partitions if summary.merged else []
    with warehouse.begin() as conn:
        for kommunkod, year in partitions[:ARTIFACT_PARTITIONS]:
            followup = read_followup(conn, kommunkod, year)
            if followup is not None:
                lines += ["", to_markdown(followup).replace("# ", "## ", 1)]
    if len(partitions) > ARTIFACT_PARTITIONS:
        rest = ", ".join(f"{k} {y}" for k, y in partitions[ARTIFACT_PARTITIONS:])
        lines += ["", f"Also recomputed: {rest}"]
    create_markdown_artifact("\n".join(lines), key="lofte-run-summary", description="Files, rows, follow-up")
    get_run_logger().info("run %s merged", summary.run_id)
