"""Ctrl-C and SIGTERM: a run stops at its next batch, is marked 'interrupted' and leaves nothing staged.

A command calls `install()` first. A signal then sets a flag that the file-reading threads check per
batch (`raise_if_interrupted`) and raises `Interrupted` in the main thread, wherever it waits: in
psycopg (which cancels the query it waits on for a KeyboardInterrupt), in a lock wait, in Prefect.
Prefect's flow engine replaces the SIGTERM handler while a flow runs (its own exception is one psycopg
does not cancel on), so the flows call `rearm()` first thing. Outside a command (the serving process,
tests) nothing is installed, and Prefect's cancellation keeps its own handling.
"""

from __future__ import annotations

import _thread
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

_requested = threading.Event()
_signal: list[int] = []
_installed = False


class Interrupted(KeyboardInterrupt):
    """The command was asked to stop (SIGINT or SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handler(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    _signal.append(signum)
    if frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        # Raised inside the import machinery's own locking, the exception can leave the import lock held
        # for good, and every thread's next import hangs (met with files staging while the main thread
        # imported Prefect). Raised again a moment later, outside it.
        _later(signum)
        return
    raise Interrupted(signum)


def _later(signum: int) -> None:
    threading.Timer(0.02, _thread.interrupt_main, args=(signum,)).start()


def _unraisable(hook: Callable[[sys.UnraisableHookArgs], object]) -> Callable[[sys.UnraisableHookArgs], None]:
    def unraisable(info: sys.UnraisableHookArgs) -> None:
        if isinstance(info.exc_value, Interrupted):
            # The signal landed in a finalizer (a weakref callback, a __del__), where Python prints the
            # exception and drops it: raised again a moment later, where the main thread can take it.
            _later(info.exc_value.signum)
            return
        hook(info)

    return unraisable


def install() -> None:
    """SIGINT and SIGTERM raise `Interrupted` (main thread only; a no-op elsewhere)."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _handler)
    if not _installed:
        sys.unraisablehook = _unraisable(sys.unraisablehook)
    _installed = True
    from load.faults import on_every_pause

    on_every_pause(raise_if_interrupted)  # the tests' pauses (load/faults.py) ask the flag too


def rearm() -> None:
    """Inside a flow: take SIGTERM back from Prefect's engine when a command installed the handlers."""
    if _installed and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _handler)


def request() -> None:
    """Stop the threads at their next batch (an interrupt that reached the main thread another way)."""
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def raise_if_interrupted() -> None:
    """Called per batch in every thread that reads or stages."""
    if _requested.is_set():
        raise Interrupted(_signal[0] if _signal else signal.SIGINT)


def is_interrupt(exc: BaseException) -> bool:
    """A signal's exception: ours, a KeyboardInterrupt, or Prefect's TerminationSignal."""
    return isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "TerminationSignal"


def exit_code(exc: BaseException | None = None) -> int:
    """130 for SIGINT, 143 for SIGTERM (128 + the signal's number, as shells report it)."""
    signum = getattr(exc, "signum", None) or getattr(exc, "signal", None) or (_signal[0] if _signal else 2)
    return 128 + int(signum)
