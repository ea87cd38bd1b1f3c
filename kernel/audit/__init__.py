"""Tamper evidence for the event log: per-partition hash chains, signed checkpoints, offline bundles.

Pure: ``chain`` links each record to the one before it; ``events`` is the
checkpoint record; ``trust`` says which notary key may sign which checkpoint (a
root key certifies, retires and revokes them); ``sealer`` decides when a seal is
due and what it says; ``verify`` recomputes chains against checkpoints and says
how complete a set of records is. With I/O: ``sign`` keeps the Ed25519 keys;
``onlog`` reads ``audit.checkpoints`` and verifies a topic on the log; ``notary``
extends the chains from the log and seals checkpoints; ``bundle`` exports a range
with everything needed to verify it offline; ``trace`` follows one order back to
the tick that caused it. docs/design.md, "The audit trail", says why.
"""
