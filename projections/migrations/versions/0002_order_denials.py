"""Read models, second revision: the orders table tells a risk denial from a venue rejection.

``OrderDenied`` (our pre-trade risk refused the order) got columns of its own,
``denied_time_ms``, ``deny_reason`` (the failed check's code) and
``deny_detail``, beside the ``reject_*`` columns that now mean a venue's
``OrderRejected``. Existing rows are left as they are: an order the log says
was rejected stays REJECTED (logs written before ``OrderDenied`` existed carry
risk refusals that way), so a rebuild from the log gives the same table.

The DDL is frozen like the first revision's.

Revision ID: rm0002
Revises: rm0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rm0002"
down_revision = "rm0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("denied_time_ms", sa.BigInteger()),
    ("deny_reason", sa.Text()),
    ("deny_detail", sa.Text()),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("orders", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    # A DENIED status stays in its rows: code from before this revision cannot decode OrderDenied at all, so
    # going back to it means rebuilding the projections, not reinterpreting rows.
    for name, _ in reversed(COLUMNS):
        op.drop_column("orders", name)
