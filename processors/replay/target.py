"""The replay's own topics on the broker: created when missing, and the offsets one run appended to them.

A name may be replayed into again (a second run, another mode), so its topics
may hold earlier runs' events. Each run notes every topic's end offsets before
it starts and compares exactly what it appended since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contract.topics import Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader, OffsetRanges
from processors.replay.names import REPLAY_TOPICS

EndOffsets = dict[str, dict[int, int]]  # logical topic -> partition -> end offset


def prepare_topics(reader: LogReader, bootstrap: str, target: Namespace) -> EndOffsets:
    """Creates the replay topics that are missing; per topic and partition, the end offset before this run."""
    created = set(TopicAdmin(bootstrap, target).create(REPLAY_TOPICS))
    # A topic just created is empty; asking the broker about it this early only waits for metadata.
    return {
        spec.name: {p: 0 for p in range(spec.partitions)}
        if target.topic(spec) in created
        else {p: high for p, (_, high) in reader.watermarks(target.topic(spec)).items()}
        for spec in REPLAY_TOPICS
    }


def written_ranges(
    reader: LogReader, target: Namespace, before: Mapping[str, Mapping[int, int]], topics: Iterable[str]
) -> dict[str, OffsetRanges]:
    """Per replay topic this run wrote to, the offsets it appended."""
    written: dict[str, OffsetRanges] = {}
    for name in sorted(topics):
        marks = reader.watermarks(target.topic(name))
        written[name] = {p: (before[name].get(p, 0), high) for p, (_, high) in marks.items() if high > before[name].get(p, 0)}
    return written
