"""Where batches break must not show in the read models: a crash moves the breaks, and the tables must not care.

The projector drops a second copy of an event id inside one batch (copies are
what a worker killed after producing and before committing leaves on the log).
Projecting the same log in batches of one record and in one big batch must
leave every table, the offsets table included, with the same rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.topics import Namespace
from eventlog.producer import EventProducer
from projections.projector import Projector
from tests.faults.checks import tables
from tests.multi_symbol_day import partition_inputs
from tests.scratch import drop_with_companions, fresh_schema
from tests.seed import put_inputs

pytestmark = pytest.mark.infra


def test_the_tables_do_not_depend_on_where_batches_break(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, tmp_path: Path
) -> None:
    inputs = {p: events[:40] for p, events in partition_inputs(every=2_000).items()}
    producer = EventProducer(kafka_bootstrap, namespace)
    put_inputs(producer, inputs)
    put_inputs(producer, inputs)  # every event twice: the second copies are 40 offsets after the first
    small, big = fresh_schema(database_url, "small"), fresh_schema(database_url, "big")
    try:
        Projector(kafka_bootstrap, database_url, small, namespace, batch_size=1).run(stop_at_end=True)
        Projector(kafka_bootstrap, database_url, big, namespace).run(stop_at_end=True)
        one, many = tables(database_url, small), tables(database_url, big)
    finally:
        drop_with_companions(database_url, small)
        drop_with_companions(database_url, big)
    assert sum(one["event_index"].values()) == sum(len(events) for events in inputs.values())
    differing = {t: (sorted((one[t] - many[t]).elements())[:3], sorted((many[t] - one[t]).elements())[:3])
                 for t in many if one[t] != many[t]}
    assert differing == {}, f"rows only after batches of one, only after one batch: {differing}"
