"""News sentiment: a headline in, a score in [-1, 1] (positive minus negative) out, quantized to 1e-6.

Sentiment is scored once, when a news item is ingested, and the score travels
on its ``NewsScored`` event: a replay reads it and never runs these models
(docs/design.md, "Determinism": a scorer whose output may vary across hosts has
its outputs recorded as events). ``scorer`` is the interface, ``lexicon`` the
offline lexicon scorer, ``finbert`` the FinBERT-class transformer served with
ONNX Runtime, ``load`` finds one by name or path.
"""
