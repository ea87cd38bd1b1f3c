"""Labels net of the round trip's costs, and the walk-forward split that must never leak (training/labels.py, split.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kernel.settings import KernelSettings
from training.features import BarRow
from training.labels import DOWN, UP, RoundTripCost, forward_labels
from training.split import LeakError, walk_forward


def _row(session: str, minute: int, close: float) -> BarRow:
    return BarRow(session=session, closed_at_ms=minute * 60_000, close=close, features=(0.0,) * 5, pattern=None)


def test_cost_is_read_from_the_kernel_settings() -> None:
    # ES by hand: fee 2.25 USD per contract per side at USD 50 per point, 1 tick of 0.25 adverse slippage per fill.
    settings = KernelSettings.parse({"sim.slippage_ticks": "1"}).for_symbol("ES")
    cost = RoundTripCost.of(settings)
    assert cost.points == Decimal("0.59")  # 2 * (0.25 + 2.25 / 50)
    assert RoundTripCost.of(KernelSettings.parse().for_symbol("ES")).points == Decimal("0.09")  # no slippage by default


def test_a_move_must_beat_the_round_trip_cost_to_be_labelled() -> None:
    cost = RoundTripCost.of(KernelSettings.parse({"sim.slippage_ticks": "1"}).for_symbol("ES"))  # 0.59 points
    closes = [1600.0, 1600.5, 1601.0, 1600.25, 1599.0, 1599.0]
    rows = [_row("2013-09-03", m, c) for m, c in enumerate(closes)]
    labels = forward_labels(rows, 2, cost)
    # moves over 2 bars: +1.0 (up), -0.25 (inside the cost), -2.0 (down), -1.25 (down); the last two have no exit bar
    assert [None if x is None else (x.value, x.exit_index) for x in labels] == [
        (UP, 2), None, (DOWN, 4), (DOWN, 5), None, None,
    ]
    # Without costs the -0.25 move would have been a sell: the cost is what drops it.
    free = RoundTripCost(0, Decimal("0.25"), Decimal(0), Decimal(50))
    assert forward_labels(rows, 2, free)[1].value == DOWN


def test_a_label_never_spans_a_session_break() -> None:
    rows = [_row("2013-09-02", 0, 1600.0), _row("2013-09-02", 1, 1601.0), _row("2013-09-03", 2, 1610.0)]
    labels = forward_labels(rows, 1, RoundTripCost(0, Decimal("0.25"), Decimal(0), Decimal(50)))
    assert [None if x is None else x.value for x in labels] == [UP, None, None]


def test_walk_forward_holds_out_the_last_session_and_fits_on_the_earlier_ones() -> None:
    closes = [1600.0 + (m % 3) for m in range(12)]
    rows = [_row("2013-09-02" if m < 6 else "2013-09-03", m, c) for m, c in enumerate(closes)]
    labels = forward_labels(rows, 1, RoundTripCost(0, Decimal("0.25"), Decimal(0), Decimal(50)))
    split = walk_forward(rows, labels)
    assert split.train_sessions == ("2013-09-02",) and split.held_out_session == "2013-09-03"
    assert split.train and split.held_out
    first_held_out = min(rows[i].closed_at_ms for i in split.held_out)
    # Every training bar's label window ends before the first held-out bar.
    assert all(rows[labels[i].exit_index].closed_at_ms < first_held_out for i in split.train)
    assert max(split.train) < min(split.held_out)  # in time order, never shuffled


def test_walk_forward_refuses_a_label_that_reaches_the_held_out_session() -> None:
    rows = [_row("2013-09-02", 0, 1600.0), _row("2013-09-02", 1, 1601.0), _row("2013-09-03", 2, 1602.0),
            _row("2013-09-03", 3, 1603.0)]
    labels = forward_labels(rows, 1, RoundTripCost(0, Decimal("0.25"), Decimal(0), Decimal(50)))
    # A label built across the break by mistake (bar 1 exiting at bar 2) must be refused, not trained on.
    leaky = [labels[0], type(labels[0])(UP, 2), labels[2], labels[3]]
    with pytest.raises(LeakError):
        walk_forward(rows, leaky)


def test_walk_forward_needs_two_sessions() -> None:
    rows = [_row("2013-09-03", m, 1600.0 + m) for m in range(4)]
    with pytest.raises(ValueError, match="two sessions"):
        walk_forward(rows, forward_labels(rows, 1, RoundTripCost(0, Decimal("0.25"), Decimal(0), Decimal(50))))
