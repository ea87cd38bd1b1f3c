"""The read models' tables (SQLAlchemy Core), the one definition of their shape.

Two metadata objects: ``READ_MODELS`` lives in the projection schema and is
rebuilt from the log at will; ``AUTH`` (API keys) lives in its own schema and
survives rebuilds. Tables carry no schema: connections pick it by search_path.

Money, prices and quantities are unconstrained NUMERIC (exact, any scale);
times are epoch milliseconds (BIGINT) as on the events; ids are UUIDs. Every
table fed by events has a unique key on the event id, which is how a record
read twice (a replay, a duplicate produced after a crash) changes nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

READ_MODELS = sa.MetaData()
AUTH = sa.MetaData()

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9._/-]{0,31}$"
ROLES = ("analyst", "auditor", "ops")


def _id(name: str, **kwargs: object) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=False), **kwargs)  # type: ignore[arg-type]


def _num(name: str, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.Numeric(), **kwargs)  # type: ignore[arg-type]


def _ms(name: str, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.BigInteger, **kwargs)  # type: ignore[arg-type]


def _symbol(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"symbol ~ '{SYMBOL_PATTERN}'", name=f"{table}_symbol_format")


# --- bookkeeping -------------------------------------------------------------

projection_offsets = sa.Table(
    "projection_offsets",
    READ_MODELS,
    sa.Column("projection", sa.Text, primary_key=True),
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    # The next offset to apply: everything below it is in the tables, written in the same transaction.
    sa.Column("next_offset", sa.BigInteger, nullable=False),
    sa.Column("records", sa.BigInteger, nullable=False, server_default="0"),
    _ms("last_event_time_ms"),
)

event_index = sa.Table(
    "event_index",
    READ_MODELS,
    _id("event_id", primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    _ms("event_time_ms", nullable=False),
    sa.Column("symbol", sa.Text),
    sa.UniqueConstraint("topic", "partition", "offset", name="event_index_position"),
    sa.Index("event_index_time", "event_time_ms"),
)

# --- signals and orders ------------------------------------------------------

signals = sa.Table(
    "signals",
    READ_MODELS,
    _id("event_id", primary_key=True),
    sa.Column("symbol", sa.Text, nullable=False),
    sa.Column("pattern", sa.Text, nullable=False),
    _num("score", nullable=False),
    sa.Column("features", JSONB, nullable=False),
    _ms("event_time_ms", nullable=False),
    sa.Column("correlation_id", sa.Text, nullable=False),
    _symbol("signals"),
    sa.CheckConstraint("score BETWEEN -1 AND 1", name="signals_score_range"),
    sa.Index("signals_time", "event_time_ms", "event_id"),
    sa.Index("signals_symbol_time", "symbol", "event_time_ms", "event_id"),
)

order_events = sa.Table(
    "order_events",
    READ_MODELS,
    _id("event_id", primary_key=True),
    _id("order_id", nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("symbol", sa.Text, nullable=False),
    _ms("event_time_ms", nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    _symbol("order_events"),
    sa.Index("order_events_order", "order_id", "event_time_ms", "event_id"),
)

orders = sa.Table(
    "orders",
    READ_MODELS,
    _id("order_id", primary_key=True),
    _id("intent_id"),
    sa.Column("symbol", sa.Text, nullable=False),
    sa.Column("side", sa.Text),
    sa.Column("order_type", sa.Text),
    _num("quantity"),
    _num("limit_price"),
    sa.Column("time_in_force", sa.Text),
    _ms("expire_time_ms"),
    sa.Column("status", sa.Text, nullable=False),
    _num("filled_qty", nullable=False, server_default="0"),
    _num("fill_notional", nullable=False, server_default="0"),
    _num("avg_fill_price"),
    _num("fees", nullable=False, server_default="0"),
    sa.Column("fill_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reject_reason", sa.Text),
    sa.Column("reject_detail", sa.Text),
    sa.Column("cancel_reason", sa.Text),
    _ms("created_time_ms"),
    _ms("accepted_time_ms"),
    _ms("rejected_time_ms"),
    _ms("canceled_time_ms"),
    _ms("expired_time_ms"),
    _ms("last_fill_time_ms"),
    # The earliest event time seen for the order: its place in listings (initialization time, once projected).
    _ms("first_time_ms", nullable=False),
    _ms("updated_time_ms", nullable=False),
    # OrderDenied (our pre-trade risk said no), apart from a venue's rejection above. Last because revision
    # rm0002 added them to an existing table, where new columns can only go at the end.
    _ms("denied_time_ms"),
    sa.Column("deny_reason", sa.Text),
    sa.Column("deny_detail", sa.Text),
    _symbol("orders"),
    sa.Index("orders_time", "first_time_ms", "order_id"),
    sa.Index("orders_symbol_time", "symbol", "first_time_ms", "order_id"),
)

# --- fills, positions and P&L ------------------------------------------------

fills = sa.Table(
    "fills",
    READ_MODELS,
    _id("event_id", primary_key=True),
    sa.Column("fill_id", sa.Text, nullable=False, unique=True),
    _id("order_id", nullable=False),
    sa.Column("symbol", sa.Text, nullable=False),
    sa.Column("side", sa.Text, nullable=False),
    _num("quantity", nullable=False),
    _num("price", nullable=False),
    _num("fee", nullable=False),
    sa.Column("liquidity", sa.Text, nullable=False),
    _ms("event_time_ms", nullable=False),
    sa.Column("trading_day", sa.Date, nullable=False),
    # Filled in by the ledger in log order: what this fill realized, and the position after it.
    _num("realized_pnl"),
    _num("position_after"),
    _symbol("fills"),
    sa.CheckConstraint("quantity > 0", name="fills_quantity_positive"),
    sa.CheckConstraint("price > 0", name="fills_price_positive"),
    sa.CheckConstraint("fee >= 0", name="fills_fee_not_negative"),
    sa.Index("fills_time", "event_time_ms", "event_id"),
    sa.Index("fills_symbol_time", "symbol", "event_time_ms", "event_id"),
    sa.Index("fills_order", "order_id"),
)

positions = sa.Table(
    "positions",
    READ_MODELS,
    sa.Column("symbol", sa.Text, primary_key=True),
    _num("quantity", nullable=False, server_default="0"),
    _num("avg_price"),
    _num("realized_pnl", nullable=False, server_default="0"),
    _num("fees", nullable=False, server_default="0"),
    _num("unrealized_pnl", nullable=False, server_default="0"),
    sa.Column("fill_count", sa.Integer, nullable=False, server_default="0"),
    _ms("last_fill_time_ms"),
    _num("mark_price"),
    _ms("mark_time_ms"),
    sa.Column("mark_seq", sa.BigInteger),
    _id("mark_event_id"),
    # The position's FIFO lots (oms.positions.Position.to_state), the ledger's working state.
    sa.Column("state", JSONB),
    _symbol("positions"),
)

pnl_daily = sa.Table(
    "pnl_daily",
    READ_MODELS,
    sa.Column("symbol", sa.Text, primary_key=True),
    sa.Column("trading_day", sa.Date, primary_key=True),
    _num("realized_pnl", nullable=False, server_default="0"),
    _num("fees", nullable=False, server_default="0"),
    sa.Column("fill_count", sa.Integer, nullable=False, server_default="0"),
    # Position state after the day's last fill; NULL when the day had no fill (carried from before).
    sa.Column("close_state", JSONB),
    _num("position_qty", nullable=False, server_default="0"),
    # Open lots at the day's close marked to the session's last trade; NULL until the day has a trade.
    _num("unrealized_pnl"),
    # realized - fees + unrealized - the previous day's unrealized: what the day made.
    _num("daily_pnl"),
    _num("mark_price"),
    _ms("mark_time_ms"),
    sa.Column("mark_seq", sa.BigInteger),
    _id("mark_event_id"),
    _symbol("pnl_daily"),
    sa.Index("pnl_daily_day", "trading_day", "symbol"),
)

# --- market data -------------------------------------------------------------

bars_1m = sa.Table(
    "bars_1m",
    READ_MODELS,
    sa.Column("symbol", sa.Text, primary_key=True),
    _ms("start_ms", primary_key=True),
    _num("open", nullable=False),
    _num("high", nullable=False),
    _num("low", nullable=False),
    _num("close", nullable=False),
    _num("volume", nullable=False),
    _num("notional", nullable=False),
    sa.Column("trades", sa.Integer, nullable=False),
    # (time, sequence, id) of the first and last trade: open and close do not depend on arrival order.
    _ms("first_time_ms", nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    _id("first_event_id", nullable=False),
    _ms("last_time_ms", nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    _id("last_event_id", nullable=False),
    _symbol("bars_1m"),
    sa.Index("bars_1m_time", "start_ms", "symbol"),
)

# The ticks already counted in bars: volume and trade counts must not count a duplicate twice.
bar_ticks = sa.Table("bar_ticks", READ_MODELS, _id("event_id", primary_key=True))

# --- API keys ----------------------------------------------------------------

api_keys = sa.Table(
    "api_keys",
    AUTH,
    sa.Column("key_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    # SHA-256 of the whole key: the keys are 256 random bits, so no slow hash is needed against guessing.
    sa.Column("key_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="api_keys_role"),
)
