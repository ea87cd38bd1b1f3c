"""The account monitor: aggregates across symbols escalate the trading state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contract.events import Envelope, OrderFilled, Side, TradingState
from oms.account import AccountLimits, AccountMonitor
from oms.instruments import BUILTIN_INSTRUMENT_SETTINGS, Instrument, instrument

INSTRUMENTS = {
    "ES": instrument("ES", BUILTIN_INSTRUMENT_SETTINGS),
    "NQ": Instrument("NQ", "CME", "USD", multiplier=Decimal(20), tick_size=Decimal("0.25")),
}


def _fill(n: int, symbol: str, side: Side, qty: str, price: str) -> OrderFilled:
    envelope = Envelope(f"fill-{n}", 1_000 + n, "test", "tick", "signal")
    return OrderFilled(envelope, f"order-{n}", f"fill-{n}", symbol, side, Decimal(qty), Decimal(price), Decimal("2.25"), "TAKER")


def test_gross_exposure_across_symbols_asks_for_reducing_once() -> None:
    monitor = AccountMonitor(AccountLimits(max_gross_exposure=Decimal(200_000), max_daily_loss=Decimal(0)))
    assert monitor.on_fill(_fill(1, "ES", Side.BUY, "2", "1650"), INSTRUMENTS["ES"], "2013-09-03") is None  # 165,000
    breach = monitor.on_fill(_fill(2, "NQ", Side.SELL, "1", "1500"), INSTRUMENTS["NQ"], "2013-09-03")  # + 30,000 > 200,000? no: 195,000
    assert breach is None
    breach = monitor.on_fill(_fill(3, "NQ", Side.SELL, "1", "1500"), INSTRUMENTS["NQ"], "2013-09-03")  # 225,000
    assert breach is not None and breach.state is TradingState.REDUCING
    assert "gross exposure 225000" in breach.reason
    assert monitor.on_fill(_fill(4, "NQ", Side.SELL, "1", "1500"), INSTRUMENTS["NQ"], "2013-09-03") is None  # already REDUCING


def test_daily_loss_across_symbols_halts() -> None:
    monitor = AccountMonitor(AccountLimits(max_gross_exposure=Decimal(0), max_daily_loss=Decimal(1_000)))
    monitor.on_fill(_fill(1, "ES", Side.BUY, "1", "1650"), INSTRUMENTS["ES"], "d1")
    monitor.on_fill(_fill(2, "NQ", Side.BUY, "1", "1500"), INSTRUMENTS["NQ"], "d1")
    assert monitor.on_fill(_fill(3, "ES", Side.SELL, "1", "1642"), INSTRUMENTS["ES"], "d1") is None  # -400 - fees
    breach = monitor.on_fill(_fill(4, "NQ", Side.SELL, "1", "1470"), INSTRUMENTS["NQ"], "d1")  # -600 more
    assert breach is not None and breach.state is TradingState.HALTED
    assert monitor.daily_pnl == Decimal(-400 - 600) - 4 * Decimal("2.25")


def test_a_duplicated_fill_changes_nothing() -> None:
    monitor = AccountMonitor(AccountLimits())
    fill = _fill(1, "ES", Side.BUY, "3", "1650")
    monitor.on_fill(fill, INSTRUMENTS["ES"], "d1")
    before = monitor.to_state()
    assert monitor.on_fill(fill, INSTRUMENTS["ES"], "d1") is None
    assert monitor.to_state() == before


def test_a_new_session_starts_active_and_counts_only_its_own_pnl() -> None:
    monitor = AccountMonitor(AccountLimits(max_gross_exposure=Decimal(0), max_daily_loss=Decimal(500)))
    monitor.on_fill(_fill(1, "ES", Side.BUY, "1", "1650"), INSTRUMENTS["ES"], "d1")
    assert monitor.on_fill(_fill(2, "ES", Side.SELL, "1", "1630"), INSTRUMENTS["ES"], "d1") is not None  # -1000: HALTED
    assert monitor.state is TradingState.HALTED
    assert monitor.on_fill(_fill(3, "ES", Side.BUY, "1", "1630"), INSTRUMENTS["ES"], "d2") is None
    assert monitor.state is TradingState.ACTIVE
    assert monitor.daily_pnl == -Decimal("2.25")


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"account.max_daily_los": "1"}, "unknown setting"), ({"account.max_daily_loss": "-5"}, "account.max_daily_loss")],
)
def test_limits_refuse_bad_settings(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AccountLimits.from_settings(settings)


def test_one_symbols_new_session_does_not_reset_another_symbols_day() -> None:
    """Fills of two venues' symbols: NQ's session moving on must not zero ES's loss of the account's day."""
    monitor = AccountMonitor(AccountLimits(max_gross_exposure=Decimal(0), max_daily_loss=Decimal(1_000)))
    monitor.on_fill(_fill(1, "NQ", Side.BUY, "1", "1500"), INSTRUMENTS["NQ"], "d1")
    monitor.on_fill(_fill(2, "ES", Side.BUY, "1", "1650"), INSTRUMENTS["ES"], "d2")
    assert monitor.on_fill(_fill(3, "ES", Side.SELL, "1", "1642"), INSTRUMENTS["ES"], "d2") is None  # -400 - fees
    # NQ's fills of d1 arrive (another partition, read later): they count for d1, not for the account's d2.
    assert monitor.on_fill(_fill(4, "NQ", Side.SELL, "1", "1400"), INSTRUMENTS["NQ"], "d1") is None
    assert monitor.day == "d2" and monitor.daily_pnl == Decimal(-400) - 2 * Decimal("2.25")
    breach = monitor.on_fill(_fill(5, "ES", Side.SELL, "1", "1630"), INSTRUMENTS["ES"], "d2")  # short 1, marked
    assert breach is None
    breach = monitor.on_fill(_fill(6, "ES", Side.BUY, "1", "1645"), INSTRUMENTS["ES"], "d2")  # -750 more
    assert breach is not None and breach.state is TradingState.HALTED


def test_a_fill_valued_as_another_symbol_is_refused() -> None:
    with pytest.raises(ValueError, match="valued as ES"):
        AccountMonitor(AccountLimits()).on_fill(_fill(1, "NQ", Side.BUY, "1", "1500"), INSTRUMENTS["ES"], "d1")
