"""How each kind of event changes the read models: one module per model family.

Each ``apply(conn, items, context)`` receives the batch's decoded events that
its projection has not applied yet (in log order) and writes them inside the
caller's transaction. Rows keyed by event id are inserted with ON CONFLICT DO
NOTHING, and anything derived (positions, P&L, order state, bars) is derived
only from the rows that insert actually added, so a duplicate changes nothing.
"""
