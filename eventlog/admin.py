"""Creates the catalog's topics on a broker and reports how the broker differs from it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from contract.topics import CATALOG, Namespace, TopicSpec
from eventlog.kafka_security import client_config
from eventlog.retry import retry_transient

ADMIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TopicState:
    """A catalog topic as the broker has it."""

    spec: TopicSpec
    broker_name: str
    exists: bool
    partitions: int
    end_offsets: tuple[int, ...]
    drift: tuple[str, ...]

    @property
    def records(self) -> int:
        return sum(self.end_offsets)


class TopicAdmin:
    def __init__(self, bootstrap_servers: str, namespace: Namespace | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.namespace = namespace or Namespace()
        self.client = AdminClient(client_config(bootstrap_servers))

    def existing(self) -> dict[str, int]:
        """Broker topic name -> partition count."""
        metadata = self.client.list_topics(timeout=ADMIN_TIMEOUT_S)
        return {name: len(t.partitions) for name, t in metadata.topics.items()}

    def create(self, specs: tuple[TopicSpec, ...] = CATALOG) -> list[str]:
        """Creates what is missing; returns the broker names created. Safe to call again."""
        existing = self.existing()
        missing = [s for s in specs if self.namespace.topic(s) not in existing]
        if not missing:
            return []
        futures = self.client.create_topics(
            [
                NewTopic(self.namespace.topic(s), num_partitions=s.partitions, replication_factor=1, config=s.config)
                for s in missing
            ],
            operation_timeout=ADMIN_TIMEOUT_S,
        )
        created = []
        for name, future in futures.items():
            try:
                future.result()
                created.append(name)
            except KafkaException as exc:
                # Another process created it between our listing and our request: that is the goal.
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise
        self._wait_for_leaders(list(futures))
        return created

    def _wait_for_leaders(self, names: list[str]) -> None:
        """A new topic answers produce and offset requests only once each partition has a leader."""
        deadline = time.monotonic() + ADMIN_TIMEOUT_S
        while True:
            topics = self.client.list_topics(timeout=ADMIN_TIMEOUT_S).topics
            if all(n in topics and topics[n].partitions and all(p.leader >= 0 for p in topics[n].partitions.values()) for n in names):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics {names} have no leader after {ADMIN_TIMEOUT_S}s")
            time.sleep(0.2)

    def delete(self, specs: tuple[TopicSpec, ...]) -> None:
        """Deletes namespaced topics; refuses the live namespace, whose topics are the system of record."""
        if not self.namespace.prefix:
            raise ValueError("refusing to delete live topics: the event log is never deleted from")
        existing = self.existing()
        names = [self.namespace.topic(s) for s in specs if self.namespace.topic(s) in existing]
        if names:
            for future in self.client.delete_topics(names, operation_timeout=ADMIN_TIMEOUT_S).values():
                future.result()

    def state(self, specs: tuple[TopicSpec, ...] = CATALOG) -> list[TopicState]:
        existing = self.existing()
        present = [s for s in specs if self.namespace.topic(s) in existing]
        configs = self._configs([self.namespace.topic(s) for s in present])
        offsets = self._end_offsets({self.namespace.topic(s): existing[self.namespace.topic(s)] for s in present})
        states = []
        for spec in specs:
            name = self.namespace.topic(spec)
            if name not in existing:
                states.append(TopicState(spec, name, False, 0, (), ("missing",)))
                continue
            drift = []
            if existing[name] != spec.partitions:
                drift.append(f"partitions {existing[name]} (catalog {spec.partitions})")
            for key, wanted in spec.config.items():
                actual = configs[name].get(key)
                if actual != wanted:
                    drift.append(f"{key}={actual} (catalog {wanted})")
            states.append(TopicState(spec, name, True, existing[name], offsets[name], tuple(drift)))
        return states

    def _configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        if not names:
            return {}
        resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
        result = {}
        for resource, future in self.client.describe_configs(resources, request_timeout=ADMIN_TIMEOUT_S).items():
            result[resource.name] = {k: v.value for k, v in future.result().items()}
        return result

    def _end_offsets(self, partitions_by_topic: dict[str, int]) -> dict[str, tuple[int, ...]]:
        if not partitions_by_topic:
            return {}
        consumer = Consumer({**client_config(self.bootstrap_servers), "group.id": "aitrader-admin", "enable.auto.commit": False})
        try:
            return {
                topic: tuple(
                    retry_transient(lambda: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=ADMIN_TIMEOUT_S))[1]
                    for p in range(n)
                )
                for topic, n in partitions_by_topic.items()
            }
        finally:
            consumer.close()
