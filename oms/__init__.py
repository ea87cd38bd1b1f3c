"""The order management system: pure, deterministic order lifecycle, risk and fill simulation.

``fsm`` holds the order lifecycle as a table; ``order`` builds an order from its
events; ``instruments`` and ``positions`` value contracts and P&L exactly;
``risk`` is the pre-trade gate; ``simulator`` is the deterministic venue behind
the ``broker`` protocol; ``book`` ties them together per symbol for the kernel
driver. ``settings`` holds the value parsers the typed configs share
(``kernel.settings`` parses a kernel's settings once). Nothing here does
I/O, reads a clock or draws random numbers.
"""
