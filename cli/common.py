"""What every `lofte` command shares: the app, its consoles, exit codes, options and the one error handler.

Exit codes: 0 every file read (rows may be rejected); 1 the run failed and nothing changed; 2 usage
error; 3 the run finished but one or more input files could not be read at all.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from flows.prefect_api import stop_temporary_api
from load.warehouse_url import WarehouseUrl, mask_url, parse_warehouse_url
from pipeline import interrupt
from schemas.errors import LofteError, shown
from schemas.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        print(f"lofte {version('lofte')}")
        raise typer.Exit()


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="lofte: follow-up of medborgarlöften from STATUS and STORM-HOBIT exports.",
)


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """lofte: follow-up of medborgarlöften from STATUS and STORM-HOBIT exports."""


# soft_wrap: a long line stays one line (rich otherwise breaks it at 80 columns when not in a terminal,
# in files and pipes too); a terminal wraps it for display only.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        help="a DuckDB file path or postgresql://USER@HOST/DB; else LOFTE_WAREHOUSE_URL; else ./lofte.duckdb",
    ),
]


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """One line on stderr, then exit with `code`."""
    err.print(f"[bold red]error:[/] {escape(shown(message))}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def handled(settings: Settings | None = None) -> Iterator[None]:
    """The one error handler of every command: a LofteError is its one line; anything else (a bug, an
    outage) still gets one line and the note that nothing changed (LOFTE_DEBUG=1 shows the traceback).
    A signal ends the command at once (`stop_now`)."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except LofteError as exc:
        fail(str(exc))
    except Exception as exc:
        if settings is not None and settings.debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        fail(f"the run failed and changed nothing: {type(exc).__name__}: {mask_url(first)}")
    except BaseException as exc:
        if interrupt.is_interrupt(exc):
            stop_now(exc)
        raise


def stop_now(exc: BaseException) -> NoReturn:
    """One line, exit 130 (SIGINT) or 143 (SIGTERM). By then the run is marked 'interrupted' and its
    staging cleared (pipeline.run.run_guard). The process ends without the usual exit handlers: they
    would flush Prefect's queued events and logs to an API that may be gone, for minutes, in retries."""
    logging.disable(logging.CRITICAL)
    err.print("avbrutet: inget ändrat", highlight=False, soft_wrap=True)
    sys.stdout.flush()
    sys.stderr.flush()
    stop_temporary_api()
    os._exit(interrupt.exit_code(exc))


def settings_or_exit() -> Settings:
    """The environment's settings, validated once at the start of a command."""
    try:
        return load_settings()
    except LofteError as exc:
        fail(str(exc), EXIT_USAGE)


def warehouse_or_exit(text: str | None, settings: Settings) -> WarehouseUrl:
    """`--warehouse` (else LOFTE_WAREHOUSE_URL, else ./lofte.duckdb), parsed; a usage error otherwise."""
    try:
        return parse_warehouse_url(text or settings.warehouse_url)
    except LofteError as exc:
        fail(str(exc), EXIT_USAGE)


def keep_password_out_of_flows(target: WarehouseUrl) -> str:
    """The URL a flow gets as its parameter: without the password, which reaches the database through
    libpq's PGPASSWORD in this process's environment instead (flow parameters are stored by Prefect)."""
    if target.password is not None:
        os.environ["PGPASSWORD"] = target.password
    return target.url


def quiet_prefect() -> None:
    """Prefect's own chatter goes to its log; the command prints its summary."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # The run logs reach the Prefect API (one line per file); the terminal gets the command's own summary.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


def expand(paths: list[Path]) -> list[Path]:
    """A folder stands for its files in file-name order; hidden files are skipped, and every other entry
    not read (a sub-folder, a FIFO, a socket, a device) is named on stderr. A path given explicitly is
    kept as given: the run refuses it with its reason if it is no regular file."""
    from extract.inbox import folder_files

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found, skipped = folder_files(path)
            files += found
            for line in skipped:
                err.print(f"[yellow]skipped:[/] {escape(shown(line))}", highlight=False, soft_wrap=True)
        else:
            files.append(path)
    return files
