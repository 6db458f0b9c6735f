"""Alembic's entry point: runs the revisions on the connection `load.migrations.upgrade` was given.

Never connects by itself (no URL, no alembic.ini): the caller's transaction and locks hold throughout.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context
from alembic.runtime.migration import MigrationContext

BASELINE = "0001"


def record(ctx: MigrationContext, step: Any, heads: Any, run_args: Any) -> None:
    """Each revision after the baseline appends its row to `schema_version`, the history analysts read;
    the baseline writes steps 1–6 itself (or finds them written by the release before Alembic)."""
    if not step.is_upgrade or step.up_revision_id == BASELINE:
        return
    conn = ctx.connection
    assert conn is not None
    history = sa.table(
        "schema_version", sa.column("version"), sa.column("description"), sa.column("applied_at")
    )
    version = conn.execute(sa.select(sa.func.max(history.c.version))).scalar_one() + 1
    description = f"{step.up_revision_id}: {' '.join(step.up_revision.doc.split())}"  # first paragraph
    conn.execute(
        sa.insert(history).values(version=version, description=description, applied_at=datetime.now(UTC))
    )


connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, on_version_apply=record)
with context.begin_transaction():  # inside the caller's transaction: no commit of its own
    context.run_migrations()
