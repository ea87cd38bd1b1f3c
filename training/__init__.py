"""Training the strategy's model from the log's ticks (``aitrader model train``).

The pipeline: bar-close features computed by the live pattern engine
(``features``), labels net of trading costs (``labels``), a walk-forward split
by trading session (``split``), a small gradient-boosted model exported to ONNX
(``fit``), its held-out metrics beside the baseline formula's (``evaluate``,
``metrics``), and the model card written into the registry (``card``,
``pipeline``). It does I/O (the tick file, the registry), so it sits beside
``processors`` in the layers; everything it decides is deterministic: fixed
seeds, one thread, rows in time order, never shuffled.
"""
