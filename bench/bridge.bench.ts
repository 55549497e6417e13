/**
 * Bridge benchmarks: request round trip from a page (worker thread) next to
 * a bare postMessage echo over the same kind of port; a stream fanned out
 * to 10 pages; main's memory while a subscriber stalls. Prints figures next
 * to goals; asserts nothing.
 *
 *   node --experimental-strip-types bench/bridge.bench.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { MessageChannel, Worker } from "node:worker_threads";
import type { Grants } from "../src/main/bridge/grants.ts";
import { serveNodePort } from "../src/main/bridge/node.ts";
import { open } from "../src/main/database.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const PAGE = new URL("../test/fixtures/bridge-bench-page.ts", import.meta.url);
const grants: Grants = {
  queues: { jobs: { enqueue: true } },
  streams: { feed: { subscribe: true } },
};

const dir = mkdtempSync(join(tmpdir(), "honker-bridge-bench-"));
const db = open(join(dir, "bench.db"), { retention: false });

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

interface Page {
  worker: Worker;
  next<T>(t: string): Promise<T>;
}

function page(mode: string, count: number, serve = true, options = {}): Page {
  const { port1, port2 } = new MessageChannel();
  if (serve) serveNodePort(db, port1, grants, { requestsPerSecond: 1e9, ...options });
  else port1.on("message", (m) => port1.postMessage(m)); // bare echo on main
  const worker = new Worker(PAGE, {
    execArgv: ["--experimental-strip-types", "--disable-warning=ExperimentalWarning"],
    workerData: { port: port2, mode, count },
    transferList: [port2],
  });
  const inbox: Record<string, unknown>[] = [];
  const waiters: [string, (m: Record<string, unknown>) => void][] = [];
  worker.on("message", (m: Record<string, unknown>) => {
    if (m.t === "error") console.error("page error:", m.message);
    const i = waiters.findIndex(([t]) => t === m.t);
    if (i >= 0) waiters.splice(i, 1)[0]?.[1](m);
    else inbox.push(m);
  });
  return {
    worker,
    next<T>(t: string): Promise<T> {
      const i = inbox.findIndex((m) => m.t === t);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0] as T);
      return new Promise((r) => waiters.push([t, r as (m: Record<string, unknown>) => void]));
    },
  };
}

const rows: [string, string, string][] = [];
const ms = (x: number) => `${x.toFixed(3)} ms`;

// 1. Round trip: enqueue from the page vs bare echo.
{
  const N = 5000;
  const echo = page("echo", N, false);
  const echoTimes = (await echo.next<{ times: number[] }>("times")).times;
  await echo.worker.terminate();
  const rtt = page("rtt", N);
  const times = (await rtt.next<{ times: number[] }>("times")).times;
  await rtt.worker.terminate();
  rows.push(["bare postMessage echo p50", ms(pct(echoTimes, 50)), "(floor)"]);
  rows.push(["bare postMessage echo p99", ms(pct(echoTimes, 99)), "(floor)"]);
  rows.push(["enqueue round trip p50", ms(pct(times, 50)), "<= 0.200 ms"]);
  rows.push(["enqueue round trip p99", ms(pct(times, 99)), "-"]);
  rows.push([
    "enqueue p50 / echo p50",
    `${(pct(times, 50) / pct(echoTimes, 50)).toFixed(1)}x`,
    "-",
  ]);
}

// 2. Fan-out: one stream, 10 subscriber pages.
{
  const SUBS = 10;
  const N = 5000;
  const pages = Array.from({ length: SUBS }, () => page("subscriber", N));
  await Promise.all(pages.map((p) => p.next("ready")));
  const stream = db.stream("feed");
  const t0 = performance.timeOrigin + performance.now();
  // Publish in small transactions, yielding between them, as an app would.
  for (let n = 0; n < N; n += 50) {
    db.transaction(() => {
      for (let k = n; k < n + 50; k++)
        stream.publish({ n: k, t: performance.timeOrigin + performance.now() });
    });
    await new Promise((r) => setImmediate(r));
  }
  const results = await Promise.all(
    pages.map((p) => p.next<{ lat: number[]; done: number }>("latencies")),
  );
  const end = Math.max(...results.map((r) => r.done));
  const secs = (end - t0) / 1000;
  const all = results.flatMap((r) => r.lat);
  rows.push(["fan-out: events/s published (10 subscribers)", `${(N / secs).toFixed(0)}`, "-"]);
  rows.push([
    "fan-out: deliveries/s (events x subscribers)",
    `${((N * SUBS) / secs).toFixed(0)}`,
    "-",
  ]);
  rows.push(["fan-out: delivery latency p50", ms(pct(all, 50)), "-"]);
  rows.push(["fan-out: delivery latency p99", ms(pct(all, 99)), "<= 50 ms"]);
  await Promise.all(pages.map((p) => p.worker.terminate()));
}

// 3. A stalled subscriber: main's heap while 20,000 events of 1 KB pile up.
{
  // The page subscribes and never iterates: main may send its 64 credits, then must hold back.
  const stall = page("stall", 0, true, { stallMs: 60_000 });
  await stall.next("ready");
  for (let i = 0; i < 3; i++) gc();
  const heap0 = process.memoryUsage().heapUsed;
  const stream = db.stream("feed");
  const pad = "x".repeat(1024);
  for (let n = 0; n < 20_000; n += 500) {
    db.transaction(() => {
      for (let k = n; k < n + 500; k++) stream.publish({ n: k, t: 0, pad } as never);
    });
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 3; i++) gc();
  const growth = process.memoryUsage().heapUsed - heap0;
  rows.push([
    "stalled subscriber: main heap growth (20k x 1 KB events)",
    `${(growth / 1048576).toFixed(2)} MiB`,
    "< 2 MiB (payloads total 20 MiB)",
  ]);
  await stall.worker.terminate();
}

await db.close();
rmSync(dir, { recursive: true, force: true });

const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(`\n${"bridge".padEnd(w0)}  ${"figure".padStart(w1)}  goal`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
