"""The account monitor: limits that span symbols (and so partitions), enforced within its lag.

Per-symbol kernels cannot see each other's positions deterministically, so
account-wide aggregates are watched here (DESIGN.md §2): the monitor folds the
fills of every partition into per-symbol positions, marks each at its latest
fill price, and on a breach asks for a trading state through a control event
that reaches every kernel by its input topic like any other input:

- gross exposure (sum of |position| x price x multiplier) above its limit -> REDUCING;
- daily loss (sum of each symbol's P&L of the session, fees included) beyond its limit -> HALTED.

It only escalates (ACTIVE -> REDUCING -> HALTED) within a session; a new
session starts ACTIVE again and ops resume earlier by hand. Pure: fills in,
requested states out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kernel.events import OrderFilled, TradingState
from oms.instruments import BUILTIN_INSTRUMENT_SETTINGS, Instrument, instrument
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


class AccountMonitor:
    def __init__(self, limits: AccountLimits, instruments: Mapping[str, Instrument] | None = None) -> None:
        self.limits = limits
        self._instruments = dict(instruments or {})
        self._positions: dict[str, Position] = {}
        self._seen_fills: set[str] = set()
        self.session: str | None = None
        self.state = TradingState.ACTIVE
        self.last_breach: Breach | None = None

    @property
    def gross_exposure(self) -> Decimal:
        return sum(
            (abs(p.quantity) * (p.last_price or 0) * p.multiplier for p in self._positions.values()),
            Decimal(0),
        )

    @property
    def daily_pnl(self) -> Decimal:
        return sum((p.daily_pnl for p in self._positions.values()), Decimal(0))

    def on_fill(self, fill: OrderFilled, session: str) -> Breach | None:
        """Folds one fill in (a fill id seen before changes nothing); returns a breach to act on, if any."""
        if fill.fill_id in self._seen_fills:
            return None
        if session != self.session:
            self._start_session(session)
        position = self._positions.get(fill.symbol)
        if position is None:
            known = self._instruments.get(fill.symbol)
            multiplier = (known or instrument(fill.symbol, BUILTIN_INSTRUMENT_SETTINGS)).multiplier
            position = self._positions[fill.symbol] = Position(fill.symbol, multiplier)
        position.apply_fill(fill)
        position.mark(fill.last_price)
        self._seen_fills.add(fill.fill_id)
        return self._escalation()

    def _start_session(self, session: str) -> None:
        for position in self._positions.values():
            position.start_session()
        self._seen_fills.clear()  # fill ids are unique per session's orders; the memory stays bounded
        self.session = session
        self.state = TradingState.ACTIVE
        self.last_breach = None

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
            "session": self.session,
            "state": self.state.value,
            "positions": {s: p.to_state() for s, p in sorted(self._positions.items())},
            "seen_fills": sorted(self._seen_fills),
        }


def _plain(value: Decimal) -> str:
    """``Decimal('1000.00000000')`` -> ``'1000'``, for reasons people read."""
    return f"{value.normalize():f}"
