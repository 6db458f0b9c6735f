"""Prefect tasks: each a thin call into extract/, transform/ or load/. Retries only where I/O can flake.

Tasks take and return in-process objects (a Warehouse, DataFrames): caching is off (NO_CACHE) so Prefect
never hashes or persists them.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError

from extract.config import load_aliases, load_areas, load_promises
from extract.inbox import InboxFile, config_folder, list_inbox
from extract.readers import Aliases, open_export, read_export
from load.config_state import applied_documents, areas_sha, loaded_file_shas, promises_key, promises_sha
from load.faults import checkpoint
from load.merge import MergeResult, merge_run
from load.staging import FileAudit, abandon_run, drop_staged_file, record_file, stage_batch, start_run
from load.warehouse import Warehouse
from schemas.contracts import CONTRACTS, Source
from schemas.errors import ConfigError, InputFileError
from schemas.promises import Promises
from transform.areas import Area, AreaIndex, area_memberships
from transform.coordinates import file_warnings


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Prefect's run logger inside a run; a plain logger when a task's function is called directly."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("lofte")


@dataclass
class RunConfig:
    promises: list[Promises]
    areas: list[Area] | None
    index: AreaIndex
    aliases: Aliases


@task(cache_policy=NO_CACHE)
def load_config(promises: list[Path], areas: Path | None, aliases: Path | None) -> RunConfig:
    """Promises, areas and aliases, checked against each other before anything is written."""
    return read_config(promises, areas, aliases)


@task(cache_policy=NO_CACHE)
def load_config_folder(config_dir: Path) -> RunConfig:
    """config/areas.geojson, config/promises/*.yaml and config/aliases.yaml of a scheduled run."""
    folder = config_folder(config_dir)
    return read_config(folder.promises, folder.areas, folder.aliases)


def read_config(promises: list[Path], areas: Path | None, aliases: Path | None) -> RunConfig:
    documents = [load_promises(p) for p in promises]
    seen: dict[tuple[str, int], Path] = {}
    for path, document in zip(promises, documents, strict=True):
        partition = (document.kommunkod, document.year)
        if partition in seen:
            raise ConfigError(f"{path}: {document.kommunkod} {document.year} is also in {seen[partition]}")
        seen[partition] = path
    area_list = load_areas(areas) if areas else None
    index = AreaIndex(area_list or [])
    layers = index.layers()
    for path, document in zip(promises, documents, strict=True):
        for measure in document.measures:
            if measure.layer and measure.layer not in layers:
                raise ConfigError(
                    f"{path}: measure {measure.id}: layer {measure.layer!r} is not in the areas file"
                    + (f" {areas}" if areas else " (give --areas)")
                )
    return RunConfig(documents, area_list, index, load_aliases(aliases))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def open_warehouse(url: str | None) -> Warehouse:
    """Connect, take the run lock (runs never interleave), and upgrade the schema in place."""
    warehouse = Warehouse(url)
    warehouse.hold_run_lock()
    warehouse.migrate()
    return warehouse


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def begin_run(warehouse: Warehouse, run_id: str, kind: str) -> None:
    start_run(warehouse, run_id, kind)


@task(cache_policy=NO_CACHE)
def stage_file(
    warehouse: Warehouse,
    run_id: str,
    file_seq: int,
    source: Source,
    path: Path,
    aliases: Aliases,
    index: AreaIndex,
) -> FileAudit:
    """Read one export batch by batch: type, classify by area, stage. An unreadable file is audited."""
    logger = run_logger()
    audit = FileAudit(file_seq=file_seq, source=source, path=str(path))
    counts = {"pairs_given": 0, "looks_swapped": 0, "looks_rt90": 0}
    unknown_hobit: Counter[str] = Counter()
    try:
        export = open_export(path, source, aliases)
        audit.sha256, audit.size_bytes = export.facts.sha256, export.facts.size_bytes
        audit.encoding = export.facts.encoding or "xlsx"
        record_file(warehouse, run_id, audit)
        key = CONTRACTS[source].key
        for typed in read_export(export):
            checkpoint("read")
            areas = area_memberships(typed.facts, index, key) if source is not Source.ACTIVITIES else None
            checkpoint("stage")
            stage_batch(warehouse, run_id, audit, typed, areas)
            audit.add(typed)
            for name, value in typed.coordinate_counts.items():
                counts[name] += value
            if source is Source.STORM:  # a new code is counted in the totals, matched by no measure
                unknown_hobit.update(typed.facts.loc[~typed.facts["hobit_kand"].astype(bool), "hobit"])
        if audit.rows_read == 0:
            raise InputFileError(f"{path}: a header but no rows")
    except InputFileError as exc:
        audit.status, audit.error = "unreadable", str(exc)
        audit.rows_read = audit.rows_loaded = audit.rows_rejected = audit.rows_with_warnings = 0
        audit.rejection_reasons = {}  # its staged rows are dropped: none of them counts
        drop_staged_file(warehouse, run_id, file_seq)
        record_file(warehouse, run_id, audit)
        logger.warning("%s", exc)
        return audit
    audit.warnings = file_warnings(**counts) + [
        f"unknown HOBIT code {code!r}: {n} rows (counted in the totals, matched by no measure)"
        for code, n in sorted(unknown_hobit.items())
    ]
    audit.status = "staged"
    record_file(warehouse, run_id, audit)
    logger.info(
        "%s (%s, %s): %d rows read, %d loaded, %d rejected%s",
        path.name,
        source,
        audit.encoding,
        audit.rows_read,
        audit.rows_loaded,
        audit.rows_rejected,
        "".join(f"; warning: {w}" for w in audit.warnings),
    )
    return audit


@task(cache_policy=NO_CACHE)
def merge(
    warehouse: Warehouse,
    run_id: str,
    promises: list[Promises],
    areas: list[Area] | None,
    updated_at: datetime | None = None,
) -> MergeResult:
    """The one transaction that publishes the run."""
    return merge_run(warehouse, run_id, promises, areas, updated_at=updated_at)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, task_run_name="backfill-{year}")
def merge_year(
    warehouse: Warehouse, run_id: str, promises: list[Promises], year: int, updated_at: datetime
) -> MergeResult:
    """One backfilled year in one transaction: its facts, rejected rows and partitions."""
    mine = [p for p in promises if p.year == year]
    partitions = {(p.kommunkod, year) for p in mine}
    return merge_run(
        warehouse, run_id, mine, None, years={year}, recompute=partitions, finish=False, updated_at=updated_at
    )


@task(cache_policy=NO_CACHE)
def finish_backfill(
    warehouse: Warehouse, run_id: str, areas: list[Area] | None, updated_at: datetime
) -> None:
    """Rows without a readable date, warnings, the areas; then the run and its files are done."""
    merge_run(warehouse, run_id, [], areas, years=set(), finish=True, updated_at=updated_at)


@task(cache_policy=NO_CACHE)
def abandon(warehouse: Warehouse, run_id: str, reason: BaseException) -> None:
    abandon_run(warehouse, run_id, f"{type(reason).__name__}: {reason}"[:500])


@dataclass
class NightPlan:
    files: list[InboxFile]  # exports not loaded before, in file-name order per source
    promises: list[Promises]  # promises files new or changed since they were last applied
    areas_changed: bool

    @property
    def nothing_to_do(self) -> bool:
        return not self.files and not self.promises and not self.areas_changed


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def plan_night(warehouse: Warehouse, config: RunConfig, inbox_dir: Path) -> NightPlan:
    """New exports by SHA-256 (not by name or time), and config documents whose content changed."""
    inbox = list_inbox(inbox_dir)
    with warehouse.begin() as conn:
        loaded = loaded_file_shas(conn)
        applied = applied_documents(conn)
    seen: set[str] = set()
    new = []
    for item in inbox:
        if item.sha256 not in loaded and item.sha256 not in seen:
            new.append(item)
        seen.add(item.sha256)
    changed = [p for p in config.promises if applied.get(("promises", promises_key(p))) != promises_sha(p)]
    areas_changed = config.areas is not None and applied.get(("areas", "areas")) != areas_sha(config.areas)
    return NightPlan(new, changed, areas_changed)


@task(cache_policy=NO_CACHE)
def inbox_files(inbox_dir: Path) -> list[InboxFile]:
    """Every export of the inbox once (a file copied twice is loaded once), in file-name order."""
    unique: dict[str, InboxFile] = {}
    for item in list_inbox(inbox_dir):
        unique.setdefault(item.sha256, item)
    return list(unique.values())
