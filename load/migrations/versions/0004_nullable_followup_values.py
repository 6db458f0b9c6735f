"""followup_aggregate's value and cumulative_value may be NULL: missing is not zero

A measure whose source had no loaded rows at all in a partition is published as missing (NULL), not as
0. Rows already written keep their values until a rerun of their partition rewrites them by the new rule.

Frozen once released: names and types are written out, not taken from schemas/warehouse.py.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("value", "cumulative_value"):
        op.execute(f"ALTER TABLE followup_aggregate ALTER COLUMN {column} DROP NOT NULL")
