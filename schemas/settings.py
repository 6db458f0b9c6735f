"""lofte's settings: every `LOFTE_*` environment variable, validated once when a command or a serving
process starts, then passed in. Nothing reads `LOFTE_*` anywhere else.

A bad value is a one-line `ConfigError` naming the variable and what it accepts
(`LOFTE_FILE_WORKERS='two': a whole number from 1 to 32`), never a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import ConfigError

_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)

# What each setting accepts, as the one-line error says it.
_ACCEPTS = {
    "warehouse_url": "a DuckDB file path or a postgresql:// URL",
    "file_workers": "a whole number from 1 to 32",
    "lock_wait_seconds": "a number of seconds from 0 to 86400 (e.g. 600)",
    "duckdb_memory_limit": "a size such as 200MB or 1GB",
    "duckdb_merge_memory_limit": "a size such as 500MB or 1GB",
    "pg_work_mem": "a size such as 256MB",
    "staging_dir": "a folder path",
    "config_dir": "a folder path",
    "inbox_dir": "a folder path",
    "debug": "1/true/yes or 0/false/no",
    "alert_command": "a shell command",
    "alert_webhook": "an http:// or https:// URL",
}


class Settings(BaseSettings):
    """The environment of a run. Defaults are the documented ones (docs/operations.md)."""

    model_config = SettingsConfigDict(env_prefix="LOFTE_", extra="ignore", frozen=True)

    # The warehouse when --warehouse is not given; unset: ./lofte.duckdb.
    # Kept out of repr: it may hold the password, and a Settings object travels into tasks and tracebacks.
    warehouse_url: str | None = Field(default=None, repr=False)
    # Exports read, typed and classified at once (threads of one process).
    file_workers: int = Field(default=2, ge=1, le=32)
    # How long a run waits for another run's lock (or a DuckDB file held open) before it gives up.
    lock_wait_seconds: float = Field(default=600.0, ge=0, le=86_400)
    # DuckDB's memory in the run's process; beyond it DuckDB spills to disk.
    duckdb_memory_limit: str = "200MB"
    # DuckDB's memory in the merge, once the reading threads' batches are gone. The staged rows are
    # read from files as the merge goes: a national merge took as long with 300MB as with 500MB.
    duckdb_merge_memory_limit: str = "300MB"
    # PostgreSQL's work_mem inside the merge transaction.
    pg_work_mem: str = "256MB"
    # Where a run on PostgreSQL stages its rows (Parquet files, well under the exports' size, removed
    # when the run ends); unset: $XDG_CACHE_HOME/lofte/staging, else ~/.cache/lofte/staging. A DuckDB
    # run stages beside its warehouse file.
    staging_dir: Path | None = None
    # The folders of scheduled runs (the container's mounts by default).
    config_dir: Path = Path("/config")
    inbox_dir: Path = Path("/inbox")
    # Show tracebacks of unexpected errors instead of one line.
    debug: bool = False
    # Run when a scheduled run (nightly, backfill) fails or crashes (flows/alerts.py).
    alert_command: str | None = None
    # POSTed a JSON message when a scheduled run fails or crashes.
    alert_webhook: str | None = None

    @field_validator("alert_webhook")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and value.strip() and not re.match(r"^https?://", value.strip()):
            raise ValueError("not an http(s) URL")
        return value.strip() or None if value is not None else None

    @field_validator("duckdb_memory_limit", "duckdb_merge_memory_limit", "pg_work_mem")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _SIZE.match(value):
            raise ValueError("not a size")
        return value.replace(" ", "")

    @field_validator("warehouse_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("staging_dir")
    @classmethod
    def _a_folder(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError("not a folder")
        return value


def default_staging_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache) if cache else Path.home() / ".cache") / "lofte" / "staging"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from the environment (or `environ`), or one `ConfigError` line for the first bad one."""
    try:
        if environ is None:
            return Settings()
        values: dict[str, Any] = {
            name: environ[f"LOFTE_{name.upper()}"]
            for name in Settings.model_fields
            if f"LOFTE_{name.upper()}" in environ
        }
        return Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        shown = repr(error.get("input"))[:60]
        raise ConfigError(
            f"LOFTE_{name.upper()}={shown}: expected {_ACCEPTS.get(name, error['msg'])}"
        ) from None
