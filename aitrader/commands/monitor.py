"""``aitrader run monitor``: the account monitor over the fills of every partition (``processors/live/monitor.py``)."""

from __future__ import annotations

import typer

from aitrader.commands.common import console, stop_flag
from aitrader.commands.logs import configure as configure_logs
from aitrader.stack.endpoints import endpoints
from contract.events import TradingStateChanged
from contract.topics import Namespace
from eventlog.control import publish_control
from oms.account import AccountLimits, AccountMonitor
from processors.live.monitor import AccountWatch, Detection

ACTOR = "account-monitor"


def monitor(
    max_gross_exposure: str = typer.Option("2000000", help="Account gross exposure limit (USD); 0 disables."),
    max_daily_loss: str = typer.Option("25000", help="Account daily loss limit (USD); 0 disables."),
    namespace: str = typer.Option("", help="Topic name prefix."),
    stop_at_end: bool = typer.Option(False, "--stop-at-end", help="Exit once the fills on the log are folded."),
) -> None:
    """Watch fills across all partitions; on an account-wide breach send REDUCING or HALTED to every kernel.

    Each symbol's trading day follows its own venue's calendar and fills are valued with the instruments
    the kernels announced on the log; each action prints the detection lag in event time.
    """
    try:
        limits = AccountLimits.from_settings(
            {"account.max_gross_exposure": max_gross_exposure, "account.max_daily_loss": max_daily_loss}
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    configure_logs()
    bootstrap = endpoints()[0]
    space = Namespace(namespace)

    def act(detection: Detection) -> None:
        breach = detection.breach
        publish_control(
            bootstrap,
            space,
            None,
            lambda envelope: TradingStateChanged(envelope, None, breach.state, breach.reason, ACTOR),
            f"{ACTOR} {breach.state.value} after {detection.cause}",
        )
        lag = "" if detection.cause == "start" else f", detected {detection.lag_ms:,} ms of event time later"
        console.print(f"[bold red]{breach.state.value}[/]: {breach.reason} (after {detection.cause}{lag})")

    account = AccountMonitor(limits)
    watch = AccountWatch(bootstrap, space, account, act)
    watch.run(stop_at_end=stop_at_end, should_stop=stop_flag())
    if watch.waiting_for is not None:
        console.print(f"[yellow]waiting[/]: no kernel has announced the instrument of {watch.waiting_for} yet")
    console.print(f"account: exposure {account.gross_exposure}, day P&L {account.daily_pnl}, {account.state.value}")
