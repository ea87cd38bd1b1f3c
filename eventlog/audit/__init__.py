"""The audit trail over the log; the pure chain and checkpoints are in ``audit``.

``onlog`` reads ``audit.checkpoints`` and verifies a topic on the log;
``notary`` extends the chains from the log and seals checkpoints; ``bundle``
exports a range with everything needed to verify it offline; ``trace`` follows
one order back to the tick that caused it. docs/design.md, "The audit trail",
says why.
"""
