"""The trading kernel: pure, deterministic decisions over events and state.

``engine`` is the kernel a worker drives one record at a time, with its settings
(``settings``, parsed once) and its restore from a snapshot (``restore``);
``runner`` drives it over records as read from the log. Ticks become signals
through ``bars``, ``indicators`` and ``patterns``; signals become sized intents
in ``strategy`` and ``sizing``; the order book, risk and fills are in ``oms``,
scores in ``inference``. No broker, clock or database: Faust, replay and the
tests drive the same code.
"""
