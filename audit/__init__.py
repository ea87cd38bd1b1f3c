"""Tamper evidence for the event log: hash chains and signed checkpoints. Pure.

``chain`` links each record to the one before it; ``events`` is the checkpoint
record; ``trust`` says which notary key may sign which checkpoint (a root key
certifies, retires and revokes them); ``sealer`` decides when a seal is due and
what it says; ``verify`` recomputes chains against checkpoints and says how
complete a set of records is; ``sign`` holds the Ed25519 keys and their files.
The parts that read and write the log are in ``eventlog.audit``.
docs/design.md, "The audit trail", says why.
"""
