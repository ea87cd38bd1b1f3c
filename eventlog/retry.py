"""Retries broker calls that fail only for a moment (a new partition without a leader yet)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")

TRANSIENT = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TRANSPORT,
    KafkaError._TIMED_OUT,
}


def transient(exc: KafkaException) -> bool:
    """Whether a broker call failed only for now: the broker away or restarting, a leader not elected yet."""
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() in TRANSIENT


def retry_transient(
    call: Callable[[], T],
    timeout_s: float = 30.0,
    max_delay_s: float = 1.0,
    on_retry: Callable[[KafkaException, float], None] | None = None,
) -> T:
    """``call()``, asked again after a transient failure (waits doubling up to ``max_delay_s``) for ``timeout_s``.

    ``on_retry`` hears each failure that is asked again, and the wait before the next try.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return call()
        except KafkaException as exc:
            if not transient(exc) or time.monotonic() > deadline:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, max_delay_s)
