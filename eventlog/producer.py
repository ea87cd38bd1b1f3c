"""The one way events get onto the log: an idempotent, ``acks=all`` producer.

Keys are hashed with murmur2 (``murmur2_random``), the partitioner of the Java
client and of aiokafka (Faust), so a symbol lands on the same partition
whichever client wrote it. The record timestamp is the event's own time, so an
offset lookup by time maps a trading day to offsets. Delivery failures are
collected and raised on ``flush``, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import KafkaError, Message, Producer

from contract.events import Event
from contract.serde import EventCodec
from contract.topics import Namespace, TopicSpec
from eventlog.kafka_security import KafkaSecurity, client_config

FLUSH_TIMEOUT_S = 60.0


class DeliveryError(RuntimeError):
    """Records the broker did not acknowledge; the caller must not commit past them."""


def producer_config(bootstrap_servers: str, security: KafkaSecurity | None = None) -> dict[str, object]:
    return {
        **client_config(bootstrap_servers, security),
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": 20,
        "batch.num.messages": 10000,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 500000,
    }


class EventProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        namespace: Namespace | None = None,
        codec: EventCodec | None = None,
        security: KafkaSecurity | None = None,  # None: the process's login (eventlog.kafka_security)
    ) -> None:
        self.namespace = namespace or Namespace()
        self.codec = codec or EventCodec()
        self._producer = Producer(producer_config(bootstrap_servers, security))
        self._failures: list[str] = []
        self.delivered = 0
        self._acked: dict[str, int] = {}  # topic -> records acknowledged since the last take_acked()

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}[{msg.partition()}]: {err.str()}")
        else:
            self.delivered += 1
            topic = msg.topic()
            self._acked[topic] = self._acked.get(topic, 0) + 1

    def send(
        self,
        spec: TopicSpec,
        key: str,
        event: Event,
        headers: Mapping[str, bytes] | None = None,
        partition: int | None = None,
    ) -> bytes:
        """Encodes and queues one event; returns its bytes (for digests).

        ``partition`` pins records that must sit beside an input partition whatever
        their key (kernel snapshots); otherwise the key's murmur2 hash decides.
        """
        value = self.codec.encode(event)
        self.send_raw(self.namespace.topic(spec), key.encode(), value, event.event_time_ms, headers, partition)
        return value

    def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int,
        headers: Mapping[str, bytes] | None = None,
        partition: int | None = None,
    ) -> None:
        if timestamp_ms <= 0:
            # The client would stamp it with the wall clock: one such record among event times breaks offsets by time.
            raise ValueError(f"{topic}: record timestamp {timestamp_ms} is not an event time (> 0)")
        extra = {} if partition is None else {"partition": partition}
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    timestamp=timestamp_ms,
                    headers=dict(headers) if headers else None,
                    on_delivery=self._on_delivery,
                    **extra,
                )
                break
            except BufferError:
                # Local queue full: let librdkafka send some, then retry the same record.
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Waits until every queued record is acknowledged; raises if any was not."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            self._failures.append(f"{remaining} records still unacknowledged after {timeout_s}s")
        if self._failures:
            failures, self._failures = self._failures, []
            raise DeliveryError(f"{len(failures)} delivery failures, first: {failures[0]}")

    def take_acked(self) -> dict[str, int]:
        """Records acknowledged per topic since the last call (metrics read it after a flush)."""
        acked, self._acked = self._acked, {}
        return acked
