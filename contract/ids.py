"""Deterministic event ids: a pure function of the event's cause, never ``uuid4()``.

Replaying a day must reproduce every derived event byte for byte, ids included,
so an id is a UUIDv5 over what caused the event.
"""

from __future__ import annotations

import uuid

# Fixed namespace for all AITrader ids (uuid5 of the project name in the URL namespace).
AITRADER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "aitrader")


def id_from_record(topic: str, partition: int, offset: int, output_index: int = 0) -> str:
    """The id of the ``output_index``-th event derived from one input record.

    ``topic`` is the logical topic name (without a replay namespace prefix), so a
    replay into ``replay.NAME.*`` derives the same ids as live.
    """
    return str(uuid.uuid5(AITRADER_NAMESPACE, f"{topic}/{partition}/{offset}/{output_index}"))


def id_from_parts(*parts: object) -> str:
    """An id derived from other ids or stable values (``id_from_parts(intent_id, 'order')``)."""
    return str(uuid.uuid5(AITRADER_NAMESPACE, "/".join(str(p) for p in parts)))
