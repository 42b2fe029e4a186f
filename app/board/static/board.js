// The orderflow board, the shop's console: a client of /graphql. Orders
// change on screen through the orderUpdated subscription
// (graphql-transport-ws over WebSocket, the small client below) and are
// paid, shipped and cancelled from their cards, the server's answer shown
// on the card; the list of orders, the stock of the products on screen,
// the projections' lag and the figures behind the charts (the stats query,
// what /metrics serves) are polled.
"use strict";

const STATUSES = ["PENDING", "VALIDATED", "PAID", "SHIPPED", "FAILED", "CANCELLED"];
const POLL_MS = 2000;
const ORDER_FIELDS = "id customerId status totalCents version failureReasons lines { productId quantity }";

const orders = new Map(); // id → order as last seen
const answers = new Map(); // id → {text, code}: the server's answer to the last action on the order's card
const tokenInput = document.getElementById("token");
tokenInput.value = localStorage.getItem("orderflow-token") || "";
tokenInput.addEventListener("change", () => {
  localStorage.setItem("orderflow-token", tokenInput.value);
  ws.restart();
});

function authorization() {
  return tokenInput.value ? "Bearer " + tokenInput.value : "";
}

// The badge in the header says how the board is doing: "live" only while
// the socket is up and the last round of polls was answered. When the
// server refuses the polls (access control on and no token, or a token it
// does not accept), the badge and the line under the header say so, with
// the server's message, rather than a green badge over an empty shop.
const conn = document.getElementById("conn");
const problem = document.getElementById("problem");
let socketState = "connecting…"; // or "live", "reconnecting…"
let failure = null; // why the last round of polls failed, or null

function showState() {
  problem.hidden = !failure;
  if (failure) {
    conn.textContent = failure.code ? "refused" : "unreachable";
    conn.className = "conn error";
    problem.textContent = describe(failure);
    return;
  }
  conn.textContent = socketState;
  conn.className = "conn " + (socketState === "live" ? "up" : "down");
}

function describe(e) {
  if (!e.code) return "The board cannot reach the API: " + e.message;
  let text = "The server refused the board's requests: " + e.message;
  if (e.code === "UNAUTHENTICATED" || e.code === "FORBIDDEN") {
    text += tokenInput.value
      ? " — the token in the token field is not one it accepts for this (the board needs an admin's)."
      : " — access control is on: paste an admin's token in the token field" +
        " (make one with: orderflow token --secret S --role admin --sub board, S being the server's --auth-secret).";
  }
  return text;
}

// gql runs a query or mutation over HTTP and returns its data, or throws
// the first error's message, with its code in the error's code.
async function gql(query, variables) {
  const headers = { "Content-Type": "application/json" };
  if (authorization()) headers.Authorization = authorization();
  const res = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    const code = (e.extensions && e.extensions.code) || "ERROR";
    throw Object.assign(new Error(code + ": " + e.message), { code });
  }
  return body.data;
}

// A graphql-transport-ws client: one socket, many subscriptions, pings
// answered, and a new socket (with every subscription again) when it drops.
const ws = (() => {
  const subs = new Map(); // id → {payload, onNext}
  let socket = null, acked = false, nextId = 1;

  function send(msg) {
    if (socket && acked) socket.send(JSON.stringify(msg));
  }
  function open() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql";
    const s = new WebSocket(url, "graphql-transport-ws");
    socket = s;
    acked = false;
    s.onopen = () => {
      const payload = authorization() ? { Authorization: authorization() } : {};
      s.send(JSON.stringify({ type: "connection_init", payload }));
    };
    s.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      switch (msg.type) {
        case "connection_ack":
          acked = true;
          socketState = "live";
          showState();
          for (const [id, sub] of subs) send({ id, type: "subscribe", payload: sub.payload });
          break;
        case "ping":
          s.send(JSON.stringify({ type: "pong" }));
          break;
        case "next": {
          const sub = subs.get(msg.id);
          if (sub && msg.payload.data) sub.onNext(msg.payload.data);
          break;
        }
        case "error":
        case "complete":
          subs.delete(msg.id);
          break;
      }
    };
    s.onclose = () => {
      if (socket !== s) return;
      socketState = "reconnecting…";
      showState();
      setTimeout(open, 1000);
    };
  }
  open();
  return {
    subscribe(query, variables, onNext) {
      const id = String(nextId++);
      const payload = { query, variables };
      subs.set(id, { payload, onNext });
      send({ id, type: "subscribe", payload });
    },
    restart() {
      const s = socket;
      socket = null;
      s.close();
      open();
    },
  };
})();

