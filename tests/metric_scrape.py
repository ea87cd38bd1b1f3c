"""Scraping the long-running processes' ``/metrics`` (issue 12) in tests.

- ``scrape(url)``: one process's metrics, parsed with prometheus-client's own parser, as
  ``{name: [samples]}``; a counter is keyed by its exposed name (``aitrader_inputs_total``), and a metric
  with no sample yet (a labelled one nothing has touched) is there with an empty list.
- ``LiveProcesses``: the five processes (processors, projector, notary, monitor, api) started as an operator
  starts them, each on a free metrics port read from its stderr; ``names()`` is the union of the metric names
  all five expose.
- ``CONTRACT_NAMES``: the metrics of issue 12's contract, which the dashboard and alert rules under ``deploy/``
  use (``tests/deploy_metrics.py`` extracts those).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ("processors", "projector", "notary", "monitor", "api")
# The metrics contract of issue 12: every name the dashboard and the alert rules may use.
CONTRACT_NAMES = frozenset({
    "aitrader_inputs_total", "aitrader_outputs_total", "aitrader_batch_seconds", "aitrader_consumer_lag",
    "aitrader_dead_letters_total", "aitrader_risk_refusals_total", "aitrader_trading_state",
    "aitrader_tick_to_fill_event_seconds", "aitrader_tick_to_fill_wall_seconds", "aitrader_scorer_info",
    "aitrader_scorer_batch_seconds", "aitrader_projection_lag", "aitrader_projection_stopped",
    "aitrader_api_request_seconds", "aitrader_api_requests_total", "aitrader_broker_disk_free_bytes",
})
METRICS_LINE = re.compile(r"metrics on (http://[\d.]+:\d+/metrics)")
START_TIMEOUT_S = 60.0

Scrape = dict[str, list[Sample]]


def parse(text: str) -> Scrape:
    found: Scrape = {}
    for family in text_string_to_metric_families(text):
        name = family.name + "_total" if family.type == "counter" else family.name
        found[name] = list(family.samples)
    return found


def scrape(url: str) -> Scrape:
    with urllib.request.urlopen(url, timeout=10) as response:
        return parse(response.read().decode())


def value(found: Scrape, name: str, **labels: str) -> float:
    """The one sample of ``name`` with these labels (the ``_total`` sample of a counter, never its ``_created``)."""
    samples = _samples(found, name, labels)
    if len(samples) != 1:
        raise KeyError(f"{len(samples)} samples of {name} with {labels}")
    return samples[0].value


def by_label(found: Scrape, name: str, label: str, **labels: str) -> dict[str, float]:
    """``name``'s samples with ``labels``, keyed by the value of ``label``."""
    return {s.labels[label]: s.value for s in _samples(found, name, labels)}


def _samples(found: Scrape, name: str, labels: dict[str, str]) -> list[Sample]:
    """The samples named ``name`` (a histogram's ``_sum`` too) that carry ``labels``."""
    return [s for family in found.values() for s in family if s.name == name and labels.items() <= s.labels.items()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Running:
    process: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.process} ({self.log}):\n" + "\n".join(text.splitlines()[-lines:])


@dataclass
class LiveProcesses:
    """The five long-running processes over one namespace and schema, as subprocesses; a context manager."""

    bootstrap: str
    database_url: str
    namespace: str
    schema: str
    workdir: Path
    running: dict[str, Running] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)

    def commands(self) -> dict[str, list[str]]:
        space = ["--namespace", self.namespace]
        return {
            "processors": ["run", "processors", *space, "--log-level", "warning"],
            "projector": ["run", "projector", *space, "--schema", self.schema, "--no-migrate"],
            "notary": ["run", "notary", *space, "--key-dir", str(self.workdir / "notary-key"), "--poll", "0.2",
                       "--seal-after", "1"],
            "monitor": ["run", "monitor", *space, "--broker-data-dir", str(self.workdir)],
            "api": ["run", "api", *space, "--schema", self.schema, "--port", str(self.api_port)],
        }

    def env(self) -> dict[str, str]:
        return {
            **os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "DATABASE_URL": self.database_url,
            "AITRADER_CURSOR_KEY": secrets.token_hex(32), "PYTHONPATH": str(ROOT),
        }

    def __enter__(self) -> LiveProcesses:
        try:
            for process, args in self.commands().items():
                log = self.workdir / f"{process}.log"
                with log.open("ab") as out:
                    popen = subprocess.Popen([sys.executable, "-m", "aitrader", *args], cwd=ROOT, env=self.env(),
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
                self.running[process] = Running(process, popen, log)
            for running in self.running.values():
                running.url = self._url(running)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _url(self, running: Running) -> str:
        """The metrics URL the process printed on stderr (the API: its own /metrics, once uvicorn serves)."""
        api = f"http://127.0.0.1:{self.api_port}"
        pattern = re.compile(re.escape(f"Uvicorn running on {api}")) if running.process == "api" else METRICS_LINE
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = running.log.read_text(errors="replace") if running.log.exists() else ""
            found = pattern.search(text)
            if found:
                return f"{api}/metrics" if running.process == "api" else found.group(1)
            if running.popen.poll() is not None:
                raise RuntimeError(f"{running.process} exited with {running.popen.returncode}\n{running.tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"{running.process} printed no metrics address in {START_TIMEOUT_S}s\n{running.tail()}")

    def __exit__(self, *exc: object) -> None:
        for running in self.running.values():
            if running.popen.poll() is None:
                running.popen.terminate()
        for running in self.running.values():
            try:
                running.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                running.popen.kill()
                running.popen.wait()

    def scrape(self) -> dict[str, Scrape]:
        return {process: scrape(running.url) for process, running in self.running.items()}

    def names(self) -> set[str]:
        """The union of the metric names the five processes expose now."""
        return {name for found in self.scrape().values() for name in found}

    def tails(self) -> str:
        return "\n".join(running.tail() for running in self.running.values())

