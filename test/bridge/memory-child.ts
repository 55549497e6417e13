/**
 * Run by memory.test.ts in a child process with --expose-gc: a hostile page
 * (raw wire messages, same process) grants 2^31 credits on 200 stream
 * subscriptions and never reads, and fires 10,000 waitResult calls, while
 * main publishes 50 MB of events. Prints one JSON line with what main held.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { MessageChannel, Worker } from "node:worker_threads";
import { WindowBudget } from "../../src/main/bridge/budget.ts";
import { serveNodePort } from "../../src/main/bridge/node.ts";
import { open } from "../../src/main/database.ts";

const SUBSCRIPTIONS = Number(process.env.MEM_SUBS ?? 200);
const WAITS = Number(process.env.MEM_WAITS ?? 10_000);
const EVENT_PAD = 2000;
const EVENTS = 25_000; // 25,000 x ~2 KB = 50 MB

/**
 * The hostile page: raw Comlink wire messages, no client library. It grants
 * 2^31 credits on every subscription port and never starts one, so what main
 * sends piles up unread; it waits on the same never-finished job 10,000 times.
 */
const PAGE = `
const { parentPort, workerData } = require("node:worker_threads");
const { port, subs, waits, job, cap } = workerData;
let next = 0;
const replies = new Map();
const handoffs = new Map();
port.addEventListener("message", (ev) => {
  const d = ev.data;
  if (d && d.honker === "subscription-port") {
    handoffs.set(d.subId, ev.ports[0]);
    return;
  }
  const fn = d && replies.get(d.id);
  if (fn) {
    replies.delete(d.id);
    fn(d.value);
  }
});
const call = (method, ...args) =>
  new Promise((resolve) => {
    const id = "p" + ++next;
    replies.set(id, resolve);
    port.postMessage({ id, type: "APPLY", path: [method], argumentList: args.map((value) => ({ type: "RAW", value })) });
  });
port.start();
(async () => {
  await call("hello");
  parentPort.postMessage({ t: "hello" });
})();
parentPort.on("message", async (m) => {
  if (m.t === "subscribe") {
    for (let i = 0; i < subs; i++) {
      const r = await call("subscribe", { kind: "stream", name: "feed" });
      if (!r.ok) throw new Error("subscribe: " + r.error.code);
      while (!handoffs.has(r.value.subId)) await new Promise((res) => setImmediate(res));
      handoffs.get(r.value.subId).postMessage({ t: "credit", n: 2 ** 31 }); // never started: never read
    }
    parentPort.postMessage({ t: "subscribed" });
  } else if (m.t === "wait") {
    let refused = 0;
    let other = 0;
    let answered = 0;
    for (let i = 0; i < waits; i++) {
      void call("waitResult", "jobs", job, 300000).then((r) => {
        answered++;
        if (!r.ok && r.error.code === "HONKER_RATE_LIMITED") refused++;
        else other++;
      });
    }
    while (refused + other < waits - cap) await new Promise((res) => setTimeout(res, 5));
    parentPort.postMessage({ t: "waited", refused, other });
  }
});
`;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function settled(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await sleep(20);
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** "control": the same publishing with no page at all (what SQLite and the host cost). */
const HOSTILE = process.argv[2] !== "control";

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "honker-memory-"));
  const db = open(join(dir, "app.db"), { retention: false });
  try {
    const grants = {
      queues: { jobs: { enqueue: true, read: true } },
      streams: { feed: { subscribe: true } },
    };
    const stream = db.stream("feed");
    const pendingJob = db.queue("jobs").enqueue({ never: "done" });
    // A huge stallMs: the page is never let go in this run, so only the caps bound it.
    const { port1, port2 } = new MessageChannel();
    const session = HOSTILE
      ? serveNodePort(db, port1, grants, { requestsPerSecond: 1e9, stallMs: 600_000 })
      : null;
    const budget = session?.budget ?? new WindowBudget();
    // The page runs in its own thread (its own event loop, as a renderer would).
    const worker = HOSTILE
      ? new Worker(PAGE, {
          eval: true,
          workerData: {
            port: port2,
            subs: SUBSCRIPTIONS,
            waits: WAITS,
            job: pendingJob,
            cap: budget.maxPendingWaits,
          },
          transferList: [port2],
        })
      : null;
    const fromPage = (t: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        if (!worker) return resolve({});
        const onMessage = (m: Record<string, unknown>) => {
          if (m.t !== t) return;
          worker.off("message", onMessage);
          resolve(m);
        };
        worker.on("message", onMessage);
        worker.once("error", reject);
      });
    // Warm up statements and the watcher, then take the baseline.
    stream.publish({ warm: true });
    await fromPage("hello");
    const before = await settled();

    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    let maxGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const t = performance.now();
      maxGap = Math.max(maxGap, t - last);
      last = t;
    }, 5);
    const gaps: Record<string, number> = {};
    const phase = (name: string) => {
      gaps[name] = maxGap;
      maxGap = 0;
    };

    // 200 subscriptions, each granted 2^31 credits, whose ports are never read.
    worker?.postMessage({ t: "subscribe" });
    await fromPage("subscribed");
    phase("subscribe");
    // 10,000 waits on a job that never completes: beyond the cap, answered at once.
    worker?.postMessage({ t: "wait" });
    const waited = await fromPage("waited");
    phase("waits");
    // Main publishes 50 MB, 500 events per transaction.
    const pad = "e".repeat(EVENT_PAD);
    const t0 = performance.now();
    for (let n = 0; n < EVENTS; n += 500) {
      db.transaction(() => {
        for (let i = n; i < n + 500; i++) stream.publish({ i, pad });
      });
      await new Promise((r) => setImmediate(r));
    }
    const publishMs = performance.now() - t0;
    phase("publish");
    const eventBytes =
      JSON.stringify({ offset: 1, key: null, payload: { i: 1, pad }, createdAt: 0, topic: "feed" })
        .length + 64;
    if (session) {
      // Main stops sending once the window's budget is full (nothing is ever acknowledged).
      const deadline = Date.now() + 30_000;
      while (budget.inFlightBytes + eventBytes <= budget.maxInFlightBytes) {
        if (Date.now() > deadline) throw new Error(`budget never filled: ${budget.inFlightBytes}`);
        await sleep(10);
      }
    }
    await sleep(200); // subscriptions that were mid-pump stop where the budget blocks them
    phase("settle");
    clearInterval(ticker);
    delay.disable();
    const after = await settled();
    const out = {
      event: "memory",
      mode: HOSTILE ? "hostile" : "control",
      before,
      after,
      heapGrowth: after.heap - before.heap,
      rssGrowth: after.rss - before.rss,
      publishedBytes: EVENTS * eventBytes,
      publishMs,
      eventBytes,
      sent: session?.pushed.sent ?? 0,
      inFlightBytes: budget.inFlightBytes,
      peakInFlightBytes: budget.stats.peakInFlightBytes,
      maxInFlightBytes: budget.maxInFlightBytes,
      peakCredits: budget.stats.peakCredits,
      maxCredits: budget.maxCredits,
      subscriptions: session?.subscriptionCount ?? 0,
      maxSubscriptions: budget.maxSubscriptions,
      pendingWaits: budget.pendingWaits,
      maxPendingWaits: budget.maxPendingWaits,
      refusedWaits: waited.refused ?? 0,
      otherReplies: waited.other ?? 0,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
      gaps,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    await worker?.terminate();
    session?.close();
    port1.close();
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
