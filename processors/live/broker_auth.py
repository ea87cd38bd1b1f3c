"""The Faust side of ``eventlog.kafka_security``: the same principal for aiokafka as for confluent-kafka.

The worker reads its inputs with Faust (aiokafka) and writes with confluent-kafka;
both must log in as the kernel, or a secured broker refuses the half that does not.
"""

from __future__ import annotations

import ssl

import faust

from eventlog.kafka_security import KafkaSecurity


def faust_credentials(security: KafkaSecurity) -> faust.SASLCredentials | None:
    """Faust's ``broker_credentials`` for ``security``; None for an open broker."""
    if not security.authenticated:
        return None
    tls = ssl.create_default_context(cafile=security.ca_location) if security.protocol == "SASL_SSL" else None
    return faust.SASLCredentials(
        username=security.username, password=security.password, mechanism=security.mechanism, ssl_context=tls
    )
