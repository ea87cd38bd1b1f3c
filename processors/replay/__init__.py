"""Replay: re-run the kernel over a range of the sequenced input topic and prove it derives what live did.

``window`` finds the inputs (a trading day by time, or explicit offsets) and the
snapshot to start from; ``start`` builds each partition's kernel from it;
``fast`` drives the kernel in one process; ``compare`` digests the replayed and
live derived topics and finds the first difference; ``report`` writes the
``--report`` directory. ``aitrader replay`` composes them.
"""
