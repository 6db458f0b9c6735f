"""Memory the process has freed, given back to the system: Arrow's pool and the C heap keep freed pages
for reuse, so a process's size would otherwise be its largest moment ever, not its present need."""

from __future__ import annotations

import sys
from contextlib import suppress

# The garbage collector's thresholds for a command and its temporary Prefect API (cli/__init__.py,
# flows/prefect_api.py): a national load makes millions of objects and few cycles. At Python's default
# (700, 10, 10) the command's collector ran about 770 times, 0.7 s in all with every thread stopped; at
# these 9 times and 0.2 s (`make bench`, shared x1000); the API's boot took 0.5 CPU-s less.
GC_THRESHOLDS = (50_000, 20, 100)


def release_freed_memory() -> None:
    """Give back what was freed: after each staged batch (the reading threads' peaks then do not pile
    up) and before a merge (its database engine would otherwise sit on top of them; a national load's
    peak is the staging's or the merge's, whichever is higher)."""
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        # The process's own symbols: ctypes.util.find_library would fork `ldconfig` from a process of a
        # gigabyte (its copy counted in the process tree's memory for a moment).
        with suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)  # glibc only
