"""``aitrader run monitor``: the account monitor over the fills of every partition (``processors/live/monitor.py``)."""

from __future__ import annotations

from pathlib import Path

import typer
from confluent_kafka import KafkaException

from aitrader.commands.common import (
    METRICS_PORT_OPTION,
    RETRY_AFTER_OPTION,
    RetryWait,
    console,
    serve_metrics,
    stop_flag,
)
from aitrader.commands.logs import configure as configure_logs
from aitrader.stack.endpoints import endpoints
from aitrader.stack.paths import StackPaths
from contract.events import TradingStateChanged
from contract.topics import INPUTS, Namespace
from eventlog.control import publish_control
from oms.account import AccountLimits, AccountMonitor
from processors.live.monitor import AccountWatch, Detection

ACTOR = "account-monitor"


def monitor(
    max_gross_exposure: str = typer.Option("2000000", help="Account gross exposure limit (USD); 0 disables."),
    max_daily_loss: str = typer.Option("25000", help="Account daily loss limit (USD); 0 disables."),
    namespace: str = typer.Option("", help="Topic name prefix."),
    stop_at_end: bool = typer.Option(False, "--stop-at-end", help="Exit once the fills on the log are folded."),
    metrics_port: int = METRICS_PORT_OPTION,
    retry_after: float = RETRY_AFTER_OPTION,
    broker_data_dir: Path | None = typer.Option(
        None, "--broker-data-dir", file_okay=False,
        help="The broker's data directory, whose free space /metrics reports; default: the local stack's.",
    ),
) -> None:
    """Watch fills across all partitions; on an account-wide breach send REDUCING or HALTED to every kernel.

    Each symbol's trading day follows its own venue's calendar and fills are valued with the instruments
    the kernels announced on the log; each action prints the detection lag in event time. When the broker
    fails (a restart, an outage) it starts again from the log on its own, unless --stop-at-end.
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
    metrics = serve_metrics("monitor", metrics_port)

    def act(detection: Detection) -> None:
        breach = detection.breach
        written = publish_control(
            bootstrap,
            space,
            None,
            lambda envelope: TradingStateChanged(envelope, None, breach.state, breach.reason, ACTOR),
            f"{ACTOR} {breach.state.value} after {detection.cause}",
        )
        metrics.count_outputs({space.topic(INPUTS): len(written)})  # publish_control returns once they are acknowledged
        lag = "" if detection.cause == "start" else f", detected {detection.lag_ms:,} ms of event time later"
        console.print(f"[bold red]{breach.state.value}[/]: {breach.reason} (after {detection.cause}{lag})")

    # The monitor reports the broker's free disk: a deployment runs exactly one (workers run several, so one series
    # per broker rather than copies), it is the ops process already watching the whole account, and it polls every
    # second whether or not anything trades, so the figure stays fresh while all is quiet.
    data_dir = broker_data_dir or StackPaths.current().data
    stop = stop_flag()
    retry = RetryWait(stop, retry_after)
    while True:
        account = AccountMonitor(limits)
        watch = AccountWatch(bootstrap, space, account, act, metrics=metrics, broker_data_dir=data_dir)
        try:
            watch.run(stop_at_end=stop_at_end, should_stop=stop)
            break
        except KafkaException as exc:
            if stop_at_end:
                raise
            # A broker restart or outage: what was read of a poll may be half folded, so it starts again from the
            # log, as a restarted monitor would (re-asserting the breach the log calls for, if any).
            cause = str(exc)
            if stop() or retry.wait_after(lambda seconds: console.print(
                f"[yellow]broker failed[/] ({cause}); folding the fills again from the log in {seconds:.0f}s", highlight=False
            )):
                console.print(f"stopped during a broker failure ({cause})", highlight=False)
                break
    if watch.waiting_for is not None:
        console.print(f"[yellow]waiting[/]: no kernel has announced the instrument of {watch.waiting_for} yet")
    console.print(f"account: exposure {account.gross_exposure}, day P&L {account.daily_pnl}, {account.state.value}")
