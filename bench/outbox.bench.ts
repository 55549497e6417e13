/**
 * Outbox relay throughput to a local no-op HTTP server, next to a raw
 * `fetch` loop doing the same requests in the same run, and the main
 * thread's event-loop delay while the relay runs at full speed (how late
 * a 1 ms timer fires: monitorEventLoopDelay's figures less their 1 ms
 * period; not run by npm test):
 *   node --experimental-strip-types bench/outbox.bench.ts [--n=2000] [--rounds=5]
 * Batch 1: one message per request (the Idempotency-Key header form);
 * batch 50: fifty per request (the `{ messages }` envelope). Each round runs
 * the raw floor and the outbox back to back for every configuration, so a
 * shared machine's load hits both alike; the figures are medians over the
 * rounds, printed with the load average. Goals (issue #10): >= 0.8x the raw
 * loop at batch 1, >= 20,000 messages/s at batch 50, event-loop delay p99
 * <= 5 ms.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { open } from "../src/main/database.ts";
import { httpTransport } from "../src/main/outbox/transport.ts";

const CHECKPOINTS = process.argv.includes("--inline") ? "inline" : "background";
const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
const N = arg("n", 2000);
const ROUNDS = arg("rounds", 5);
const PAYLOAD = { op: "put", note: { id: 42, body: "hello world", tags: ["a", "b"] } };

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sync`;

/**
 * monitorEventLoopDelay records the whole timer period (1 ms here), so the
 * delay is the excess over it (as bench/host.bench.ts's eld section).
 */
const delayMs = (ns: number) => Math.max(0, ns / 1e6 - 1);

/** Event-loop delay p99 (ms) of the last rawLoop: what the loop and server alone cost. */
let rawP99 = 0;

/** Raw floor: the same requests with a bare fetch loop, one at a time. */
async function rawLoop(batch: number): Promise<number> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  for (let i = 0; i < N; i += batch) {
    const msgs = [];
    for (let j = i; j < Math.min(N, i + batch); j++) {
      msgs.push({ idempotencyKey: `k.${j}`, key: null, payload: PAYLOAD });
    }
    const body = batch === 1 ? JSON.stringify(PAYLOAD) : JSON.stringify({ messages: msgs });
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": `k.${i}` },
      body,
    });
    await res.text();
  }
  const rate = (N / (performance.now() - t0)) * 1000;
  delay.disable();
  rawP99 = delayMs(delay.percentile(99));
  return rate;
}

interface OutboxFigures {
  rate: number;
  /** Event-loop delay p99 while relaying, ms. */
  p99: number;
  max: number;
}

/** The outbox: N messages committed, then relayed until all are delivered. */
async function outboxRun(batch: number, concurrency?: number): Promise<OutboxFigures> {
  const dir = mkdtempSync(join(tmpdir(), "honker-outbox-bench-"));
  const db = open(join(dir, "app.db"), { retention: false, checkpoints: CHECKPOINTS });
  try {
    const add = db.raw.prepare("SELECT honker_x_outbox_add('sync', ?, ?, 20)");
    db.transaction(() => {
      // Half keyed (20 keys), half unkeyed: the mix the issue describes.
      for (let i = 0; i < N; i++) add.get(JSON.stringify(PAYLOAD), i % 2 ? `k${i % 20}` : null);
    });
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const t0 = performance.now();
    const sync = db.outbox("sync", {
      transport: httpTransport({ url, batchSize: batch }),
      ...(concurrency === undefined ? {} : { concurrency }),
    });
    // A status listener, as an app's sync indicator has: its counts run on
    // this event loop too (at most every 50 ms).
    const offStatus = sync.onStatus(() => {});
    // Completion is polled (a cheap counter read): onStatus is throttled to
    // 50 ms, which would be most of a batch-50 run.
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (sync.stats.delivered >= N) {
          clearInterval(t);
          resolve();
        }
      }, 1);
    });
    const rate = (N / (performance.now() - t0)) * 1000;
    delay.disable();
    offStatus();
    await sync.stop();
    return { rate, p99: delayMs(delay.percentile(99)), max: delayMs(delay.max) };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (x: number) => `${Math.round(x).toLocaleString("en-US")} msg/s`;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

/** [batch, concurrency]; undefined = the outbox's default concurrency. */
const CONFIGS: [number, number | undefined][] = [
  [1, 1],
  [1, undefined],
  [50, 1],
  [50, undefined],
];
const results = CONFIGS.map(() => ({
  raw: [] as number[],
  rawP99: [] as number[],
  ours: [] as OutboxFigures[],
}));
console.log(
  `n=${N}, ${ROUNDS} rounds, checkpoints ${CHECKPOINTS}; load average at start ${load()}`,
);
// Warm-up: one untimed round of every configuration, so both sides run
// compiled code (the first rounds ran at 0.5-0.7 of the later ones).
for (const [batch, concurrency] of CONFIGS) {
  await rawLoop(batch);
  await outboxRun(batch, concurrency);
}
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, [batch, concurrency]] of CONFIGS.entries()) {
    const slot = results[i] as (typeof results)[number];
    // Alternate which goes first so neither always runs on a warmer process.
    if (r % 2) {
      slot.ours.push(await outboxRun(batch, concurrency));
      slot.raw.push(await rawLoop(batch));
    } else {
      slot.raw.push(await rawLoop(batch));
      slot.ours.push(await outboxRun(batch, concurrency));
    }
    slot.rawP99.push(rawP99);
  }
}
for (const [i, [batch, concurrency]] of CONFIGS.entries()) {
  const { raw, rawP99: floorP99, ours } = results[i] as (typeof results)[number];
  const ratios = ours.map((o, j) => o.rate / (raw[j] as number));
  console.log(
    `batch ${String(batch).padStart(2)}, concurrency ${String(concurrency ?? "default").padEnd(7)}: ` +
      `outbox ${fmt(median(ours.map((o) => o.rate))).padStart(14)}  ` +
      `raw fetch loop ${fmt(median(raw)).padStart(14)}  ratio ${median(ratios).toFixed(2)}x ` +
      `(${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})  ` +
      `event-loop delay p99 ${median(ours.map((o) => o.p99)).toFixed(1)} ms ` +
      `(max ${Math.max(...ours.map((o) => o.max)).toFixed(1)} ms; raw loop p99 ${median(floorP99).toFixed(1)} ms)`,
  );
}
console.log(`load average at end ${load()}`);
server.close();
