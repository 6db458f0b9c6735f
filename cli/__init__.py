"""`lofte`, the command line: one module per group of commands, all registered on `cli.common.app`."""

from cli import analyst, audit, lagesbild, runs, sample
from cli.common import app

__all__ = ["analyst", "app", "audit", "lagesbild", "main", "runs", "sample"]


def main() -> None:
    app()
