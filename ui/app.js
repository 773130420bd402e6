// Trellis console: plain JavaScript over the relay's HTTP API and WebSocket
// (docs/relay.md). No build step, nothing fetched from elsewhere. The token lives in
// sessionStorage; every action is checked again by the server, so hiding a button is
// courtesy, not security.
"use strict";

const TOKEN_KEY = "trellis.token";
const view = document.getElementById("view");
const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attributes = {}) {
  const node = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function status(value) { return el("span", { class: "status", "data-status": value }, value); }
function when(text) { return text ? new Date(text).toLocaleString() : ""; }
// A run id's last eight hex digits: random in every id, where a time-ordered (v7) id's
// first eight are the same for every run of the same minute.
function shortID(id) { return id.slice(-8); }
function duration(ms) {
  if (ms === undefined || ms === null) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}
function pretty(value) { return el("pre", {}, JSON.stringify(value, null, 2)); }

// ---- HTTP -------------------------------------------------------------------------

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = data && data.error ? data.error : { code: `http_${response.status}`, message: response.statusText };
    if (response.status === 401) signOut(error.message);
    throw new APIError(response.status, error.code, error.message);
  }
  return data;
}

function showError(container, error) {
  container.append(el("div", { class: "error", "data-error": error.code || "error" }, error.message));
}

// ---- Live connection: one WebSocket, resubscribed after every reconnect ---------------

const live = {
  socket: null,
  runs: new Map(),   // run_id -> { after, onEvent, onHello }
  feed: null,        // { workflow, cursor, onEvent }
  backoff: 1000,
  nextID: 1,
  pending: new Map(), // id -> resolve/reject of control ops
  timer: null,

  setState(state) {
    const badge = document.getElementById("connection");
    badge.dataset.state = state;
    badge.textContent = state;
  },

  connect() {
    if (this.socket || !sessionStorage.getItem(TOKEN_KEY)) return;
    this.setState("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const token = encodeURIComponent(sessionStorage.getItem(TOKEN_KEY));
    const socket = new WebSocket(`${scheme}://${location.host}/v1/ws?access_token=${token}`);
    this.socket = socket;
    socket.onopen = () => {
      for (const [run, subscription] of this.runs) this.send({ op: "subscribe", run_id: run, after: subscription.after });
      if (this.feed) this.send({ op: "subscribe_runs", workflow: this.feed.workflow || undefined, after: this.feed.cursor || undefined });
    };
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      for (const { reject } of this.pending.values()) reject(new APIError(0, "unavailable", "connection lost"));
      this.pending.clear();
      if (!sessionStorage.getItem(TOKEN_KEY)) { this.setState("offline"); return; }
      this.setState("connecting");
      // Back off 1 s → 15 s, ×2 with ±20 % jitter; reset after a hello (PROTOCOL.md).
      const delay = this.backoff * (0.8 + Math.random() * 0.4);
      this.backoff = Math.min(this.backoff * 2, 15000);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  },

  close() {
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
    this.setState("offline");
  },

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  },

  receive(message) {
    if (message.type === "hello") {
      this.backoff = 1000;
      this.setState("live");
      if (message.feed === "runs") { if (this.feed && !this.feed.cursor) this.feed.cursor = message.cursor; return; }
      const subscription = this.runs.get(message.run_id);
      if (subscription && subscription.onHello) subscription.onHello(message);
      return;
    }
    if (message.type === "ack" || message.type === "error" || message.type === "state" || message.type === "pong") {
      const waiter = message.id !== undefined ? this.pending.get(message.id) : undefined;
      if (waiter) {
        this.pending.delete(message.id);
        if (message.type === "error") waiter.reject(new APIError(0, message.code, message.message)); else waiter.resolve(message);
      }
      return;
    }
    if (message.type === "reset") {
      // The cursor is gone (retention) or we fell behind: start again from a fresh read.
      if (message.feed === "runs" && this.feed) { this.feed.cursor = null; route(); } else if (message.feed !== "runs") route();
      return;
    }
    if (message.type === "end") return;
    if (message.v !== 1) return;
    if (message.cursor !== undefined && this.feed) {
      this.feed.cursor = message.cursor;
      this.feed.onEvent(message);
      return;
    }
    const subscription = this.runs.get(message.run_id);
    if (!subscription || message.seq <= subscription.after) return;  // at-least-once: drop repeats
    subscription.after = message.seq;
    subscription.onEvent(message);
  },

  /// Follows a run from `after` (its snapshot's last_seq); survives reconnects.
  follow(run, after, onEvent, onHello) {
    this.runs.set(run, { after, onEvent, onHello });
    this.connect();
    this.send({ op: "subscribe", run_id: run, after });
  },

  followRuns(workflow, onEvent) {
    this.feed = { workflow, cursor: null, onEvent };
    this.connect();
    this.send({ op: "subscribe_runs", workflow: workflow || undefined });
  },

  /// Leaves every subscription (a new page starts its own).
  reset() {
    for (const run of this.runs.keys()) this.send({ op: "unsubscribe", run_id: run });
    if (this.feed) this.send({ op: "unsubscribe_runs" });
    this.runs.clear();
    this.feed = null;
  },

  /// A control op over the socket, answered by its ack or error.
  request(message) {
    const id = this.nextID++;
    return new Promise((resolve, reject) => {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) { reject(new APIError(0, "unavailable", "not connected")); return; }
      this.pending.set(id, { resolve, reject });
      this.send({ ...message, id });
    });
  },
};

