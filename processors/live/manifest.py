"""The run manifest: what a kernel run is made of, recorded on the log at its start.

A replay reads it to know which code, configuration, model and schemas were
in force. Its id is derived from its contents and its place on the input log,
and its time is the input log's latest event time, never the wall clock: a
restart at the same point of the log records the very same manifest (same id,
same bytes), and offset-by-time lookups on the manifest topic stay in event time.
"""

from __future__ import annotations

from collections.abc import Mapping

from contract import __version__
from contract.events import Envelope, RunManifestRecorded
from contract.ids import id_from_parts
from contract.schema_registry import default_registry
from contract.topics import INPUTS, MANIFESTS, Namespace
from eventlog.consumer import LogReader
from eventlog.control import partition_clock
from eventlog.producer import EventProducer
from inference.scorer import Scorer
from kernel.engine import PRODUCER, canonical_json, config_hash

MANIFEST_KEY = "kernel"


def last_input_time_ms(reader: LogReader, namespace: Namespace) -> int:
    """The input log's latest event time (the earliest a record can carry when it is empty), as control stamps it."""
    return max(time_ms for _, time_ms in partition_clock(reader, namespace.topic(INPUTS)).values())


def build_manifest(settings: Mapping[str, str], scorer: Scorer, event_time_ms: int) -> RunManifestRecorded:
    fingerprints = default_registry().fingerprints()
    contents = {
        "code_version": __version__,
        "config_hash": config_hash(settings),
        "model": [scorer.name, scorer.version, scorer.sha256],
        "scoring_provider": scorer.provider,
        "schema_fingerprints": fingerprints,
        "event_time_ms": event_time_ms,
    }
    event_id = id_from_parts("manifest", canonical_json(contents))
    return RunManifestRecorded(
        envelope=Envelope(event_id, event_time_ms, PRODUCER, None, event_id),
        code_version=__version__,
        config_hash=config_hash(settings),
        settings=dict(settings),
        model_name=scorer.name,
        model_version=scorer.version,
        model_sha256=scorer.sha256,
        schema_fingerprints=fingerprints,
        scoring_provider=scorer.provider,
    )


def record_manifest(
    bootstrap_servers: str, namespace: Namespace, settings: Mapping[str, str], scorer: Scorer
) -> RunManifestRecorded:
    """Builds the manifest of a run starting now and waits until the broker has it."""
    with LogReader(bootstrap_servers) as reader:
        manifest = build_manifest(settings, scorer, last_input_time_ms(reader, namespace))
    producer = EventProducer(bootstrap_servers, namespace)
    producer.send(MANIFESTS, MANIFEST_KEY, manifest)
    producer.flush()
    return manifest
