"""What every command shares: the console, clear failures, stop on a signal, time arguments, settings files,
the metrics port.

Results go to stdout (``aitrader.output``), so they pipe; progress and
diagnostics go to stderr (``console``). Exit codes: 0 ok, ``FAILURE`` (1) the
command ran and failed or found a problem, ``USAGE`` (2) it was asked wrongly
(bad arguments, as typer's own usage errors).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console

from eventlog.metrics import ProcessMetrics

console = Console(stderr=True, soft_wrap=True)  # progress and diagnostics; messages are never cut or wrapped mid-word

FAILURE = 1
USAGE = 2

def fail(message: str, code: int = FAILURE) -> typer.Exit:
    """Prints a clear error and returns the exit to raise (``raise fail(...)``); ``USAGE`` when the arguments are wrong."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {name!r} (use an IANA name such as America/Chicago)") from None


def parse_time_ms(text: str, default_zone: ZoneInfo) -> int:
    """ISO 8601 (zone optional, then ``default_zone``) or epoch milliseconds -> epoch milliseconds."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither ISO 8601 (2013-09-03T00:00) nor epoch milliseconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_zone)
    return int(moment.timestamp() * 1000)


def format_time_ms(value: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(value / 1000, tz).isoformat(timespec="milliseconds")


def setting_pair(text: str, where: str) -> tuple[str, str]:
    """``'risk.max_order_qty=5'`` -> ``('risk.max_order_qty', '5')``; ``where`` names the source in the error."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise typer.BadParameter(f"{where}: expected key=value, got {text!r}")
    return key.strip(), value.strip()


def setting_pairs(items: list[str], where: str) -> dict[str, str]:
    return dict(setting_pair(item, where) for item in items)


def parse_settings(settings_file: Path | None, overrides: list[str]) -> dict[str, str]:
    """Settings from a file (JSON object, or ``key=value`` lines with ``#`` comments), then ``-s`` overrides."""
    settings: dict[str, str] = {}
    if settings_file is not None:
        text = settings_file.read_text()
        if settings_file.suffix == ".json":
            loaded = json.loads(text)
            if not isinstance(loaded, dict):
                raise typer.BadParameter(f"{settings_file}: a JSON settings file holds one object")
            settings.update({str(k): str(v) for k, v in loaded.items()})
        else:
            for number, line in enumerate(text.splitlines(), start=1):
                line = line.strip()
                if line and not line.startswith("#"):
                    settings.update([setting_pair(line, f"{settings_file}:{number}")])
    settings.update(setting_pairs(overrides, "-s"))
    return settings


METRICS_PORT_OPTION = typer.Option(
    0, "--metrics-port", min=0, max=65535,
    help="Serve Prometheus metrics at /metrics on this port; 0 (default) picks a free one and prints "
    "'metrics on http://HOST:PORT/metrics' on stderr. Host: AITRADER_METRICS_HOST, else 127.0.0.1.",
)


def serve_metrics(process: str, port: int) -> ProcessMetrics:
    """The process's metrics, served on ``port`` from now on (the line naming the port goes to stderr)."""
    metrics = ProcessMetrics(process)
    try:
        url = metrics.serve(port)
    except OSError as exc:
        raise fail(f"cannot serve metrics on port {port}: {exc}") from None
    # The one line a supervisor or a test reads to find this process's metrics (several workers share a host);
    # on the console, so --log-format json makes it a JSON line like the rest.
    console.print(f"metrics on {url}", highlight=False)
    return metrics


def stop_flag() -> Callable[[], bool]:
    """SIGINT/SIGTERM ask a long-running command for a stop between batches; the flag says whether one was asked.

    The command finishes the batch in hand (it commits or rolls back whole), stops and exits 0.
    """
    asked: list[int] = []

    def handler(signum: int, frame: object) -> None:
        asked.append(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return lambda: bool(asked)


def wait_unless_stopped(stop: Callable[[], bool], seconds: float) -> bool:
    """Waits up to ``seconds``; True as soon as a stop is asked (a plain sleep would wait it out after SIGTERM)."""
    deadline = time.monotonic() + seconds
    while not stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, 0.2))
    return True


RETRY_AFTER_S = 5.0
RETRY_MOST_S = 30.0  # no longer than one failed attempt already takes (the clients' 30 s metadata timeout)
RECOVERED_S = 300.0  # an attempt that ran this long was working: its failure is a new outage, waited from the start

RETRY_AFTER_OPTION = typer.Option(
    RETRY_AFTER_S, "--retry-after", min=0.1,
    help=f"Seconds to wait before starting again after a broker or database failure; doubled at each failure in a row "
    f"up to {RETRY_MOST_S:.0f} s (or this, if longer). SIGINT/SIGTERM end the wait at once and exit 0.",
)


class RetryWait:
    """The wait of a long-running command between a failure (a broker or database outage) and its restart.

    The first wait is ``first`` seconds and each failure in a row doubles it up to ``most``, so a long
    outage is neither hammered nor logged every few seconds; an attempt that ran longer than
    ``RECOVERED_S`` had recovered, and its failure starts from ``first`` again. A stop asked during the
    wait ends it.
    """

    def __init__(self, stop: Callable[[], bool], first: float = RETRY_AFTER_S, most: float = RETRY_MOST_S) -> None:
        self.stop = stop
        self.first = first
        self.most = max(first, most)
        self.seconds = first
        self._resumed: float | None = None  # when the last wait ended, i.e. the failed attempt began

    def wait_after(self, announce: Callable[[float], None]) -> bool:
        """After a failure: says how long it waits (``announce(seconds)``) and waits; True as soon as a stop is asked."""
        if self._resumed is None or time.monotonic() - self._resumed > RECOVERED_S:
            self.seconds = self.first
        else:
            self.seconds = min(self.seconds * 2, self.most)
        announce(self.seconds)
        if wait_unless_stopped(self.stop, self.seconds):
            return True
        self._resumed = time.monotonic()
        return False
