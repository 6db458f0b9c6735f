"""Shared fixtures: real warehouses (a DuckDB file, a fresh PostgreSQL database) and the sample data."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# PostgreSQL runs stage on this machine (LOFTE_STAGING_DIR): the suite's in a folder of its own, not in
# the user's cache; each test's database has a folder of its own inside.
_STAGING = tempfile.mkdtemp(prefix="lofte-test-staging-")
os.environ.setdefault("LOFTE_STAGING_DIR", _STAGING)
atexit.register(shutil.rmtree, _STAGING, True)


def command_env() -> dict[str, str]:
    """The environment for a `lofte` process a test starts: none of this machine's Prefect or lofte
    settings, except the suite's own staging folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LOFTE_"))}
    env["LOFTE_STAGING_DIR"] = os.environ["LOFTE_STAGING_DIR"]
    return env


# CI replays a fixed set of generated examples, so a red run always reproduces; locally they vary.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

FIXTURES = Path(__file__).parent / "fixtures"
ESKILSTUNA_2020 = FIXTURES / "eskilstuna-2020"
PG_ADMIN_URL = os.environ.get("LOFTE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


POSTGRES_FIXTURES = frozenset({"postgres_url", "loaded_postgres"})
FLOWS = Path(__file__).parent / "flows"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they need, so `-m "not postgres"` or `-m "not flow"` really leaves them out:
    `postgres` for a test that takes a PostgreSQL fixture or runs with a backend parameter "postgres",
    `flow` for the real Prefect runs in tests/flows/ and those that start a Prefect server."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if fixtures & POSTGRES_FIXTURES or "postgres" in params:
            item.add_marker(pytest.mark.postgres)
        if item.path.is_relative_to(FLOWS) or "prefect_server" in fixtures:
            item.add_marker(pytest.mark.flow)


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped on leaving."""
    name = f"lofte_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs on both backends."""
    return str(request.getfixturevalue(f"{request.param}_url"))
