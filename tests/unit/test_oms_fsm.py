"""The order FSM over EVERY (status, trigger) pair: the legal ones move, all others raise."""

from __future__ import annotations

import itertools

import pytest

from oms.fsm import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    InvalidStateTransition,
    OrderStatus,
    OrderTrigger,
    transition,
)

S, T = OrderStatus, OrderTrigger

# Written out independently of oms.fsm.TRANSITIONS on purpose: this is the spec the table must match.
EXPECTED: dict[tuple[OrderStatus, OrderTrigger], OrderStatus] = {
    (S.NEW, T.ACCEPT): S.ACCEPTED,
    (S.NEW, T.DENY): S.DENIED,  # our pre-trade risk said no: the order never reached a venue
    (S.NEW, T.REJECT): S.REJECTED,  # a venue said no
    (S.ACCEPTED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.ACCEPTED, T.FILL): S.FILLED,
    (S.ACCEPTED, T.CANCEL): S.CANCELLED,
    (S.ACCEPTED, T.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL): S.CANCELLED,
    (S.PARTIALLY_FILLED, T.EXPIRE): S.EXPIRED,  # a partly filled DAY order still expires at session end
}

ALL_PAIRS = list(itertools.product(OrderStatus, OrderTrigger))


def test_every_pair_is_covered() -> None:
    assert len(ALL_PAIRS) == 56
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("status", "trigger"), ALL_PAIRS, ids=lambda x: x.value)
def test_transition(status: OrderStatus, trigger: OrderTrigger) -> None:
    expected = EXPECTED.get((status, trigger))
    if expected is not None:
        assert transition(status, trigger) is expected
    else:
        with pytest.raises(InvalidStateTransition, match=f"^{status.value} -> {trigger.value}$"):
            transition(status, trigger)


def test_terminal_statuses_are_derived_from_the_table() -> None:
    assert TERMINAL_STATUSES == {S.DENIED, S.REJECTED, S.FILLED, S.CANCELLED, S.EXPIRED}
    for (status, _), _next in TRANSITIONS.items():
        assert status not in TERMINAL_STATUSES


def test_table_cannot_be_edited_at_run_time() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(S.FILLED, T.CANCEL)] = S.CANCELLED  # type: ignore[index]
