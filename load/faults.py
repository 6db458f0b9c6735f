"""Test-only hooks: kill this process, or hold it, when a named phase of a run begins.

The crash-safety tests set LOFTE_TEST_KILL_AT to a phase name ('read', 'stage', 'merge', 'commit'; a
backfill also passes 'year' after each year it merged, before the next) and check that the warehouse
holds the state before the run or after it, never one between. Unset (always in production) it does
nothing. LOFTE_TEST_PAUSE_AT holds the run at that phase for up to LOFTE_TEST_PAUSE_SECONDS (default
120), so a test can send a signal at a known point.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

PHASES = ("read", "stage", "merge", "commit")


# Called in every pause: a command registers its interrupt flag (pipeline/interrupt.py), so a held
# command ends on a signal even when the exception the signal raised was lost on the way (caught by
# code that ignores what it raises) and never reached the pause.
_every_pause: list[Callable[[], None]] = []


def on_every_pause(check: Callable[[], None]) -> None:
    if check not in _every_pause:
        _every_pause.append(check)


def checkpoint(phase: str, on_pause: Callable[[], None] | None = None) -> None:
    if os.environ.get("LOFTE_TEST_KILL_AT") == phase:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("LOFTE_TEST_PAUSE_AT") == phase:
        deadline = time.monotonic() + float(os.environ.get("LOFTE_TEST_PAUSE_SECONDS", "120"))
        while time.monotonic() < deadline:
            time.sleep(0.05)  # short sleeps: an interrupt is noticed between them
            for check in [*_every_pause, *([on_pause] if on_pause else [])]:
                check()
