"""News files: items, bad lines naming line and field, identities and sequences."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from contract.events import NewsScored
from marketdata.news import BadNews, NewsFileError, NewsItem, news_event, news_format, parse_news, sequenced

CSV = [
    "source,event_time,symbols,headline,extra\n",
    'Synthetic Wire,2013-09-03T13:30:00Z,ES,"ES futures rally, record open",x\n',
    "Synthetic Wire,2013-09-03T09:30:00-04:00,ES;SYN_NQ,Fed meets on rates,\n",
    "\n",
    "Synthetic Wire,1378215000000,SYN_NQ | ES,Second item of the same millisecond,\n",
    "Synthetic Wire,2013-09-03T09:31:00,ES,No zone,\n",
    "Synthetic Wire,2013-09-03T13:31:00Z,ES,,\n",
    "Synthetic Wire,2013-09-03T13:31:00Z, ; ,No symbols,\n",
    "Synthetic Wire,yesterday,ES,Bad time,\n",
]


def test_a_csv_file_gives_its_items_and_names_each_bad_line_and_field() -> None:
    parsed = list(parse_news(CSV, "csv"))
    items = [p for p in parsed if isinstance(p, NewsItem)]
    bad = [str(p) for p in parsed if isinstance(p, BadNews)]
    assert [(i.line_number, i.event_time_ms, i.headline, i.symbols) for i in items] == [
        (2, 1378215000000, "ES futures rally, record open", ("ES",)),
        (3, 1378215000000, "Fed meets on rates", ("ES", "SYN_NQ")),
        (5, 1378215000000, "Second item of the same millisecond", ("ES", "SYN_NQ")),
    ]
    assert bad == [
        "line 6, field event_time: '2013-09-03T09:31:00' has no UTC offset (write ...Z or ...-04:00)",
        "line 7, field headline: missing",
        "line 8, field symbols: no symbol named",
        "line 9, field event_time: not an ISO 8601 time: 'yesterday'",
    ]


def test_json_lines_give_items_and_bad_lines() -> None:
    lines = [
        '{"event_time": "2013-09-03T13:30:00.250Z", "headline": "A", "source": "S", "symbols": ["ES"]}\n',
        '{"event_time": 1378215000250, "headline": "B", "source": "S", "symbols": "ES"}\n',
        '{"event_time": "2013-09-03T13:30:00Z", "headline": "C", "source": "S"}\n',
        '{"event_time": "2013-09-03T13:30:00Z", "headline": 5, "source": "S", "symbols": ["ES"]}\n',
        "[1, 2]\n",
        "{oops\n",
    ]
    parsed = list(parse_news(lines, "jsonl"))
    assert [(p.event_time_ms, p.headline) for p in parsed if isinstance(p, NewsItem)] == [(1378215000250, "A"), (1378215000250, "B")]
    bad = [(p.line_number, p.field) for p in parsed if isinstance(p, BadNews)]
    assert bad == [(3, "symbols"), (4, "headline"), (5, "(line)"), (6, "(line)")]


def test_a_file_that_cannot_be_news_is_refused_whole() -> None:
    assert (news_format("a.csv.gz"), news_format("b.jsonl"), news_format("c.ndjson")) == ("csv", "jsonl", "jsonl")
    with pytest.raises(NewsFileError, match=r"\.csv, \.jsonl"):
        news_format("news.txt")
    with pytest.raises(NewsFileError, match="lacks column.*symbols"):
        list(parse_news(["event_time,headline,source\n"], "csv"))


def test_each_symbol_orders_its_news_by_time_then_file_order() -> None:
    items = [p for p in parse_news(CSV, "csv") if isinstance(p, NewsItem)]
    copies = [(c.item.line_number, c.symbol, c.sequence) for c in sequenced(items)]
    t = 1378215000000 * 1_000_000
    assert copies == [(2, "ES", t), (3, "ES", t + 1), (3, "SYN_NQ", t), (5, "ES", t + 2), (5, "SYN_NQ", t + 1)]


def test_an_item_has_the_same_identity_and_event_ids_in_any_file() -> None:
    one = NewsItem(2, 1378215000000, "Fed meets on rates", "Synthetic Wire", ("ES", "SYN_NQ"))
    same_elsewhere = NewsItem(40, 1378215000000, "Fed meets on rates", "Synthetic Wire", ("ES", "SYN_NQ"))
    other = NewsItem(2, 1378215000000, "Fed meets on rates", "Another Wire", ("ES", "SYN_NQ"))
    assert one.news_id == same_elsewhere.news_id != other.news_id
    es, nq = (news_event(c, Decimal("0.25"), "vader-fin", "1.0.0", "ab" * 32) for c in sequenced([one]))
    assert isinstance(es, NewsScored) and (es.symbol, nq.symbol) == ("ES", "SYN_NQ")
    assert es.event_id != nq.event_id and es.envelope.correlation_id == nq.envelope.correlation_id
    again = news_event(sequenced([same_elsewhere])[0], Decimal("0.25"), "vader-fin", "1.0.0", "ab" * 32)
    assert again == es


@pytest.mark.parametrize("name", ["news_SYNTHETIC_2013-09-01_03.csv", "news_SYNTHETIC_multi_symbol_2013-09-03.jsonl"])
def test_the_sample_news_files_parse_whole_and_say_they_are_synthetic(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "data" / name
    with path.open() as lines:
        parsed = list(parse_news(lines, news_format(name)))
    assert parsed and all(isinstance(p, NewsItem) for p in parsed)
    assert all(p.headline.startswith("SYNTHETIC: ") and "not real news" in p.source for p in parsed if isinstance(p, NewsItem))
