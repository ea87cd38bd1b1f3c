"""Small process helpers shared by the Kafka and Postgres modules."""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from aitrader.stack.paths import StackError

# Progress callback: the CLI passes a spinner's update(), tests pass nothing.
Report = Callable[[str], None]


def quiet(_: str) -> None:
    """Default progress callback: say nothing."""


def run(
    cmd: Sequence[str],
    *,
    what: str,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> str:
    """Run a command to completion, returning stdout; StackError with its output tail if it fails."""
    try:
        proc = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,  # CI has no stdin; never let a tool prompt
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd,
        )
    except FileNotFoundError:
        raise StackError(f"{what}: {cmd[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise StackError(f"{what}: timed out after {timeout:.0f} s: {' '.join(cmd)}") from None
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join(out[-25:])
        raise StackError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout


def tail(path: Path, lines: int = 40) -> str:
    """Last lines of a log file, for error messages ('' if it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Serialise up/down/reset across processes (two pytest runs, a CLI and a fixture)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
