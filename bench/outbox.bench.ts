/**
 * Outbox relay throughput to a local no-op HTTP server, next to a raw
 * `fetch` loop doing the same requests in the same run (not run by npm test):
 *   node --experimental-strip-types bench/outbox.bench.ts [--n=2000]
 * Batch 1: one message per request (the Idempotency-Key header form);
 * batch 50: fifty per request (the `{ messages }` envelope).
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../src/main/database.ts";
import { httpTransport } from "../src/main/outbox/transport.ts";

const CHECKPOINTS = process.argv.includes("--inline") ? "inline" : "background";
const N = Number(process.argv.find((a) => a.startsWith("--n="))?.slice(4) ?? 2000);
const PAYLOAD = { op: "put", note: { id: 42, body: "hello world", tags: ["a", "b"] } };

const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sync`;

/** Raw floor: the same requests with a bare fetch loop, one at a time. */
async function rawLoop(batch: number): Promise<number> {
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
  return (N / (performance.now() - t0)) * 1000;
}

/** The outbox: N messages committed, then relayed until all are delivered. */
async function outboxRun(batch: number, concurrency = 1): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "honker-outbox-bench-"));
  const db = open(join(dir, "app.db"), { retention: false, checkpoints: CHECKPOINTS });
  try {
    db.transaction(() => {
      // Half keyed (20 keys), half unkeyed: the mix the issue describes.
      for (let i = 0; i < N; i++) {
        db.raw
          .prepare("SELECT honker_x_outbox_add('sync', ?, ?, 20)")
          .get(JSON.stringify(PAYLOAD), i % 2 ? `k${i % 20}` : null);
      }
    });
    const t0 = performance.now();
    const sync = db.outbox("sync", {
      transport: httpTransport({ url, batchSize: batch }),
      concurrency,
    });
    await new Promise<void>((resolve) => {
      const off = sync.onStatus((s) => {
        if (s.delivered === N) {
          off();
          resolve();
        }
      });
    });
    const rate = (N / (performance.now() - t0)) * 1000;
    await sync.stop();
    return rate;
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (x: number) => `${Math.round(x).toLocaleString("en-US")} msg/s`;
await rawLoop(1); // warm-up
for (const [batch, concurrency] of [
  [1, 1],
  [1, 4],
  [50, 1],
]) {
  const raw = await rawLoop(batch as number);
  const ours = await outboxRun(batch as number, concurrency);
  console.log(
    `batch ${String(batch).padStart(2)}, concurrency ${concurrency}: outbox ${fmt(ours).padStart(14)}  ` +
      `raw fetch loop (one request at a time) ${fmt(raw).padStart(14)}  ratio ${(ours / raw).toFixed(2)}x`,
  );
}
server.close();
