"""The warehouse's schema history: frozen Alembic revisions, run on the caller's connection.

`upgrade(conn)` brings a warehouse to `HEAD` inside the caller's transaction (a failed revision leaves the
warehouse as it was); `require_head(conn)` is for readers that must not change the warehouse. The
revisions are in `versions/`, one file each, applied in order and recorded in `alembic_version`; each
also appends a row to `schema_version`, the readable history analysts already know (steps 1–6 are those
of the releases before Alembic, written by the baseline).

The analysts' views are dropped before the revisions and recreated after them whenever the warehouse
is behind or its views differ from this lofte's (a fingerprint of their SQL is kept as the last view's
comment): a revision may alter any column a view reads, and a changed view (load/views.py) reaches every
existing warehouse without a revision of its own. A warehouse that is current gets no DDL at all, so a
run never queues behind an analyst's query for a view lock.

Adding a revision (a schema change):

1. Change the tables in schemas/warehouse.py: what the code and a new warehouse's readers expect.
2. `python -m load.migrations "what changes"` writes versions/NNNN_what_changes.py after the head.
3. Write its `upgrade()` with `op.*` and literal names and types, for both databases
   (`op.get_bind().dialect.name` is "duckdb" or "postgresql"). Never import schemas.warehouse there:
   history is frozen, so a later edit of the models must not change what an old revision does.
   Never edit a revision that has been released; fix forward with a new one. There are no downgrades
   (restore a backup instead).
4. `pytest tests/load/test_migrations.py`: a new warehouse and an upgraded one (the fixtures written by
   the last release before Alembic) must reflect identically on both databases.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from load import views
from schemas.errors import WarehouseError

HERE = Path(__file__).parent


def config(conn: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the scripts are this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if conn is not None:
        cfg.attributes["connection"] = conn  # env.py runs the revisions on it
    return cfg


def _head() -> str:
    head = ScriptDirectory.from_config(config()).get_current_head()
    assert head is not None, "load/migrations/versions holds no revision"
    return head


HEAD = _head()


def current_revision(conn: Connection) -> str | None:
    """The warehouse's revision; None for a new one, or one written before Alembic."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection) -> str:
    """Create or upgrade the warehouse in place, in the caller's transaction; returns the revision.
    A warehouse at the head whose views are this lofte's is left alone: no DDL, no lock to wait for."""
    if current_revision(conn) == HEAD and views.are_current(conn):
        return HEAD
    views.drop_all(conn)
    command.upgrade(config(conn), "head")
    views.create_all(conn)
    return HEAD


def require_head(conn: Connection) -> None:
    """For readers that must not change the warehouse: refuse, in one line, one at another revision."""
    current = current_revision(conn)
    if current == HEAD:
        return
    script = ScriptDirectory.from_config(config())
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise WarehouseError(
            f"the warehouse's schema is at revision {current}, newer than this lofte ({HEAD}): upgrade lofte"
        )
    raise WarehouseError(
        f"the warehouse's schema is at revision {current or 'none'}, this lofte reads {HEAD}: "
        "run `lofte run` (or `lofte nightly`) once to upgrade it"
    )


def new_revision(message: str) -> Path:
    """Write the next revision's file (numbered after the head) from script.py.mako; returns its path."""
    number = f"{int(HEAD) + 1:04d}"
    script = command.revision(config(), message=message, rev_id=number)
    assert script is not None and not isinstance(script, list)
    return Path(script.path)
