"""Read models, first revision: every read-model table, as written here.

The DDL is frozen: it says what this revision created and never changes with
``projections.models``; a change to a table is a new revision with explicit
operations. ``tests/integration/test_migrations.py`` checks that head matches
the models. Constraint names are spelled out (PostgreSQL's own names for the
primary keys and the unnamed unique key) so that later revisions can name them.

Revision ID: rm0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "rm0001"
down_revision = None
branch_labels = ("readmodels",)
depends_on = None

# The symbol format as of this revision.
SYMBOL_FORMAT = "symbol ~ '^[A-Z0-9][A-Z0-9._/-]{0,31}$'"
UUID = postgresql.UUID(as_uuid=False)
JSONB = postgresql.JSONB()

TABLES = (
    "projection_offsets",
    "event_index",
    "signals",
    "order_events",
    "orders",
    "fills",
    "positions",
    "pnl_daily",
    "bars_1m",
    "bar_ticks",
)


def upgrade() -> None:
    _bookkeeping()
    _signals_and_orders()
    _fills_positions_and_pnl()
    _market_data()


def downgrade() -> None:
    # Indexes and constraints go with their tables.
    for table in reversed(TABLES):
        op.drop_table(table)


def _bookkeeping() -> None:
    op.create_table(
        "projection_offsets",
        sa.Column("projection", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_event_time_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("projection", "topic", "partition", name="projection_offsets_pkey"),
    )
    op.create_table(
        "event_index",
        sa.Column("event_id", UUID, nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("event_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="event_index_pkey"),
        sa.UniqueConstraint("topic", "partition", "offset", name="event_index_position"),
    )
    op.create_index("event_index_time", "event_index", ["event_time_ms"])


def _signals_and_orders() -> None:
    op.create_table(
        "signals",
        sa.Column("event_id", UUID, nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False),
        sa.Column("score", sa.Numeric(), nullable=False),
        sa.Column("features", JSONB, nullable=False),
        sa.Column("event_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="signals_pkey"),
        sa.CheckConstraint(SYMBOL_FORMAT, name="signals_symbol_format"),
        sa.CheckConstraint("score BETWEEN -1 AND 1", name="signals_score_range"),
    )
    op.create_index("signals_time", "signals", ["event_time_ms", "event_id"])
    op.create_index("signals_symbol_time", "signals", ["symbol", "event_time_ms", "event_id"])
    op.create_table(
        "order_events",
        sa.Column("event_id", UUID, nullable=False),
        sa.Column("order_id", UUID, nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("event_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="order_events_pkey"),
        sa.CheckConstraint(SYMBOL_FORMAT, name="order_events_symbol_format"),
    )
    op.create_index("order_events_order", "order_events", ["order_id", "event_time_ms", "event_id"])
    op.create_table(
        "orders",
        sa.Column("order_id", UUID, nullable=False),
        sa.Column("intent_id", UUID, nullable=True),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=True),
        sa.Column("order_type", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Numeric(), nullable=True),
        sa.Column("limit_price", sa.Numeric(), nullable=True),
        sa.Column("time_in_force", sa.Text(), nullable=True),
        sa.Column("expire_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("filled_qty", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("fill_notional", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("avg_fill_price", sa.Numeric(), nullable=True),
        sa.Column("fees", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("fill_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("reject_detail", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("created_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("accepted_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("rejected_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("canceled_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("expired_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_fill_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("first_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_time_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="orders_pkey"),
        sa.CheckConstraint(SYMBOL_FORMAT, name="orders_symbol_format"),
    )
    op.create_index("orders_time", "orders", ["first_time_ms", "order_id"])
    op.create_index("orders_symbol_time", "orders", ["symbol", "first_time_ms", "order_id"])


def _fills_positions_and_pnl() -> None:
    op.create_table(
        "fills",
        sa.Column("event_id", UUID, nullable=False),
        sa.Column("fill_id", sa.Text(), nullable=False),
        sa.Column("order_id", UUID, nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("price", sa.Numeric(), nullable=False),
        sa.Column("fee", sa.Numeric(), nullable=False),
        sa.Column("liquidity", sa.Text(), nullable=False),
        sa.Column("event_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("realized_pnl", sa.Numeric(), nullable=True),
        sa.Column("position_after", sa.Numeric(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="fills_pkey"),
        sa.UniqueConstraint("fill_id", name="fills_fill_id_key"),
        sa.CheckConstraint(SYMBOL_FORMAT, name="fills_symbol_format"),
        sa.CheckConstraint("quantity > 0", name="fills_quantity_positive"),
        sa.CheckConstraint("price > 0", name="fills_price_positive"),
        sa.CheckConstraint("fee >= 0", name="fills_fee_not_negative"),
    )
    op.create_index("fills_time", "fills", ["event_time_ms", "event_id"])
    op.create_index("fills_symbol_time", "fills", ["symbol", "event_time_ms", "event_id"])
    op.create_index("fills_order", "fills", ["order_id"])
    op.create_table(
        "positions",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("avg_price", sa.Numeric(), nullable=True),
        sa.Column("realized_pnl", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("fees", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("unrealized_pnl", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("fill_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_fill_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("mark_price", sa.Numeric(), nullable=True),
        sa.Column("mark_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("mark_seq", sa.BigInteger(), nullable=True),
        sa.Column("mark_event_id", UUID, nullable=True),
        sa.Column("state", JSONB, nullable=True),
        sa.PrimaryKeyConstraint("symbol", name="positions_pkey"),
        sa.CheckConstraint(SYMBOL_FORMAT, name="positions_symbol_format"),
    )
    op.create_table(
        "pnl_daily",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("trading_day", sa.Date(), nullable=False),
        sa.Column("realized_pnl", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("fees", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("fill_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("close_state", JSONB, nullable=True),
        sa.Column("position_qty", sa.Numeric(), nullable=False, server_default="0"),
        sa.Column("unrealized_pnl", sa.Numeric(), nullable=True),
        sa.Column("daily_pnl", sa.Numeric(), nullable=True),
        sa.Column("mark_price", sa.Numeric(), nullable=True),
        sa.Column("mark_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("mark_seq", sa.BigInteger(), nullable=True),
        sa.Column("mark_event_id", UUID, nullable=True),
        sa.PrimaryKeyConstraint("symbol", "trading_day", name="pnl_daily_pkey"),
        sa.CheckConstraint(SYMBOL_FORMAT, name="pnl_daily_symbol_format"),
    )
    op.create_index("pnl_daily_day", "pnl_daily", ["trading_day", "symbol"])


def _market_data() -> None:
    op.create_table(
        "bars_1m",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("open", sa.Numeric(), nullable=False),
        sa.Column("high", sa.Numeric(), nullable=False),
        sa.Column("low", sa.Numeric(), nullable=False),
        sa.Column("close", sa.Numeric(), nullable=False),
        sa.Column("volume", sa.Numeric(), nullable=False),
        sa.Column("notional", sa.Numeric(), nullable=False),
        sa.Column("trades", sa.Integer(), nullable=False),
        sa.Column("first_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("first_event_id", UUID, nullable=False),
        sa.Column("last_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", UUID, nullable=False),
        sa.PrimaryKeyConstraint("symbol", "start_ms", name="bars_1m_pkey"),
        sa.CheckConstraint(SYMBOL_FORMAT, name="bars_1m_symbol_format"),
    )
    op.create_index("bars_1m_time", "bars_1m", ["start_ms", "symbol"])
    op.create_table(
        "bar_ticks",
        sa.Column("event_id", UUID, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="bar_ticks_pkey"),
    )