// watch shows an order and follows it from then on.
function watch(order) {
  if (orders.has(order.id)) return;
  orders.set(order.id, order);
  render();
  ws.subscribe(`subscription($id: ID!) { orderUpdated(id: $id) { ${ORDER_FIELDS} } }`, { id: order.id },
    (data) => { orders.set(order.id, data.orderUpdated); render(data.orderUpdated.id); });
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, attrs || {});
  for (const c of children) e.append(c);
  return e;
}

function cents(c) {
  return (Number(c) / 100).toFixed(2);
}

// shortId is what a card shows of an order's id: ids the server makes are
// UUIDs, too long for a column; the whole id is in the card's title.
function shortId(id) {
  return id.length > 8 ? id.slice(0, 8) + "…" : id;
}

// The actions of a card. Every card of an order still open (PENDING,
// VALIDATED or PAID) offers all three: whether one is allowed is the
// server's decision (shipping an unpaid order, paying twice), and its
// refusal is shown on the card with its code, as the API gives it.
const OPEN = new Set(["PENDING", "VALIDATED", "PAID"]);
const ACTIONS = [
  {
    name: "pay", label: "Pay", doing: "paying…", done: "paid",
    query: `mutation($id: ID!, $amount: Int64!) { payOrder(orderId: $id, amountCents: $amount) { ${ORDER_FIELDS} } }`,
    variables: (o) => ({ id: o.id, amount: o.totalCents }),
  },
  {
    name: "ship", label: "Ship", doing: "shipping…", done: "shipped",
    query: `mutation($id: ID!) { shipOrder(orderId: $id) { ${ORDER_FIELDS} } }`,
    variables: (o) => ({ id: o.id }),
  },
  {
    name: "cancel", label: "Cancel", doing: "cancelling…", done: "cancelled",
    query: `mutation($id: ID!, $reason: String) { cancelOrder(orderId: $id, reason: $reason) { ${ORDER_FIELDS} } }`,
    variables: (o) => ({ id: o.id, reason: "cancelled from the board" }),
  },
];

async function act(id, action) {
  const o = orders.get(id);
  if (!o) return;
  answers.set(id, { text: action.doing, code: "" });
  render();
  try {
    const data = await gql(action.query, action.variables(o));
    const changed = Object.values(data)[0];
    answers.set(id, { text: action.done, code: "" });
    // The subscription brings the same change; the answer may come first.
    if (changed.version >= orders.get(id).version) orders.set(id, changed);
    render(id);
    pollStock();
  } catch (e) {
    answers.set(id, { text: e.message, code: e.code || "ERROR" });
    render();
  }
}

// render draws the columns again; fresh names an order that just changed.
function render(fresh) {
  const columns = document.getElementById("columns");
  columns.replaceChildren(...STATUSES.map((status) => {
    const list = [...orders.values()].filter((o) => o.status === status);
    const col = el("div", { className: "column" },
      el("h2", {}, status + " ", el("span", { className: "count" }, String(list.length))));
    col.dataset.status = status;
    for (const o of list) {
      const card = el("div", { className: "card" + (o.id === fresh ? " fresh" : "") },
        el("div", { className: "id", title: o.id }, shortId(o.id)),
        el("div", { className: "meta" }, `${o.customerId} · ${cents(o.totalCents)} · v${o.version}`),
        el("div", { className: "meta" }, o.lines.map((l) => `${l.quantity}× ${l.productId}`).join(", ")));
      if (o.failureReasons.length) card.append(el("div", { className: "meta" }, o.failureReasons.join(", ")));
      if (OPEN.has(o.status)) {
        card.append(el("div", { className: "actions" }, ...ACTIONS.map((a) => {
          const b = el("button", { type: "button", textContent: a.label, onclick: () => act(o.id, a) });
          b.dataset.action = a.name;
          return b;
        })));
      }
      const answer = answers.get(o.id);
      if (answer) {
        const line = el("div", { className: "answer" + (answer.code ? " error" : "") }, answer.text);
        line.dataset.code = answer.code;
        card.append(line);
      }
      card.dataset.orderId = o.id;
      card.dataset.status = o.status;
      col.append(card);
    }
    return col;
  }));
}

