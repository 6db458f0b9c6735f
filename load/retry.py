"""The one retry layer: only around steps that can safely run twice (connecting, reading).

A step that writes, or that holds or waits for a lock, is never retried: a second attempt could count
twice, wait twice as long, or hide the first failure's cause. Each failed attempt disposes of its
connections before the next (a pooled connection of a failed attempt could hold a lock or be dead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

T = TypeVar("T")

ATTEMPTS = 3
FIRST_DELAY_SECONDS = 1.0


def is_transient(exc: BaseException) -> bool:
    """A connection that failed or dropped (the server restarting, a network blip), not a refusal."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        text = str(exc.orig or exc).lower()
        return any(
            sign in text
            for sign in (
                "connection refused",
                "server closed the connection",
                "could not connect",
                "timeout expired",
            )
        )
    return isinstance(exc, ConnectionError)


def retried(
    operation: Callable[[], T],
    *,
    cleanup: Callable[[], None] = lambda: None,
    attempts: int = ATTEMPTS,
    first_delay: float = FIRST_DELAY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`operation()`, again after a transient failure (delays 1 s, 2 s, …); `cleanup()` after each
    failed attempt. Any other failure, or the last attempt's, is raised as it came."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as exc:
            cleanup()
            if attempt == attempts or not is_transient(exc):
                raise
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
