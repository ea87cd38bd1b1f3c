"""The deployment's cursor key: from the environment, a secret file, or made once into that file.

Cursors are signed (``api.pagination``) with a key that must be the same in
every API process of a deployment (a cursor from one process pages on in
another) and secret (whoever has it can build cursors). So it is configuration,
never in the repository: ``AITRADER_CURSOR_KEY`` (hex, at least 32 bytes), or
``AITRADER_CURSOR_KEY_FILE`` naming a file that holds it (a mounted secret), or
else a file under the stack's home that the first ``aitrader run api`` creates
(mode 0600) and every later one reads. Rotating it (a new value, then restart)
only ends the cursors in flight: clients start again from the first page.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

KEY_ENV = "AITRADER_CURSOR_KEY"
FILE_ENV = "AITRADER_CURSOR_KEY_FILE"
MIN_BYTES = 32


def _parsed(text: str, source: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ValueError(f"{source}: the cursor key must be hex") from None
    if len(key) < MIN_BYTES:
        raise ValueError(f"{source}: the cursor key must be at least {MIN_BYTES} bytes ({2 * MIN_BYTES} hex digits)")
    return key


def _made_once(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: read theirs
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(MIN_BYTES) + "\n")


def cursor_key(environ: Mapping[str, str], default_file: Path) -> bytes:
    """The key from ``environ`` (as described above), making ``default_file`` when nothing names one."""
    if environ.get(KEY_ENV, "").strip():
        return _parsed(environ[KEY_ENV], KEY_ENV)
    named = environ.get(FILE_ENV, "").strip()
    path = Path(named) if named else default_file
    if not named:
        _made_once(path)
    return _parsed(path.read_text(), str(path))
