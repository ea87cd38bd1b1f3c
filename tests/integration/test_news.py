"""``aitrader ingest-news`` on a real broker: scored once, one event per symbol's partition, idempotent, never late,
and a replay that derives the same bytes with no sentiment model anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from aitrader.cli import app
from aitrader.commands.replay import replay
from contract.events import KernelSnapshotTaken, NewsScored
from contract.partitioner import partition_for
from contract.sequencing import merge_in_time
from contract.serde import EventCodec
from contract.topics import INPUTS, SNAPSHOTS, Namespace
from eventlog.consumer import LogReader, decode
from eventlog.ingest import read_ticks
from inference.sentiment.finbert import FinbertScorer
from inference.sentiment.lexicon import LexiconScorer
from marketdata.news import NewsItem, news_event, sequenced
from marketdata.synthetic import settings_text
from tests import news_replay, sentiment_model
from tests.integration.test_replay import ES_PARTITION, _delete_replays, chicago_ms, invoke, sample_ticks
from tests.seed import sample_slice, seed_partitions

pytestmark = pytest.mark.infra

SOURCE = "Synthetic Wire (not real news)"
REPO = Path(__file__).resolve().parents[2]


def _cli(namespace: Namespace, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--namespace", namespace.prefix])


def _news(bootstrap: str, namespace: Namespace) -> dict[int, list[NewsScored]]:
    codec, topic = EventCodec(), namespace.topic(INPUTS)
    with LogReader(bootstrap) as reader:
        marks = reader.watermarks(topic)
        found: dict[int, list[NewsScored]] = {p: [] for p in marks}
        for batch in reader.read(topic, marks):
            found[batch[0].partition] += [e for e in (decode(codec, r) for r in batch) if isinstance(e, NewsScored)]
    return found


def _ends(bootstrap: str, namespace: Namespace) -> dict[int, int]:
    with LogReader(bootstrap) as reader:
        return {p: high for p, (_, high) in reader.watermarks(namespace.topic(INPUTS)).items()}


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["event_time,headline,source,symbols"] + [f'{time},"{headline}",{SOURCE},{symbols}' for time, headline, symbols in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


ROWS = [
    ("2013-09-01T21:30:00Z", "Analysts upgrade US equity outlook as earnings beat estimates", "ES"),
    ("2013-09-01T21:45:00Z", "Blue chips expected to rally, bonds slump", "ES SYN_YM;SYN_ZN"),
    ("2013-09-01T21:50:00Z", "Lender files for bankruptcy", "SYN_ZN"),
]


def test_news_is_scored_once_onto_each_symbols_partition_and_written_once(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    settings = tmp_path / "instruments.conf"
    settings.write_text(settings_text())
    path = _csv(tmp_path / "news.csv", ROWS)
    first = _cli(namespace, "ingest-news", str(path), "--settings", str(settings))
    assert first.exit_code == 0, first.output
    assert "news.csv: 3 items, 0 bad lines skipped" in first.output and "published 5 news events scored by vader-fin" in first.output
    on_log = _news(kafka_bootstrap, namespace)
    by_symbol = {s: [n for p in on_log.values() for n in p if n.symbol == s] for s in ("ES", "SYN_YM", "SYN_ZN")}
    for symbol, news in by_symbol.items():
        assert {n.symbol for n in on_log[partition_for(symbol, INPUTS.partitions)]} >= {symbol}
    assert [n.headline for n in by_symbol["ES"]] == [ROWS[0][1], ROWS[1][1]]
    assert [n.headline for n in by_symbol["SYN_ZN"]] == [ROWS[1][1], ROWS[2][1]]
    scorer = LexiconScorer()
    for news in (n for p in on_log.values() for n in p):
        assert news.score == scorer.score_texts([news.headline])[0]
        assert (news.scorer_name, news.scorer_version, news.scorer_sha256) == (scorer.name, scorer.version, scorer.sha256)
    assert by_symbol["ES"][0].score > 0 > by_symbol["SYN_ZN"][1].score
    assert by_symbol["ES"][1].news_id == by_symbol["SYN_YM"][0].news_id == by_symbol["SYN_ZN"][0].news_id
    assert by_symbol["ES"][1].symbols == ["ES", "SYN_YM", "SYN_ZN"]

    ends = _ends(kafka_bootstrap, namespace)
    again = _cli(namespace, "ingest-news", str(path), "--settings", str(settings))
    assert again.exit_code == 0, again.output
    assert "published 0 news events" in again.output and "ES: 0 news to write, 2 already on the log" in again.output
    longer = _csv(tmp_path / "longer.csv", [*ROWS, ("2013-09-01T21:55:00Z", "Futures seen flat", "ES")])
    resumed = _cli(namespace, "ingest-news", str(longer), "--settings", str(settings))
    assert "longer.csv: 4 items" in resumed.output and "published 1 news events" in resumed.output, resumed.output
    assert sum(_ends(kafka_bootstrap, namespace).values()) == sum(ends.values()) + 1


def test_bad_lines_are_named_and_nothing_good_is_lost(kafka_bootstrap: str, namespace: Namespace, tmp_path: Path) -> None:
    path = _csv(tmp_path / "news.csv", [ROWS[0], ("2013-09-01 21:40", "No zone", "ES"), ROWS[2], ("2013-09-01T21:41:00Z", "Who", "NOPE")])
    refused = _cli(namespace, "ingest-news", str(path))
    assert refused.exit_code != 0
    assert "line 3, field event_time: '2013-09-01 21:40' has no UTC offset" in refused.output
    assert "line 4, field symbols: unknown instrument(s) SYN_ZN" in refused.output
    assert "line 5, field symbols: unknown instrument(s) NOPE" in refused.output
    assert "nothing was written" in refused.output
    assert sum(_ends(kafka_bootstrap, namespace).values()) == 0
    skipped = _cli(namespace, "ingest-news", str(path), "--skip-bad")
    assert skipped.exit_code == 0, skipped.output
    assert [n.headline for p in _news(kafka_bootstrap, namespace).values() for n in p] == [ROWS[0][1]]


def test_news_older_than_its_partition_is_refused_before_anything_is_written(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    ticks = sample_slice(tmp_path, "es.csv", 0, 2_000)
    assert _cli(namespace, "ingest", str(ticks)).exit_code == 0
    ends = _ends(kafka_bootstrap, namespace)
    late = _cli(namespace, "ingest-news", str(_csv(tmp_path / "late.csv", [ROWS[0]])))
    assert late.exit_code != 0 and "would refuse it as late" in late.output and "Nothing was written" in late.output
    assert _ends(kafka_bootstrap, namespace) == ends


def test_a_replay_reads_the_scores_and_needs_no_sentiment_model(kafka_bootstrap: str, namespace: Namespace, tmp_path: Path) -> None:
    """Ticks, news scored by a transformer, more ticks; the model is then deleted and its packages blocked."""
    model = sentiment_model.build(tmp_path / "tiny-finbert")
    first, second = sample_slice(tmp_path / "a", "es.csv", 0, 3_000), sample_slice(tmp_path / "b", "es.csv", 0, 6_000)
    assert _cli(namespace, "ingest", str(first)).exit_code == 0
    last_tick_ms = list(read_ticks(first))[-1].event_time_ms
    headline = "ES futures rally after the Fed meets on rates"
    news = _csv(tmp_path / "news.csv", [(str(last_tick_ms), headline, "ES")])
    scored = _cli(namespace, "ingest-news", str(news), "--scorer", str(model))
    assert scored.exit_code == 0, scored.output
    assert _cli(namespace, "ingest", str(second)).exit_code == 0
    (on_log,) = [n for p in _news(kafka_bootstrap, namespace).values() for n in p]
    expected = FinbertScorer(model).score_texts([headline])[0]
    assert on_log.score == expected > 0 and on_log.scorer_name == "tiny-finbert"

    partition = partition_for("ES", INPUTS.partitions)
    here = news_replay.derive(kafka_bootstrap, namespace.prefix, partition)
    shutil.rmtree(model)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    blocked = subprocess.run(
        [sys.executable, "-m", "tests.news_replay", kafka_bootstrap, namespace.prefix, str(partition)],
        cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=600,
    )
    there = json.loads(blocked.stdout)
    assert there["sentiment_imported"] == []
    assert (there["digest"], there["outputs"]) == (here["digest"], here["outputs"])
    assert Decimal(there["news"]["ES"]["score"]) == expected and there["news"]["ES"]["news_id"] == on_log.news_id


def test_news_merged_with_ticks_goes_in_by_event_time_once(kafka_bootstrap: str, namespace: Namespace, tmp_path: Path) -> None:
    ticks_path = sample_slice(tmp_path, "es.csv", 0, 3_000)
    ticks = list(read_ticks(ticks_path))
    middle = ticks[1_500].event_time_ms
    news = _csv(tmp_path / "news.csv", [(str(ticks[0].event_time_ms - 60_000), "Futures seen flat", "ES"),
                                        (str(middle), "Analysts upgrade the outlook", "ES")])
    loaded = _cli(namespace, "ingest", str(ticks_path), "--news", str(news))
    assert loaded.exit_code == 0, loaded.output
    assert "published 2 news events among the ticks" in loaded.output
    codec, topic = EventCodec(), namespace.topic(INPUTS)
    with LogReader(kafka_bootstrap) as reader:
        marks = reader.watermarks(topic)
        partition = partition_for("ES", INPUTS.partitions)
        records = [r for batch in reader.read(topic, {partition: marks[partition]}) for r in batch]
    events = [decode(codec, r) for r in records]
    assert len(events) == 3_002
    assert [r.timestamp_ms for r in records] == sorted(r.timestamp_ms for r in records)
    placed = [(n, e.headline) for n, e in enumerate(events) if isinstance(e, NewsScored)]
    after_middle = max(n for n, e in enumerate(events) if not isinstance(e, NewsScored) and e.event_time_ms == middle)
    assert placed == [(0, "Futures seen flat"), (after_middle + 1, "Analysts upgrade the outlook")]
    again = _cli(namespace, "ingest", str(ticks_path), "--news", str(news))
    assert again.exit_code == 0 and "nothing to write" in again.output, again.output
    assert _ends(kafka_bootstrap, namespace)[partition] == 3_002


def test_a_day_with_news_replays_identically_from_a_snapshot_that_holds_the_news(kafka_bootstrap: str, namespace: Namespace) -> None:
    """News before the 2013-09-03 session boundary is in its session-start snapshot; news after it is replayed, fast and pipeline."""
    ticks = sample_ticks(chicago_ms("2013-09-02T10:30"), chicago_ms("2013-09-03T00:30"))
    items = [NewsItem(1, chicago_ms("2013-09-02T11:00"), "Blue chips rally", SOURCE, ("ES",)),
             NewsItem(2, chicago_ms("2013-09-03T00:10"), "Lender files for bankruptcy", SOURCE, ("ES",))]
    scores = LexiconScorer().score_texts([i.headline for i in items])
    news = [news_event(c, score, "vader-fin", "1.0.0", "00" * 32) for c, score in zip(sequenced(items), scores, strict=True)]
    seed_partitions(kafka_bootstrap, namespace, {ES_PARTITION: list(merge_in_time([ticks, news]))})
    try:
        for mode in ("fast", "pipeline"):  # the replay in one process, and through the live Faust worker
            code, out = invoke(replay, "--day", "2013-09-03", "--namespace", namespace.prefix, "--into", f"news-{mode}", "--mode", mode)
            assert code == 0, out
            assert "deterministic" in out and "DIFFERENT" not in out, out
    finally:
        _delete_replays(kafka_bootstrap, namespace)
    codec, topic = EventCodec(), namespace.topic(SNAPSHOTS)
    with LogReader(kafka_bootstrap) as reader:
        snapshots = [decode(codec, r) for batch in reader.read(topic, reader.watermarks(topic)) for r in batch]
    (day_start,) = [s for s in snapshots if isinstance(s, KernelSnapshotTaken) and s.reason == "session-start 2013-09-03"]
    assert json.loads(day_start.state_json)["news"]["ES"]["score"] == str(scores[0])
