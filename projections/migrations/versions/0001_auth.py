"""API keys, first revision: the ``projections.models.AUTH`` tables, in the auth schema.

Revision ID: auth0001
Revises:
"""

from __future__ import annotations

from alembic import op

from projections.models import AUTH

revision = "auth0001"
down_revision = None
branch_labels = ("auth",)
depends_on = None


def upgrade() -> None:
    AUTH.create_all(op.get_bind())


def downgrade() -> None:
    AUTH.drop_all(op.get_bind())
