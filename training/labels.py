"""The label of a bar close: did a trade in either direction over the next ``horizon`` bars beat its costs?

A round trip of one contract entered at bar close ``i`` and left at bar close
``i + horizon`` (traded one-minute bars of the same session) costs, in price
points, the simulator's adverse slippage on both fills and the instrument's fee
on both sides: ``2 * (slippage_ticks * tick_size + fee_per_unit / multiplier)``,
all read from the kernel's settings (``oms/simulator.py``, ``oms/instruments.py``).
With ``move = close[i + horizon] - close[i]``:

    move >  cost   ->  1  (a buy earns more than its costs)
    move < -cost   ->  0  (a sell does)
    otherwise      ->  no label: neither direction pays for the round trip

A bar whose horizon runs past its session's last bar has no label either: the
break is not a move the strategy could trade (its orders are DAY orders).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kernel.settings import SymbolSettings
from training.features import BarRow

UP, DOWN = 1, 0


@dataclass(frozen=True, slots=True)
class RoundTripCost:
    """What one contract's round trip costs, in price points."""

    slippage_ticks: int
    tick_size: Decimal
    fee_per_unit: Decimal
    multiplier: Decimal

    @classmethod
    def of(cls, settings: SymbolSettings) -> RoundTripCost:
        instrument, sim = settings.instrument, settings.book.sim
        return cls(sim.slippage_ticks, instrument.tick_size, instrument.fee_per_unit, instrument.multiplier)

    @property
    def points(self) -> Decimal:
        return 2 * (self.slippage_ticks * self.tick_size + self.fee_per_unit / self.multiplier)


@dataclass(frozen=True, slots=True)
class Label:
    value: int  # UP or DOWN
    exit_index: int  # the row whose close ends the label's window


def forward_labels(rows: Sequence[BarRow], horizon: int, cost: RoundTripCost) -> list[Label | None]:
    """One label (or None) per row, in row order."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least one bar, got {horizon}")
    threshold = float(cost.points)
    labels: list[Label | None] = []
    for i, row in enumerate(rows):
        j = i + horizon
        if j >= len(rows) or rows[j].session != row.session:
            labels.append(None)
            continue
        move = rows[j].close - row.close
        labels.append(Label(UP, j) if move > threshold else Label(DOWN, j) if move < -threshold else None)
    return labels
