"""The backfill: recompute past years from every export in the inbox, one retryable task per year."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.followup import RunSummary, new_run_id, publish_summary, scheduled_time
from flows.tasks import (
    abandon,
    begin_run,
    finish_backfill,
    inbox_files,
    load_config_folder,
    merge_year,
    open_warehouse,
    stage_file,
)
from load.merge import MergeResult
from schemas.errors import ConfigError


@flow(name="lofte-backfill", validate_parameters=False)
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
    try:
        begin_run(warehouse, summary.run_id, "backfill")
        for file_seq, item in enumerate(inbox_files(inbox_dir), start=1):
            summary.audits.append(
                stage_file(
                    warehouse, summary.run_id, file_seq, item.source, item.path, config.aliases, config.index
                )
            )
        merged = MergeResult()
        for year in range(from_year, to_year + 1):
            result = merge_year(warehouse, summary.run_id, config.promises, year, now)
            merged.partitions_changed += result.partitions_changed
            merged.followup_partitions += result.followup_partitions
        finish_backfill(warehouse, summary.run_id, config.areas, now)
        summary.merged = merged
        publish_summary(summary)
    except BaseException as exc:
        abandon(warehouse, summary.run_id, exc)
        raise
    finally:
        warehouse.dispose()
    return summary
