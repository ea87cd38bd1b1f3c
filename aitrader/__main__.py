"""``python -m aitrader`` is the ``aitrader`` command."""

from aitrader.cli import app

app()
