"""``bench.scaling``'s reading of its figures: the slowest stage saturates first, a stage that falls below half is named."""

from __future__ import annotations

from bench.scaling import Count, saturation, table


def _count(symbols: int, kernel: float, decode: float, replay: float, worker: float, close_bar_calls: int) -> Count:
    result = Count(symbols, 1_000, {0: symbols})
    result.rates = {"kernel": kernel, "decode": decode, "fast_replay": replay, "worker": worker}
    result.cpu_rates = {"kernel": kernel * 2, "decode": decode * 2}  # what a loaded machine's wall time hides
    result.outputs, result.state_bytes, result.traced_peak_bytes, result.peak_rss_bytes = 10, 2_000 * symbols, 10**6, 10**8
    result.calls = {"kernel/patterns.py:269(_close_bar)": close_bar_calls, "kernel/engine.py:173(apply)": 1_000}
    result.seconds = {"kernel/patterns.py:269(_close_bar)": 0.5, "kernel/engine.py:173(apply)": 0.1}
    return result


def test_parts_that_add_up_to_more_than_the_replay_leave_no_rest() -> None:
    notes = saturation([_count(1, kernel=6_000, decode=6_000, replay=4_000, worker=3_000, close_bar_calls=1)])
    assert notes[1].endswith("the rest (read, produce, acks) none left (the parts, timed apart, add up to more)")


def test_the_slowest_stage_saturates_first_and_a_stage_below_half_is_named_with_the_calls_that_grew() -> None:
    few = _count(1, kernel=40_000, decode=50_000, replay=10_000, worker=4_000, close_bar_calls=10)
    many = _count(100, kernel=10_000, decode=49_000, replay=6_000, worker=5_000, close_bar_calls=900)
    notes = saturation([few, many])
    assert notes[0] == "1 symbol(s): live worker (1 worker) saturates first at 4,000 inputs/s"
    assert "live worker (1 worker) saturates first at 5,000" in notes[2]
    assert "kernel only (one kernel, every symbol): 0.25x of its rate per CPU-second at 1" in "\n".join(notes)
    assert "fast replay (day 2013-09-03): 0.60x of its rate at 1" in "\n".join(notes)
    assert notes[-1].startswith("degraded below 50%: kernel only (one kernel, every symbol);")  # only the kernel
    grown = notes[notes.index(next(n for n in notes if n.startswith("kernel calls per input"))) + 1]
    assert "_close_bar): 0.010 -> 0.900 per input" in grown  # the call that grew comes first, apply's did not grow
    # decode, kernel and the rest add up to the fast replay's time per input
    assert "decode 20%, kernel 25%, the rest (read, produce, acks) 55%" in notes[1]


def test_the_table_has_a_column_per_count_and_a_row_per_stage() -> None:
    lines = table([_count(1, 4.0, 5.0, 1.0, 2.0, 1), _count(10, 4.0, 5.0, 1.0, 2.0, 1)])
    assert lines[0] == "| symbols | 1 | 10 |"
    assert all(line.count("|") == 4 for line in lines)
    assert "| kernel state per symbol, KB | 2.0 | 2.0 |" in lines
    assert "| kernel only (one kernel, every symbol), inputs/CPU-s | 8 | 8 |" in lines
