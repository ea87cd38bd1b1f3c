"""Logs of the long-running processes on stderr: text for people, or JSON lines for machines (``--log-format``).

``aitrader --log-format json`` (or ``AITRADER_LOG_FORMAT=json``, which child
processes inherit) makes every log line one JSON object: ``timestamp`` (UTC,
ISO 8601), ``level``, ``logger``, ``message`` and, when the line is about one
record, its ``event_id``, ``topic``, ``partition`` and ``offset`` (passed with
``extra=``). Faust's and uvicorn's loggers go through the same handler, and so
do the commands' own diagnostics (``aitrader.commands.common.console``), so in
JSON mode stderr holds nothing but JSON lines.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from datetime import datetime, timezone
from enum import Enum

from aitrader.commands.common import console

LOG_FORMAT_ENV = "AITRADER_LOG_FORMAT"


class LogFormat(str, Enum):
    text = "text"
    json = "json"


RECORD_FIELDS = ("event_id", "topic", "partition", "offset")
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per log record, with the record's position on the log when the caller gave it."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in RECORD_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _LinesToLog(io.TextIOBase):
    """A file for the console: each printed line becomes an INFO record of logger ``aitrader.console``."""

    def __init__(self) -> None:
        self._log = logging.getLogger("aitrader.console")
        self._log.setLevel(logging.INFO)  # what a command prints is shown whatever level quiets the libraries

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self._log.info(line.rstrip())
        return len(text)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is logged (a test's capture may have swapped it since)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def chosen_format() -> str:
    """``--log-format`` as the ``aitrader`` callback exported it, else text."""
    return os.environ.get(LOG_FORMAT_ENV, LogFormat.text.value)


def configure(level: str | int = logging.INFO) -> logging.Handler:
    """Makes the root logger write to stderr in the chosen format and returns its one handler (for Faust to reuse)."""
    handler = _StderrHandler()
    if chosen_format() == LogFormat.json.value:
        handler.setFormatter(JsonFormatter())
        console.file = _LinesToLog()  # the commands' diagnostics become log lines too
        logging.captureWarnings(True)
    else:
        handler.setFormatter(logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
