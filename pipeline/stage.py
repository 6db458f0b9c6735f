"""Staging one export: read it batch by batch, type the rows, classify them by area, stage them."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from pathlib import Path

from extract.readers import open_export, read_export
from load.faults import checkpoint
from load.staging import FileAudit, drop_staged_file, record_file, stage_batch
from load.warehouse import Warehouse
from pipeline import interrupt, progress
from pipeline.config import RunConfig
from pipeline.memory import release_freed_memory
from schemas.contracts import CONTRACTS, Source
from schemas.errors import InputFileError, shown
from transform.areas import area_memberships
from transform.coordinates import file_warnings
from transform.personnummer import REDACTED, redact

Logger = logging.Logger | logging.LoggerAdapter


class StagingCancelled(Exception):
    """The run ended before this file was staged (pipeline/headstart.py): its rows are dropped with it."""


def stage_export(
    warehouse: Warehouse,
    run_id: str,
    file_seq: int,
    source: Source,
    path: Path,
    config: RunConfig,
    log: Logger | None = None,
    cancel: threading.Event | None = None,
) -> FileAudit:
    """Stage one export of the run. An unreadable file is audited as such and none of its rows stay
    staged; the run's other files go on. `cancel` set: stop at the next batch (`StagingCancelled`)."""
    log = log or logging.getLogger("lofte")
    # A file name may carry a personnummer too: the audit, the logs and the summary get it redacted.
    audit = FileAudit(file_seq=file_seq, source=source, path=redact(str(path))[0])
    counts = {"pairs_given": 0, "looks_swapped": 0, "looks_rt90": 0}
    unknown_hobit: Counter[str] = Counter()
    started = time.monotonic()
    try:
        export = open_export(path, source, config.aliases)
        audit.sha256, audit.size_bytes = export.facts.sha256, export.facts.size_bytes
        audit.encoding = export.facts.encoding or "xlsx"
        record_file(warehouse, run_id, audit)
        progress.file_started(str(path), audit.size_bytes)
        key = CONTRACTS[source].key
        for typed in read_export(export):
            interrupt.raise_if_interrupted()
            if cancel is not None and cancel.is_set():
                raise StagingCancelled(str(path))
            checkpoint("read", interrupt.raise_if_interrupted)
            areas = (
                area_memberships(typed.facts, config.index, key) if source is not Source.ACTIVITIES else None
            )
            checkpoint("stage")
            stage_batch(warehouse, run_id, audit, typed, areas)
            audit.add(typed)
            progress.batch_staged(str(path), len(typed.facts) + len(typed.rejected))
            for name, value in typed.coordinate_counts.items():
                counts[name] += value
            if source is Source.STORM:  # a new code is counted in the totals, matched by no measure
                unknown_hobit.update(typed.facts.loc[~typed.facts["hobit_kand"].astype(bool), "hobit"])
            # Staged: let go of the batch before the next is read and typed, not once it is there, and
            # give its memory back (two threads' typing peaks otherwise add up at 12 MB batches).
            del typed, areas
            release_freed_memory()
        if audit.rows_read == 0:
            raise InputFileError(f"{path}: a header but no rows")
    except InputFileError as exc:
        audit.status, audit.error = "unreadable", redact(str(exc))[0]
        audit.rows_read = audit.rows_loaded = audit.rows_rejected = audit.rows_with_warnings = 0
        audit.rejection_reasons = {}  # its staged rows are dropped: none of them counts
        drop_staged_file(warehouse, run_id, file_seq)
        record_file(warehouse, run_id, audit)
        log.warning("%s", audit.error)  # one line: the error escaped the file's name
        progress.file_done(audit, time.monotonic() - started)
        return audit
    audit.warnings = (
        export.facts.notes
        + file_warnings(**counts)
        + [
            f"unknown HOBIT code {code!r}: {n} rows (counted in the totals, matched by no measure)"
            for code, n in sorted(unknown_hobit.items())
        ]
    )
    if audit.values_redacted:
        audit.warnings.append(
            f"{audit.values_redacted} values held a personnummer: replaced by {REDACTED!r}, never stored"
        )
    audit.status = "staged"
    record_file(warehouse, run_id, audit)
    progress.file_done(audit, time.monotonic() - started)
    # A file with warnings is logged at WARNING, so Prefect's UI and log filters show it as one.
    (log.warning if audit.warnings else log.info)(
        "%s (%s, %s): %d rows read, %d loaded, %d rejected%s",
        shown(path.name),
        source,
        audit.encoding,
        audit.rows_read,
        audit.rows_loaded,
        audit.rows_rejected,
        "".join(f"; warning: {shown(w)}" for w in audit.warnings),
    )
    return audit
