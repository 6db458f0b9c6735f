"""A `lofte run` begins loading while its orchestration boots.

Without a Prefect server the command's temporary API takes seconds to answer (flows/prefect_api.py),
and the flow cannot start before it does. Meanwhile the command opens the warehouse, begins the run and
stages its files in threads (`head_start`); the flow, called with that run's id, takes over what has
begun instead of doing it again: its tasks call `open_warehouse`, `begin_run` and `stage_export` of this
module, which hand over the open warehouse, skip the registration and wait for the file's staging.
From there the flow's own guard ends the run, as always.
A command that fails (or is interrupted) before its flow takes the run over ends the run here: the
threads stop at their next batch, the run is marked and its staged rows dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from load.staging import FileAudit
from load.warehouse import Warehouse
from load.warehouse_url import WarehouseUrl
from pipeline import run, stage
from pipeline.config import RunConfig
from pipeline.stage import Logger
from schemas.contracts import Source
from schemas.settings import Settings


class _Kept(logging.Handler):
    """A file's log lines, kept until the flow's task replays them into the run's log."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class HeadStart:
    """One run begun by a command: its open warehouse and its files' staging, one future per file.
    A failure to open the warehouse or begin the run is kept and raised by the flow's own step, so the
    orchestration records the failed run as it would without a head start."""

    warehouse: Warehouse | None
    run_id: str
    config: RunConfig
    failure: Exception | None = None
    staging: dict[int, Future[FileAudit]] = field(default_factory=dict)
    logs: dict[int, _Kept] = field(default_factory=dict)
    claimed: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)


_begun: dict[str, HeadStart] = {}
_lock = threading.Lock()


@contextmanager
def head_start(
    target: WarehouseUrl,
    settings: Settings,
    files: Sequence[tuple[Source, Path]],
    config: RunConfig,
) -> Iterator[HeadStart]:
    """Open the warehouse, begin a run and start staging `files` (in `settings.file_workers` threads);
    yields the run, whose id the flow is given. The files are numbered in the order given, as the flow
    numbers them."""
    begun = HeadStart(warehouse=None, run_id=run.new_run_id(), config=config)
    pool = ThreadPoolExecutor(max_workers=settings.file_workers, thread_name_prefix="lofte-file")
    try:
        _begin(begun, target, settings, files, pool)
        with _lock:
            _begun[begun.run_id] = begun
        yield begun
    except BaseException as exc:
        if not begun.claimed:
            _end_unclaimed(begun, exc)
        raise
    finally:
        with _lock:
            _begun.pop(begun.run_id, None)
        pool.shutdown(wait=True)
        if not begun.claimed and begun.warehouse is not None:
            begun.warehouse.dispose()


def _begin(
    begun: HeadStart,
    target: WarehouseUrl,
    settings: Settings,
    files: Sequence[tuple[Source, Path]],
    pool: ThreadPoolExecutor,
) -> None:
    try:
        begun.warehouse = run.open_warehouse(target, settings)
        run.begin_run(begun.warehouse, begun.run_id, "run", [path for _, path in files])
    except Exception as exc:  # the flow's step raises it (see HeadStart)
        begun.failure = exc
        return
    for file_seq, (source, path) in enumerate(files, start=1):
        log = logging.Logger(f"lofte.headstart.{file_seq}", logging.INFO)  # not registered: no leak
        log.addHandler(begun.logs.setdefault(file_seq, _Kept()))
        begun.staging[file_seq] = pool.submit(
            stage.stage_export, begun.warehouse, begun.run_id, file_seq, source, path, begun.config, log,
            begun.cancel,
        )  # fmt: skip


def _end_unclaimed(begun: HeadStart, exc: BaseException) -> None:
    """The flow never took the run over: stop the threads at their next batch, then end the run as the
    flow's guard would (`run.run_guard`)."""
    begun.cancel.set()
    wait_all(list(begun.staging.values()), timeout=60)
    if begun.warehouse is None or begun.failure is not None:
        return  # no run was begun
    with suppress(Exception):  # the first cause is the one reported
        run.end_failed_run(begun.warehouse, begun.run_id, exc)


def _claim(run_id: str | None) -> HeadStart | None:
    if run_id is None:
        return None
    with _lock:
        return _begun.get(run_id)


def open_warehouse(
    target: WarehouseUrl | str | None, settings: Settings, run_id: str | None = None
) -> Warehouse:
    """The warehouse of a run begun by the command (the flow takes it over from here), else a new one."""
    begun = _claim(run_id)
    if begun is None:
        return run.open_warehouse(target, settings)
    begun.claimed = True
    if begun.warehouse is None:
        assert begun.failure is not None
        raise begun.failure
    return begun.warehouse


def begin_run(warehouse: Warehouse, run_id: str, kind: str, inputs: Sequence[Path] = ()) -> None:
    """Register the run, unless the command has begun it already (or failed to)."""
    begun = _claim(run_id)
    if begun is None:
        run.begin_run(warehouse, run_id, kind, inputs)
    elif begun.failure is not None:
        raise begun.failure


def stage_export(
    warehouse: Warehouse,
    run_id: str,
    file_seq: int,
    source: Source,
    path: Path,
    config: RunConfig,
    log: Logger,
) -> FileAudit:
    """The file's staging: waited for if the command began it (its log lines then go to `log`), else done
    now."""
    begun = _claim(run_id)
    future = begun.staging.get(file_seq) if begun is not None else None
    if begun is None or future is None:
        return stage.stage_export(warehouse, run_id, file_seq, source, path, config, log)
    try:
        return future.result()
    finally:
        for record in begun.logs[file_seq].records:
            log.log(record.levelno, "%s", record.getMessage())


def config_of(run_id: str | None) -> RunConfig | None:
    """The configuration the command read for the run it began (the flow reads the same files)."""
    begun = _claim(run_id)
    return begun.config if begun is not None else None
