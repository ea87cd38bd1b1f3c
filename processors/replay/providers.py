"""The scoring provider a day was recorded with, from live's run manifests, against the replay's.

Scores are quantized to 1e-6 before any decision, yet another provider (CUDA
or TensorRT against CPU) computes the raw score differently in its last bits,
and now and then that lands it on the other side of a rounding boundary
(docs/design.md, "Determinism"). When a replay diverges and the day was scored
on another provider, the replay says so first, as it does for a day recorded by
other code: an expected difference, explained, rather than only a divergence.

Each run manifest (``RunManifestRecorded``, on the live namespace's manifests
topic) records its run's provider; manifests recorded before that field say
nothing and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contract.events import RunManifestRecorded
from contract.serde import EventCodec
from contract.topics import MANIFESTS, Namespace
from eventlog.consumer import LogReader, decode
from processors.replay.compare import Comparison


@dataclass(frozen=True, slots=True)
class ProviderDiffers:
    recorded: tuple[str, ...]  # the providers live's run manifests record, in the order first recorded
    replayed: tuple[str, ...]  # the providers the replay's kernels score on, sorted


def recorded_providers(reader: LogReader, codec: EventCodec, live: Namespace) -> tuple[str, ...]:
    """Every scoring provider live's run manifests record, each once, in the order first recorded."""
    topic = live.topic(MANIFESTS)
    found: dict[str, None] = {}
    for batch in reader.read(topic, reader.watermarks(topic)):
        for record in batch:
            manifest = decode(codec, record)
            if isinstance(manifest, RunManifestRecorded) and manifest.scoring_provider is not None:
                found.setdefault(manifest.scoring_provider)
    return tuple(found)


def providers_differing(comparison: Comparison, recorded: tuple[str, ...], replayed: Iterable[str]) -> ProviderDiffers | None:
    """The difference, when the replay diverged and live recorded a provider the replay does not score on; else None."""
    if not comparison.compared or comparison.identical:
        return None
    now = tuple(sorted(set(replayed)))
    return ProviderDiffers(recorded, now) if set(recorded) - set(now) else None
