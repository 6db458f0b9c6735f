"""The run's wiring without Prefect's orchestration: the tasks' own functions, called in order.

Tests of rules go through here (no Prefect start-up); tests/flows/ runs the real flows.
"""

from __future__ import annotations

from pathlib import Path

from flows.followup import RunSummary, new_run_id
from flows.tasks import begin_run, merge, open_warehouse, read_config, stage_file
from schemas.contracts import Source


def export_files(root: Path) -> list[tuple[Source, Path]]:
    """The exports of a data-set folder (status/, storm/, activities/), in load order."""
    return [(source, path) for source in Source for path in sorted((root / str(source)).iterdir())]


def load_files(
    url: str,
    files: list[tuple[Source, Path]],
    promises: list[Path] | None = None,
    areas: Path | None = None,
    aliases: Path | None = None,
    run_id: str | None = None,
) -> RunSummary:
    config = read_config(promises or [], areas, aliases)
    warehouse = open_warehouse.fn(url)
    summary = RunSummary(run_id=run_id or new_run_id())
    try:
        begin_run.fn(warehouse, summary.run_id, "run")
        for file_seq, (source, path) in enumerate(files, start=1):
            summary.audits.append(
                stage_file.fn(warehouse, summary.run_id, file_seq, source, path, config.aliases, config.index)
            )
        summary.merged = merge.fn(warehouse, summary.run_id, config.promises, config.areas)
    finally:
        warehouse.dispose()
    return summary
