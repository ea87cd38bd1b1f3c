"""Tamper evidence for the event log: per-partition hash chains, signed checkpoints, offline bundles.

``chain`` (pure) links each record to the one before it; ``events`` is the
checkpoint record; ``sign`` holds the notary's Ed25519 key; ``notary`` extends
the chains from the log and seals checkpoints on ``audit.checkpoints``;
``verify`` recomputes chains against checkpoints (on the log or in a bundle);
``bundle`` exports a range with everything needed to verify it offline;
``trace`` follows one order back to the tick that caused it.
"""
