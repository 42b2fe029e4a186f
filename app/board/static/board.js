// The orderflow board: a client of /graphql. Orders change on screen through
// the orderUpdated subscription (graphql-transport-ws over WebSocket, the
// small client below); the list of orders, the stock of the products on
// screen and the projections' lag are polled.
"use strict";

const STATUSES = ["PENDING", "VALIDATED", "PAID", "SHIPPED", "FAILED", "CANCELLED"];
const POLL_MS = 2000;
const ORDER_FIELDS = "id customerId status totalCents version failureReasons lines { productId quantity }";

const orders = new Map(); // id → order as last seen
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
        el("div", { className: "id" }, o.id),
        el("div", { className: "meta" }, `${o.customerId} · ${cents(o.totalCents)} · v${o.version}`),
        el("div", { className: "meta" }, o.lines.map((l) => `${l.quantity}× ${l.productId}`).join(", ")));
      if (o.failureReasons.length) card.append(el("div", { className: "meta" }, o.failureReasons.join(", ")));
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

async function poll() {
  let first = null;
  for (const f of [pollOrders, pollStock, pollProjections]) {
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
