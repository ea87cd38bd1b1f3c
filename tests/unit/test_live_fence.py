"""The live pipeline's bookkeeping of the partitions it holds (``KernelPipeline.assign`` / ``revoke`` / the fence).

No broker: records of partitions not held never reach a kernel or the
producer, and the rebalance callbacks only move sets and kernels around.
The whole path on a real broker is tests/integration/test_workers.py.
"""

from __future__ import annotations

from typing import cast

from contract.records import RawRecord
from contract.topics import Namespace
from inference.baseline import BaselineScorer
from kernel.runner import KernelRunner
from kernel.settings import KernelSettings
from processors.live.app import KernelPipeline, PipelineConfig, describe_batch

NOWHERE = "127.0.0.1:9"  # the producer is made, never used: nothing reaches it


def _pipeline() -> KernelPipeline:
    return KernelPipeline(PipelineConfig(NOWHERE, Namespace("unit."), KernelSettings.parse(), BaselineScorer()))


def _records(partition: int, offsets: range) -> list[RawRecord]:
    return [RawRecord("unit.inputs", partition, offset, 0, b"ES", b"not even an event", ()) for offset in offsets]


def test_a_pipeline_holds_nothing_until_a_rebalance_gives_it_partitions() -> None:
    pipeline = _pipeline()
    batch = _records(0, range(5)) + _records(2, range(3))
    assert pipeline.process(batch) == {0, 2}
    assert (pipeline.stats.fenced, pipeline.stats.inputs, pipeline.stats.batches) == (8, 0, 0)
    assert pipeline.runners == {}


def test_records_of_revoked_partitions_are_left_out_and_named() -> None:
    pipeline = _pipeline()
    pipeline.assign({0, 1, 2})
    pipeline.revoke({0, 1, 2})  # an eager rebalance starts by revoking everything
    assert pipeline.process(_records(1, range(10, 20))) == {1}
    assert pipeline.stats.fenced == 10 and pipeline.stats.inputs == 0


def test_kernels_of_partitions_given_back_stay_and_the_others_go() -> None:
    pipeline = _pipeline()
    kept, gone = cast(KernelRunner, object()), cast(KernelRunner, object())
    pipeline.assign({0, 1})
    pipeline.runners.update({0: kept, 1: gone})
    pipeline.revoke({0, 1})
    assert pipeline.runners == {0: kept, 1: gone}  # not yet: the rebalance may give them back
    pipeline.assign({0, 2})
    assert pipeline.runners == {0: kept}
    assert pipeline.assigned == {0, 2}


def test_a_batch_is_described_by_its_offset_range_per_partition() -> None:
    batch = _records(2, range(7, 9)) + _records(0, range(100, 2100))
    assert describe_batch(batch) == "partition 0 offsets 100-2099; partition 2 offsets 7-8"
