"""The follow-up run: exports in, the tertial follow-up out. Only wiring: the work is in the tasks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.tasks import abandon, begin_run, load_config, merge, open_warehouse, stage_file
from load.merge import MergeResult
from load.staging import FileAudit
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
    try:
        begin_run(warehouse, summary.run_id, "run")
        for file_seq, (source, path) in enumerate(files, start=1):
            summary.audits.append(
                stage_file(warehouse, summary.run_id, file_seq, source, path, config.aliases, config.index)
            )
        summary.merged = merge(warehouse, summary.run_id, config.promises, config.areas, now)
        publish_summary(summary)
    except BaseException as exc:
        abandon(warehouse, summary.run_id, exc)
        raise
    finally:
        warehouse.dispose()
    return summary


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
