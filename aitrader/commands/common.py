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
