"""The ``aitrader`` sub-commands, one module per command group."""
