"""Keeps API keys sent in a URL out of the server's logs.

The monitor refuses a ``key`` query parameter (``api.routers.monitor``), but
uvicorn has logged the URL by then: its access log (HTTP) and its WebSocket
"accepted" lines carry the query string. This filter rewrites ``key=...`` in
those lines to ``key=[redacted]`` before any handler writes them.
"""

from __future__ import annotations

import logging
import re

LOGGERS = ("uvicorn.access", "uvicorn.error")
_KEY = re.compile(r"(?<=[?&])(key|api_key|token)=[^&\s\"]*", re.IGNORECASE)


def redacted(text: str) -> str:
    return _KEY.sub(r"\1=[redacted]", text)


class RedactKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redacted(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Idempotent: after uvicorn configured its loggers (the app's startup), one filter on each."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())
