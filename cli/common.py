"""What every `lofte` command shares: the app, its consoles, exit codes, options and the one error handler.

Exit codes: 0 every file read (rows may be rejected); 1 the run failed and nothing changed; 2 usage
error (found before anything runs); 3 the run finished but one or more input files could not be read at
all, or an inbox entry was not read.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer._click import exceptions as click_errors  # typer vendors click: its own exception types
from typer.core import TyperGroup

from flows.prefect_api import stop_temporary_api
from load.warehouse_url import WarehouseUrl, mask_url, parse_warehouse_url, remember_secret
from pipeline import interrupt
from schemas.errors import LofteError, shown
from schemas.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        print(f"lofte {version('lofte')}")
        raise typer.Exit()


T = TypeVar("T")


class OneLineErrors(TyperGroup):
    """Usage errors as one line (`error: lofte run: Missing option '--promises'.`), not click's usage
    block or typer's box: every mistake a user can make reads the same way and fits a log line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            # Not standalone, click returns a command's exit code (typer.Exit) instead of exiting.
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except click_errors.NoArgsIsHelpError as exc:
            sys.stdout.write(exc.ctx.get_help() + "\n")
            sys.exit(EXIT_USAGE)
        except click_errors.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.command_path}: " if ctx is not None else ""
            message = " ".join(exc.format_message().split())
            error_line(f"{where}{message}")
            sys.exit(exc.exit_code)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            error_line("aborted")
            sys.exit(EXIT_FAILED)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else EXIT_OK)


app = typer.Typer(
    cls=OneLineErrors,
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
    error_line(message)
    raise typer.Exit(code)


def error_line(message: str) -> None:
    # Text, not markup: a quoted path or YAML key may hold brackets rich would read as tags. Masked:
    # a message may quote what was typed, a password included.
    line = Text.assemble(("error:", "bold red"), " ", shown(mask_url(message)))
    err.print(line, highlight=False, soft_wrap=True)


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
        if _disk_full(exc):
            fail(f"disk full: the run failed and changed nothing: {mask_url(first)}")
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


def paths_or_exit(option: str, paths: Iterable[Path | None]) -> None:
    """Every path given on the command line exists: a typo is a usage error before anything runs, not
    a file reported unreadable after a follow-up published without it."""
    for path in paths:
        if path is not None and not path.exists():
            fail(f"{option} {shown_path(path)}: no such file or folder", EXIT_USAGE)


def folder_or_exit(option: str, path: Path) -> None:
    if not path.is_dir():
        what = "not a folder" if path.exists() else "no such folder"
        fail(f"{option} {shown_path(path)}: {what}", EXIT_USAGE)


def out_file_or_exit(option: str, path: Path | None) -> None:
    """A file to write: its folder exists (nothing is created on a typo) and it is not a folder."""
    if path is None:
        return
    if path.is_dir():
        fail(f"{option} {shown_path(path)}: is a folder, give a file name", EXIT_USAGE)
    if not path.parent.is_dir():
        fail(f"{option} {shown_path(path)}: no such folder {shown_path(path.parent)}", EXIT_USAGE)


def out_folder_or_exit(option: str, path: Path) -> None:
    """A folder to write into: it exists, or its parent does (the folder itself is made)."""
    if path.exists() and not path.is_dir():
        fail(f"{option} {shown_path(path)}: not a folder", EXIT_USAGE)
    if not path.exists() and not path.parent.is_dir():
        fail(f"{option} {shown_path(path)}: no such folder {shown_path(path.parent)}", EXIT_USAGE)


def shown_path(path: Path) -> str:
    """A path as messages show it: control characters escaped, so a file name cannot forge a line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(path))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def config_or_exit(read: Callable[[], T], settings: Settings) -> T:
    """The run's configuration files read and checked before any flow starts (a second, not the tens of
    seconds a Prefect start costs): a bad file is its one line and exit 1, and a temporary API already
    booting stops with the command (flows/prefect_api.py)."""
    with handled(settings):
        return read()
    raise AssertionError("unreachable")  # pragma: no cover  (handled() exits on every error)


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


def read_warehouse(
    target: WarehouseUrl, settings: Settings, read: Callable[[Any], T], *, current_schema: bool = True
) -> T:
    """`read(conn)` in one read-only transaction, the warehouse released after. With `current_schema`, a
    warehouse at another revision is refused in one line: a reader reads this lofte's views and never
    upgrades."""
    from load.migrations import require_head
    from load.warehouse import Warehouse

    store = Warehouse(target, settings=settings, read_only=True)
    try:
        with store.begin() as conn:
            if current_schema:
                require_head(conn)
            return read(conn)
    finally:
        store.dispose()


def emit(text: str, out_file: Path | None, encoding: str = "utf-8") -> None:
    """A report to its --out file (then one line saying so) or to stdout."""
    if out_file:
        out_file.write_text(text, encoding=encoding)
        out.print(f"wrote {shown_path(out_file)}", highlight=False, markup=False)
    else:
        sys.stdout.write(text)
