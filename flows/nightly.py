"""The nightly run: load the exports that arrived since last night, recompute what they touched."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows.alerts import alert_on_failure
from flows.followup import file_task_runner, scheduled_time, stage_files
from flows.tasks import (
    abandon,
    begin_run,
    load_config_folder,
    merge,
    open_warehouse,
    plan_night,
    publish_summary,
)
from pipeline import interrupt
from pipeline.run import RunSummary, new_run_id, run_guard
from schemas.errors import shown
from schemas.settings import load_settings


@flow(
    name="lofte-nightly",
    validate_parameters=False,
    task_runner=file_task_runner(),
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_failure],
)
def nightly_run(config_dir: Path, inbox_dir: Path, warehouse: str | None = None) -> RunSummary:
    """A night with nothing new writes nothing: no run row, no partition rewritten."""
    config_dir, inbox_dir = Path(config_dir), Path(inbox_dir)  # a deployment passes them as JSON text
    interrupt.rearm()
    settings = load_settings()
    config = load_config_folder(config_dir)
    store = open_warehouse(warehouse, settings)
    now = scheduled_time()
    summary = RunSummary(run_id=new_run_id(now))
    with run_guard(store, summary.run_id, on_failure=abandon):
        plan = plan_night(store, config, inbox_dir)
        summary.skipped = plan.skipped
        for line in plan.skipped:
            get_run_logger().warning("%s", shown(line))
        summary.not_read = plan.not_read
        for line in plan.not_read:
            get_run_logger().warning("%s", shown(line))
        if plan.nothing_to_do:
            get_run_logger().info("nothing new in %s: the warehouse is unchanged", inbox_dir)
            return summary
        files = [(item.source, item.path) for item in plan.files]
        begin_run(store, summary.run_id, "nightly", [path for _, path in files])
        summary.audits = stage_files(store, summary.run_id, files, config)
        areas = config.areas if plan.areas_changed else None
        summary.merged = merge(store, summary.run_id, plan.promises, areas, now)
        publish_summary(store, summary)
    return summary
