"""Kafka's murmur2, checked against the Java client's own test vectors (UtilsTest.testMurmur2)."""

from __future__ import annotations

import pytest

from contract.partitioner import murmur2, partition_for

JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), JAVA_VECTORS.items(), ids=lambda v: str(v)[:12])
def test_murmur2_matches_the_java_client(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected & 0xFFFFFFFF


def test_partition_is_the_positive_hash_modulo_the_count() -> None:
    assert partition_for("abc", 7) == 479470107 % 7
    assert partition_for("21", 3) == (-973932308 & 0x7FFFFFFF) % 3
