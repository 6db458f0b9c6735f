"""`lofte`, the command line: one module per group of commands, all registered on `cli.common.app`."""

import atexit
import gc
import os
import sys
import threading

from cli import analyst, audit, lagesbild, runs, sample
from cli.common import app
from pipeline import interrupt
from pipeline.memory import GC_THRESHOLDS

__all__ = ["analyst", "app", "audit", "lagesbild", "main", "runs", "sample"]


def main() -> None:
    interrupt.install()  # before anything slow: a Ctrl-C while Prefect boots ends cleanly too
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        app()
        code: object = 0
    except SystemExit as done:
        code = done.code
    # What the interpreter does at exit, in its order: threads joined and threading's exit callbacks
    # (Prefect hands its last logs and events to the API there), then the exit handlers (the temporary
    # API stops, logging flushes). Then the process ends without tearing the interpreter down object by
    # object, which took about a second after a national load and has nothing left to write.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    if code is None or isinstance(code, int):
        os._exit(code or 0)
    print(code, file=sys.stderr)  # sys.exit("message"), as the interpreter would print it
    sys.stderr.flush()
    os._exit(1)
