"""A test-only hook: kill this process when a named phase of a run begins.

The crash-safety tests set LOFTE_TEST_KILL_AT to a phase name ('read', 'stage', 'merge', 'commit'; a
backfill also passes 'year' after each year it merged, before the next) and check that the warehouse
holds the state before the run or after it, never one between. Unset (always in production) it does
nothing.
"""

from __future__ import annotations

import os
import signal

PHASES = ("read", "stage", "merge", "commit")


def checkpoint(phase: str) -> None:
    if os.environ.get("LOFTE_TEST_KILL_AT") == phase:
        os.kill(os.getpid(), signal.SIGKILL)
