"""What every `lofte` command shares: the app, its consoles, exit codes, options and the one error handler.

Exit codes: 0 every file read (rows may be rejected); 1 the run failed and nothing changed; 2 usage
error; 3 the run finished but one or more input files could not be read at all.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from load.warehouse_url import WarehouseUrl, mask_url, parse_warehouse_url, remember_secret
from schemas.errors import LofteError
from schemas.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="lofte: follow-up of medborgarlöften from STATUS and STORM-HOBIT exports.",
)
out = Console()
err = Console(stderr=True)

WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        help="a DuckDB file path or postgresql://USER@HOST/DB; else LOFTE_WAREHOUSE_URL; else ./lofte.duckdb",
    ),
]


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """One line on stderr, then exit with `code`."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def handled(settings: Settings | None = None) -> Iterator[None]:
    """The one error handler of every command: a LofteError is its one line; anything else (a bug, an
    outage) still gets one line and the note that nothing changed (LOFTE_DEBUG=1 shows the traceback)."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except LofteError as exc:
        fail(str(exc))
    except Exception as exc:
        if settings is not None and settings.debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        if _disk_full(exc):
            fail(f"disk full: the run failed and changed nothing: {mask_url(first)}")
        fail(f"the run failed and changed nothing: {type(exc).__name__}: {mask_url(first)}")


def _disk_full(exc: BaseException) -> bool:
    """Whether a failure (or what caused it) was a full disk: an OSError's ENOSPC, or a database
    driver's message of it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "no space left on device" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def settings_or_exit() -> Settings:
    """The environment's settings, validated once at the start of a command."""
    try:
        return load_settings()
    except LofteError as exc:
        fail(str(exc), EXIT_USAGE)


def warehouse_or_exit(text: str | None, settings: Settings) -> WarehouseUrl:
    """`--warehouse` (else LOFTE_WAREHOUSE_URL, else ./lofte.duckdb), parsed; a usage error otherwise."""
    remember_secret(os.environ.get("PGPASSWORD"))  # masked in every message like a URL's password
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
    """A folder stands for its files in file-name order; hidden files are skipped."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            files.append(path)
    return files
