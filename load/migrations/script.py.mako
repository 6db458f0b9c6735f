"""${message}

Frozen once released: never import schemas.warehouse here, write names and types out (see
load/migrations/__init__.py). Both databases: `op.get_bind().dialect.name` is "duckdb" or "postgresql".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "${up_revision}"
down_revision = "${down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}
