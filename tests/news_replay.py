"""Derives one input partition's events with the kernel, as a replay does, and prints their digest.

``python -m tests.news_replay BOOTSTRAP NAMESPACE PARTITION`` blocks the
sentiment packages first (an import of them fails), so a run that succeeds and
matches a run without the block proves the kernel never needed a sentiment
model: the score came with the ``NewsScored`` input.
"""

from __future__ import annotations

import hashlib
import json
import sys

SENTIMENT_PACKAGES = ("tokenizers", "onnxruntime", "vaderSentiment")


def derive(bootstrap: str, namespace: str, partition: int) -> dict[str, object]:
    from contract.serde import EventCodec
    from contract.topics import INPUTS, Namespace
    from eventlog.consumer import LogReader
    from inference.baseline import BaselineScorer
    from kernel.engine import TradingKernel
    from kernel.runner import KernelRunner
    from kernel.settings import KernelSettings

    codec = EventCodec()
    runner = KernelRunner(TradingKernel(partition, KernelSettings.parse({"strategy.news_sentiment": "true"}), BaselineScorer()), codec)
    digest, outputs = hashlib.sha256(), 0
    topic = Namespace(namespace).topic(INPUTS)
    with LogReader(bootstrap) as reader:
        low, high = reader.watermarks(topic)[partition]
        for batch in reader.read(topic, {partition: (low, high)}):
            for record in batch:
                for routed in runner.apply(record):
                    digest.update(codec.encode(routed.event))
                    outputs += 1
    news = runner.kernel.to_state().get("news", {})
    return {
        "digest": digest.hexdigest(),
        "outputs": outputs,
        "news": news,
        "sentiment_imported": sorted(
            name for name, module in sys.modules.items()
            if module is not None and (name.split(".")[0] in SENTIMENT_PACKAGES or name.startswith("inference.sentiment"))
        ),
    }


if __name__ == "__main__":
    for name in SENTIMENT_PACKAGES:
        sys.modules[name] = None  # type: ignore[assignment]  # any import of it now raises ImportError
    print(json.dumps(derive(sys.argv[1], sys.argv[2], int(sys.argv[3])), sort_keys=True))
