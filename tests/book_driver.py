"""Drives one symbol's ``OmsBook`` the way the kernel does, for the OMS tests.

The book takes typed configs and resolved trading states; the kernel
(``kernel.engine``) parses settings once and decides which kill-switch
and config inputs concern the symbol. This does the same for one symbol, so
the OMS tests can keep feeding raw inputs.
"""

from __future__ import annotations

from typing import Any

from contract import events as ev
from contract.derivation import Derivation
from kernel.settings import KernelSettings
from oms.book import OmsBook

Input = ev.Tick | ev.OrderIntent | ev.TradingStateChanged | ev.ConfigChanged


class BookDriver:
    def __init__(self, settings: dict[str, str] | None = None, symbol: str = "ES", session_end_ms: int | None = None) -> None:
        self.symbol = symbol
        self.session_end_ms = session_end_ms
        self.settings = KernelSettings.parse(settings or {})
        self.book = OmsBook(self.settings.for_symbol(symbol).book)

    def feed(self, event: ev.Event, derivation: Derivation) -> list[ev.Event]:
        if isinstance(event, ev.Tick):
            return self.book.on_tick(event, derivation)
        if isinstance(event, ev.OrderIntent):
            return self.book.on_intent(event, derivation, self.session_end_ms)
        if isinstance(event, ev.TradingStateChanged):
            if event.symbol not in (None, self.symbol):
                return []
            return self.book.set_trading_state(event.state, event, derivation)
        assert isinstance(event, ev.ConfigChanged)
        settings = self.settings.changed(event.settings, event.symbol)
        self.book.reconfigure(settings.for_symbol(self.symbol).book)
        self.settings = settings
        return []

    def to_state(self) -> dict[str, Any]:
        return {"settings": self.settings.to_state(), "book": self.book.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any], symbol: str = "ES", session_end_ms: int | None = None) -> BookDriver:
        driver = cls(symbol=symbol, session_end_ms=session_end_ms)
        driver.settings = KernelSettings.from_state(state["settings"])
        driver.book = OmsBook.from_state(driver.settings.for_symbol(symbol).book, state["book"])
        return driver
