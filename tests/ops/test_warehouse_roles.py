"""The warehouse's init script, run for real against the local PostgreSQL: the analyst reads the
warehouse's tables and views (also those created after the script ran) and can change nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from load.warehouse import Warehouse
from schemas import warehouse as w
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres

INIT_SCRIPT = Path(__file__).resolve().parents[2] / "docker/postgres/warehouse-init/01-lofte-roles.sh"
INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True)
class Stack:
    database: str
    writer: str
    analyst: str

    def url(self, role: str) -> str:
        admin = make_url(PG_ADMIN_URL)
        return admin.set(username=role, password=None, database=self.database).render_as_string(False)


@contextmanager
def init_stack() -> Iterator[Stack]:
    """The init script with unique database and role names (roles are cluster-wide; tests run in
    parallel); everything dropped on leaving."""
    suffix = uuid.uuid4().hex[:10]
    names = Stack(f"lofte_ops_{suffix}", f"lofte_writer_{suffix}", f"lofte_analyst_{suffix}")
    psql = shutil.which("psql")
    assert psql, "the PostgreSQL client psql is needed to run the init script"
    admin = make_url(PG_ADMIN_URL)
    env = {
        **os.environ,
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "POSTGRES_USER": admin.username or "postgres",
        "POSTGRES_DB": admin.database or "postgres",
        "LOFTE_DB": names.database,
        "LOFTE_DB_USER": names.writer,
        "LOFTE_DB_PASSWORD": f"writer-{suffix}",
        "LOFTE_ANALYST_USER": names.analyst,
        "LOFTE_ANALYST_PASSWORD": f"analyst-{suffix}",
    }
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        result = subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        yield names
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{names.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{names.analyst}"'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{names.writer}"'))
        engine.dispose()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One per module: the tests below only read, or assert that their writes were refused."""
    with init_stack() as names:
        yield names


@pytest.fixture(scope="module")
def migrated(stack: Stack) -> Stack:
    """lofte's schema, migrated by the writer; then a row, and a view created after the grants."""
    warehouse = Warehouse(stack.url(stack.writer))
    try:
        warehouse.migrate()
        with warehouse.begin() as conn:
            conn.execute(
                sa.insert(w.followup_aggregate).values(
                    kommunkod="0484",
                    year=2019,
                    tertial=1,
                    measure_id="narkotika",
                    area_id="ALL",
                    value=540,
                    cumulative_value=540,
                    target=None,
                    run_id="ops-test",
                    updated_at=datetime.now(UTC),
                )
            )
            # A view a later migration might add: covered by the default privileges, not by a new GRANT.
            conn.execute(
                sa.text(
                    "CREATE VIEW ops_followup_all AS "
                    "SELECT kommunkod, year, tertial, measure_id, value FROM followup_aggregate "
                    "WHERE area_id = 'ALL'"
                )
            )
    finally:
        warehouse.dispose()
    return stack


def _analyst(stack: Stack, *, read_only_guard: bool = True) -> sa.Engine:
    # Without the guard (the role's default read-only transactions), only the privileges stand in the way.
    args = {} if read_only_guard else {"options": "-c default_transaction_read_only=off"}
    return sa.create_engine(stack.url(stack.analyst), connect_args=args)


def test_analyst_reads_tables_and_views_including_ones_created_later(migrated: Stack) -> None:
    engine = _analyst(migrated)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW default_transaction_read_only")).scalar_one() == "on"
            value = conn.execute(
                sa.select(w.followup_aggregate.c.value).where(
                    w.followup_aggregate.c.measure_id == "narkotika"
                )
            ).scalar_one()
            assert value == 540
            assert conn.execute(sa.text("SELECT value FROM ops_followup_all")).scalar_one() == 540
            # lofte's own tables and views, whatever the migrations created.
            relations = (
                conn.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                        "UNION SELECT table_name FROM information_schema.views WHERE table_schema = 'public'"
                    )
                )
                .scalars()
                .all()
            )
            assert {"followup_aggregate", "source_quality", "v_followup", "ops_followup_all"} <= set(
                relations
            )
            for name in relations:
                conn.execute(sa.text(f'SELECT * FROM "{name}" LIMIT 1')).all()
            assert conn.execute(sa.select(sa.func.count()).select_from(w.dim_brottskod)).scalar_one() > 0
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO followup_aggregate (kommunkod, year, tertial, measure_id, area_id, value, "
        "cumulative_value, run_id, updated_at) VALUES ('0484', 2019, 2, 'x', 'ALL', 1, 1, 'r', now())",
        "UPDATE followup_aggregate SET value = 0",
        "DELETE FROM followup_aggregate",
        "TRUNCATE source_quality",
        "CREATE TABLE analyst_notes (note text)",
        "CREATE TEMPORARY TABLE analyst_scratch (note text)",
        "CREATE VIEW analyst_view AS SELECT 1 AS one",
        "DROP VIEW ops_followup_all",
        "ALTER TABLE followup_aggregate ADD COLUMN note text",
    ],
    ids=[
        "insert",
        "update",
        "delete",
        "truncate",
        "create-table",
        "create-temp",
        "create-view",
        "drop",
        "alter",
    ],
)
def test_analyst_cannot_change_anything(migrated: Stack, statement: str) -> None:
    engine = _analyst(migrated, read_only_guard=False)
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as failure:
            conn.execute(sa.text(statement))
        assert failure.value.orig is not None
        assert failure.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE  # type: ignore[attr-defined]
    finally:
        engine.dispose()
    engine = _analyst(migrated)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT count(*), sum(value) FROM followup_aggregate")).one()
            assert tuple(rows) == (1, 540)
    finally:
        engine.dispose()


def test_analyst_holds_only_select_on_every_table(migrated: Stack) -> None:
    with sa.create_engine(migrated.url(migrated.writer)).connect() as conn:
        grants = conn.execute(
            sa.text(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = :analyst"
            ),
            {"analyst": migrated.analyst},
        ).all()
        tables = set(
            conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        )
    assert {privilege for _, privilege in grants} == {"SELECT"}
    # staging is the writer's alone once a run began (test_analyst_interference); the runs' lock table
    # lives in a schema of its own, where the analyst has nothing
    readable = {t for t in tables if not t.startswith("stg_")}
    assert readable <= {table for table, _ in grants}
    assert "lofte_lock" not in tables


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT lo_from_bytea(0, 'x')",
        "SELECT lo_creat(-1)",
        "SELECT lo_create(0)",
        "SELECT lo_import('/etc/hosts')",
    ],
    ids=["lo_from_bytea", "lo_creat", "lo_create", "lo_import"],
)
def test_analyst_cannot_create_large_objects_even_out_of_read_only(migrated: Stack, statement: str) -> None:
    engine = _analyst(migrated)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SET default_transaction_read_only = off"))
            conn.commit()
            with pytest.raises(sa.exc.DBAPIError) as failure:
                conn.execute(sa.text(statement))
            assert failure.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_analyst_sessions_end_by_themselves(migrated: Stack) -> None:
    engine = _analyst(migrated)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "10min"
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar_one() == "30min"
    finally:
        engine.dispose()
