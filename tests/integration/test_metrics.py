"""Every long-running process's /metrics while a slice of the sample day runs, checked against the log.

The five processes run as an operator starts them (subprocesses, each on a free metrics port it prints);
`aitrader ingest` loads the first trades of the sample day. Once everything is caught up, each process's
inputs, outputs and lag must be what the log holds, and the tick -> fill latencies what the log's events say.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from contract.events import DeadLettered, OrderDenied, OrderFilled, OrderIntent
from contract.records import RawRecord, decode
from contract.serde import EventCodec
from contract.topics import (
    AUDIT_CHECKPOINTS,
    CATALOG,
    FILLS,
    INPUTS,
    MANIFESTS,
    Namespace,
)
from eventlog.admin import TopicAdmin
from eventlog.audit.onlog import EVENT_TOPICS
from eventlog.consumer import LogReader
from projections.registry import TOPICS
from tests.deploy_metrics import deploy_metric_names
from tests.metric_scrape import (
    CONTRACT_NAMES,
    ROOT,
    LiveProcesses,
    Scrape,
    by_label,
    value,
)
from tests.scratch import drop_with_companions, fresh_schema
from tests.seed import sample_slice

pytestmark = pytest.mark.infra

ROWS = 30_000  # enough of the first session for orders, fills and snapshots
CAUGHT_UP_TIMEOUT_S = 240
CODEC = EventCodec()


def _records(bootstrap: str, topic: str) -> list[RawRecord]:
    with LogReader(bootstrap) as reader:
        return [record for batch in reader.read(topic, reader.watermarks(topic)) for record in batch]


def _counts(bootstrap: str, topic: str) -> dict[str, float]:
    """Records per partition on the log, keyed as the metrics label partitions."""
    with LogReader(bootstrap) as reader:
        return {str(p): float(high - low) for p, (low, high) in reader.watermarks(topic).items()}


def _caught_up(processes: LiveProcesses, space: Namespace, bootstrap: str) -> dict[str, Scrape]:
    """Scrapes until the processors, projector, notary and monitor all report lag 0 with the log's inputs."""
    inputs = _counts(bootstrap, space.topic(INPUTS))
    deadline = time.monotonic() + CAUGHT_UP_TIMEOUT_S
    while True:
        try:
            found = processes.scrape()
        except OSError:  # a process still starting its server, or busy: ask again
            time.sleep(1)
            continue
        fills = {p: n for p, n in _counts(bootstrap, space.topic(FILLS)).items() if n}
        done = (
            by_label(found["processors"], "aitrader_inputs_total", "partition", topic=space.topic(INPUTS)) == {
                p: n for p, n in inputs.items() if n}
            # Every sample, topic by topic: keyed by partition alone, one topic's 0 hid another's lag.
            and all(s.value == 0 for name in ("processors", "projector", "notary", "monitor")
                    for s in found[name].get("aitrader_consumer_lag", ()))
            and fills and by_label(found["monitor"], "aitrader_inputs_total", "partition", topic=space.topic(FILLS)) == fills
            and found["projector"].get("aitrader_projection_lag")
            and all(s.value == 0 for s in found["projector"]["aitrader_projection_lag"])
        )
        if done:
            # Once more after a pause: every process has had a full pass over the final log since.
            time.sleep(3)
            return processes.scrape()
        if time.monotonic() > deadline:
            state = {name: {k: v for k, v in found[name].items() if k in ("aitrader_inputs_total", "aitrader_consumer_lag",
                                                                          "aitrader_projection_lag")} for name in found}
            pytest.fail(f"not caught up in {CAUGHT_UP_TIMEOUT_S}s: inputs {inputs}, fills {fills}, {state}\n{processes.tails()}")
        dead = [r.process for r in processes.running.values() if r.popen.poll() is not None]
        if dead:
            pytest.fail(f"{dead} exited\n{processes.tails()}")
        time.sleep(1)


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveProcesses, Namespace, dict[str, Scrape]]]:
    space = Namespace(f"test.metrics.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    schema = fresh_schema(database_url, "test")
    tmp = tmp_path_factory.mktemp("metrics")
    try:
        with LiveProcesses(kafka_bootstrap, database_url, space.prefix, schema, tmp) as processes:
            env = processes.env()
            ingest = subprocess.run([sys.executable, "-m", "aitrader", "ingest", str(sample_slice(tmp, f"es_first_{ROWS}.csv", 0, ROWS)), "--namespace", space.prefix],
                                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert ingest.returncode == 0, ingest.stderr
            found = _caught_up(processes, space, kafka_bootstrap)
            yield processes, space, found
    finally:
        admin.delete(CATALOG)
        drop_with_companions(database_url, schema)


def test_the_processors_count_the_inputs_and_outputs_on_the_log(live: tuple[LiveProcesses, Namespace, dict[str, Scrape]], kafka_bootstrap: str) -> None:
    _, space, found = live
    processors = found["processors"]
    inputs = {p: n for p, n in _counts(kafka_bootstrap, space.topic(INPUTS)).items() if n}
    assert sum(inputs.values()) == ROWS
    assert by_label(processors, "aitrader_inputs_total", "partition", topic=space.topic(INPUTS)) == inputs
    outputs = by_label(processors, "aitrader_outputs_total", "topic")
    assert outputs[space.topic(FILLS)] > 0
    # Every derived topic the worker wrote, as many records as the log holds (the manifest is the command's own).
    assert outputs == {topic: sum(_counts(kafka_bootstrap, topic).values()) for topic in outputs}
    assert space.topic(MANIFESTS) not in outputs
    assert value(processors, "aitrader_batch_seconds_count", process="processors") > 0
    lag = by_label(processors, "aitrader_consumer_lag", "partition", topic=space.topic(INPUTS))
    assert set(lag) == set(_counts(kafka_bootstrap, space.topic(INPUTS))) and set(lag.values()) == {0.0}


def test_kernel_outcomes_match_the_derived_events(live: tuple[LiveProcesses, Namespace, dict[str, Scrape]], kafka_bootstrap: str) -> None:
    _, space, found = live
    processors = found["processors"]
    events = [decode(CODEC, r) for name in ("intents", "orders", "fills", "dead-letter")
              for r in _records(kafka_bootstrap, space.topic(name))]
    denied = Counter(e.reason for e in events if isinstance(e, OrderDenied))
    assert by_label(processors, "aitrader_risk_refusals_total", "check") == {k: float(n) for k, n in denied.items()}
    dead = Counter(e.error_type for e in events if isinstance(e, DeadLettered))
    assert by_label(processors, "aitrader_dead_letters_total", "reason", process="processors") == {k: float(n) for k, n in dead.items()}
    # Tick -> fill in event time: each fill against the event time of the intent that started its chain.
    started = {e.envelope.correlation_id: e.event_time_ms for e in events if isinstance(e, OrderIntent)}
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert fills
    expected = sum(f.event_time_ms - started[f.envelope.correlation_id] for f in fills) / 1000
    assert value(processors, "aitrader_tick_to_fill_event_seconds_count") == len(fills)
    assert value(processors, "aitrader_tick_to_fill_event_seconds_sum") == pytest.approx(expected)
    # In wall time: every tick carried the ingest header, so every fill is observed, none before its tick was sent.
    assert value(processors, "aitrader_tick_to_fill_wall_seconds_count") == len(fills)
    assert value(processors, "aitrader_tick_to_fill_wall_seconds_sum") > 0
    assert value(processors, "aitrader_scorer_info", model="baseline", path="python") == 1


def test_the_projector_notary_and_monitor_count_what_the_log_holds(
    live: tuple[LiveProcesses, Namespace, dict[str, Scrape]], kafka_bootstrap: str
) -> None:
    _, space, found = live
    for spec in TOPICS:
        topic = space.topic(spec)
        on_log = {p: n for p, n in _counts(kafka_bootstrap, topic).items() if n}
        counted = {p: n for p, n in by_label(found["projector"], "aitrader_inputs_total", "partition", topic=topic).items() if n}
        assert counted == on_log, topic
    assert value(found["projector"], "aitrader_projection_stopped") == 0
    for spec in EVENT_TOPICS:
        topic = space.topic(spec)
        on_log = {p: n for p, n in _counts(kafka_bootstrap, topic).items() if n}
        counted = {p: n for p, n in by_label(found["notary"], "aitrader_inputs_total", "partition", topic=topic).items() if n}
        assert counted == on_log, topic
    sealed = sum(_counts(kafka_bootstrap, space.topic(AUDIT_CHECKPOINTS)).values())
    assert sealed > 0
    assert value(found["notary"], "aitrader_outputs_total", process="notary", topic=space.topic(AUDIT_CHECKPOINTS)) == sealed
    assert by_label(found["monitor"], "aitrader_inputs_total", "partition", topic=space.topic(FILLS)) == {
        p: n for p, n in _counts(kafka_bootstrap, space.topic(FILLS)).items() if n}
    disk = [s for s in found["monitor"]["aitrader_broker_disk_free_bytes"]]
    assert len(disk) == 1 and disk[0].value > 0


def test_the_api_counts_requests_by_route_template(live: tuple[LiveProcesses, Namespace, dict[str, Scrape]]) -> None:
    import urllib.error
    import urllib.request

    processes, _, _ = live
    base = processes.running["api"].url.removesuffix("/metrics")
    before = processes.scrape()["api"]
    health = by_label(before, "aitrader_api_requests_total", "status", method="GET", route="/health")
    for _ in range(3):
        urllib.request.urlopen(f"{base}/health", timeout=10).read()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{base}/api/orders/some-order/trace", timeout=10)  # no key: 401, on its template
    after = processes.scrape()["api"]
    assert by_label(after, "aitrader_api_requests_total", "status", method="GET", route="/health")["200"] == health.get("200", 0) + 3
    assert by_label(after, "aitrader_api_requests_total", "status", method="GET", route="/api/orders/{order_id}/trace") == {"401": 1.0}


def test_every_contract_metric_appears_in_a_live_scrape(live: tuple[LiveProcesses, Namespace, dict[str, Scrape]]) -> None:
    processes, _, _ = live
    names = processes.names()
    assert CONTRACT_NAMES <= names, sorted(CONTRACT_NAMES - names)
    # What the dashboard and the alert rules name (deploy/, when they exist) must be scraped too.
    assert deploy_metric_names() <= names, sorted(deploy_metric_names() - names)
