"""The metrics module (eventlog/metrics.py) and the worker's batch observer, read back with prometheus-client's parser."""

from __future__ import annotations

import urllib.request

import pytest

from aitrader.commands.common import serve_metrics
from contract.events import (
    DeadLettered,
    Envelope,
    OrderDenied,
    TradingState,
    TradingStateApplied,
)
from contract.records import INGEST_WALL_HEADER, RawRecord
from contract.topics import CONTROL, DEAD_LETTER, ORDERS
from eventlog.metrics import ProcessMetrics, ingest_wall_header, ingest_wall_ms
from inference.baseline import BaselineScorer
from kernel.runner import Routed
from processors.live.observe import BatchObserver, TimedScorer
from tests.metric_scrape import (
    CONTRACT_NAMES,
    by_label,
    parse,
    scrape,
    value,
)


def envelope(n: int) -> Envelope:
    return Envelope(f"00000000-0000-0000-0000-{n:012d}", 1_378_000_000_000 + n, "kernel/test", None, None)


def record(partition: int, offset: int, headers: tuple[tuple[str, bytes], ...] = ()) -> RawRecord:
    return RawRecord("ns.inputs", partition, offset, 1_378_000_000_000 + offset, b"ES", b"", headers)


def test_a_fresh_process_exposes_every_name_of_the_contract() -> None:
    found = parse(ProcessMetrics("processors").render().decode())
    assert set(found) == CONTRACT_NAMES


def test_processes_in_one_interpreter_count_apart_and_register_nothing_twice() -> None:
    first, second = ProcessMetrics("api"), ProcessMetrics("api")
    first.api_requests.labels("GET", "/health", "200").inc()
    assert value(parse(first.render().decode()), "aitrader_api_requests_total", route="/health") == 1
    assert "aitrader_api_requests_total" in parse(second.render().decode())
    assert not parse(second.render().decode())["aitrader_api_requests_total"]


def test_an_unknown_process_or_a_negative_port_is_refused() -> None:
    with pytest.raises(ValueError, match="process must be one of"):
        ProcessMetrics("worker")
    with pytest.raises(ValueError, match="metrics port"):
        ProcessMetrics("notary").serve(-1)


def test_port_0_serves_on_a_free_port_and_the_command_says_which_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = serve_metrics("notary", 0)
    url = capsys.readouterr().err.strip().removeprefix("metrics on ")
    port = int(url.removeprefix("http://127.0.0.1:").removesuffix("/metrics"))
    try:
        assert url == f"http://127.0.0.1:{port}/metrics" and port > 0
        metrics.count_inputs("ns.fills", 2, 7)
        found = scrape(f"http://127.0.0.1:{port}/metrics")
        assert by_label(found, "aitrader_inputs_total", "partition", process="notary", topic="ns.fills") == {"2": 7}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.read() == metrics.render()
    finally:
        metrics.close()


def test_the_ingest_header_is_epoch_milliseconds_and_a_garbled_one_is_none() -> None:
    header = ingest_wall_header()
    stamp = int(header[INGEST_WALL_HEADER])
    assert ingest_wall_ms(record(0, 1, ((INGEST_WALL_HEADER, header[INGEST_WALL_HEADER]),))) == stamp
    assert ingest_wall_ms(record(0, 1, ((INGEST_WALL_HEADER, b"soon"),))) is None
    assert ingest_wall_ms(record(0, 1)) is None


def test_a_batch_counts_inputs_per_partition_outputs_per_topic_and_kernel_outcomes() -> None:
    metrics = ProcessMetrics("processors")
    observer = BatchObserver(metrics)
    denied = OrderDenied(envelope(1), "o-1", "ES", "MAX_POSITION", "position 3 > 2")
    dead = DeadLettered(envelope(2), "ns.inputs", 0, 4, "kernel", "LateTick", "late", b"ES", b"", {})
    halted = TradingStateApplied(envelope(3), 0, "ES", TradingState.HALTED, TradingState.REDUCING,
                                 {"ES": "HALTED", "NQ": "ACTIVE"}, "ops", "alice")
    applied = [
        (record(0, 3), [Routed(ORDERS, "ES", None, denied)]),
        (record(0, 4), [Routed(DEAD_LETTER, "ns.inputs", None, dead)]),
        (record(2, 9), [Routed(CONTROL, "partition-0", 0, halted)]),
    ]
    observer.flushed(applied, {"ns.orders": 1, "ns.dead-letter": 1, "ns.control": 1}, 0.25)
    found = parse(metrics.render().decode())
    assert by_label(found, "aitrader_inputs_total", "partition", topic="ns.inputs") == {"0": 2, "2": 1}
    assert by_label(found, "aitrader_outputs_total", "topic") == {"ns.orders": 1, "ns.dead-letter": 1, "ns.control": 1}
    assert by_label(found, "aitrader_risk_refusals_total", "check") == {"MAX_POSITION": 1}
    assert by_label(found, "aitrader_dead_letters_total", "reason") == {"LateTick": 1}
    assert value(found, "aitrader_batch_seconds_sum", process="processors") == 0.25
    # Each symbol under the more severe of its own state and its partition's; "*" is the partition's.
    assert by_label(found, "aitrader_trading_state", "state", symbol="ES") == {"ACTIVE": 0, "REDUCING": 0, "HALTED": 1}
    assert by_label(found, "aitrader_trading_state", "state", symbol="NQ") == {"ACTIVE": 0, "REDUCING": 1, "HALTED": 0}
    assert by_label(found, "aitrader_trading_state", "state", symbol="*") == {"ACTIVE": 0, "REDUCING": 1, "HALTED": 0}


def test_the_timed_scorer_scores_as_the_wrapped_one_and_reports_its_path() -> None:
    metrics = ProcessMetrics("processors")
    scorer = BaselineScorer()
    timed = TimedScorer(scorer, metrics)
    rows = [{"signal_score": s / 10, "zscore": 1.5, "vwap_distance": -0.4, "ema_spread_sigmas": 0.2, "volume_ratio": 1.1}
            for s in range(-10, 11)]
    assert timed.score_batch(rows) == scorer.score_batch(rows)
    assert timed.score(rows[3]) == scorer.score(rows[3])
    assert (timed.name, timed.version, timed.sha256, timed.provider) == (scorer.name, scorer.version, scorer.sha256, scorer.provider)
    found = parse(metrics.render().decode())
    assert value(found, "aitrader_scorer_info", model=scorer.name, version=scorer.version, path=scorer.provider) == 1
    assert value(found, "aitrader_scorer_batch_seconds_count", path=scorer.provider) == 2


def test_the_scorer_that_scored_last_is_the_one_in_use() -> None:
    metrics = ProcessMetrics("processors")
    metrics.scorer_in_use("baseline", "1.0.0", "python")
    metrics.scorer_in_use("gbm-bars", "1.0.0", "CPUExecutionProvider")
    found = parse(metrics.render().decode())
    assert by_label(found, "aitrader_scorer_info", "model") == {"gbm-bars": 1}
