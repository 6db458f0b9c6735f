"""`lofte`, the command line: one module per group of commands, all registered on `cli.common.app`."""

from cli import analyst, audit, lagesbild, runs, sample
from cli.common import app
from pipeline import interrupt

__all__ = ["analyst", "app", "audit", "lagesbild", "main", "runs", "sample"]


def main() -> None:
    interrupt.install()  # before anything slow: a Ctrl-C while Prefect boots ends cleanly too
    app()
