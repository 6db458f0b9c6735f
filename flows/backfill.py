"""The backfill: recompute past years from every export in the inbox, one retryable task per year."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.followup import (
    RunSummary,
    file_task_runner,
    new_run_id,
    publish_summary,
    run_guard,
    scheduled_time,
    stage_files,
)
from flows.tasks import (
    begin_run,
    finish_backfill,
    inbox_files,
    load_config_folder,
    merge_year,
    open_warehouse,
)
from load.merge import MergeResult
from schemas.errors import ConfigError


@flow(name="lofte-backfill", validate_parameters=False, task_runner=file_task_runner())
def backfill_run(
    config_dir: Path, inbox_dir: Path, from_year: int, to_year: int, warehouse_url: str | None = None
) -> RunSummary:
    """Every inbox file is read once and classified with the areas valid on each row's date; each year
    is then merged in its own transaction. The values equal what the nightly runs produced."""
    config_dir, inbox_dir = Path(config_dir), Path(inbox_dir)  # a deployment passes them as JSON text
    if from_year > to_year:
        raise ConfigError(f"--from-year {from_year} is after --to-year {to_year}")
    config = load_config_folder(config_dir)
    warehouse = open_warehouse(warehouse_url)
    now = scheduled_time()
    summary = RunSummary(run_id=new_run_id(now))
    with run_guard(warehouse, summary.run_id):
        begin_run(warehouse, summary.run_id, "backfill")
        files = [(item.source, item.path) for item in inbox_files(inbox_dir)]
        summary.audits = stage_files(warehouse, summary.run_id, files, config)
        merged = MergeResult()
        for year in range(from_year, to_year + 1):
            result = merge_year(warehouse, summary.run_id, config.promises, year, now)
            merged.partitions_changed += result.partitions_changed
            merged.followup_partitions += result.followup_partitions
        finish_backfill(warehouse, summary.run_id, config.areas, now)
        summary.merged = merged
        publish_summary(warehouse, summary)
    return summary
