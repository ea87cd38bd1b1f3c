"""Read models, first revision: every table of ``projections.models.READ_MODELS``.

The first revision creates the tables from the models module, the one place
their shape is written down; later changes come as new revisions with explicit
operations. ``tests/integration/test_projections.py`` checks that the migrated
database matches the models.

Revision ID: rm0001
Revises:
"""

from __future__ import annotations

from alembic import op

from projections.models import READ_MODELS

revision = "rm0001"
down_revision = None
branch_labels = ("readmodels",)
depends_on = None


def upgrade() -> None:
    READ_MODELS.create_all(op.get_bind())


def downgrade() -> None:
    READ_MODELS.drop_all(op.get_bind())
