"""``aitrader ingest-news`` and ``aitrader sentiment``: news on the log with its sentiment score, and the scorers."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress

from aitrader.commands.common import USAGE, console, fail, parse_settings
from aitrader.commands.ingest import COLUMNS
from aitrader.commands.news import MODELS_HELP, SCORER_HELP, news_to_write, sentiment_scorer
from aitrader.stack.endpoints import endpoints
from contract.sequencing import SequenceGate
from contract.topics import INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader
from eventlog.ingest import publish_merged
from eventlog.producer import EventProducer
from inference.sentiment.finbert import CARD_FILE, DEFAULT_MAX_LENGTH, MODEL_FILE, TOKENIZER_FILE, SentimentCard
from inference.sentiment.lexicon import NAME as LEXICON_NAME
from inference.sentiment.load import DEFAULT_MODELS_ROOT, load_sentiment_scorer
from oms.instruments import BUILTIN_INSTRUMENT_SETTINGS


def ingest_news(
    path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, metavar="FILE",
        help="News as CSV or JSON lines (.csv, .jsonl, .ndjson, optionally .gz): event_time, headline, source, symbols.",
    ),
    scorer_name: str = typer.Option(LEXICON_NAME, "--scorer", help=SCORER_HELP),
    models: Path = typer.Option(DEFAULT_MODELS_ROOT, "--models", help=MODELS_HELP),
    settings_file: Path | None = typer.Option(
        None, "--settings", exists=True, dir_okay=False, readable=True,
        help="Settings with the instrument.<SYMBOL>.* definitions (key=value lines or JSON); ES is built in.",
    ),
    overrides: list[str] = typer.Option([], "-s", "--set", help="One setting, key=value (repeatable); wins over --settings."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Write the good items and list the bad lines instead of stopping."),
    namespace: str = typer.Option("", help="Topic name prefix (tests, experiments)."),
) -> None:
    """Score news items for sentiment and put them on the kernel's input topic as NewsScored events.

    The file is checked whole first: every bad line is listed with its line
    number and field, and nothing is written unless --skip-bad. Each item is
    scored once, here, and one event per symbol it names goes to that symbol's
    partition, so a replay reads the score and never runs the model. Only news
    after the last one of its symbol already on the log is written: ingesting
    the same file again writes nothing. News older than its partition's latest
    record by more than a second is refused before anything is written: ingest
    news as it happens, or before the ticks of its time.
    """
    settings = {**BUILTIN_INSTRUMENT_SETTINGS, **parse_settings(settings_file, overrides)}
    bootstrap = endpoints()[0]
    space = Namespace(namespace)
    TopicAdmin(bootstrap, space).create()
    with LogReader(bootstrap) as reader:
        events = news_to_write(path, settings, reader, space.topic(INPUTS), scorer_name, models, skip_bad)
    if not events:
        print("published 0 news events: every item is already on the log")
        return
    with Progress(*COLUMNS, console=console, transient=False) as progress:
        task = progress.add_task("publishing news", total=len(events))
        sent = publish_merged([], EventProducer(bootstrap, space), SequenceGate(), None, lambda n: progress.advance(task, n), news=events)
    first = events[0]
    print(f"published {sent.news:,} news events scored by {first.scorer_name} {first.scorer_version} sha256 {first.scorer_sha256[:12]}")


sentiment_app = typer.Typer(help="Sentiment scorers for news: score headlines (`aitrader model export-sentiment` exports one).", no_args_is_help=True)


@sentiment_app.command("score")
def score(
    headlines: list[str] = typer.Argument(..., help="Headlines to score."),
    scorer_name: str = typer.Option(LEXICON_NAME, "--scorer", help=SCORER_HELP),
    models: Path = typer.Option(DEFAULT_MODELS_ROOT, "--models", help=MODELS_HELP),
) -> None:
    """Print each headline's score (positive minus negative, in [-1, 1]) as JSON lines, with the scorer's identity."""
    scorer = sentiment_scorer(scorer_name, models)
    for headline, value in zip(headlines, scorer.score_texts(headlines), strict=True):
        identity = {"scorer": scorer.name, "version": scorer.version, "sha256": scorer.sha256}
        print(json.dumps({"headline": headline, "score": str(value), **identity}))


def export_sentiment(
    checkpoint: Path = typer.Argument(..., help="A local checkpoint directory (config, weights, tokenizer); nothing is downloaded."),
    out_dir: Path = typer.Argument(..., help="Where to write model.onnx, tokenizer.json and sentiment.json."),
    name: str = typer.Option("", help="The model's name on NewsScored events (default: the checkpoint directory's name)."),
    version: str = typer.Option("1", help="The model's version on NewsScored events."),
    max_length: int = typer.Option(DEFAULT_MAX_LENGTH, help="Tokens kept of a headline (truncation)."),
) -> None:
    """Export a FinBERT-class checkpoint to ONNX once, so it is served without torch (needs the sentiment-export extra)."""
    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as exc:
        raise fail(escape(f"export needs torch and transformers ({exc.name} is missing): pip install '.[sentiment-export]'")) from None
    if not checkpoint.is_dir():
        raise fail(f"{checkpoint}: not a directory; place the checkpoint's files (config.json, weights, tokenizer) there first", USAGE)
    console.print(f"loading {checkpoint}", highlight=False)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, local_files_only=True).eval()
    labels = tuple(model.config.id2label[i].lower() for i in range(model.config.num_labels))
    card = SentimentCard(name or checkpoint.name, version, labels, max_length)  # validates the three labels
    if not tokenizer.is_fast:
        raise fail(f"{checkpoint}: no fast tokenizer (tokenizer.json) to serve with the tokenizers package")
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["Shares rise after earnings beat"], return_tensors="pt", return_token_type_ids=True)
    inputs = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
    axes = {n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "token_type_ids")}
    console.print(f"exporting to {out_dir / MODEL_FILE}", highlight=False)
    with torch.no_grad():
        torch.onnx.export(
            model, inputs, str(out_dir / MODEL_FILE), input_names=list(axes), output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}}, opset_version=17,
        )
    tokenizer.backend_tokenizer.save(str(out_dir / TOKENIZER_FILE))
    (out_dir / CARD_FILE).write_text(card.to_json())
    exported = load_sentiment_scorer(str(out_dir))
    identity = {"name": exported.name, "version": exported.version, "sha256": exported.sha256}
    print(json.dumps({"out_dir": str(out_dir), **identity, "labels": labels}))
