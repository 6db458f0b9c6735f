"""The follow-up run: exports in, the tertial follow-up out. Only wiring: the work is in the tasks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.tasks import RunConfig, abandon, begin_run, load_config, merge, open_warehouse, stage_file
from load.merge import MergeResult
from load.staging import FileAudit
from load.warehouse import Warehouse
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


@flow(name="lofte-followup-run", validate_parameters=False)
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
        publish_summary(summary)
    return summary


def stage_files(
    warehouse: Warehouse, run_id: str, files: list[tuple[Source, Path]], config: RunConfig
) -> list[FileAudit]:
    """One task per file, in load order (the order decides which version of a duplicate wins)."""
    return [
        stage_file(warehouse, run_id, file_seq, source, path, config.aliases, config.index)
        for file_seq, (source, path) in enumerate(files, start=1)
    ]


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


def publish_summary(summary: RunSummary) -> None:
    """A markdown artifact in the Prefect UI: files, rows and the partitions rewritten."""
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
    if summary.merged:
        done = ", ".join(f"{k} {y}" for k, y in summary.merged.followup_partitions) or "none"
        lines += ["", f"Follow-up recomputed for: {done}"]
    create_markdown_artifact("\n".join(lines), key="lofte-run-summary", description="Files and rows loaded")
    get_run_logger().info("run %s merged", summary.run_id)
