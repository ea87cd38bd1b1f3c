// The console's pages over the JSON API (api/console/pages.py says why it is built this way).
// Every value from the API is written with textContent: event text comes from outside and is never markup.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]')?.content;

async function api(path, body) {
  const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRF-Token"] = csrf;
    init.body = JSON.stringify(body);
  }
  return (await checked(await fetch(path, init))).json();
}

// The response if it is a success; else the API's error code and message as an Error (a lapsed session: to the login).
async function checked(response) {
  if (response.status === 401) {
    window.location.assign("/console/login");
  }
  if (!response.ok) {
    const data = await response.json();
    throw new Error(`${response.status} ${data.error ? data.error.code + ": " + data.error.message : ""}`);
  }
  return response;
}

function cell(row, value) {
  const td = document.createElement("td");
  td.textContent = value === null || value === undefined ? "" : String(value);
  row.appendChild(td);
  return td;
}

function fill(tableId, rows, columns, append = false) {
  const body = document.querySelector(`#${tableId} tbody`);
  if (!append) body.replaceChildren();
  for (const item of rows) {
    const tr = document.createElement("tr");
    for (const column of columns) cell(tr, typeof column === "function" ? column(item) : item[column]);
    body.appendChild(tr);
  }
  return body;
}

function text(id, value) {
  document.getElementById(id).textContent = value;
}

// --- Status -------------------------------------------------------------------

function tradingRows(states) {
  const rows = [];
  for (const applied of states) {
    const change = `${applied.changed.symbol || "every symbol"} → ${applied.changed.state}`;
    const base = { partition: applied.partition, at: applied.event_time, event: applied.event_id, change };
    rows.push({ ...base, symbol: "(every symbol)", state: applied.partition_state });
    for (const symbol of Object.keys(applied.symbol_states).sort()) {
      rows.push({ ...base, symbol, state: applied.symbol_states[symbol] });
    }
  }
  return rows;
}

async function refreshStatus() {
  try {
    const status = await api("/api/status");
    text("status-error", "");
    const states = Array.isArray(status.trading_states) ? status.trading_states : [];
    const body = fill("trading-states", tradingRows(states), ["partition", "symbol", "state", "change", "at", "event"]);
    for (const tr of body.rows) {
      tr.dataset.symbol = tr.cells[1].textContent;
      tr.dataset.state = tr.cells[2].textContent;
    }
    if (!Array.isArray(status.trading_states)) text("status-error", `trading states: ${status.trading_states}`);
    const changes = Array.isArray(status.settings_applied) ? status.settings_applied : [];
    const settingsBody = fill("settings-applied", changes, ["partition", (c) => c.symbol || "(every symbol)",
      (c) => Object.entries(c.changed).map(([k, v]) => `${k}=${v}`).join(", "), "reason", "event_time", "event_id"]);
    changes.forEach((c, i) => { settingsBody.rows[i].dataset.changed = JSON.stringify(c.changed); });
    fill("snapshots", Array.isArray(status.last_snapshots) ? status.last_snapshots : [],
      ["partition", "input_offset", "reason", "event_time", "event_id"]);
    const kernel = status.kernel_lag;
    if (typeof kernel === "object" && kernel !== null) {
      text("kernel-group", `consumer group ${kernel.group} on ${kernel.topic}: ${kernel.records} records behind`);
      fill("kernel-lag", kernel.partitions, ["partition", "committed", "end_offset", "lag"]);
    } else {
      text("kernel-group", `kernel: ${kernel}`);
    }
    const model = status.model_in_use;
    text("model", model === null ? "no run manifest on the log yet"
      : model.model ? `${model.model.name} ${model.model.version} (sha256 ${model.model.sha256}), code ${model.code_version}, recorded ${model.recorded_at}`
      : String(model.problem || model));
    text("dead-letters", typeof status.dead_letters === "number" ? `${status.dead_letters} on the dead-letter topic` : String(status.dead_letters));
    fill("projection-lag", status.lag.partitions, ["projection", "topic", "partition", "next_offset", "end_offset", "lag", "latest_event_time"]);
  } catch (error) {
    text("status-error", String(error.message));
  }
}

function confirmThen(question, send) {
  text("confirm-text", question);
  const box = document.getElementById("confirm");
  box.hidden = false;
  document.getElementById("confirm-yes").onclick = async () => {
    box.hidden = true;
    try {
      const written = await send();
      text("control-result", `${written.type} written: ${written.events.map((e) => e.event_id).join(", ")}; the kernel applies it when it reaches it.`);
    } catch (error) {
      text("control-result", `refused: ${error.message}`);
    }
    refreshStatus();
  };
  document.getElementById("confirm-no").onclick = () => { box.hidden = true; };
}

