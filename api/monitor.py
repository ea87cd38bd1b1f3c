"""Live events for the monitor websocket: one tailing thread per API process, fanned out to subscribers.

The tailer reads the kernel's output topics (and the inputs, only while some
subscriber asks for ticks) from their end, decodes once, and offers each event
to the subscribers whose filters match. A subscriber's buffer is bounded: when
a client reads slower than events arrive and its buffer fills, it is marked
overflowed and the endpoint closes it with a reason, instead of letting one
slow client hold memory or slow the others.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from contract.events import ALL_EVENT_TYPES
from contract.jsonview import record_view
from contract.serde import EventCodec
from contract.topics import (
    DEAD_LETTER,
    FILLS,
    INPUTS,
    INTENTS,
    ORDERS,
    SIGNALS,
    Namespace,
)
from eventlog.consumer import RawRecord, UndecodableRecord, decode
from eventlog.kafka_security import client_config

EVENT_TYPES = tuple(t.__name__ for t in ALL_EVENT_TYPES)
DEFAULT_TYPES = frozenset(n for n in EVENT_TYPES if n not in ("Tick", "KernelSnapshotTaken", "RunManifestRecorded"))
TOPICS = (SIGNALS, INTENTS, ORDERS, FILLS, DEAD_LETTER, INPUTS)
POLL_S = 0.2
METADATA_TIMEOUT_S = 10.0


class Subscriber:
    """One client's filters and bounded buffer; ``offer`` may be called from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, symbols: frozenset[str] | None, types: frozenset[str], buffer: int) -> None:
        self.loop = loop
        self.symbols = symbols
        self.types = types
        self.buffer = buffer
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=buffer)
        self.overflowed = asyncio.Event()

    def wants(self, type_name: str, symbol: str | None) -> bool:
        return type_name in self.types and (self.symbols is None or symbol in self.symbols)

    def offer(self, message: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self._put, message)

    def _put(self, message: dict[str, Any]) -> None:
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed.set()


class Tailer:
    def __init__(self, bootstrap: str, namespace: Namespace) -> None:
        self.bootstrap = bootstrap
        self.namespace = namespace
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: str | None = None

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.add(subscriber)
            if self._thread is None:
                self.error = None
                self._ready.clear()
                self._thread = threading.Thread(target=self._run, name="monitor-tailer", daemon=True)
                self._thread.start()
        # Events produced after subscribing must reach the client: wait until the tail is positioned.
        self._ready.wait(METADATA_TIMEOUT_S)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _targets(self) -> list[Subscriber]:
        with self._lock:
            return list(self._subscribers)

    def _run(self) -> None:
        consumer = Consumer({**client_config(self.bootstrap), "group.id": "aitrader-api-monitor", "enable.auto.commit": False})
        codec = EventCodec()
        inputs = self.namespace.topic(INPUTS)
        try:
            self._tail(consumer, codec, inputs)
        except KafkaException as exc:
            self.error = str(exc)
        finally:
            with self._lock:
                self._thread = None  # the next subscriber starts a new tail
            self._ready.set()
            consumer.close()

    def _tail(self, consumer: Consumer, codec: EventCodec, inputs: str) -> None:
        consumer.assign(list(self._ends(consumer, (self.namespace.topic(s) for s in TOPICS))))
        self._ready.set()
        while not self._stop.is_set():
            messages = consumer.consume(1000, timeout=POLL_S)
            targets = self._targets()
            wants_ticks = any("Tick" in s.types for s in targets)
            for message in messages:
                if message.error() is not None or not targets or (message.topic() == inputs and not wants_ticks):
                    continue
                self._fan_out(codec, message, targets)

    @staticmethod
    def _ends(consumer: Consumer, topics: Iterable[str]) -> Iterable[TopicPartition]:
        for topic in topics:
            described = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S).topics.get(topic)
            if described is None or described.error is not None:
                raise KafkaException(f"topic {topic} does not exist")
            for partition in described.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=METADATA_TIMEOUT_S)
                yield TopicPartition(topic, partition, high if high >= 0 else OFFSET_END)

    @staticmethod
    def _fan_out(codec: EventCodec, message: Any, targets: list[Subscriber]) -> None:
        record = RawRecord(
            message.topic(), message.partition(), message.offset(), message.timestamp()[1], message.key(), message.value(),
            tuple(message.headers() or ()),
        )
        try:
            event = decode(codec, record)
        except UndecodableRecord:
            return  # the projector dead-letters it; the monitor only shows events
        name = type(event).__name__
        symbol = getattr(event, "symbol", None)
        view: dict[str, Any] | None = None
        for subscriber in targets:
            if subscriber.wants(name, symbol):
                view = view or record_view(codec, record, event)
                subscriber.offer(view)
