"""Progress of a run as it happens: each staged batch and each finished file, for whoever listens.

The command (cli/) listens and prints a line per file, or draws a progress bar in a terminal; the
serving process has no listener and logs a line per file instead (pipeline/stage.py). Listeners are
called from the file-reading threads: they must be thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from load.staging import FileAudit


@dataclass(frozen=True)
class FileDone:
    audit: FileAudit
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.audit.rows_read / self.seconds if self.seconds > 0 else 0.0


class Listener:
    """Override what you need; every method is called from the threads that read the files."""

    def file_started(self, path: str, size_bytes: int | None) -> None: ...

    def batch_staged(self, path: str, rows: int, bytes_read: int | None) -> None: ...

    def file_done(self, done: FileDone) -> None: ...


_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Register; returns the function that unregisters."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def file_started(path: str, size_bytes: int | None) -> None:
    for listener in list(_listeners):
        listener.file_started(path, size_bytes)


def batch_staged(path: str, rows: int, bytes_read: int | None = None) -> None:
    for listener in list(_listeners):
        listener.batch_staged(path, rows, bytes_read)


def file_done(audit: FileAudit, seconds: float) -> None:
    for listener in list(_listeners):
        listener.file_done(FileDone(audit, seconds))
