/**
 * Exactly-once across processes: 4 producer processes enqueue 1,200 keyed
 * jobs (each with an app-table row, in one transaction) while 6 worker
 * processes handle them; every job is handled once, by someone.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";
import { waitFor } from "../helpers/wait.ts";
import { type Child, killAll, type Line, startChild } from "./children.ts";

const PRODUCERS = 4;
const WORKERS = 6;
const JOBS = 1200;
const QUEUE = "orders";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

test("1,200 keyed jobs from 4 producer processes are each handled exactly once by 6 worker processes", async () => {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const db = open(path);
  cleanups.push(() => db.close());
  db.raw.exec(
    "CREATE TABLE orders (key TEXT PRIMARY KEY, producer TEXT NOT NULL);" +
      "CREATE TABLE processed (key TEXT PRIMARY KEY, worker TEXT NOT NULL);",
  );

  const workers: Child[] = [];
  for (let w = 0; w < WORKERS; w++) {
    workers.push(
      startChild(`worker-${w}`, "proc-recording-worker.ts", [path, QUEUE, `worker-${w}`, "4"]),
    );
  }
  const producers: Child[] = [];
  const share = JOBS / PRODUCERS;
  for (let p = 0; p < PRODUCERS; p++) {
    producers.push(
      startChild(`producer-${p}`, "proc-keyed-producer.ts", [
        path,
        QUEUE,
        `producer-${p}`,
        String(p * share),
        String(share),
      ]),
    );
  }
  await Promise.all([...workers, ...producers].map((c) => c.event("ready", 30_000)));
  for (const p of producers) p.send("go");
  const done = await Promise.all(producers.map((p) => p.event("done", 30_000)));
  assert.deepEqual(
    done.map((d) => d.enqueued),
    producers.map(() => share),
  );
  for (const p of producers) await p.waitExit(5000);

  const count = (sql: string) => db.raw.prepare(sql).pluck().get() as number;
  await waitFor(
    () =>
      count("SELECT count(*) FROM processed") === JOBS &&
      count("SELECT count(*) FROM _honker_live") === 0,
    {
      db: db,
      timeoutMs: 30_000,
      what: `all ${JOBS} jobs processed and acked`,
    },
  );
  for (const w of workers) w.send("stop");
  const stopped = await Promise.all(workers.map((w) => w.event("stopped", 10_000)));
  for (const w of workers) await w.waitExit(5000);

  const handledBy = new Map<string, string[]>();
  for (const [i, line] of stopped.entries()) {
    const report = line as Line & { handled: string[]; duplicates: string[]; errors: string[] };
    assert.deepEqual(report.duplicates, [], `worker-${i} ran a job twice`);
    assert.deepEqual(report.errors, [], `worker-${i} had handler errors`);
    for (const key of report.handled) {
      handledBy.set(key, [...(handledBy.get(key) ?? []), `worker-${i}`]);
    }
  }
  const expected = Array.from({ length: JOBS }, (_, i) => `job-${i}`).sort();
  assert.deepEqual([...handledBy.keys()].sort(), expected, "the set of handled keys");
  const twice = [...handledBy].filter(([, by]) => by.length !== 1);
  assert.deepEqual(twice, [], "keys handled more than once");
  const processedKeys = db.raw.prepare("SELECT key FROM processed ORDER BY key").pluck().all();
  assert.deepEqual(processedKeys, expected, "the processed table");
  const orderKeys = db.raw.prepare("SELECT key FROM orders ORDER BY key").pluck().all();
  assert.deepEqual(orderKeys, expected, "the app rows written with the jobs");
  const perWorker = db.raw
    .prepare("SELECT worker, count(*) AS n FROM processed GROUP BY worker")
    .all() as { worker: string; n: number }[];
  assert.ok(
    perWorker.length >= 2,
    `at least 2 workers took part, got ${JSON.stringify(perWorker)}`,
  );
  // Each worker's own report agrees with what it wrote.
  for (const [i, line] of stopped.entries()) {
    const n = perWorker.find((r) => r.worker === `worker-${i}`)?.n ?? 0;
    assert.equal((line.handled as string[]).length, n, `worker-${i}'s count`);
  }
  assert.equal(count("SELECT count(*) FROM _honker_live"), 0, "_honker_live is empty");
  assert.equal(count("SELECT count(*) FROM _honker_dead"), 0, "_honker_dead is empty");
  assert.equal(db.raw.pragma("integrity_check", { simple: true }), "ok");
});
