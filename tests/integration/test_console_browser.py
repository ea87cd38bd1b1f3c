"""The web console in a real browser: headless Chromium (Debian's) driven by Selenium, over a live kernel.

One namespace and schema: a slice of the sample day goes onto the inputs, a
real ``aitrader run processors`` worker derives from it (and keeps running, so
control inputs are applied as they come), the projector fills the read models,
and the API with its console is served by uvicorn on loopback. The browser logs
in with keys, as each role would. Screenshots go to the test's tmp dir
(``CONSOLE_SCREENSHOTS`` names another folder, e.g. docs/ for the README's).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aitrader.commands.audit import audit_app, notary
from aitrader.stack.browser import CHROMEDRIVER, CHROMIUM, installed
from api import keys
from api.app import create_app
from api.replay_jobs import FINISHED
from api.routers.replays import REPORTS_ROOT
from contract.topics import CATALOG, INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.producer import EventProducer
from projections.db import auth_schema, connect
from projections.projector import Projector
from tests.integration.conftest import World, bearer, served
from tests.integration.test_audit import _certified_key
from tests.integration.test_replay import (
    ES_PARTITION,
    _delete_replays,
    chicago_ms,
    invoke,
    sample_ticks,
)
from tests.scratch import drop_with_companions, fresh_schema
from tests.workers import WorkerGroup

pytestmark = pytest.mark.infra

SLICE = ("2013-09-02T15:00", "2013-09-02T19:00")  # the session's open: a few orders and fills
HOSTILE = '<img src=x id=pwned-img><script>window.pwned = 1</script>'
WAIT_S = 30.0
REPLAY_S = 120.0

if not installed():  # `aitrader stack install` installs both; CI runs it, so there a missing browser is a failure
    if os.environ.get("CI"):
        pytest.fail("Chromium or chromedriver is missing although `aitrader stack install` ran", pytrace=False)
    pytest.skip("Chromium or chromedriver is missing: run `aitrader stack install`", allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@dataclass(frozen=True)
class Console:
    url: str
    keys: dict[str, str]  # role -> key
    world: World
    notary_keys: Path  # the notary's key, its certificate and root.pub: what the API's audit routes trust
    root_pub: Path  # the operator's root key, as an auditor pins it


@pytest.fixture(scope="module")
def console(kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    space = Namespace(f"test.console.{secrets.token_hex(4)}.")
    schema = fresh_schema(database_url, "test")
    with ExitStack() as cleanup:
        admin = TopicAdmin(kafka_bootstrap, space)
        admin.create()
        cleanup.callback(admin.delete, CATALOG)
        cleanup.callback(drop_with_companions, database_url, schema)
        cleanup.callback(_delete_replays, kafka_bootstrap, space)  # the replays' topics
        cleanup.callback(shutil.rmtree, REPORTS_ROOT / schema, ignore_errors=True)
        producer = EventProducer(kafka_bootstrap, space)
        for tick in sample_ticks(*(chicago_ms(t) for t in SLICE)):
            producer.send(INPUTS, tick.symbol, tick)
        producer.flush()
        group = cleanup.enter_context(WorkerGroup(kafka_bootstrap, space, tmp_path_factory.mktemp("workers")))
        group.start()
        group.wait_until_committed(120)
        Projector(kafka_bootstrap, database_url, schema, space).run(stop_at_end=True)
        with connect(database_url, auth_schema(schema)) as conn:
            made = {role: keys.create(conn, f"test {role}", role)[1] for role in ("analyst", "auditor", "ops")}
        root_dir, notary_keys = tmp_path_factory.mktemp("root"), tmp_path_factory.mktemp("notary")
        code, out = invoke(audit_app, "keys", "init-root", "--root-dir", str(root_dir))
        assert code == 0, out
        _certified_key(root_dir, notary_keys, space, 0)
        world = World(kafka_bootstrap, database_url, space, schema, made)
        port = cleanup.enter_context(served(create_app(world.settings(audit_keys=notary_keys))))
        yield Console(f"http://127.0.0.1:{port}", made, world, notary_keys, root_dir / "root.pub")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("CONSOLE_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,1400"):
        options.add_argument(argument)
    # The driver's path given explicitly: selenium-manager never looks for (or downloads) one.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _login(browser: Any, console: Console, key: str) -> None:
    browser.get(f"{console.url}/console/login")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "login-submit").click()
    _wait(browser, lambda b: b.find_elements(By.ID, "logout") or b.find_elements(By.ID, "login-error"))
    # The page after the form's redirect: its script has wired the forms only once the document is complete.
    _wait(browser, lambda b: b.execute_script("return document.readyState") == "complete")


def _fetch(browser: Any, path: str, body: dict[str, Any], csrf: bool) -> dict[str, Any]:
    """A POST from inside the logged-in page, as a script on it (or a forger who got one onto it) would send it."""
    return browser.execute_async_script(
        """
        const [path, body, csrf, done] = arguments;
        const headers = {"Content-Type": "application/json"};
        if (csrf) headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
        fetch(path, {method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin"})
          .then(async (r) => done({status: r.status, body: await r.json()}));
        """,
        path, body, csrf,
    )


def _wait(browser: Any, condition: Any, timeout: float = WAIT_S) -> Any:
    """Waits for ``condition``; on a timeout, says what the page's error lines and the browser's console said."""
    try:
        # The pages redraw their tables as they refresh: an element read in between is stale, so look again.
        return WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".error")]
        raise AssertionError(f"timed out on {browser.current_url}: page errors {errors}; console {browser.get_log('browser')}") from None


def _texts(row: Any) -> list[str]:
    return [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]


def _drawn(browser: Any) -> None:
    _wait(browser, lambda b: b.find_element(By.ID, "equity-chart").get_attribute("data-drawn"))


def test_a_bad_key_is_refused_and_a_good_one_leaves_no_key_where_scripts_or_urls_can_see_it(browser: Any, console: Console) -> None:
    _login(browser, console, "ait_nope_nope")
    assert "not valid" in browser.find_element(By.ID, "login-error").text
    _login(browser, console, console.keys["analyst"])
    assert browser.find_element(By.ID, "who").text == "test analyst (analyst)"
    assert console.keys["analyst"] not in browser.current_url and console.keys["analyst"] not in browser.page_source
    (cookie,) = browser.get_cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and console.keys["analyst"] not in cookie["value"]
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: no script reads the session
    browser.find_element(By.ID, "logout").click()
    _wait(browser, lambda b: b.current_url.endswith("/console/login"))
    assert browser.get_cookies() == []


def test_an_analyst_sees_the_pnl_chart_drawn_from_exactly_what_api_pnl_says(
    browser: Any, console: Console, shots: Path
) -> None:
    _login(browser, console, console.keys["analyst"])
    assert browser.current_url.endswith("/console/pnl")  # an analyst's first (and only) page
    _drawn(browser)
    assert browser.find_element(By.ID, "pnl-error").text == ""
    assert browser.find_elements(By.CSS_SELECTOR, "#equity-chart canvas") and browser.find_elements(By.CSS_SELECTOR, "#daily-chart canvas")
    shown = [
        (row.get_attribute("data-day"), row.get_attribute("data-symbol"), row.get_attribute("data-daily-pnl"))
        for row in browser.find_elements(By.CSS_SELECTOR, "#pnl-data tbody tr")
    ]
    api = httpx.get(f"{console.url}/api/pnl", params={"limit": 1000}, headers=bearer(console.keys["analyst"])).json()
    assert shown and shown == [(r["trading_day"], r["symbol"], r["daily_pnl"]) for r in api["data"]]
    fills = browser.find_elements(By.CSS_SELECTOR, "#fills tbody tr")
    assert fills, "the slice has fills"
    browser.find_element(By.CSS_SELECTOR, "#orders tbody tr button").click()  # the first order's history
    _wait(browser, lambda b: b.find_element(By.ID, "trace").is_displayed())
    roles = [r.get_attribute("data-role") for r in browser.find_elements(By.CSS_SELECTOR, "#trace-events tbody tr")]
    assert roles[:4] == ["tick", "signal", "intent", "order"] and roles[-1] == "fill", roles  # the first order was filled
    assert browser.find_element(By.ID, "trace-problems").text == ""
    browser.save_screenshot(str(shots / "console-pnl.png"))


def test_an_analyst_has_no_control_and_a_forged_control_request_is_refused(browser: Any, console: Console) -> None:
    _login(browser, console, console.keys["analyst"])
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, "nav a")] == ["P&L"]
    browser.get(f"{console.url}/console/status")
    assert not browser.find_elements(By.ID, "control") and "may not open this page" in browser.page_source
    halt = {"state": "HALTED", "symbol": "ES", "reason": "forged"}
    browser.get(f"{console.url}/console/pnl")
    with_token = _fetch(browser, "/api/control/trading-state", halt, csrf=True)
    without = _fetch(browser, "/api/control/trading-state", halt, csrf=False)
    assert (with_token["status"], with_token["body"]["error"]["code"]) == (403, "forbidden")
    assert (without["status"], without["body"]["error"]["code"]) == (403, "csrf_failed")


def test_ops_halts_es_sees_halted_as_the_kernel_applied_it_and_resumes(browser: Any, console: Console, shots: Path) -> None:
    _login(browser, console, console.keys["ops"])
    assert browser.current_url.endswith("/console/status")
    forged = _fetch(browser, "/api/control/trading-state", {"state": "HALTED", "reason": "no token"}, csrf=False)
    assert forged["status"] == 403 and forged["body"]["error"]["code"] == "csrf_failed"  # even ops' own session

    def send(state: str) -> None:
        browser.find_element(By.CSS_SELECTOR, f"#control-state option[value='{state}']").click()
        symbol = browser.find_element(By.ID, "control-symbol")
        symbol.clear()
        symbol.send_keys("ES")
        reason = browser.find_element(By.ID, "control-reason")
        reason.clear()
        reason.send_keys(f"browser drill: {state}")
        browser.find_element(By.ID, "control-send").click()
        assert browser.find_element(By.ID, "confirm-text").text == f"Set ES to {state}? Reason: browser drill: {state}"
        browser.find_element(By.ID, "confirm-yes").click()
        _wait(browser, lambda b: "written" in b.find_element(By.ID, "control-result").text)

    def applied(state: str) -> Any:
        rows = f"#trading-states tbody tr[data-symbol='ES'][data-state='{state}']"
        return _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, rows))

    send("HALTED")
    (halted,) = applied("HALTED")
    assert browser.find_elements(By.CSS_SELECTOR, "#kernel-lag tbody tr")
    status = httpx.get(f"{console.url}/api/status", headers=bearer(console.keys["auditor"])).json()
    (snapshot,) = status["last_snapshots"]  # the slice is all ES: one partition, whose kernel snapshots at the session's start
    assert snapshot["partition"] == ES_PARTITION
    shown = _wait(browser, lambda b: [_texts(r) for r in b.find_elements(By.CSS_SELECTOR, "#snapshots tbody tr")])
    fields = ("partition", "input_offset", "reason", "event_time", "event_id")
    assert shown == [[str(snapshot[field]) for field in fields]]
    browser.save_screenshot(str(shots / "console-status.png"))
    send("ACTIVE")
    applied("ACTIVE")
    assert not browser.find_elements(By.CSS_SELECTOR, "#trading-states tbody tr[data-symbol='ES'][data-state='HALTED']")

    for field, value in (("settings-name", "strategy.threshold"), ("settings-value", "0.5"), ("settings-reason", "calmer")):
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "settings-send").click()
    assert browser.find_element(By.ID, "confirm-text").text == "Set strategy.threshold = 0.5 for every symbol? Reason: calmer"
    browser.find_element(By.ID, "confirm-yes").click()
    _settings_applied(browser, lambda row: row.get_attribute("data-changed") == '{"strategy.threshold":"0.5"}')


def _settings_applied(browser: Any, wanted: Any) -> list[Any]:
    """The rows of the kernels' latest applied settings ``wanted`` accepts, once there is one."""
    return _wait(browser, lambda b: [r for r in b.find_elements(By.CSS_SELECTOR, "#settings-applied tbody tr") if wanted(r)])


def test_hostile_text_is_shown_as_text_never_run(browser: Any, console: Console) -> None:
    # A venue's rejection text comes from outside; one that is markup reaches a read model.
    first = "(SELECT order_id FROM orders ORDER BY order_id LIMIT 1)"
    console.world.sql(f"UPDATE orders SET reject_detail = %s WHERE order_id = {first} RETURNING order_id", HOSTILE)
    _login(browser, console, console.keys["analyst"])
    _drawn(browser)
    why = _wait(browser, lambda b: [r for r in b.find_elements(By.CSS_SELECTOR, "#orders tbody tr td:last-child") if r.text])
    assert [cell.text for cell in why] == [HOSTILE]
    # Ops' reasons go onto the log and come back in the kernel's ConfigApplied: text from the log, shown by the script.
    _login(browser, console, console.keys["ops"])
    for field, value in (("settings-name", "strategy.threshold"), ("settings-value", "0.5"), ("settings-reason", HOSTILE)):
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "settings-send").click()
    assert browser.find_element(By.ID, "confirm-text").text.endswith(f"Reason: {HOSTILE}")
    browser.find_element(By.ID, "confirm-yes").click()
    _settings_applied(browser, lambda row: _texts(row)[3] == HOSTILE)
    assert not browser.find_elements(By.ID, "pwned-img")
    assert browser.execute_script("return window.pwned === undefined")


def test_a_replay_started_from_the_page_finishes_identical_topic_by_topic(browser: Any, console: Console, shots: Path) -> None:
    _login(browser, console, console.keys["auditor"])
    browser.get(f"{console.url}/console/replays")
    assert not browser.find_elements(By.ID, "replay")  # auditors follow replays; only ops start them
    _login(browser, console, console.keys["ops"])
    browser.get(f"{console.url}/console/replays")
    browser.find_element(By.ID, "replay-day").send_keys("2013-09-03")
    browser.find_element(By.ID, "replay-symbols").send_keys("ES")
    browser.find_element(By.ID, "replay-into").send_keys("console")
    browser.find_element(By.ID, "replay-start").click()
    ended = ", ".join(f"#replays tbody tr[data-state='{state}']" for state in FINISHED)
    (verdict,) = _wait(browser, lambda b: [r.get_attribute("data-verdict") for r in b.find_elements(By.CSS_SELECTOR, ended)], REPLAY_S)
    assert verdict == "identical", browser.find_element(By.ID, "replay-output").text
    rows = "#digests tr[data-topic]"
    same = _wait(browser, lambda b: {r.get_attribute("data-topic"): r.get_attribute("data-same") for r in b.find_elements(By.CSS_SELECTOR, rows)})
    assert {"signals", "intents", "orders", "fills", "control"} <= set(same) and set(same.values()) == {"identical"}
    assert browser.find_element(By.ID, "divergence").text == "none"
    chart = _wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, "#replay-chart[data-drawn]"))
    assert chart.find_elements(By.TAG_NAME, "canvas")
    (replay_id,) = [r.get_attribute("data-replay") for r in browser.find_elements(By.CSS_SELECTOR, ended)]
    digests = httpx.get(f"{console.url}/api/replays/{replay_id}", headers=bearer(console.keys["ops"])).json()["result"]["digests"]
    drawn = {name: json.loads(chart.get_attribute(f"data-{name}")) for name in ("topics", "live", "replay")}
    assert drawn["topics"] == sorted(digests)
    for side in ("live", "replay"):
        assert drawn[side] == [digests[t][side]["events"] for t in drawn["topics"]]
    assert sum(drawn["replay"]) > 0, "the day derived events"
    browser.save_screenshot(str(shots / "console-replay.png"))