function cell(text, num) {
  return el("td", { className: num ? "num" : "" }, String(text));
}

async function pollOrders() {
  const data = await gql(`{ orders(first: 100) { edges { node { ${ORDER_FIELDS} } } } }`);
  for (const { node } of data.orders.edges) watch(node);
}

async function pollStock() {
  const ids = [...new Set([...orders.values()].flatMap((o) => o.lines.map((l) => l.productId)))].sort();
  const tbody = document.querySelector("#stock tbody");
  if (!ids.length) return tbody.replaceChildren();
  const fields = ids.map((id, i) => `s${i}: stock(productId: ${JSON.stringify(id)}) { productId onHand reserved available }`);
  const data = await gql(`{ ${fields.join(" ")} }`);
  tbody.replaceChildren(...ids.map((id, i) => {
    const s = data["s" + i] || { onHand: 0, reserved: 0, available: 0 };
    const row = el("tr", {}, cell(id), cell(s.onHand, true), cell(s.reserved, true), cell(s.available, true));
    row.dataset.productId = id;
    return row;
  }));
}

async function pollProjections() {
  const data = await gql(`{ projections { name state position lag } }`);
  document.querySelector("#projections tbody").replaceChildren(...data.projections.map((p) => {
    const row = el("tr", { className: p.lag > 0 ? "lagging" : "" }, cell(p.name), cell(p.state), cell(p.position, true), cell(p.lag, true));
    row.dataset.projection = p.name;
    return row;
  }));
}

// The charts: what the stats query reads (the figures /metrics serves),
// sampled at every poll and kept for WINDOW_MS. The orders chart draws the
// rates between two samples of the counters (placed: orders that entered
// PENDING; settled: VALIDATED or FAILED), the lag chart each projection's
// and each reaction's lag in seconds as sampled. Drawn in SVG by hand.
const WINDOW_MS = 5 * 60 * 1000;
const samples = []; // {t, placed, settled, lags: [[name, seconds], …]}
const COLORS = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457", "#9e9d24", "#455a64"];

async function pollStats() {
  const data = await gql(`{ stats { at orders { status count } projections { name lagSeconds } reactions { name lagSeconds } } }`);
  const s = data.stats;
  const count = (...statuses) => s.orders.filter((o) => statuses.includes(o.status)).reduce((n, o) => n + Number(o.count), 0);
  const t = Date.parse(s.at);
  samples.push({
    t, placed: count("PENDING"), settled: count("VALIDATED", "FAILED"),
    lags: [...s.projections.map((p) => ["projection " + p.name, p.lagSeconds]), ...s.reactions.map((r) => ["reaction " + r.name, r.lagSeconds])],
  });
  // One sample older than the window stays: the first rate in it needs it.
  while (samples.length > 2 && samples[1].t < t - WINDOW_MS) samples.shift();
  drawCharts();
}

function drawCharts() {
  const rate = (key) => samples.slice(1).map((s, i) => {
    const prev = samples[i], dt = (s.t - prev.t) / 1000;
    // A counter that went down is a restarted server: no rate across it.
    return [s.t, dt > 0 ? Math.max(s[key] - prev[key], 0) / dt : 0];
  });
  drawChart(document.getElementById("chart-orders"), [
    { name: "placed", color: COLORS[0], points: rate("placed") },
    { name: "settled", color: COLORS[1], points: rate("settled") },
  ], "/s");
  const names = [...new Set(samples.flatMap((s) => s.lags.map(([name]) => name)))];
  drawChart(document.getElementById("chart-lag"), names.map((name, i) => ({
    name, color: COLORS[i % COLORS.length], dashed: name.startsWith("reaction "),
    points: samples.flatMap((s) => s.lags.filter(([n]) => n === name).map(([, v]) => [s.t, v])),
  })), "s");
}

