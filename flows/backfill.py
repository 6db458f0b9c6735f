"""The backfill: recompute past years from every export in the inbox, all years published at once."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.alerts import alert_on_failure
from flows.followup import file_task_runner, scheduled_time, stage_files
from flows.tasks import (
    abandon,
    begin_run,
    inbox_files,
    load_config_folder,
    merge_backfill,
    open_warehouse,
    publish_summary,
    stray_inbox_entries,
)
from pipeline import interrupt
from pipeline.plan import skipped_entries
from pipeline.run import RunSummary, new_run_id, run_guard
from schemas.errors import ConfigError
from schemas.settings import load_settings


@flow(
    name="lofte-backfill",
    validate_parameters=False,
    task_runner=file_task_runner(),
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
def backfill_run(
    config_dir: Path, inbox_dir: Path, from_year: int, to_year: int, warehouse: str | None = None
) -> RunSummary:
    """Every inbox file is read once and classified with the areas valid on each row's date; the years
    are then merged one after another in ONE transaction (killed at any point, nothing is published).
    The values equal what the nightly runs produced."""
    config_dir, inbox_dir = Path(config_dir), Path(inbox_dir)  # a deployment passes them as JSON text
    if from_year > to_year:
        raise ConfigError(f"--from-year {from_year} is after --to-year {to_year}")
    interrupt.rearm()
    settings = load_settings()
    config = load_config_folder(config_dir)
    store = open_warehouse(warehouse, settings)
    now = scheduled_time()
    summary = RunSummary(run_id=new_run_id(now))
    with run_guard(store, summary.run_id, on_failure=abandon):
        files = [(item.source, item.path) for item in inbox_files(inbox_dir)]
        begin_run(store, summary.run_id, "backfill", [path for _, path in files])
        summary.skipped = skipped_entries(inbox_dir)
        summary.not_read = stray_inbox_entries(inbox_dir)
        summary.audits = stage_files(store, summary.run_id, files, config)
        years = list(range(from_year, to_year + 1))
        summary.merged = merge_backfill(store, summary.run_id, config.promises, years, config.areas, now)
        publish_summary(store, summary)
    return summary
