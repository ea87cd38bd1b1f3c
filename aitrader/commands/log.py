"""``aitrader log``: read events off the log, decoded, for people."""

from __future__ import annotations

import json
import sys

import typer

from aitrader.commands.common import USAGE, fail, format_time_ms, parse_time_ms, zone
from aitrader.stack.endpoints import endpoints
from contract.jsonview import record_view
from contract.serde import EventCodec
from contract.topics import Namespace, by_name
from eventlog.consumer import LogReader, UndecodableRecord, decode

log_app = typer.Typer(help="Read the event log.", no_args_is_help=True)


@log_app.command("read")
def read(
    topic: str = typer.Option(..., "--topic", help="Catalog topic, e.g. inputs, signals, orders, fills."),
    from_offset: int | None = typer.Option(None, "--from-offset", min=0, help="First offset (every partition)."),
    to_offset: int | None = typer.Option(None, "--to-offset", min=0, help="End offset, exclusive (every partition)."),
    from_time: str | None = typer.Option(None, "--from", help="Start time, ISO 8601 (zone optional: --tz) or epoch ms."),
    to_time: str | None = typer.Option(None, "--to", help="End time, exclusive."),
    partition: int | None = typer.Option(None, "--partition", min=0, help="Only this partition."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Stop after this many records."),
    output: str = typer.Option("jsonl", "--format", help="jsonl (one JSON object a line) or text."),
    tz: str = typer.Option("America/Chicago", help="Zone for times without one, and for text output."),
    namespace: str = typer.Option("", help="Topic name prefix."),
) -> None:
    """Decode events of a topic by offset or event-time window ([from, to))."""
    if output not in ("jsonl", "text"):
        raise typer.BadParameter("--format must be jsonl or text")
    if from_offset is not None and from_time is not None:
        raise typer.BadParameter("give --from-offset or --from, not both")
    try:
        spec = by_name(topic)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0])) from None
    timezone = zone(tz)
    broker_topic = Namespace(namespace).topic(spec)
    codec = EventCodec()
    written = 0
    with LogReader(endpoints()[0]) as reader:
        marks = reader.watermarks(broker_topic)
        start = reader.offsets_at(broker_topic, parse_time_ms(from_time, timezone)) if from_time else {}
        end = reader.offsets_at(broker_topic, parse_time_ms(to_time, timezone)) if to_time else {}
        ranges = {
            p: (
                start.get(p, from_offset if from_offset is not None else low),
                min(end.get(p, high), to_offset if to_offset is not None else high),
            )
            for p, (low, high) in marks.items()
            if partition is None or p == partition
        }
        if partition is not None and partition not in marks:
            raise fail(f"{broker_topic} has no partition {partition} (it has {len(marks)})", USAGE)
        for batch in reader.read(broker_topic, ranges):
            for record in batch:
                try:
                    event = decode(codec, record)
                except UndecodableRecord as exc:
                    print(json.dumps({"partition": record.partition, "offset": record.offset, "undecodable": exc.reason}))
                    continue
                view = record_view(codec, record, event)
                if output == "jsonl":
                    sys.stdout.write(json.dumps(view, separators=(",", ":")) + "\n")
                else:
                    when = format_time_ms(record.timestamp_ms, timezone)
                    sys.stdout.write(f"{record.partition}:{record.offset} {when} {view['type']} {json.dumps(view['event'])}\n")
                written += 1
                if limit is not None and written >= limit:
                    return
