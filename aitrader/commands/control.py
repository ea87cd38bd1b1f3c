"""``aitrader control``: the kill switch and configuration changes, as events on the kernel's input."""

from __future__ import annotations

import typer

from aitrader.commands.common import USAGE, console, fail, setting_pairs
from aitrader.stack.endpoints import endpoints
from contract.events import TradingState
from contract.topics import Namespace
from eventlog.control import publish_settings, publish_trading_state
from kernel.settings import validate_change

control_app = typer.Typer(help="Kill switch (halt, reduce, resume) and configuration changes.", no_args_is_help=True)

SymbolOption = typer.Option(None, "--symbol", help="Only this symbol (default: every symbol).")
ReasonOption = typer.Option(..., "--reason", help="Why: recorded on the event for auditors.")
ActorOption = typer.Option("ops", "--actor", help="Who asks: recorded on the event.")
NamespaceOption = typer.Option("", "--namespace", help="Topic name prefix.")


def _switch(state: TradingState, symbol: str | None, reason: str, actor: str, namespace: str) -> None:
    written = publish_trading_state(endpoints()[0], Namespace(namespace), state, symbol, reason, actor)
    for partition, event in written:
        console.print(f"{state.value} sent to inputs[{partition}] as {event.event_id}")


@control_app.command("halt")
def halt(symbol: str | None = SymbolOption, reason: str = ReasonOption, actor: str = ActorOption, namespace: str = NamespaceOption) -> None:
    """HALTED: deny every new order and cancel the open ones."""
    _switch(TradingState.HALTED, symbol, reason, actor, namespace)


@control_app.command("reduce")
def reduce(symbol: str | None = SymbolOption, reason: str = ReasonOption, actor: str = ActorOption, namespace: str = NamespaceOption) -> None:
    """REDUCING: only orders that shrink a position; open orders that could grow it are canceled."""
    _switch(TradingState.REDUCING, symbol, reason, actor, namespace)


@control_app.command("resume")
def resume(symbol: str | None = SymbolOption, reason: str = ReasonOption, actor: str = ActorOption, namespace: str = NamespaceOption) -> None:
    """ACTIVE: trade normally again."""
    _switch(TradingState.ACTIVE, symbol, reason, actor, namespace)


@control_app.command("set")
def set_settings(
    assignments: list[str] = typer.Argument(..., help="KEY=VALUE settings, e.g. strategy.threshold=0.4 risk.max_order_qty=5"),
    symbol: str | None = SymbolOption,
    reason: str = ReasonOption,
    actor: str = ActorOption,
    namespace: str = NamespaceOption,
) -> None:
    """Change settings from this point of the log on (checked here first; the kernel refuses bad ones too)."""
    settings = setting_pairs(assignments, "settings")
    try:
        validate_change(settings, symbol)
    except ValueError as exc:
        raise fail(f"refused: {exc}", USAGE) from None
    written = publish_settings(endpoints()[0], Namespace(namespace), settings, symbol, reason, actor)
    for partition, event in written:
        console.print(f"settings sent to inputs[{partition}] as {event.event_id}")