// ---- Privileges: which actions to offer (the server decides) --------------------------

let workflowPrivileges = new Map();
async function loadPrivileges() {
  const { workflows } = await api("GET", "/v1/workflows");
  workflowPrivileges = new Map(workflows.map((w) => [w.name, w.privileges]));
  return workflows;
}
function may(workflow, privilege) { return (workflowPrivileges.get(workflow) || []).includes(privilege); }

// ---- Pages ------------------------------------------------------------------------------

function signIn(message) {
  view.replaceChildren(el("div", { class: "panel signin" },
    el("h1", {}, "Sign in"),
    el("p", { class: "muted" }, "Paste an API token (from ", el("code", {}, "trellis token create"), "). It is kept for this tab only."),
    message ? el("div", { class: "error" }, message) : null,
    el("form", { id: "sign-in", onsubmit: async (event) => {
      event.preventDefault();
      const token = $("#token").value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      try {
        await loadPrivileges();
        live.connect();
        route();
      } catch (error) {
        sessionStorage.removeItem(TOKEN_KEY);
        signIn(error.message);
      }
    } },
      el("input", { id: "token", type: "password", placeholder: "trl_…", autocomplete: "off" }),
      el("button", { class: "primary", type: "submit" }, "Sign in"))));
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  live.reset();
  live.close();
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
  signIn(message);
}

async function workflowsPage() {
  const workflows = await loadPrivileges();
  view.replaceChildren(el("div", { class: "panel" }, el("h1", {}, "Workflows"),
    el("table", { id: "workflows" },
      el("thead", {}, el("tr", {}, ["Name", "Description", "Latest", "Versions", "Active runs", "Your privileges"].map((h) => el("th", {}, h)))),
      el("tbody", {}, workflows.map((w) => el("tr", { class: "clickable", "data-workflow": w.name, onclick: () => { location.hash = `#/workflows/${encodeURIComponent(w.name)}`; } },
        el("td", {}, w.name), el("td", { class: "muted" }, w.description), el("td", {}, `v${w.latest_version}`),
        el("td", {}, w.versions), el("td", {}, w.active_runs), el("td", { class: "muted" }, w.privileges.join(", "))))))));
}

