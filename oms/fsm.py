"""The order lifecycle as data: one table of legal (status, trigger) pairs.

Like NautilusTrader's order FSM: the table is the only place that knows which
transitions exist, and ``transition`` only looks a pair up. Handlers never set a
status by hand; anything not in the table raises ``InvalidStateTransition`` and
the caller applies nothing.

Two ways for an order to be refused, as in NautilusTrader: DENIED when our own
pre-trade risk says no before the order reaches a venue (``OrderDenied``), and
REJECTED when a venue says no (``OrderRejected``; logs written before
``OrderDenied`` existed also use it for risk refusals). Both end the order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class OrderStatus(str, enum.Enum):
    NEW = "NEW"
    DENIED = "DENIED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class OrderTrigger(str, enum.Enum):
    """What happened to the order; each order event maps to exactly one trigger."""

    ACCEPT = "ACCEPT"
    DENY = "DENY"
    REJECT = "REJECT"
    PARTIAL_FILL = "PARTIAL_FILL"
    FILL = "FILL"
    CANCEL = "CANCEL"
    EXPIRE = "EXPIRE"


class InvalidStateTransition(Exception):
    """A trigger that the table does not allow from the current status (``"FILLED -> CANCEL"``)."""


_S = OrderStatus
_T = OrderTrigger

TRANSITIONS: Mapping[tuple[OrderStatus, OrderTrigger], OrderStatus] = MappingProxyType(
    {
        (_S.NEW, _T.ACCEPT): _S.ACCEPTED,
        (_S.NEW, _T.DENY): _S.DENIED,
        (_S.NEW, _T.REJECT): _S.REJECTED,
        (_S.ACCEPTED, _T.PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.ACCEPTED, _T.FILL): _S.FILLED,
        (_S.ACCEPTED, _T.CANCEL): _S.CANCELLED,
        (_S.ACCEPTED, _T.EXPIRE): _S.EXPIRED,
        (_S.PARTIALLY_FILLED, _T.PARTIAL_FILL): _S.PARTIALLY_FILLED,
        (_S.PARTIALLY_FILLED, _T.FILL): _S.FILLED,
        (_S.PARTIALLY_FILLED, _T.CANCEL): _S.CANCELLED,
        # A DAY order partly filled by session end must still close with an event, or its remainder would rest forever.
        (_S.PARTIALLY_FILLED, _T.EXPIRE): _S.EXPIRED,
    }
)

# Derived from the table, never kept by hand: a status with no way out is terminal.
TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    status for status in OrderStatus if not any(src is status for src, _ in TRANSITIONS)
)


def transition(status: OrderStatus, trigger: OrderTrigger) -> OrderStatus:
    """The status after ``trigger`` fires in ``status``; raises ``InvalidStateTransition`` if illegal."""
    try:
        return TRANSITIONS[(status, trigger)]
    except KeyError:
        raise InvalidStateTransition(f"{status.value} -> {trigger.value}") from None
