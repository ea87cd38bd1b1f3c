"""Runs an iterator one or two items ahead in a thread, so producing items overlaps consuming them.

The projector reads and decodes the next batch (librdkafka and Avro decoding)
while the database applies the current one; psycopg and librdkafka release the
GIL while they wait, so the two really overlap. Exceptions reach the consumer;
closing the consumer's generator stops the thread at its next hand-over.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
HANDOVER_POLL_S = 0.1


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(value, timeout=HANDOVER_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(exc)

    worker = threading.Thread(target=work, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            value = handoff.get()
            if value is _DONE:
                return
            if isinstance(value, BaseException):
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