function symbolOrAll(id) {
  const value = document.getElementById(id).value.trim();
  return value === "" ? null : value;
}

function wireControl() {
  const control = document.getElementById("control");
  if (!control) return;
  control.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { state: document.getElementById("control-state").value, symbol: symbolOrAll("control-symbol"),
      reason: document.getElementById("control-reason").value };
    confirmThen(`Set ${body.symbol || "every symbol"} to ${body.state}? Reason: ${body.reason}`,
      () => api("/api/control/trading-state", body));
  });
  document.getElementById("settings").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = document.getElementById("settings-name").value.trim();
    const value = document.getElementById("settings-value").value.trim();
    const body = { settings: { [name]: value }, symbol: symbolOrAll("settings-symbol"),
      reason: document.getElementById("settings-reason").value };
    confirmThen(`Set ${name} = ${value} for ${body.symbol || "every symbol"}? Reason: ${body.reason}`,
      () => api("/api/control/settings", body));
  });
}

// --- P&L ----------------------------------------------------------------------

async function everyPage(path) {
  const rows = [];
  let cursor = null;
  do {
    const page = await api(`${path}?limit=1000${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`);
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

function daySeconds(day) {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

function charts(rows) {
  const days = [...new Set(rows.map((r) => r.trading_day))].sort();
  const symbols = [...new Set(rows.map((r) => r.symbol))].sort();
  const x = days.map(daySeconds);
  const bySymbol = symbols.map((symbol) => days.map((day) => {
    const found = rows.find((r) => r.symbol === symbol && r.trading_day === day);
    return found ? Number(found.daily_pnl) : null;
  }));
  let equity = 0;
  const curve = days.map((day) => {
    equity += rows.filter((r) => r.trading_day === day).reduce((sum, r) => sum + Number(r.daily_pnl), 0);
    return equity;
  });
  const width = Math.min(900, document.querySelector("main").clientWidth);
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  const points = { show: true, size: 8 };
  // A day either side: with one trading day, uPlot's own range would span years around a lone point.
  const scales = { x: { time: true, auto: false, range: [x[0] - 86400, x[x.length - 1] + 86400] } };
  const tzDate = (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC");  // trading days are dates, not instants
  new uPlot({ width, height: 260, scales, tzDate,
    series: [{}, { label: "equity", stroke: "#333", points }] }, [x, curve], document.getElementById("equity-chart"));
  new uPlot({ width, height: 260, scales, tzDate,
    series: [{}, ...symbols.map((s, i) => ({ label: s, stroke: palette[i % palette.length], points }))] },
  [x, ...bySymbol], document.getElementById("daily-chart"));
}

function pager(tableId, buttonId, path, columns, decorate) {
  let cursor = null;
  const button = document.getElementById(buttonId);
  async function load(append) {
    const page = await api(`${path}?limit=20${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`);
    const body = fill(tableId, page.data, columns, append);
    if (decorate) decorate(body, page.data);
    cursor = page.next_cursor;
    button.hidden = !cursor;
  }
  button.addEventListener("click", () => load(true));
  return load(false);
}

async function trace(orderId) {
  const found = await api(`/api/orders/${encodeURIComponent(orderId)}/trace`);
  text("trace-title", `Order ${found.order_id}: its causal chain on the log`);
  const body = fill("trace-events", found.steps, ["role", (s) => `${s.topic}[${s.partition}]@${s.offset}`, "type",
    (s) => new Date(s.timestamp_ms).toISOString(), (s) => JSON.stringify(s.event)]);
  found.steps.forEach((s, i) => { body.rows[i].dataset.role = s.role; });
  text("trace-problems", found.problems.join("; "));
  document.getElementById("trace").hidden = false;
}

function orderLinks(body, rows) {
  rows.forEach((order, i) => {
    const first = body.rows[body.rows.length - rows.length + i].cells[0];
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = order.order_id;
    button.addEventListener("click", () => trace(order.order_id).catch((e) => text("pnl-error", e.message)));
    first.replaceChildren(button);
  });
}

async function showPnl() {
  try {
    const rows = await everyPage("/api/pnl");
    const body = fill("pnl-data", rows, ["trading_day", "symbol", "daily_pnl", "realized_pnl", "unrealized_pnl", "fees", "position_qty"]);
    rows.forEach((r, i) => {
      Object.assign(body.rows[i].dataset, { symbol: r.symbol, day: r.trading_day, dailyPnl: r.daily_pnl });
    });
    charts(rows);
    document.getElementById("equity-chart").dataset.drawn = String(rows.length);
    fill("positions", await everyPage("/api/positions"),
      ["symbol", "quantity", "avg_price", "realized_pnl", "unrealized_pnl", "fees", "mark_price"]);
    await pager("orders", "orders-next", "/api/orders", ["order_id", "symbol", "side", "quantity", "status", "created_time",
      (o) => [o.deny_reason, o.deny_detail, o.reject_reason, o.reject_detail, o.cancel_reason].filter(Boolean).join(": ")], orderLinks);
    await pager("fills", "fills-next", "/api/fills", ["fill_id", "order_id", "symbol", "side", "quantity", "price", "fee", "event_time"]);
  } catch (error) {
    text("pnl-error", String(error.message));
  }
}

// --- Replays -------------------------------------------------------------------

let shownReplay = null;

function verdict(job) {
  if (!job.result) return "";
  if (!job.result.compared) return "not compared";
  return job.result.identical ? "identical" : `different (first: ${job.result.first_divergence ? job.result.first_divergence.topic : "?"})`;
}

function showReplay(job) {
  shownReplay = job.id;
  text("detail-title", `Replay ${job.id}: ${job.state}`);
  const digests = job.result ? job.result.digests : {};
  const rows = Object.keys(digests).sort().map((topic) => {
    const { live, replay } = digests[topic];
    return { topic, live: live ? live.events : "none", replay: replay ? replay.events : "none",
      same: live && replay && live.sha256 === replay.sha256 ? "identical" : "different" };
  });
  const body = fill("digests", rows, ["topic", "live", "replay", "same"]);
  rows.forEach((r, i) => { Object.assign(body.rows[i].dataset, { topic: r.topic, same: r.same }); });
  replayChart(Object.keys(digests).sort().map((topic) => ({ topic, live: digests[topic].live, replay: digests[topic].replay })));
  const first = job.result ? job.result.first_divergence : null;
  text("divergence", first ? JSON.stringify(first, null, 2) : "none");
  text("replay-output", [job.error, ...(job.output_tail || [])].filter(Boolean).join("\n"));
  document.getElementById("replay-detail").hidden = false;
}

// Per topic, the events live holds and the events the replay derived, as bars side by side; the very
// numbers drawn are on the chart's data attributes (null: that side has no digest).
function replayChart(topics) {
  const element = document.getElementById("replay-chart");
  const events = (side) => JSON.stringify(topics.map((t) => (t[side] ? t[side].events : null)));
  const drawn = { topics: JSON.stringify(topics.map((t) => t.topic)), live: events("live"), replay: events("replay") };
  if (element.dataset.drawn !== undefined && ["topics", "live", "replay"].every((k) => element.dataset[k] === drawn[k])) return;
  element.replaceChildren();
  Object.assign(element.dataset, drawn);
  const names = JSON.parse(drawn.topics);
  const x = names.map((_, i) => i);
  const bars = (align) => uPlot.paths.bars({ size: [0.35, 60], align });
  if (names.length) {
    new uPlot({ width: Math.min(900, document.querySelector("main").clientWidth), height: 260,
      // Bars stand on zero: uPlot's own y range would start near the smallest count.
      scales: { x: { time: false, auto: false, range: [-0.5, names.length - 0.5] }, y: { range: (u, low, high) => [0, Math.max(1, high * 1.1)] } },
      axes: [{ splits: () => x, values: (u, splits) => splits.map((i) => names[i] ?? "") }, {}],
      series: [{ label: "topic", value: (u, i) => names[i] ?? "--" }, { label: "live events", stroke: "#1f77b4", fill: "#1f77b4", paths: bars(-1), points: { show: false } },
        { label: "replayed events", stroke: "#ff7f0e", fill: "#ff7f0e", paths: bars(1), points: { show: false } }] },
    [x, JSON.parse(drawn.live), JSON.parse(drawn.replay)], element);
  }
  element.dataset.drawn = String(names.length);
}

async function refreshReplays() {
  try {
    const jobs = (await api("/api/replays")).data;
    text("replays-error", "");
    const body = fill("replays", jobs, ["id", (j) => j.request.day || JSON.stringify(j.request.from_offsets), "state", "phase",
      (j) => j.timing.seconds, verdict]);
    jobs.forEach((job, i) => {
      Object.assign(body.rows[i].dataset, { replay: job.id, state: job.state, verdict: verdict(job) });
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = job.id;
      button.addEventListener("click", () => showReplay(job));
      body.rows[i].cells[0].replaceChildren(button);
      if (job.id === shownReplay) showReplay(job);
    });
  } catch (error) {
    text("replays-error", String(error.message));
  }
}

function wireReplay() {
  const form = document.getElementById("replay");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    const body = { day: value("replay-day"), compare: document.getElementById("replay-compare").checked };
    if (value("replay-symbols")) body.symbols = value("replay-symbols").split(",").map((s) => s.trim());
    if (value("replay-into")) body.into = value("replay-into");
    if (value("replay-set")) {
      body.set = Object.fromEntries(value("replay-set").split(",").map((pair) => pair.split("=").map((s) => s.trim())));
    }
    try {
      const job = await api("/api/replays", body);
      text("replay-result", `replay ${job.id} ${job.state}`);
      shownReplay = job.id;
    } catch (error) {
      text("replay-result", `refused: ${error.message}`);
    }
    refreshReplays();
  });
}

// --- Audit ----------------------------------------------------------------------

async function refreshCheckpoints() {
  try {
    const found = await api("/api/audit/checkpoints");
    text("audit-error", "");
    text("audit-summary", `${found.checkpoints} checkpoints and ${found.key_statements} key statements on audit.checkpoints; `
      + (found.trust ? `judged by ${found.trust}` : "not judged: the API has no key to trust")
      + found.problems.map((p) => `; not a checkpoint: ${p}`).join(""));
    const body = fill("checkpoints", found.data, ["topic", "partition", "log_end", "sealed_through", "unsealed", "sequence",
      "records", "sealed_time", "key_id", "verdict"]);
    found.data.forEach((row, i) => { body.rows[i].dataset.checkpoint = JSON.stringify(row); });
  } catch (error) {
    text("audit-error", String(error.message));
  }
}

function optional(body, name, id) {
  const value = document.getElementById(id).value.trim();
  if (value !== "") body[name] = value;
  return body;
}

function showRun(run) {
  const progress = `${run.progress.verified} of ${run.progress.partitions ?? "?"} partitions`;
  const state = document.getElementById("verify-state");
  state.textContent = `verify ${run.id} of ${run.topic}: ${run.state} (${progress})${run.error ? ": " + run.error : ""}`;
  Object.assign(state.dataset, { run: run.id, state: run.state });
  fill("verify-reports", run.reports, ["partition", "records",
    (r) => (r.first_offset === null ? "none" : `${r.first_offset}..${r.last_offset}`), "anchor", "checkpoints_matched",
    "proven_through", "unsealed", (r) => [...r.problems, ...r.notes.map((n) => `note: ${n}`)].join("; ")]);
  text("verify-problems", run.problems.join("\n"));
}

async function follow(runId) {
  const run = await api(`/api/audit/verify/${encodeURIComponent(runId)}`);
  showRun(run);
  if (run.state === "queued" || run.state === "running") setTimeout(() => follow(runId).catch(refused("verify-state")), 1000);
}

function refused(id) {
  return (error) => text(id, `refused: ${error.message}`);
}

async function download(query) {
  const response = await checked(await fetch(`/api/audit/bundle?${query}`, { credentials: "same-origin" }));
  const blob = await response.blob();
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = named ? named[1] : "audit-bundle.tar.gz";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  const result = document.getElementById("bundle-result");
  result.textContent = `downloaded ${link.download} (${blob.size} bytes)`;
  Object.assign(result.dataset, { file: link.download, bytes: String(blob.size) });
}

function wireAudit() {
  document.getElementById("verify").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = optional(optional({ topic: document.getElementById("verify-topic").value }, "from_time", "verify-from"),
      "to_time", "verify-to");
    try {
      showRun(await api("/api/audit/verify", body));
      await follow(document.getElementById("verify-state").dataset.run);
    } catch (error) {
      refused("verify-state")(error);
    }
  });
  document.getElementById("bundle").addEventListener("submit", (event) => {
    event.preventDefault();
    text("bundle-result", "exporting...");
    const query = new URLSearchParams(optional(optional({ topic: document.getElementById("bundle-topic").value },
      "from_time", "bundle-from"), "to_time", "bundle-to"));
    download(query).catch(refused("bundle-result"));
  });
}

const page = document.body.dataset.page;
if (page === "status") {
  wireControl();
  refreshStatus();
  setInterval(refreshStatus, 2000);
} else if (page === "pnl") {
  showPnl();
} else if (page === "replays") {
  wireReplay();
  refreshReplays();
  setInterval(refreshReplays, 2000);
} else if (page === "audit") {
  wireAudit();
  refreshCheckpoints();
  setInterval(refreshCheckpoints, 5000);
}
