"""The account monitor: limits that span symbols (and so partitions), enforced within its lag.

Per-symbol kernels cannot see each other's positions deterministically, so
account-wide aggregates are watched here (docs/design.md, "Limits that span partitions"): the monitor folds the
fills of every partition into per-symbol positions, marks each at its latest
fill price, and on a breach asks for a trading state through a control event
that reaches every kernel by its input topic like any other input:

- gross exposure (sum of |position| x price x multiplier) above its limit -> REDUCING;
- daily loss (sum of each symbol's P&L of the session, fees included) beyond its limit -> HALTED.

It only escalates (ACTIVE -> REDUCING -> HALTED) within the account's day; a
new day starts ACTIVE again and ops resume earlier by hand. Each symbol's
session comes from its own venue's calendar and the caller passes the fill's
instrument (reference data from the log), so nothing is valued with another
contract's multiplier. Pure: fills in, requested states out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contract.events import OrderFilled, TradingState
from oms.instruments import Instrument
from oms.positions import Position
from oms.settings import decimal_setting, refuse_unknown_keys

_PREFIX = "account."
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """Account-wide limits in the account currency; 0 disables a limit."""

    max_gross_exposure: Decimal = Decimal("2000000")
    max_daily_loss: Decimal = Decimal("25000")

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> AccountLimits:
        refuse_unknown_keys(settings, _PREFIX, ("max_gross_exposure", "max_daily_loss"))
        d = cls()
        return cls(
            max_gross_exposure=decimal_setting(settings, "account.max_gross_exposure", d.max_gross_exposure),
            max_daily_loss=decimal_setting(settings, "account.max_daily_loss", d.max_daily_loss),
        )


@dataclass(frozen=True, slots=True)
class Breach:
    """A state the monitor asks for, and why."""

    state: TradingState
    reason: str


@dataclass
class _SymbolBook:
    """One symbol as the monitor sees it: its position and the session its venue is in."""

    position: Position
    session: str
    seen_fills: set[str] = field(default_factory=set)


class AccountMonitor:
    """Folds fills of every partition; each symbol keeps its own session, so no symbol's day resets another's.

    The account's day is the latest session any symbol is in (as a kernel's
    partition day is): its daily P&L is the sum over the symbols in that
    session, and escalation starts over (ACTIVE) when it moves on.
    """

    def __init__(self, limits: AccountLimits) -> None:
        self.limits = limits
        self._symbols: dict[str, _SymbolBook] = {}
        self.day: str | None = None
        self.state = TradingState.ACTIVE
        self.last_breach: Breach | None = None

    @property
    def gross_exposure(self) -> Decimal:
        return sum(
            (abs(b.position.quantity) * (b.position.last_price or 0) * b.position.multiplier for b in self._symbols.values()),
            Decimal(0),
        )

    @property
    def daily_pnl(self) -> Decimal:
        return sum((b.position.daily_pnl for b in self._symbols.values() if b.session == self.day), Decimal(0))

    def on_fill(self, fill: OrderFilled, instrument: Instrument, session: str) -> Breach | None:
        """Folds one fill (``session``: its trading day by its venue); returns a breach to act on, if any.

        A fill id seen before in its symbol's session changes nothing.
        """
        if instrument.symbol != fill.symbol:
            raise ValueError(f"fill of {fill.symbol} valued as {instrument.symbol}")
        book = self._symbols.get(fill.symbol)
        if book is None:
            book = self._symbols[fill.symbol] = _SymbolBook(Position(fill.symbol, instrument.multiplier), session)
        elif session > book.session:
            book.position.start_session()
            book.seen_fills.clear()  # fill ids are unique per session's orders; the memory stays bounded
            book.session = session
        if fill.fill_id in book.seen_fills:
            return None
        if self.day is None or book.session > self.day:
            self.day = book.session
            self.state = TradingState.ACTIVE
            self.last_breach = None
        book.position.apply_fill(fill)
        book.position.mark(fill.last_price)
        book.seen_fills.add(fill.fill_id)
        return self._escalation()

    def _escalation(self) -> Breach | None:
        wanted, reason = TradingState.ACTIVE, ""
        limits = self.limits
        if limits.max_gross_exposure and self.gross_exposure > limits.max_gross_exposure:
            wanted = TradingState.REDUCING
            reason = f"gross exposure {_plain(self.gross_exposure)} > {_plain(limits.max_gross_exposure)}"
        if limits.max_daily_loss and -self.daily_pnl > limits.max_daily_loss:
            wanted = TradingState.HALTED
            reason = f"daily loss {_plain(-self.daily_pnl)} > {_plain(limits.max_daily_loss)}"
        if _SEVERITY[wanted] <= _SEVERITY[self.state]:
            return None
        self.state = wanted
        self.last_breach = Breach(wanted, reason)
        return self.last_breach

    def to_state(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "state": self.state.value,
            "symbols": {
                s: {"session": b.session, "position": b.position.to_state(), "seen_fills": sorted(b.seen_fills)}
                for s, b in sorted(self._symbols.items())
            },
        }


def _plain(value: Decimal) -> str:
    """``Decimal('1000.00000000')`` -> ``'1000'``, for reasons people read."""
    return f"{value.normalize():f}"
