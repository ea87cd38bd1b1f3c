"""The latency benchmark's pure parts: quantiles of the fills, the worker's histogram read back, the pacer's rate (no broker)."""

from __future__ import annotations

import math

from bench.latency import Latencies, Paced, bucket, histogram_quantile, quantile


def test_nearest_rank_quantiles_pick_a_measured_value_never_an_interpolated_one() -> None:
    ordered = [float(n) for n in range(1, 1001)]  # 1 .. 1000 ms
    assert [quantile(ordered, q) for q in (0.5, 0.9, 0.99, 0.999, 1.0)] == [500.0, 900.0, 990.0, 999.0, 1000.0]
    assert quantile([7.0], 0.999) == 7.0


def test_a_summary_counts_the_fills_and_ends_at_the_slowest() -> None:
    summary = Latencies.of([30.0, 10.0, 20.0, 40.0]).summary()
    assert summary == {"count": 4, "p50": 20.0, "p90": 40.0, "p99": 40.0, "p99.9": 40.0, "max": 40.0}
    assert Latencies.of([]).summary() == {"count": 0}


def test_a_histogram_quantile_is_the_upper_bound_of_the_bucket_that_holds_it() -> None:
    # 90 fills within 5 ms, 9 more within 10 ms, one within 50 ms: cumulative, as Prometheus exposes them.
    counts = {0.001: 0.0, 0.005: 90.0, 0.01: 99.0, 0.025: 99.0, 0.05: 100.0, math.inf: 100.0}
    assert histogram_quantile(counts, 0.5) == 5.0
    assert histogram_quantile(counts, 0.9) == 5.0
    assert histogram_quantile(counts, 0.99) == 10.0
    assert histogram_quantile(counts, 0.999) == 50.0


def test_the_pacer_rate_counts_the_intervals_between_sends() -> None:
    assert Paced(sent=5001, seconds=1.0, behind_s=0.0).rate == 5000.0
    assert Paced(sent=1, seconds=0.0, behind_s=0.0).rate == 0.0


def test_a_quantile_past_the_last_bucket_says_so() -> None:
    assert bucket(histogram_quantile({0.01: 1.0, 60.0: 1.0, math.inf: 4.0}, 0.5)) == "> 60 s"
    assert bucket(10.0) == "<= 10 ms"
