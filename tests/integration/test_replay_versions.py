"""Replaying a day recorded by other code, or scored on another provider: the replay says so instead of only calling it a divergence.

The log is recorded by this kernel, then copied with its snapshots rewritten as
other code would have written them: a later code version (and, to make its
derived events differ, another threshold), or the first state format, which
carried no format or code version at all. For the provider, the copy gets the
run manifest a live worker scoring on another provider would have recorded.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from aitrader.commands.replay import replay
from contract.events import KernelSnapshotTaken, RunManifestRecorded
from contract.serde import EventCodec
from contract.topics import CATALOG, DERIVED, INPUTS, MANIFESTS, SNAPSHOTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader, decode
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from processors.live.manifest import MANIFEST_KEY, build_manifest
from tests.integration.test_replay import _delete_replays, invoke
from tests.multi_symbol_day import SETTINGS, partition_inputs
from tests.seed import seed_partitions

pytestmark = pytest.mark.infra

State = dict[str, Any]


@pytest.fixture(scope="module")
def recorded(kafka_bootstrap: str) -> Iterator[Namespace]:
    space = Namespace(f"test.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    try:
        seed_partitions(kafka_bootstrap, space, partition_inputs(every=56, until="2013-09-03 12:00"), SETTINGS)
        yield space
    finally:
        admin.delete(CATALOG)


def _copy(
    bootstrap: str, source: Namespace, rewrite: Callable[[State], State], manifests: Sequence[RunManifestRecorded] = ()
) -> Namespace:
    """The log of ``source`` in a new namespace, every snapshot's state passed through ``rewrite``, plus ``manifests``."""
    target = Namespace(f"{source.prefix}copy{secrets.token_hex(2)}.")
    TopicAdmin(bootstrap, target).create()
    codec, producer = EventCodec(), EventProducer(bootstrap, target)
    with LogReader(bootstrap) as reader:
        for spec in (INPUTS, *DERIVED, SNAPSHOTS):
            topic = source.topic(spec)
            for batch in reader.read(topic, reader.watermarks(topic)):
                for record in batch:
                    value = record.value
                    if spec is SNAPSHOTS:
                        snapshot = decode(codec, record)
                        assert isinstance(snapshot, KernelSnapshotTaken)
                        state = rewrite(json.loads(snapshot.state_json))
                        value = codec.encode(replace(snapshot, state_json=json.dumps(state, sort_keys=True)))
                    producer.send_raw(target.topic(spec), record.key, value, record.timestamp_ms, partition=record.partition)
    for manifest in manifests:
        producer.send(MANIFESTS, MANIFEST_KEY, manifest)
    producer.flush()
    return target


def _later_code(state: State) -> State:
    return {**state, "code_version": "9.9.9", "settings": {**state["settings"], "strategy.threshold": "0.9"}}


def _first_format(state: State) -> State:
    return {k: v for k, v in state.items() if k not in ("format", "code_version")}


def _replay_copy(
    bootstrap: str, source: Namespace, rewrite: Callable[[State], State], manifests: Sequence[RunManifestRecorded] = ()
) -> tuple[int, str]:
    copy = _copy(bootstrap, source, rewrite, manifests)
    try:
        return invoke(replay, "--day", "2013-09-03", "--namespace", copy.prefix, "--into", "other")
    finally:
        _delete_replays(bootstrap, copy)
        TopicAdmin(bootstrap, copy).delete(CATALOG)


def test_a_day_recorded_by_other_code_says_code_version_differs_before_diverged(kafka_bootstrap: str, recorded: Namespace) -> None:
    code, out = _replay_copy(kafka_bootstrap, recorded, _later_code)
    assert code == 1, out
    assert "code version differs" in out and "recorded by kernel/9.9.9" in out
    assert out.index("code version differs") < out.index("DIVERGED")


def test_a_snapshot_of_the_first_state_format_is_refused_with_what_wrote_it(kafka_bootstrap: str, recorded: Namespace) -> None:
    code, out = _replay_copy(kafka_bootstrap, recorded, _first_format)
    assert code == 2, out
    assert "state format 1 (taken by kernel/0.1.0 or earlier)" in " ".join(out.split())


def _other_threshold(state: State) -> State:
    return {**state, "settings": {**state["settings"], "strategy.threshold": "0.9"}}


class _ScoredOn(BaselineScorer):
    """The baseline's manifest as a worker scoring on ``provider`` records it."""

    __slots__ = ("provider",)

    def __init__(self, provider: str) -> None:
        self.provider = provider


def _manifest(provider: str) -> RunManifestRecorded:
    return build_manifest({"strategy.threshold": "0.9"}, _ScoredOn(provider), 1378200000000)


def test_a_day_scored_on_another_provider_says_scoring_provider_differs_before_diverged(
    kafka_bootstrap: str, recorded: Namespace
) -> None:
    code, out = _replay_copy(kafka_bootstrap, recorded, _other_threshold, [_manifest("CUDAExecutionProvider")])
    assert code == 1, out
    text = " ".join(out.split())
    assert "scoring provider differs (recorded CUDAExecutionProvider, now python)" in text
    assert "code version differs" not in text
    assert text.index("scoring provider differs") < text.index("DIVERGED")


def test_a_day_scored_on_the_replays_provider_diverges_without_a_provider_note(kafka_bootstrap: str, recorded: Namespace) -> None:
    code, out = _replay_copy(kafka_bootstrap, recorded, _other_threshold, [_manifest("python")])
    assert code == 1, out
    assert "DIVERGED" in out and "scoring provider differs" not in out
