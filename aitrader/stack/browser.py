"""Headless Chromium and its driver, from Debian, for the web console's browser tests.

The tests give Selenium these paths explicitly, so nothing ever downloads a
browser or a driver of its own.
"""

from __future__ import annotations

from pathlib import Path

from aitrader.stack import apt
from aitrader.stack.proc import Report, quiet

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def installed() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def install(report: Report = quiet) -> bool:
    """apt-get install chromium chromium-driver unless both are there. Returns True if it installed."""
    return apt.ensure(["chromium", "chromium-driver"], "Chromium", installed, f"{CHROMIUM} or {CHROMEDRIVER} is missing", report)