def _choose(browser: Any, select: str, topic: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f"#{select} option[value='{topic}']").click()


def test_an_auditor_sees_the_seals_as_the_api_says_verifies_a_topic_and_downloads_a_bundle_the_cli_verifies(
    browser: Any, console: Console, shots: Path, tmp_path: Path
) -> None:
    prefix = console.world.namespace.prefix
    code, out = invoke(notary, "--namespace", prefix, "--key-dir", str(console.notary_keys), "--once")
    assert code == 0, out
    _login(browser, console, console.keys["auditor"])
    assert "Audit" in [a.text for a in browser.find_elements(By.CSS_SELECTOR, "nav a")]
    browser.get(f"{console.url}/console/audit")

    def as_the_api_says(b: Any) -> list[dict[str, Any]] | None:
        shown = [json.loads(r.get_attribute("data-checkpoint")) for r in b.find_elements(By.CSS_SELECTOR, "#checkpoints tbody tr")]
        api = httpx.get(f"{console.url}/api/audit/checkpoints", headers=bearer(console.keys["auditor"])).json()["data"]
        return shown if shown and shown == api else None  # the log's ends move while the kernel runs: until they agree

    shown = _wait(browser, as_the_api_says)
    orders = [row for row in shown if row["topic"] == "orders" and row["log_end"] > row["log_start"]]
    assert orders, "the slice has orders"
    assert all(row["verdict"] == "good" and row["sealed_through"] == row["log_end"] - 1 and row["unsealed"] == 0 for row in orders)

    _choose(browser, "verify-topic", "orders")
    browser.find_element(By.ID, "verify-start").click()
    state = _wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, "#verify-state[data-state='verified'], #verify-state[data-state='failed'], "
                                                                      "#verify-state[data-state='error']"))
    assert state.get_attribute("data-state") == "verified", state.text
    run = httpx.get(f"{console.url}/api/audit/verify/{state.get_attribute('data-run')}", headers=bearer(console.keys["auditor"])).json()
    assert run["state"] == "verified" and run["progress"]["verified"] == run["progress"]["partitions"] == len(run["reports"])
    assert sum(r["records"] for r in run["reports"]) >= sum(row["log_end"] - row["log_start"] for row in orders)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#verify-reports tbody tr")) == len(run["reports"])

    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    _choose(browser, "bundle-topic", "orders")
    browser.find_element(By.ID, "bundle-download").click()
    result = _wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, "#bundle-result[data-file]"))
    name = result.get_attribute("data-file")
    assert name == f"audit-{prefix}orders.tar.gz"
    arrived = _wait(browser, lambda b: [p for p in tmp_path.iterdir() if p.name == name])  # no .crdownload left
    assert arrived[0].stat().st_size == int(result.get_attribute("data-bytes"))
    with tarfile.open(arrived[0]) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    bundle = tmp_path / "unpacked" / name.removesuffix(".tar.gz")
    code, out = invoke(audit_app, "verify", "--bundle", str(bundle), "--root-key", str(console.root_pub), "--namespace", prefix)
    assert code == 0 and "verified" in out, out
    browser.save_screenshot(str(shots / "console-audit.png"))


