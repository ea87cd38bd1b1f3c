"""Positions and P&L: FIFO lots, reductions and flips, fees, marks and the session boundary."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contract.derivation import Derivation
from contract.events import OrderFilled, Side
from oms.positions import Position

D = Decimal
B, S = Side.BUY, Side.SELL
_derivation = Derivation("fills", 0, 0, "test")


def fill(side: Side, qty: str, price: str, fee: str = "0", symbol: str = "ES") -> OrderFilled:
    env = _derivation.envelope(0, None)
    return OrderFilled(env, "o", env.event_id, symbol, side, D(qty), D(price), D(fee), "TAKER")


def position_after(*fills: OrderFilled) -> Position:
    position = Position("ES", D(50))
    for f in fills:
        position.apply_fill(f)
    return position


# fills (side, qty, price) -> signed quantity, average entry, realized P&L in USD (multiplier 50)
CASES = {
    "open long": ([(B, "2", "100")], "2", "100", "0"),
    "open short": ([(S, "3", "100")], "-3", "100", "0"),
    "add to long": ([(B, "1", "100"), (B, "1", "101")], "2", "100.5", "0"),
    "reduce long": ([(B, "2", "100"), (S, "1", "101")], "1", "100", "50"),
    "close long at loss": ([(B, "2", "100"), (S, "2", "99.75")], "0", None, "-25"),
    "close short at gain": ([(S, "2", "100"), (B, "2", "98")], "0", None, "200"),
    "flip long to short": ([(B, "2", "100"), (S, "3", "99")], "-1", "99", "-100"),
    "flip short to long": ([(S, "1", "100"), (B, "4", "101")], "3", "101", "-50"),
    "fifo closes oldest lot": ([(B, "1", "100"), (B, "1", "102"), (S, "1", "101")], "1", "102", "50"),
    "close across lots": ([(B, "1", "100"), (B, "2", "102"), (S, "2", "103")], "1", "102", "200"),
    "thirds stay exact": (
        [(B, "1", "100"), (B, "1", "100.25"), (B, "1", "100.25"), (S, "3", "100.25")],
        "0",
        None,
        "12.5",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_fills(name: str) -> None:
    fills, qty, avg, realized = CASES[name]
    position = position_after(*(fill(side, q, p) for side, q, p in fills))
    assert position.quantity == D(qty)
    assert position.avg_entry_price == (None if avg is None else D(avg))
    assert position.realized_pnl == D(realized)
    assert position.direction == (D(qty) > 0) - (D(qty) < 0)


def test_average_of_thirds_is_quantized_for_display_only() -> None:
    position = position_after(fill(B, "1", "100"), fill(B, "1", "100.25"), fill(B, "1", "100.25"))
    assert position.avg_entry_price == D("100.16666667")
    position.mark(D("100.25"))
    assert position.unrealized_pnl == D("12.50")  # exact: (0.25 * 1) * 50


@pytest.mark.parametrize(
    ("side", "mark", "unrealized"),
    [(B, "101.25", "125"), (B, "99", "-100"), (S, "101.25", "-125"), (S, "99", "100")],
)
def test_unrealized_is_marked_to_the_last_trade(side: Side, mark: str, unrealized: str) -> None:
    position = position_after(fill(side, "2", "100"))
    assert position.unrealized_pnl == 0  # never priced yet
    position.mark(D(mark))
    assert position.unrealized_pnl == D(unrealized)


def test_fees_accumulate_and_count_against_total_pnl() -> None:
    position = position_after(fill(B, "2", "100", fee="4.50"), fill(S, "2", "101", fee="4.50"))
    assert position.fees == D("9.00") and position.daily_fees == D("9.00")
    assert position.realized_pnl == D(100)
    assert position.total_pnl == D("91.00")


def test_session_boundary_resets_daily_figures_only() -> None:
    position = position_after(fill(B, "2", "100", fee="1"), fill(S, "1", "102", fee="1"))
    position.mark(D("103"))
    assert position.daily_realized_pnl == D(100) and position.daily_pnl == D(100 - 2 + 150)
    position.start_session()
    assert position.daily_realized_pnl == 0 and position.daily_fees == 0 and position.daily_pnl == 0
    assert position.realized_pnl == D(100) and position.fees == D(2)
    # The carried lot only counts today's move: 103 -> 101 is -100 today, though it is +50 since entry.
    position.mark(D("101"))
    assert position.unrealized_pnl == D(50)
    assert position.daily_pnl == D(-100)
    position.apply_fill(fill(S, "1", "101", fee="1"))
    assert position.daily_realized_pnl == D(50) and position.daily_pnl == D(-101)


def test_a_fill_for_another_symbol_is_refused_untouched() -> None:
    position = position_after(fill(B, "1", "100"))
    before = position.to_state()
    with pytest.raises(ValueError):
        position.apply_fill(fill(S, "1", "101", symbol="NQ"))
    assert position.to_state() == before


def test_state_round_trips_and_continues_alike() -> None:
    position = position_after(fill(B, "1", "100", fee="2.25"), fill(B, "2", "100.75", fee="4.5"))
    position.mark(D("101"))
    position.start_session()
    restored = Position.from_state(json.loads(json.dumps(position.to_state())))
    assert restored == position
    for p in (position, restored):
        p.apply_fill(fill(S, "4", "99.5", fee="9"))
        p.mark(D("99"))
    assert restored == position
    assert restored.to_state() == position.to_state()
    assert position.quantity == -1 and position.realized_pnl == D("-150.00")
