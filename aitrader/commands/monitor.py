"""``aitrader run monitor``: the account monitor over the fills of every partition.

On start it folds every fill already on the log without acting (those breaches
were acted on before, or are re-asserted once below), then follows new fills
and writes a kill-switch event to every input partition on each escalation.
"""

from __future__ import annotations

import time

import typer

from aitrader.commands.common import console
from aitrader.stack.endpoints import endpoints
from kernel.calendar import TradingCalendar
from kernel.consumer import LogReader, decode
from kernel.control import publish_control
from kernel.events import OrderFilled, TradingStateChanged
from kernel.serde import EventCodec
from kernel.topics import FILLS, Namespace
from oms.account import AccountLimits, AccountMonitor, Breach

ACTOR = "account-monitor"
POLL_INTERVAL_S = 1.0


def _act(bootstrap: str, namespace: Namespace, breach: Breach, cause: str) -> None:
    publish_control(
        bootstrap,
        namespace,
        None,
        lambda envelope: TradingStateChanged(envelope, None, breach.state, breach.reason, ACTOR),
        f"{ACTOR} {breach.state.value} after {cause}",
    )
    console.print(f"[bold red]{breach.state.value}[/]: {breach.reason} (after {cause})")


def monitor(
    max_gross_exposure: str = typer.Option("2000000", help="Account gross exposure limit (USD); 0 disables."),
    max_daily_loss: str = typer.Option("25000", help="Account daily loss limit (USD); 0 disables."),
    venue: str = typer.Option("CME", help="Venue whose calendar defines the trading day."),
    namespace: str = typer.Option("", help="Topic name prefix."),
    stop_at_end: bool = typer.Option(False, "--stop-at-end", help="Exit once the fills on the log are folded."),
) -> None:
    """Watch fills across all partitions; on an account-wide breach send REDUCING or HALTED to every kernel."""
    try:
        limits = AccountLimits.from_settings(
            {"account.max_gross_exposure": max_gross_exposure, "account.max_daily_loss": max_daily_loss}
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    bootstrap = endpoints()[0]
    space = Namespace(namespace)
    topic = space.topic(FILLS)
    calendar = TradingCalendar.for_venue(venue)
    account = AccountMonitor(limits)
    codec = EventCodec()
    with LogReader(bootstrap) as reader:
        positions = {p: low for p, (low, _) in reader.watermarks(topic).items()}
        live = False
        while True:
            marks = reader.watermarks(topic)
            for batch in reader.read(topic, {p: (positions[p], high) for p, (_, high) in marks.items()}):
                for record in batch:
                    positions[record.partition] = record.offset + 1
                    fill = decode(codec, record)
                    if not isinstance(fill, OrderFilled):
                        continue
                    breach = account.on_fill(fill, calendar.session_of(fill.event_time_ms).day)
                    if breach is not None and live:
                        _act(bootstrap, space, breach, fill.fill_id)
            if not live:
                live = True
                if account.last_breach is not None:
                    # Re-assert what the fills on the log already call for: the breach may have been
                    # detected but not sent before a crash.
                    breach = account.last_breach
                    _act(bootstrap, space, Breach(breach.state, f"re-asserted on start: {breach.reason}"), "start")
                console.print(
                    f"account: exposure {account.gross_exposure}, day P&L {account.daily_pnl}, {account.state.value}"
                )
            if stop_at_end:
                return
            time.sleep(POLL_INTERVAL_S)