async function workflowPage(name, version) {
  const path = version ? `/v1/workflows/${encodeURIComponent(name)}/versions/${version}` : `/v1/workflows/${encodeURIComponent(name)}`;
  const [doc, versions] = await Promise.all([api("GET", path), api("GET", `/v1/workflows/${encodeURIComponent(name)}/versions`)]);
  const canRun = doc.privileges.includes("run");
  const input = el("textarea", { id: "run-input" }, "{}");
  const message = el("div");
  const graph = el("div", { class: "dag" });
  drawGraph(graph, doc.graph.nodes, doc.graph.edges, () => {});
  view.replaceChildren(
    el("div", { class: "panel" },
      el("h1", {}, `${doc.name} `, el("span", { class: "muted" }, `v${doc.version} of ${doc.latest_version}`)),
      el("p", { class: "muted" }, doc.description),
      graph),
    el("div", { class: "row" },
      el("div", { class: "panel grow" }, el("h2", {}, "Versions"),
        el("table", {}, el("tbody", {}, versions.versions.map((v) => el("tr", { class: "clickable", onclick: () => { location.hash = `#/workflows/${encodeURIComponent(name)}/${v.version}`; } },
          el("td", {}, `v${v.version}`), el("td", {}, v.author || ""), el("td", { class: "muted" }, when(v.published_at)),
          el("td", {}, `${v.nodes} nodes`), el("td", {}, `${v.runs} runs`)))))),
      canRun ? el("div", { class: "panel grow", id: "start-run" }, el("h2", {}, "Start a run"), input, message,
        el("button", { class: "primary", onclick: async () => {
          message.replaceChildren();
          try {
            const started = await api("POST", `/v1/workflows/${encodeURIComponent(name)}/runs`, { input: JSON.parse(input.value || "{}"), version: doc.version });
            location.hash = `#/runs/${started.run_id}`;
          } catch (error) { showError(message, error); }
        } }, "Start")) : null));
}

