"""The broker restarted mid-run: the worker, the projector, the notary and the account monitor recover unattended.

A private broker (``tests/faults/private_stack.py``: the stack's own code, its
own home and ports; the shared broker is never touched) carries a slice of the
multi-symbol day. While the live worker holds a batch it has taken but not
applied (a ``hold-before-apply`` fault, so the restart lands mid-batch rather
than whenever timing allows), the broker is stopped as ``aitrader stack down``
stops it and started again; then the batch goes on. No process may exit, the
worker must commit every input and the projector project every record without
anyone restarting them, and afterwards nothing is lost (``tests/faults/checks.py``).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from aitrader.commands.common import parse_settings
from contract.topics import CATALOG, INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader
from eventlog.sampledata import write_multi_symbol_day
from kernel.settings import KernelSettings
from projections.db import connect
from projections.status import lags
from tests.faults.chaos import Chaos, Kind, committed_to_end
from tests.faults.checks import assert_nothing_lost
from tests.faults.private_stack import PrivateBroker
from tests.scratch import drop_with_companions, fresh_schema
from tests.workers import (
    as_outputs,
    derived_on_log,
    first_difference,
    ingest,
    pure_kernel,
    read_records,
)

pytestmark = pytest.mark.infra

SINCE, UNTIL = "2013-09-01 17:00", "2013-09-03 09:00"
MIDWAY = "2013-09-03 08:30"
EVERY = 80
OUTAGE_S = 5.0  # how long the broker stays down: longer than a fetch, shorter than the worker's session
LONG_OUTAGE_S = 40.0  # longer than the 30 s a log reader waits for the broker's metadata
WAITING_FOR_BROKER = r"rebuilding the kernel of partition \d+ failed, the broker did not answer"
RUN_S = 600.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    private = PrivateBroker.make(tmp_path_factory.mktemp("private-stack"))
    private.up()
    try:
        yield private
    finally:
        private.down()


def _projected_to_end(bootstrap: str, database_url: str, schema: str, namespace: Namespace) -> bool:
    try:
        with connect(database_url, schema) as conn, LogReader(bootstrap) as ends:
            return all(lag.lag == 0 for lag in lags(conn, ends, namespace))
    except KafkaException:  # the broker just restarted: ask again
        return False


def test_a_broker_restart_mid_batch_is_survived_unattended(broker: PrivateBroker, database_url: str, tmp_path: Path) -> None:
    bootstrap = broker.bootstrap
    namespace = Namespace(f"test.{secrets.token_hex(4)}.")
    TopicAdmin(bootstrap, namespace).create()
    schema = fresh_schema(database_url, "restart")
    try:
        day = write_multi_symbol_day(tmp_path / "day", every=EVERY, since=SINCE, until=UNTIL)
        gate, keys, prefix = tmp_path / "gate", tmp_path / "notary", namespace.prefix
        gate.touch()
        kinds = (
            Kind("processors", ("run", "processors", "--namespace", prefix, "--settings", str(day.settings), "--batch", "500"), (), 0),
            Kind("projector", ("run", "projector", "--namespace", prefix, "--schema", schema, "--no-migrate"), (), 0),
            Kind("notary", ("run", "notary", "--namespace", prefix, "--key-dir", str(keys), "--seal-after", "1"), (), 0),
            Kind("monitor", ("run", "monitor", "--namespace", prefix), (), 0),
        )
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database_url}
        chaos = Chaos(env, tmp_path / "logs", {"processors": [f"hold-before-apply:1000:{gate}"]})
        try:
            for kind in kinds:
                chaos.start(kind)
            ingest(bootstrap, namespace, day)
            chaos.current("processors").wait_for("fault hold-before-apply: holding", RUN_S)
            broker.down()
            time.sleep(OUTAGE_S)
            broker.up()
            gate.unlink()
            chaos.supervise(lambda: committed_to_end(bootstrap, namespace), RUN_S)
            chaos.stop("monitor")  # it writes inputs when it acts: stopped first, the kernel then finishes them
            chaos.supervise(lambda: committed_to_end(bootstrap, namespace)
                            and _projected_to_end(bootstrap, database_url, schema, namespace), RUN_S)
        finally:
            chaos.stop_all()
        assert chaos.kills == []
        assert [len(lives) for lives in chaos.lives.values()] == [1, 1, 1, 1], "a process was restarted"
        chaos.finish("notary", ("run", "notary", "--namespace", prefix, "--key-dir", str(keys), "--once"))
        settings = KernelSettings.parse(parse_settings(day.settings, []))
        print(f"records checked: {assert_nothing_lost(bootstrap, database_url, namespace, settings, schema, keys, chaos)}")
    finally:
        drop_with_companions(database_url, schema)
        TopicAdmin(bootstrap, namespace).delete(CATALOG)



def test_a_broker_away_longer_than_a_metadata_timeout_while_a_kernel_is_rebuilt_is_waited_out(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    # A first worker processes the first half of the slice and stops; a second one starts on the second half, so
    # each of its kernels is rebuilt from the log (snapshots, then inputs) before its first batch is applied. The
    # broker goes away just as that rebuild starts, for longer than any one request of it waits.
    bootstrap = broker.bootstrap
    namespace = Namespace(f"test.{secrets.token_hex(4)}.")
    TopicAdmin(bootstrap, namespace).create()
    try:
        first = write_multi_symbol_day(tmp_path / "first", every=EVERY, since=SINCE, until=MIDWAY)
        second = write_multi_symbol_day(tmp_path / "second", every=EVERY, since=MIDWAY, until=UNTIL)
        gate = tmp_path / "gate"
        gate.touch()
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        chaos = Chaos(env, tmp_path / "logs", {"processors": [f"hold-before-apply:0:{gate}"]})
        args = ("run", "processors", "--namespace", namespace.prefix, "--settings", str(first.settings))
        ingest(bootstrap, namespace, first)
        chaos.finish("processors", (*args, "--stop-at-end"))
        ingest(bootstrap, namespace, second)
        try:
            worker = chaos.start(Kind("processors", args, (), 0))
            worker.wait_for("fault hold-before-apply: holding", RUN_S)
            broker.down()
            gate.unlink()
            time.sleep(LONG_OUTAGE_S)
            broker.up()
            chaos.supervise(lambda: committed_to_end(bootstrap, namespace), RUN_S)
        finally:
            chaos.stop_all()
        assert [len(lives) for lives in chaos.lives.values()] == [1], "the worker was restarted"
        worker.wait_for(WAITING_FOR_BROKER, 0)  # the outage did land on the rebuild
        settings = KernelSettings.parse(parse_settings(first.settings, []))
        expected = as_outputs(pure_kernel(read_records(bootstrap, namespace, INPUTS), settings))
        got = derived_on_log(bootstrap, namespace)
        assert got == expected, first_difference(got, expected)
    finally:
        TopicAdmin(bootstrap, namespace).delete(CATALOG)
