"""Walk-forward by time: fit on the earlier sessions, hold out the last one, never shuffle.

A random split would put bars of the same minutes on both sides, and a label
(the next bars' move) would leak the held-out future into the fit. Here every
training row's label window must end before the first held-out bar closes;
``walk_forward`` checks it rather than trusting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from training.features import BarRow
from training.labels import Label


@dataclass(frozen=True, slots=True)
class Split:
    train: tuple[int, ...]  # row indices, in time order
    held_out: tuple[int, ...]
    train_sessions: tuple[str, ...]
    held_out_session: str


class LeakError(ValueError):
    """A training label that reaches into the held-out session."""


def walk_forward(rows: Sequence[BarRow], labels: Sequence[Label | None]) -> Split:
    """Labelled rows of every session before the last for training, those of the last one held out."""
    sessions = sorted({row.session for row in rows})
    if len(sessions) < 2:
        raise ValueError(f"walk-forward needs at least two sessions, the data has {sessions}")
    last = sessions[-1]
    labelled = [i for i, label in enumerate(labels) if label is not None]
    train = tuple(i for i in labelled if rows[i].session < last)
    held_out = tuple(i for i in labelled if rows[i].session == last)
    if not train or not held_out:
        raise ValueError(f"no labelled bars to {'fit on' if not train else 'hold out'}")
    first_held_out_ms = min(rows[i].closed_at_ms for i in held_out)
    for i in train:
        label = labels[i]
        assert label is not None
        if rows[label.exit_index].closed_at_ms >= first_held_out_ms:
            raise LeakError(f"training bar {i} is labelled by bar {label.exit_index}, at or after the held-out session")
    return Split(train, held_out, tuple(sessions[:-1]), last)
