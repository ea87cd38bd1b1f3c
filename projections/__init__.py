"""Read models in PostgreSQL, projected from the event log exactly once.

Layers, importing one way: ``models`` (tables) <- ``readmodels`` (how each
kind of event changes its tables) <- ``projector`` (the batch loop: read a
batch, apply it, store the consumed offsets in the same transaction) <-
``rebuild`` (project from offset 0 into a fresh schema, then swap it in).
"""