async function runsPage(params) {
  await loadPrivileges();
  const filters = { workflow: params.get("workflow") || "", status: params.get("status") || "" };
  const body = el("tbody");
  const more = el("button", { hidden: true }, "More");
  const rows = new Map();
  let cursor = null;
  function row(run) {
    const tr = el("tr", { class: "clickable", "data-run": run.run_id, onclick: () => { location.hash = `#/runs/${run.run_id}`; } },
      el("td", {}, status(run.status)), el("td", {}, run.workflow), el("td", {}, `v${run.version}`),
      el("td", { class: "muted" }, shortID(run.run_id)), el("td", {}, run.started_by || ""), el("td", { class: "muted" }, when(run.created_at)),
      el("td", {}, run.finished_at ? duration(new Date(run.finished_at) - new Date(run.created_at)) : ""));
    rows.set(run.run_id, { tr, run });
    return tr;
  }
  async function page() {
    const query = new URLSearchParams({ limit: "50" });
    if (filters.workflow) query.set("workflow", filters.workflow);
    if (filters.status) query.set("status", filters.status);
    if (cursor) query.set("cursor", cursor);
    const result = await api("GET", `/v1/runs?${query}`);
    for (const run of result.runs) if (!rows.has(run.run_id)) body.append(row(run));
    cursor = result.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", page);
  const workflowSelect = el("select", { id: "filter-workflow", onchange: (e) => navigate({ ...filters, workflow: e.target.value }) },
    el("option", { value: "" }, "all workflows"), [...workflowPrivileges.keys()].map((w) => el("option", { value: w, selected: w === filters.workflow }, w)));
  const statusSelect = el("select", { id: "filter-status", onchange: (e) => navigate({ ...filters, status: e.target.value }) },
    el("option", { value: "" }, "any status"), ["queued", "running", "paused", "waiting", "succeeded", "failed", "cancelled"].map((s) => el("option", { value: s, selected: s === filters.status }, s)));
  function navigate(next) {
    const query = new URLSearchParams(Object.entries(next).filter(([, v]) => v));
    location.hash = `#/runs?${query}`;
  }
  view.replaceChildren(el("div", { class: "panel" }, el("h1", {}, "Runs"),
    el("div", { class: "filters" }, workflowSelect, statusSelect, el("span", { class: "muted" }, "updates live")),
    el("table", { id: "runs" }, el("thead", {}, el("tr", {}, ["Status", "Workflow", "Version", "Run", "Started by", "Created", "Took"].map((h) => el("th", {}, h)))), body),
    more));
  await page();
  // The feed keeps the list live: new runs appear on top, others change status in place.
  const statusOf = { "run.queued": "queued", "run.started": "running", "run.paused": "paused", "run.resumed": "running", "run.waiting": "waiting" };
  live.followRuns(filters.workflow, (event) => {
    const known = rows.get(event.run_id);
    const next = event.type === "run.finished" ? event.data.status : statusOf[event.type];
    if (filters.status && next !== filters.status && !known) return;
    if (known) {
      known.run.status = next;
      if (event.type === "run.finished") known.run.finished_at = event.data.finished_at;
      known.tr.replaceWith(row(known.run));
    } else if (event.type === "run.queued") {
      body.prepend(row({ run_id: event.run_id, status: "queued", workflow: event.workflow, version: event.data.version,
        started_by: event.data.started_by, created_at: event.ts }));
    }
  });
}

async function approvalsPage() {
  await loadPrivileges();
  const { approvals } = await api("GET", "/v1/approvals?status=pending");
  const message = el("div");
  view.replaceChildren(el("div", { class: "panel" }, el("h1", {}, "Approvals"), message,
    approvals.length === 0 ? el("p", { class: "muted", id: "no-approvals" }, "Nothing waits for a decision.") :
    el("table", { id: "approvals" }, el("thead", {}, el("tr", {}, ["Workflow", "Run", "Node", "Prompt", "Votes", "Requested", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, approvals.map((a) => el("tr", { "data-approval": a.approval_id },
        el("td", {}, a.workflow), el("td", {}, el("a", { href: `#/runs/${a.run_id}` }, shortID(a.run_id))), el("td", {}, a.node_key),
        el("td", {}, a.prompt || ""), el("td", {}, `${a.approvals} of ${a.required_approvals}`), el("td", { class: "muted" }, when(a.requested_at)),
        el("td", { class: "actions" }, may(a.workflow, "approve") ? decisionControls(a, message) : el("span", { class: "muted" }, "view only"))))))));
}

/// Approve / Reject for a gate; for a question a node asked (kind input) an answer box
/// whose text is sent as the approving comment — the node runs again with it.
function decisionControls(approval, message) {
  if (approval.kind === "input") {
    const answer = el("input", { type: "text", "data-answer": approval.approval_id, placeholder: "Your answer" });
    return [answer,
      el("button", { class: "primary", "data-decide": "answer", onclick: () => decide(approval, "approve", message, answer.value) }, "Answer"),
      el("button", { class: "danger", "data-decide": "reject", onclick: () => decide(approval, "reject", message) }, "Refuse")];
  }
  return [el("button", { class: "primary", "data-decide": "approve", onclick: () => decide(approval, "approve", message) }, "Approve"),
    el("button", { class: "danger", "data-decide": "reject", onclick: () => decide(approval, "reject", message) }, "Reject")];
}

async function decide(approval, decision, message, comment) {
  message.replaceChildren();
  try {
    await api("POST", `/v1/approvals/${approval.approval_id}`, comment === undefined ? { decision } : { decision, comment });
    route();
  } catch (error) { showError(message, error); }
}

// ---- The DAG: laid out once by level, recoloured in place ----------------------------

const BOX = { width: 150, height: 38, columnGap: 70, rowGap: 16, margin: 20 };

/// Draws nodes (with `level`, `key`) and edges; returns node key -> SVG group.
function drawGraph(container, nodes, edges, onSelect) {
  const columns = new Map();
  for (const node of nodes) {
    const level = node.level ?? 0;
    if (!columns.has(level)) columns.set(level, []);
    columns.get(level).push(node);
  }
  const tallest = Math.max(1, ...[...columns.values()].map((c) => c.length));
  const height = BOX.margin * 2 + tallest * (BOX.height + BOX.rowGap);
  const width = BOX.margin * 2 + columns.size * (BOX.width + BOX.columnGap);
  const place = new Map();
  for (const [level, column] of columns) {
    const offset = (height - column.length * (BOX.height + BOX.rowGap)) / 2;
    column.forEach((node, index) => place.set(node.key ?? node.node_key, {
      x: BOX.margin + level * (BOX.width + BOX.columnGap), y: offset + index * (BOX.height + BOX.rowGap) }));
  }
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}` });
  for (const edge of edges) {
    const from = place.get(edge.from), to = place.get(edge.to);
    if (!from || !to) continue;
    const x1 = from.x + BOX.width, y1 = from.y + BOX.height / 2, x2 = to.x, y2 = to.y + BOX.height / 2;
    root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${x1 + 35},${y1} ${x2 - 35},${y2} ${x2},${y2}` }));
    if (edge.label || edge.condition) {
      const label = svg("text", { class: "edge-label", x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 3, "text-anchor": "middle" });
      label.textContent = edge.label || edge.condition;
      root.append(label);
    }
  }
  const groups = new Map();
  for (const node of nodes) {
    const key = node.key ?? node.node_key;
    const at = place.get(key);
    const group = svg("g", { class: "node", "data-node": key, "data-status": node.status || "pending", transform: `translate(${at.x},${at.y})` });
    group.append(svg("rect", { width: BOX.width, height: BOX.height }));
    const bar = svg("rect", { class: "bar", x: 0, y: BOX.height - 4, height: 4, width: 0 });
    group.append(bar);
    const title = svg("text", { x: 10, y: 16 });
    title.textContent = key.length > 20 ? `${key.slice(0, 19)}…` : key;
    const subtitle = svg("text", { x: 10, y: 30, class: "sub" });
    subtitle.textContent = node.handler || node.kind;
    group.append(title, subtitle);
    group.addEventListener("click", () => onSelect(key));
    root.append(group);
    groups.set(key, { group, bar, subtitle, kind: node.handler || node.kind });
  }
  container.replaceChildren(root);
  return groups;
}

