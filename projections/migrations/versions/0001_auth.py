"""API keys, first revision: the ``api_keys`` table in the auth schema, as written here.

The DDL is frozen: it says what this revision created and never changes with
``projections.models``; a change to the table is a new revision.
``tests/integration/test_migrations.py`` checks that head matches the models.

Revision ID: auth0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "auth0001"
down_revision = None
branch_labels = ("auth",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="api_keys_pkey"),
        sa.CheckConstraint("role IN ('analyst', 'auditor', 'ops')", name="api_keys_role"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
