"""The API's view of the broker: is it reachable, and where do the topics end (for lag)."""

from __future__ import annotations

import threading

import psycopg
from confluent_kafka import Consumer, KafkaException

from contract.topics import INPUTS, Namespace
from eventlog.consumer import LogReader
from eventlog.kafka_security import client_config
from projections.status import PartitionLag, lags

PROBE_TIMEOUT_S = 2.0


class BrokerProbe:
    def __init__(self, bootstrap: str, namespace: Namespace) -> None:
        self.namespace = namespace
        self._probe = Consumer({**client_config(bootstrap), "group.id": "aitrader-api-probe", "enable.auto.commit": False})
        self._reader = LogReader(bootstrap)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._probe.close()
        self._reader.close()

    def problem(self) -> str | None:
        """None when the broker answers metadata for the input topic within the probe timeout."""
        topic = self.namespace.topic(INPUTS)
        try:
            with self._lock:
                described = self._probe.list_topics(topic, timeout=PROBE_TIMEOUT_S).topics.get(topic)
        except KafkaException as exc:
            return f"broker unreachable: {exc}"
        if described is None or described.error is not None:
            return f"topic {topic} missing: {described.error if described else 'not found'}"
        return None

    def lags(self, conn: psycopg.Connection) -> list[PartitionLag]:
        with self._lock:
            return lags(conn, self._reader, self.namespace)
