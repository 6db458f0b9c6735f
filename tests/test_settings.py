"""The foundation's small parts: settings read once with one-line errors, the warehouse address and its
password kept apart, and the one retry layer (only transient failures, each failed attempt cleaned up)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from load.retry import retried
from load.warehouse_url import mask_url, parse_warehouse_url
from schemas.errors import ConfigError
from schemas.settings import load_settings


def test_defaults_without_any_lofte_variable() -> None:
    settings = load_settings({})
    assert settings.file_workers == 2
    assert settings.lock_wait_seconds == 600
    assert settings.warehouse_url is None
    assert settings.config_dir == Path("/config")


def test_settings_come_from_lofte_variables() -> None:
    settings = load_settings(
        {"LOFTE_FILE_WORKERS": "4", "LOFTE_LOCK_WAIT_SECONDS": "2.5", "LOFTE_DEBUG": "1"}
    )
    assert (settings.file_workers, settings.lock_wait_seconds, settings.debug) == (4, 2.5, True)


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("LOFTE_FILE_WORKERS", "two", "whole number from 1 to 32"),
        ("LOFTE_FILE_WORKERS", "0", "whole number from 1 to 32"),
        ("LOFTE_LOCK_WAIT_SECONDS", "10m", "number of seconds"),
        ("LOFTE_DUCKDB_MEMORY_LIMIT", "lots", "LOFTE_DUCKDB_MEMORY_LIMIT"),
        ("LOFTE_STAGING_DIR", __file__, "a folder path"),  # a file, not a folder
    ],
)
def test_a_bad_setting_is_one_line_naming_it(name: str, value: str, said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({name: value})
    message = str(raised.value)
    assert name in message and said in message
    assert "\n" not in message


def test_a_bad_setting_stops_a_command_before_anything_runs(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    result = CliRunner().invoke(
        app,
        ["audit", "--warehouse", str(warehouse)],
        env={"LOFTE_LOCK_WAIT_SECONDS": "10m"},
    )
    assert result.exit_code == 2
    assert "LOFTE_LOCK_WAIT_SECONDS" in result.output
    assert "Traceback" not in result.output
    assert not warehouse.exists()


@pytest.mark.parametrize(
    ("typed", "backend", "url"),
    [
        ("lofte-2019.duckdb", "duckdb", "duckdb:///lofte-2019.duckdb"),
        ("/data/lofte.duckdb", "duckdb", "duckdb:////data/lofte.duckdb"),
        ("duckdb:///x.duckdb", "duckdb", "duckdb:///x.duckdb"),
        ("postgres://lofte@db/lofte", "postgresql", "postgresql+psycopg://lofte@db/lofte"),
        ("postgresql://lofte@db:5433/lofte", "postgresql", "postgresql+psycopg://lofte@db:5433/lofte"),
        ("postgresql+psycopg://lofte@db/lofte", "postgresql", "postgresql+psycopg://lofte@db/lofte"),
    ],
    ids=["plain-path", "absolute-path", "duckdb-url", "pg-short-scheme", "pg-with-port", "pg-psycopg"],
)
def test_accepted_warehouse_forms(typed: str, backend: str, url: str) -> None:
    parsed = parse_warehouse_url(typed)
    assert (parsed.backend, parsed.url, parsed.password) == (backend, url, None)


@pytest.mark.parametrize(
    ("typed", "password"),
    [
        ("postgresql://lofte:s3cret@db/lofte", "s3cret"),
        ("postgresql://lofte@db/lofte?password=s3cret&sslmode=require", "s3cret"),
        ("postgresql://lofte:s3@cr/et@db/lofte", "s3@cr/et"),
        ("postgres://lofte:p%40ss@db/lofte", "p@ss"),
    ],
    ids=["userinfo", "query-string", "unencoded-at", "percent-encoded"],
)
def test_the_password_is_split_off_the_url(typed: str, password: str) -> None:
    parsed = parse_warehouse_url(typed)
    assert parsed.password == password
    assert password not in parsed.url and password not in repr(parsed) and password not in str(parsed)
    assert parsed.engine_url().password == password
    assert mask_url(f"failed: {typed} (retry)").count("***") == 1
    assert password not in mask_url(f"failed: {typed} (retry)")


@pytest.mark.parametrize(
    "typed",
    ["sqlite:///x.db", "mysql://u@h/d", "duckdb://x.duckdb", "postgresql://u@h"],
    ids=["sqlite", "mysql", "duckdb-two-slashes", "pg-without-database"],
)
def test_other_warehouse_forms_are_one_line_listing_the_accepted_ones(typed: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_warehouse_url(typed)
    assert "\n" not in str(raised.value)
    assert "duckdb" in str(raised.value).lower()


def test_masking_covers_password_pairs_in_free_text() -> None:
    masked = mask_url("connect failed: host=db password=hunter2 user=lofte")
    assert "hunter2" not in masked and "password=***" in masked


def _refused() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("connect", {}, Exception("connection refused"))


def test_a_transient_failure_is_retried_and_each_failed_attempt_cleaned_up() -> None:
    calls: list[int] = []
    cleanups: list[int] = []
    waits: list[float] = []

    def connect() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _refused()
        return "connected"

    result = retried(connect, cleanup=lambda: cleanups.append(1), sleep=waits.append)
    assert result == "connected"
    assert (len(calls), len(cleanups), waits) == (3, 2, [1.0, 2.0])


def test_a_refusal_that_is_not_transient_is_raised_at_once() -> None:
    calls: list[int] = []

    def locked() -> None:
        calls.append(1)
        raise sa.exc.OperationalError("lock", {}, Exception("could not obtain lock"))

    with pytest.raises(sa.exc.OperationalError):
        retried(locked, sleep=lambda _: None)
    assert len(calls) == 1


def test_the_last_attempts_failure_is_raised_as_it_came() -> None:
    with pytest.raises(sa.exc.OperationalError, match="connection refused"):
        retried(lambda: (_ for _ in ()).throw(_refused()), attempts=2, sleep=lambda _: None)
