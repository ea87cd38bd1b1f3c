"""Debian packages the stack needs, installed with apt-get when missing (root only)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from aitrader.stack.paths import StackError
from aitrader.stack.proc import Report, run


def install(packages: list[str], what: str, report: Report) -> None:
    """apt-get install ``packages``, refreshing the package lists once if the first try fails."""
    if os.geteuid() != 0:
        raise StackError(f"{what} is not installed and we are not root: run `sudo apt-get install -y {' '.join(packages)}`")
    if not shutil.which("apt-get"):
        raise StackError(f"{what} is not installed and apt-get is missing: install {' '.join(packages)} by hand")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", *packages]
    report(f"Installing {what} with apt-get")
    try:
        run(cmd, what=f"apt-get install {' '.join(packages)}", env=env, timeout=1200)
    except StackError:
        # A fresh machine often has no package lists yet.
        report("Refreshing package lists (apt-get update)")
        run(["apt-get", "update", "-q"], what="apt-get update", env=env, timeout=600)
        report(f"Installing {what} with apt-get")
        run(cmd, what=f"apt-get install {' '.join(packages)}", env=env, timeout=1200)


def ensure(packages: list[str], what: str, installed: Callable[[], bool], missing: str, report: Report) -> bool:
    """Installs ``packages`` unless ``installed()`` already holds; True if it installed.

    ``missing`` says what is still absent when apt-get succeeded but ``installed()`` does not hold.
    """
    if installed():
        return False
    install(packages, what, report)
    if not installed():
        raise StackError(f"apt-get installed {' '.join(packages)} but {missing}")
    return True