function svgEl(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// niceCeil is the round number a chart's scale goes up to: 1, 2 or 5 times
// a power of ten, at least max.
function niceCeil(max) {
  if (!(max > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(max)));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max);
}

function fmt(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

// drawChart draws series of [time, value] points over the last WINDOW_MS
// (or since the first sample) into the figure's svg, and the legend with each series' latest value.
// Every polyline carries its series' name, number of points and peak, for
// whoever reads the page (and the browser test).
function drawChart(figure, series, unit) {
  const W = 480, H = 150, left = 34, right = 6, top = 8, bottom = 16;
  const svg = figure.querySelector("svg");
  // The time axis spans the samples so far, up to WINDOW_MS: a board just
  // opened draws its first seconds across the whole width.
  const now = samples.length ? samples[samples.length - 1].t : Date.now();
  const from = Math.max(now - WINDOW_MS, samples.length ? Math.min(samples[0].t, now - 10000) : now - WINDOW_MS);
  const span = now - from;
  const peak = Math.max(0, ...series.flatMap((s) => s.points.map(([, v]) => v)));
  const top_ = niceCeil(peak);
  const x = (t) => left + ((t - from) / span) * (W - left - right);
  const y = (v) => top + (1 - v / top_) * (H - top - bottom);
  const parts = [];
  for (const v of [0, top_ / 2, top_]) {
    parts.push(svgEl("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid" }));
    const label = svgEl("text", { x: left - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" });
    label.textContent = fmt(v);
    parts.push(label);
  }
  const ago = span >= 60000 ? `${Math.round(span / 60000)} min ago` : `${Math.round(span / 1000)} s ago`;
  for (const [t, text, anchor] of [[from, ago, "start"], [now, "now", "end"]]) {
    const label = svgEl("text", { x: x(t), y: H - 3, class: "axis", "text-anchor": anchor });
    label.textContent = text;
    parts.push(label);
  }
  const legend = [];
  for (const s of series) {
    const shown = s.points.filter(([t]) => t >= from);
    const line = svgEl("polyline", {
      points: shown.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
      stroke: s.color, class: "series" + (s.dashed ? " dashed" : ""),
      "data-series": s.name, "data-points": shown.length, "data-peak": Math.max(0, ...shown.map(([, v]) => v)),
    });
    parts.push(line);
    const last = shown.length ? shown[shown.length - 1][1] : 0;
    if (shown.length) {
      // The latest point, marked: a line needs two, a board just opened has one.
      const [t, v] = shown[shown.length - 1];
      parts.push(svgEl("circle", { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: s.color }));
    }
    const item = el("span", { className: "item" }, el("i", { className: s.dashed ? "dashed" : "" }), `${s.name} ${fmt(last)}${unit}`);
    item.querySelector("i").style.borderColor = s.color;
    legend.push(item);
  }
  svg.replaceChildren(...parts);
  figure.querySelector(".legend").replaceChildren(...legend);
}

async function poll() {
  let first = null;
  for (const f of [pollOrders, pollStock, pollProjections, pollStats]) {
    try { await f(); } catch (e) { console.warn(f.name, e); first = first || e; }
  }
  failure = first;
  showState();
  setTimeout(poll, POLL_MS);
}

document.getElementById("place").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target, note = document.getElementById("placed");
  const input = {
    customerId: form.customerId.value.trim(),
    lines: [{ productId: form.productId.value.trim(), quantity: Number(form.quantity.value) }],
  };
  if (form.id.value.trim()) input.id = form.id.value.trim();
  try {
    const data = await gql(`mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_FIELDS} } }`, { input });
    note.className = "note";
    note.textContent = "placed " + data.placeOrder.id;
    watch(data.placeOrder);
    pollStock();
  } catch (e) {
    note.className = "note error";
    note.textContent = e.message;
  }
});

render();
poll();