@pytest.mark.parametrize("role", ["analyst", "ops"])
def test_a_role_without_audit_sees_no_audit_page_and_a_forged_audit_request_is_refused(browser: Any, console: Console, role: str) -> None:
    _login(browser, console, console.keys[role])
    assert "Audit" not in [a.text for a in browser.find_elements(By.CSS_SELECTOR, "nav a")]
    browser.get(f"{console.url}/console/audit")
    assert not browser.find_elements(By.ID, "verify") and "may not open this page" in browser.page_source
    forged = _fetch(browser, "/api/audit/verify", {"topic": "orders"}, csrf=True)
    assert (forged["status"], forged["body"]["error"]["code"]) == (403, "forbidden")
    bundle = httpx.get(f"{console.url}/api/audit/bundle", params={"topic": "orders"}, headers=bearer(console.keys[role]))
    assert (bundle.status_code, bundle.json()["error"]["code"]) == (403, "forbidden")


def test_an_auditors_verify_without_the_sessions_token_is_refused(browser: Any, console: Console) -> None:
    _login(browser, console, console.keys["auditor"])
    without = _fetch(browser, "/api/audit/verify", {"topic": "orders"}, csrf=False)
    assert (without["status"], without["body"]["error"]["code"]) == (403, "csrf_failed")
    unknown = _fetch(browser, "/api/audit/verify", {"topic": "audit.checkpoints"}, csrf=True)
    assert (unknown["status"], unknown["body"]["error"]["code"]) == (400, "not_chained")
    vague = _fetch(browser, "/api/audit/verify", {"topic": "orders", "from_time": "yesterday"}, csrf=True)
    assert (vague["status"], vague["body"]["error"]["parameter"]) == (400, "from_time")


def test_console_pages_carry_a_strict_policy_and_no_inline_script(console: Console) -> None:
    page = httpx.get(f"{console.url}/console/login")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.text.count("<script") == page.text.count('<script src="/console/static/')
    stranger = httpx.post(f"{console.url}/console/login", data={"key": console.keys["ops"]}, headers={"Origin": "http://evil.example"})
    assert stranger.status_code == 403 and "set-cookie" not in stranger.headers
