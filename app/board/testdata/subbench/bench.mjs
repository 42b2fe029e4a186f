// Subscriptions at scale, measured with a third-party client (graphql-ws
// over ws, one WebSocket per subscriber): N subscribers follow orderUpdated
// on K orders (N/K each), every order is paid at once through the API, and
// the time from each payment to each subscriber seeing PAID is reported,
// with the server's memory per subscriber (its RSS from /proc before and
// after subscribing; give its pid).
//
//   node bench.mjs --url http://127.0.0.1:8080 --pid <server pid> --subscribers 10000 --orders 100 [--workers W]
//
// With --workers W the sockets are spread over W worker threads; times are
// then compared as milliseconds since the epoch (performance.timeOrigin +
// performance.now(), the same clock in every thread).
import { readFileSync } from "node:fs";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
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
const workers = Number(args.workers || 0);

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

// serverCPUms is the server's CPU time so far (user and system), from /proc.
function serverCPUms() {
  if (!pid) return NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

// startSubscribers opens one client per entry of orderIds, each following
// that order, 200 connections at a time; ready resolves once every one has
// seen VALIDATED (or failed), and onPaid(orderId, when) is called as each
// sees PAID.
function startSubscribers(wsURL, orderIds, onPaid) {
  const clients = [];
  let validated = 0, errors = 0;
  const ready = (async () => {
    const batch = 200;
    for (let i = 0; i < orderIds.length; i += batch) {
      const started = [];
      for (const id of orderIds.slice(i, i + batch)) {
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
                onPaid(id, now());
              }
            },
            error: (e) => { errors++; console.error("subscription error", e); resolve(); },
            complete: () => {},
          });
        }));
      }
      await Promise.all(started);
    }
    return { validated, errors };
  })();
  return { ready, dispose: () => Promise.all(clients.map((c) => c.dispose())) };
}

if (!isMainThread) {
  // What was seen is posted in batches: a message per subscriber would
  // cost the main thread as much as the sockets cost this one.
  let pending = [];
  const subs = startSubscribers(workerData.wsURL, workerData.assignments, (id, at) => {
    if (pending.length === 0) {
      setImmediate(() => { parentPort.postMessage({ type: "paid", seen: pending }); pending = []; });
    }
    pending.push([id, at]);
  });
  parentPort.postMessage({ type: "ready", ...(await subs.ready) });
  // Runs until the main thread terminates it.
  await new Promise(() => {});
}

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

// The subscribers: each its own client and socket, in this thread or spread
// over --workers threads (the client's own work per message is then no
// longer done on one core).
const wsURL = url.replace(/^http/, "ws") + "/graphql";
const paidAt = new Map(); // order id → when its payment was sent (ms since the epoch)
const seen = []; // [order id, when PAID was seen (ms since the epoch)] per subscriber
let resolveAllPaid;
const allPaid = new Promise((r) => { resolveAllPaid = r; });
const assignments = Array.from({ length: subscribers }, (_, j) => ids[j % orders]);
let groups = [];
if (workers === 0) {
  const subs = startSubscribers(wsURL, assignments, (id, at) => {
    seen.push([id, at]);
    if (seen.length === subscribers) resolveAllPaid();
  });
  groups.push({ ready: subs.ready, dispose: subs.dispose });
} else {
  for (let w = 0; w < workers; w++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { wsURL, assignments: assignments.filter((_, j) => j % workers === w) } });
    const ready = new Promise((resolve, reject) => {
      worker.on("error", reject);
      worker.on("message", (m) => {
        if (m.type === "ready") resolve(m);
        if (m.type === "paid") {
          seen.push(...m.seen);
          if (seen.length === subscribers) resolveAllPaid();
        }
      });
    });
    groups.push({ ready, dispose: () => worker.terminate() });
  }
}
let validated = 0, errors = 0;
for (const r of await Promise.all(groups.map((g) => g.ready))) {
  validated += r.validated;
  errors += r.errors;
}
if (validated !== subscribers) throw new Error(`${validated} of ${subscribers} subscribers saw VALIDATED (${errors} errors)`);
await sleep(2000);
const rssAfter = rssKB();
// --hold S keeps the subscribers idle S seconds before the payments (time to profile the server).
if (args.hold) { console.error("subscribed; holding"); await sleep(Number(args.hold) * 1000); }

// Every order paid at once.
const payReturned = [];
const cpuBefore = process.cpuUsage(), serverCPUBefore = serverCPUms();
await Promise.all(ids.map(async (id) => {
  paidAt.set(id, now());
  await gql(`mutation($id: ID!) { payOrder(orderId: $id, amountCents: 100) { status } }`, { id });
  payReturned.push(now() - paidAt.get(id));
}));
payReturned.sort((a, b) => a - b);
const timeout = sleep(30000).then(() => "timeout");
if ((await Promise.race([allPaid, timeout])) === "timeout") {
  console.error(`only ${seen.length} of ${subscribers} saw PAID within 30 s`);
}
const cpu = process.cpuUsage(cpuBefore);
const latencies = seen.map(([id, at]) => at - paidAt.get(id)).sort((a, b) => a - b);
const result = {
  subscribers, orders, workers, sawPaid: latencies.length,
  p50ms: Math.round(pct(latencies, 0.5)), p99ms: Math.round(pct(latencies, 0.99)), maxms: Math.round(latencies[latencies.length - 1]),
  payOrderP50ms: Math.round(pct(payReturned, 0.5)), payOrderMaxms: Math.round(payReturned[payReturned.length - 1]),
  serverRSSBeforeMB: +(rssBefore / 1024).toFixed(1), serverRSSAfterMB: +(rssAfter / 1024).toFixed(1),
  serverKBPerSubscriber: +((rssAfter - rssBefore) / subscribers).toFixed(1),
  // CPU time from the first payment until the last subscriber saw PAID.
  clientCPUms: Math.round((cpu.user + cpu.system) / 1000), serverCPUms: serverCPUms() - serverCPUBefore,
};
console.log(JSON.stringify(result));
await Promise.all(groups.map((g) => g.dispose()));
process.exit(latencies.length === subscribers ? 0 : 1);
