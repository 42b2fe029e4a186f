// Subscriptions at scale, measured with a third-party client (graphql-ws
// over ws, one WebSocket per subscriber): N subscribers follow orderUpdated
// on K orders (N/K each), every order is paid at once through the API, and
// the time from each payment to each subscriber seeing PAID is reported,
// with the server's memory per subscriber (its RSS from /proc before and
// after subscribing; give its pid).
//
//   node bench.mjs --url http://127.0.0.1:8080 --pid <server pid> --subscribers 10000 --orders 100
import { readFileSync } from "node:fs";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const url = args.url || "http://127.0.0.1:8080";
const pid = args.pid;
const subscribers = Number(args.subscribers || 10000);
const orders = Number(args.orders || 100);
const run = args.run || String(Date.now());

async function gql(query, variables) {
  const res = await fetch(url + "/graphql", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function rssKB() {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m[1]);
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The orders, validated.
const customer = `c-${run}`, product = `p-${run}`;
await gql(`mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }`,
  { i: { id: customer, name: "Bench", email: "bench@example.com", address: "1 Load St" } });
await gql(`mutation($i: ProductInput!) { upsertProduct(input: $i) { id } }`, { i: { id: product, name: "Bench", priceCents: 100 } });
await gql(`mutation($p: ID!, $q: Int!) { addStock(productId: $p, quantity: $q) { onHand } }`, { p: product, q: orders });
const ids = [];
for (let i = 0; i < orders; i++) {
  const id = `o-${run}-${i}`;
  const d = await gql(`mutation($i: PlaceOrderInput!) { placeOrder(input: $i, waitForValidation: true) { id status } }`,
    { i: { id, customerId: customer, lines: [{ productId: product, quantity: 1 }] } });
  if (d.placeOrder.status !== "VALIDATED") throw new Error(`order ${id} is ${d.placeOrder.status}`);
  ids.push(id);
}

await sleep(500);
const rssBefore = rssKB();

// The subscribers: each its own client and socket.
const wsURL = url.replace(/^http/, "ws") + "/graphql";
const paidAt = new Map(); // order id → when its payment was sent
const latencies = [];
let validated = 0, errors = 0;
const clients = [];
let resolveAllPaid;
const allPaid = new Promise((r) => { resolveAllPaid = r; });
const batch = 200;
for (let i = 0; i < subscribers; i += batch) {
  const started = [];
  for (let j = i; j < Math.min(i + batch, subscribers); j++) {
    const id = ids[j % orders];
    const client = createClient({ url: wsURL, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
    clients.push(client);
    started.push(new Promise((resolve) => {
      let seenValidated = false;
      client.subscribe({ query: `subscription($id: ID!) { orderUpdated(id: $id) { status } }`, variables: { id } }, {
        next: ({ data }) => {
          const status = data.orderUpdated.status;
          if (status === "VALIDATED" && !seenValidated) {
            seenValidated = true;
            validated++;
            resolve();
          } else if (status === "PAID") {
            latencies.push(performance.now() - paidAt.get(id));
            if (latencies.length === subscribers) resolveAllPaid();
          }
        },
        error: (e) => { errors++; console.error("subscription error", e); resolve(); },
        complete: () => {},
      });
    }));
  }
  await Promise.all(started);
}
if (validated !== subscribers) throw new Error(`${validated} of ${subscribers} subscribers saw VALIDATED (${errors} errors)`);
await sleep(2000);
const rssAfter = rssKB();
// --hold S keeps the subscribers idle S seconds before the payments (time to profile the server).
if (args.hold) { console.error("subscribed; holding"); await sleep(Number(args.hold) * 1000); }

// Every order paid at once.
const payReturned = [];
await Promise.all(ids.map(async (id) => {
  paidAt.set(id, performance.now());
  await gql(`mutation($id: ID!) { payOrder(orderId: $id, amountCents: 100) { status } }`, { id });
  payReturned.push(performance.now() - paidAt.get(id));
}));
payReturned.sort((a, b) => a - b);
const timeout = sleep(30000).then(() => "timeout");
if ((await Promise.race([allPaid, timeout])) === "timeout") {
  console.error(`only ${latencies.length} of ${subscribers} saw PAID within 30 s`);
}
latencies.sort((a, b) => a - b);
const result = {
  subscribers, orders, sawPaid: latencies.length,
  p50ms: Math.round(pct(latencies, 0.5)), p99ms: Math.round(pct(latencies, 0.99)), maxms: Math.round(latencies[latencies.length - 1]),
  payOrderP50ms: Math.round(pct(payReturned, 0.5)), payOrderMaxms: Math.round(payReturned[payReturned.length - 1]),
  serverRSSBeforeMB: +(rssBefore / 1024).toFixed(1), serverRSSAfterMB: +(rssAfter / 1024).toFixed(1),
  serverKBPerSubscriber: +((rssAfter - rssBefore) / subscribers).toFixed(1),
};
console.log(JSON.stringify(result));
await Promise.all(clients.map((c) => c.dispose()));
process.exit(latencies.length === subscribers ? 0 : 1);
