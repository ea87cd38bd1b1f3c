"""A replay's name and the topics it writes: the ``replay.NAME.`` namespace rule, in one place.

A replay never writes to live topics: its outputs go to ``<live prefix>replay.NAME.*``
(and its pipeline worker's consumer group follows that namespace), so a name
is part of topic and group names and must be safe in both. The CLI's
``--into``, the API's ``into`` and the jobs' ``replay_topics`` all come here.
"""

from __future__ import annotations

import re
from datetime import date

from contract.topics import DEAD_LETTER, DERIVED, SNAPSHOTS, Namespace, TopicSpec
from processors.replay.errors import ReplaySpecError

REPLAY_PREFIX = "replay."
MAX_NAME_LENGTH = 101
_NAME = re.compile(rf"^[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{MAX_NAME_LENGTH - 1}}}$")
OFFSETS_NAME = "offsets"  # the default name of a replay of explicit offsets
# What the kernel writes, so what a replay namespace needs.
REPLAY_TOPICS: tuple[TopicSpec, ...] = (*DERIVED, SNAPSHOTS, DEAD_LETTER)


class BadReplayName(ReplaySpecError):
    """A replay name that cannot be part of topic and group names."""


def check_name(name: str) -> str:
    """``name`` if it may name a replay; ``BadReplayName`` saying the rule otherwise."""
    if not _NAME.match(name):
        raise BadReplayName(f"{name!r}: use letters, digits, '.', '_' and '-', at most {MAX_NAME_LENGTH} characters")
    return name


def default_name(day: date | None) -> str:
    """The name of a replay not given one: its day, or ``offsets`` for an explicit range."""
    return day.isoformat() if day is not None else OFFSETS_NAME


def replay_namespace(live: Namespace, name: str) -> Namespace:
    """Where replay ``name`` of the log under ``live`` writes: beside live's topics, never on them."""
    return Namespace(f"{live.prefix}{REPLAY_PREFIX}{check_name(name)}.")
