"""Prefect tasks: each a thin call into extract/, transform/ or load/. Retries only where I/O can flake.

Tasks take and return in-process objects (a Warehouse, DataFrames): caching is off (NO_CACHE) so Prefect
never hashes or persists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from extract.config import load_aliases, load_areas, load_promises
from extract.readers import Aliases, open_export, read_export
from load.faults import checkpoint
from load.merge import MergeResult, merge_run
from load.staging import FileAudit, abandon_run, drop_staged_file, record_file, stage_batch, start_run
from load.warehouse import Warehouse
from schemas.contracts import CONTRACTS, Source
from schemas.errors import ConfigError, InputFileError
from schemas.promises import Promises
from transform.areas import Area, AreaIndex, area_memberships
from transform.coordinates import file_warnings


@dataclass
class RunConfig:
    promises: list[Promises]
    areas: list[Area] | None
    index: AreaIndex
    aliases: Aliases


@task(cache_policy=NO_CACHE)
def load_config(promises: list[Path], areas: Path | None, aliases: Path | None) -> RunConfig:
    """Promises, areas and aliases, checked against each other before anything is written."""
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
    warehouse = Warehouse(url)
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
    logger = get_run_logger()
    audit = FileAudit(file_seq=file_seq, source=source, path=str(path))
    counts = {"pairs_given": 0, "looks_swapped": 0, "looks_rt90": 0}
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
        if audit.rows_read == 0:
            raise InputFileError(f"{path}: a header but no rows")
    except InputFileError as exc:
        audit.status, audit.error = "unreadable", str(exc)
        audit.rows_read = audit.rows_loaded = audit.rows_rejected = audit.rows_with_warnings = 0
        drop_staged_file(warehouse, run_id, file_seq)
        record_file(warehouse, run_id, audit)
        logger.warning("%s", exc)
        return audit
    audit.warnings = file_warnings(**counts)
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
def merge(warehouse: Warehouse, run_id: str, config: RunConfig) -> MergeResult:
    """The one transaction that publishes the run; on failure the run is marked failed, nothing else."""
    try:
        return merge_run(warehouse, run_id, config.promises, config.areas)
    except BaseException as exc:
        abandon_run(warehouse, run_id, f"merge failed: {type(exc).__name__}")
        raise
