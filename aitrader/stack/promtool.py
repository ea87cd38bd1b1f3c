"""promtool, from Debian's prometheus package, to check the alert rules and the scrape config.

The tests run `promtool check rules|config` and `promtool test rules` on the
files under deploy/prometheus/; nothing else here runs Prometheus itself.
"""

from __future__ import annotations

import shutil

from aitrader.stack import apt
from aitrader.stack.proc import Report, quiet


def path() -> str | None:
    return shutil.which("promtool")


def install(report: Report = quiet) -> bool:
    """apt-get install prometheus unless promtool is on PATH. Returns True if it installed."""
    return apt.ensure(["prometheus"], "Prometheus (promtool)", lambda: path() is not None, "promtool is not on PATH", report)
