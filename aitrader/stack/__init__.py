"""The local stack: a Kafka broker and a PostgreSQL database for dev and CI.

Other code only needs :func:`endpoints`; ``aitrader stack ...`` (cli.py) and the
test fixtures use :mod:`aitrader.stack.kafka` and :mod:`aitrader.stack.postgres`
to start and stop things.
"""

from aitrader.stack.endpoints import endpoints
from aitrader.stack.paths import StackError, StackPaths

__all__ = ["StackError", "StackPaths", "endpoints"]
