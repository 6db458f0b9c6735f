"""Prefect tasks: each a thin call of one pipeline step (pipeline/). No Prefect retries: the steps that
can safely run twice retry inside (load/retry.py); the others must not run twice.

Tasks take and return in-process objects (a Warehouse, DataFrames): caching is off (NO_CACHE) so Prefect
never hashes or persists them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from extract.inbox import InboxFile
from load.merge import MergeResult
from load.staging import FileAudit
from load.warehouse import Warehouse
from pipeline import config as config_steps
from pipeline import headstart, plan, run, summary
from pipeline.config import RunConfig
from pipeline.plan import NightPlan
from pipeline.run import RunSummary
from schemas.contracts import Source
from schemas.promises import Promises
from schemas.settings import Settings
from transform.areas import Area


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a run; a plain logger when called outside one."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("lofte")


@task(cache_policy=NO_CACHE)
def load_config(
    promises: list[Path],
    areas: Path | None,
    aliases: Path | None,
    population: Path | None = None,
    run_id: str | None = None,
) -> RunConfig:
    """`run_id`: a run the command began (pipeline/headstart.py), staged with the configuration it read."""
    return headstart.config_of(run_id) or config_steps.read_config(promises, areas, aliases, population)


@task(cache_policy=NO_CACHE)
def load_config_folder(config_dir: Path) -> RunConfig:
    return config_steps.read_config_folder(config_dir)


@task(cache_policy=NO_CACHE)
def open_warehouse(warehouse: str | None, settings: Settings, run_id: str | None = None) -> Warehouse:
    return headstart.open_warehouse(warehouse, settings, run_id)


@task(cache_policy=NO_CACHE)
def begin_run(warehouse: Warehouse, run_id: str, kind: str, inputs: list[Path] | None = None) -> None:
    headstart.begin_run(warehouse, run_id, kind, inputs or [])


@task(cache_policy=NO_CACHE)
def stage_export(
    warehouse: Warehouse, run_id: str, file_seq: int, source: Source, path: Path, config: RunConfig
) -> FileAudit:
    return headstart.stage_export(warehouse, run_id, file_seq, source, path, config, run_logger())


@task(cache_policy=NO_CACHE)
def merge(
    warehouse: Warehouse,
    run_id: str,
    promises: list[Promises],
    areas: list[Area] | None,
    updated_at: datetime | None = None,
    population: pd.DataFrame | None = None,
) -> MergeResult:
    return run.merge_files(warehouse, run_id, promises, areas, updated_at, population=population)


@task(cache_policy=NO_CACHE)
def merge_backfill(
    warehouse: Warehouse,
    run_id: str,
    promises: list[Promises],
    years: list[int],
    areas: list[Area] | None,
    updated_at: datetime,
) -> MergeResult:
    return run.merge_backfill(warehouse, run_id, promises, years, areas, updated_at)


@task(cache_policy=NO_CACHE)
def abandon(warehouse: Warehouse, run_id: str, reason: BaseException) -> None:
    run.abandon(warehouse, run_id, reason)


@task(cache_policy=NO_CACHE)
def plan_night(warehouse: Warehouse, config: RunConfig, inbox_dir: Path) -> NightPlan:
    return plan.plan_night(warehouse, config, inbox_dir)


@task(cache_policy=NO_CACHE)
def inbox_files(inbox_dir: Path) -> list[InboxFile]:
    return plan.inbox_files(inbox_dir)


@task(cache_policy=NO_CACHE)
def stray_inbox_entries(inbox_dir: Path) -> list[str]:
    found = plan.stray_inbox_entries(inbox_dir)
    for line in found:
        run_logger().warning("%s", line)
    return found


@task(cache_policy=NO_CACHE)
def publish_summary(warehouse: Warehouse, result: RunSummary) -> None:
    """A markdown artifact in the Prefect UI: files and rejected rows, then the follow-up tables."""
    text = summary.summary_markdown(warehouse, result)
    create_markdown_artifact(text, key="lofte-run-summary", description="Files, rows, follow-up")
    run_logger().info("run %s merged", result.run_id)
