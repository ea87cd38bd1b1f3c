"""The kernel's contract and I/O: events, Avro serde, topic catalog, producer and consumer."""

__version__ = "0.1.0"