async function runPage(id) {
  await loadPrivileges();
  const snapshot = await api("GET", `/v1/runs/${id}`);
  const nodes = new Map(snapshot.nodes.map((n) => [n.node_key, { ...n }]));
  const run = { ...snapshot };
  let selected = null;
  const graph = el("div", { class: "dag", id: "dag" });
  const groups = drawGraph(graph, snapshot.nodes, snapshot.graph.edges, (key) => { selected = key; showNode(key); });
  const header = el("div");
  const bar = el("div");
  const timeline = el("div", { class: "timeline", id: "timeline" });
  const detail = el("div", { class: "panel detail", id: "node-detail" }, el("p", { class: "muted" }, "Click a node for its input, output, error and logs."));
  const controls = el("div", { class: "actions", id: "controls" });
  const message = el("div");
  const approvalsBox = el("div", { id: "run-approvals" });

  // Changes land here and are drawn once per animation frame, however fast they come.
  let dirty = false;
  function changed() {
    if (dirty) return;
    dirty = true;
    requestAnimationFrame(() => { dirty = false; render(); });
  }

  function render() {
    const finished = [...nodes.values()].filter((n) => ["succeeded", "failed", "skipped", "cancelled"].includes(n.status)).length;
    const partial = [...nodes.values()].filter((n) => n.status === "running" && n.progress && typeof n.progress.percent === "number")
      .reduce((sum, n) => sum + n.progress.percent / 100, 0);
    const percent = nodes.size ? Math.round(1000 * (finished + partial) / nodes.size) / 10 : 100;
    header.replaceChildren(el("h1", {}, `${run.workflow} `, el("span", { class: "muted" }, `v${run.version} · ${run.run_id}`)),
      el("div", { class: "row" }, el("span", { id: "run-status" }, status(run.status)),
        el("span", { class: "muted" }, `started by ${run.started_by || "?"} · ${when(run.created_at)}`),
        el("span", { id: "run-progress", "data-percent": percent }, `${percent} %`)));
    bar.replaceChildren(el("div", { class: "progress" }, el("div", { style: `width: ${percent}%` })));
    for (const [key, node] of nodes) {
      const g = groups.get(key);
      if (!g) continue;
      g.group.dataset.status = node.status;
      g.group.classList.toggle("selected", key === selected);
      const progress = node.status === "running" && node.progress && typeof node.progress.percent === "number" ? node.progress.percent : node.status === "succeeded" ? 100 : 0;
      g.bar.setAttribute("width", (BOX.width * progress) / 100);
      g.subtitle.textContent = [g.kind, node.attempts > 1 ? `attempt ${node.attempts}` : null, node.duration_ms !== undefined ? duration(node.duration_ms) : null].filter(Boolean).join(" · ");
    }
    renderTimeline();
    renderControls();
  }

  function renderTimeline() {
    const spans = [...nodes.values()].filter((n) => n.started_at);
    if (!spans.length) { timeline.replaceChildren(el("p", { class: "muted" }, "Nothing has started yet.")); return; }
    const start = Math.min(...spans.map((n) => Date.parse(n.started_at)));
    const end = Math.max(...spans.map((n) => (n.finished_at ? Date.parse(n.finished_at) : Date.now())), start + 1);
    timeline.replaceChildren(...spans.sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at)).map((n) => {
      const from = Date.parse(n.started_at), to = n.finished_at ? Date.parse(n.finished_at) : Date.now();
      return el("div", { class: "lane" }, el("span", { class: "name" }, n.node_key),
        el("span", { class: "track" }, el("span", { class: "span", "data-status": n.status,
          style: `left: ${(100 * (from - start)) / (end - start)}%; width: ${(100 * (to - from)) / (end - start)}%` })),
        el("span", { class: "muted" }, duration(to - from)));
    }));
  }

  function renderControls() {
    const terminal = ["succeeded", "failed", "cancelled"].includes(run.status);
    if (!may(run.workflow, "run") || terminal) { controls.replaceChildren(); return; }
    const op = (name) => el("button", { "data-control": name, class: name === "cancel" ? "danger" : "", onclick: async () => {
      message.replaceChildren();
      try { await api("POST", `/v1/runs/${run.run_id}/${name}`); } catch (error) { showError(message, error); }
    } }, name[0].toUpperCase() + name.slice(1));
    controls.replaceChildren(op("cancel"), run.status === "paused" ? op("resume") : op("pause"));
  }

  async function loadApprovals() {
    const { approvals } = await api("GET", "/v1/approvals?status=pending");
    const mine = approvals.filter((a) => a.run_id === run.run_id);
    approvalsBox.replaceChildren(...mine.map((a) => el("div", { class: "panel", "data-approval": a.approval_id },
      el("h2", {}, a.kind === "input" ? `Question from ${a.node_key}` : `Approval: ${a.node_key}`), el("p", {}, a.prompt || ""),
      el("p", { class: "muted" }, `${a.approvals} of ${a.required_approvals} approvals`),
      may(run.workflow, "approve") ? el("div", { class: "actions" }, ...decisionControls(a, message)) : null)));
  }

  async function showNode(key) {
    changed();
    detail.replaceChildren(el("p", { class: "muted" }, `Loading ${key}…`));
    try {
      const node = await api("GET", `/v1/runs/${run.run_id}/nodes/${encodeURIComponent(key)}?logs=100`);
      // replaceChildren takes nodes, not arrays: the optional sections are flattened first.
      detail.replaceChildren(...[el("h2", {}, node.node_key, " ", status(node.status)),
        el("dl", { class: "kv" },
          el("dt", {}, "kind"), el("dd", {}, `${node.kind}${node.handler ? ` · ${node.handler}` : ""}`),
          el("dt", {}, "attempts"), el("dd", {}, `${node.attempts} of ${node.max_attempts}`),
          el("dt", {}, "took"), el("dd", {}, duration(node.duration_ms)),
          el("dt", {}, "cost"), el("dd", {}, node.cost)),
        node.input !== undefined ? [el("h2", {}, "Input"), pretty(node.input)] : null,
        node.output !== undefined ? [el("h2", {}, "Output"), pretty(node.output)] : null,
        node.error !== undefined ? [el("h2", {}, "Error"), pretty(node.error)] : null,
        node.attempt_history.length ? [el("h2", {}, "Attempts"), el("table", {}, el("tbody", {}, node.attempt_history.map((a) =>
          el("tr", {}, el("td", {}, `#${a.attempt}`), el("td", {}, status(a.outcome)), el("td", {}, a.scheduler || ""), el("td", { class: "muted" }, when(a.started_at))))))] : null,
        node.logs.length ? [el("h2", {}, "Logs"), el("pre", { id: "node-logs" }, node.logs.map((l) => `[${l.kind}] ${l.body}`).join("\n"))] : null]
        .flat().filter(Boolean));
    } catch (error) { detail.replaceChildren(); showError(detail, error); }
  }

  function apply(event) {
    const data = event.data || {};
    const node = data.node_key !== undefined && data.item_index === undefined ? nodes.get(data.node_key) : undefined;
    switch (event.type) {
      case "run.started": case "run.resumed": run.status = "running"; break;
      case "run.paused": run.status = "paused"; break;
      case "run.waiting": run.status = "waiting"; loadApprovals(); break;
      case "run.finished": run.status = data.status; run.finished_at = data.finished_at; break;
      case "node.started": if (node) { node.status = "running"; node.attempts = data.attempt; node.started_at = event.ts; node.progress = undefined; } break;
      case "node.progress": if (node) node.progress = { percent: data.percent, message: data.message }; break;
      case "node.retry_scheduled": if (node) node.status = "ready"; break;
      case "node.finished": if (node) { node.status = data.status; node.finished_at = event.ts; node.duration_ms = data.duration_ms; } break;
      case "approval.requested": if (node) node.status = "waiting"; loadApprovals(); break;
      case "approval.decided": loadApprovals(); break;
      default: break;
    }
    if (selected && node && node.node_key === selected && (event.type === "node.finished" || event.type === "node.log")) showNode(selected);
    changed();
  }

  view.replaceChildren(
    el("div", { class: "panel" }, header, bar, el("div", { class: "row", style: "margin-top: .6rem" }, controls, message)),
    approvalsBox,
    el("div", { class: "row" }, el("div", { class: "grow" }, el("div", { class: "panel" }, graph), el("div", { class: "panel" }, el("h2", {}, "Timeline"), timeline)), detail));
  render();
  if (run.status === "waiting") loadApprovals();
  live.follow(run.run_id, snapshot.last_seq, apply, null);
}

// ---- Router -------------------------------------------------------------------------------

async function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) { signIn(); return; }
  $("#sign-out").hidden = false;
  live.reset();
  live.connect();
  const [path, query] = (location.hash.slice(1) || "/runs").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const link of document.querySelectorAll("[data-nav]")) link.classList.toggle("active", link.dataset.nav === parts[0]);
  view.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  try {
    if (parts[0] === "workflows" && parts[1]) await workflowPage(parts[1], parts[2]);
    else if (parts[0] === "workflows") await workflowsPage();
    else if (parts[0] === "runs" && parts[1]) await runPage(parts[1]);
    else if (parts[0] === "approvals") await approvalsPage();
    else await runsPage(new URLSearchParams(query || ""));
  } catch (error) {
    view.replaceChildren();
    showError(view, error);
  }
}

$("#sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
window.trellis = { live };  // for tests and the curious: the connection's state
route();
