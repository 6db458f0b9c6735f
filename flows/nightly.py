"""The nightly run: load the exports that arrived since last night, recompute what they touched."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows.followup import (
    RunSummary,
    file_task_runner,
    new_run_id,
    publish_summary,
    run_guard,
    scheduled_time,
    stage_files,
)
from flows.tasks import begin_run, load_config_folder, merge, open_warehouse, plan_night


@flow(name="lofte-nightly", validate_parameters=False, task_runner=file_task_runner())
def nightly_run(config_dir: Path, inbox_dir: Path, warehouse_url: str | None = None) -> RunSummary:
    """A night with nothing new writes nothing: no run row, no partition rewritten."""
    config_dir, inbox_dir = Path(config_dir), Path(inbox_dir)  # a deployment passes them as JSON text
    config = load_config_folder(config_dir)
    warehouse = open_warehouse(warehouse_url)
    now = scheduled_time()
    summary = RunSummary(run_id=new_run_id(now))
    with run_guard(warehouse, summary.run_id):
        plan = plan_night(warehouse, config, inbox_dir)
        if plan.nothing_to_do:
            get_run_logger().info("nothing new in %s: the warehouse is unchanged", inbox_dir)
            return summary
        begin_run(warehouse, summary.run_id, "nightly")
        files = [(item.source, item.path) for item in plan.files]
        summary.audits = stage_files(warehouse, summary.run_id, files, config)
        areas = config.areas if plan.areas_changed else None
        summary.merged = merge(warehouse, summary.run_id, plan.promises, areas, now)
        publish_summary(warehouse, summary)
    return summary
