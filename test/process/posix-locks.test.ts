/**
 * POSIX locks stay intact while the watcher runs: another process commits
 * 2,000 small transactions while this process, with a listener and a
 * worker active, reads and writes in a loop. Nothing is lost and the file
 * stays healthy (a watcher that opened and closed the database files
 * outside SQLite would drop SQLite's locks and let the writers collide).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import Database from "better-sqlite3";
import { open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";
import { waitFor } from "../helpers/wait.ts";
import { killAll, startChild } from "./children.ts";

const COMMITS = 2000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

test("2,000 commits from another process while this one enqueues, claims and acks with a listener and a worker running: nothing lost, file healthy", async () => {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const db = open(path);
  cleanups.push(() => db.close());

  const heard: number[] = [];
  const stopListening = db.listen("remote", (n) => {
    heard.push(n.payload as number);
  });
  cleanups.push(stopListening);
  const handled = new Map<number, number>();
  const worker = db.queue("remote").work(
    (job) => {
      const { i } = job.payload as { i: number };
      handled.set(i, (handled.get(i) ?? 0) + 1);
    },
    { concurrency: 4 },
  );
  cleanups.push(() => worker.stop());

  const writer = startChild("writer", "proc-writer.ts", [
    path,
    "writer",
    "enqueue",
    "remote",
    String(COMMITS),
    "remote",
  ]);
  await writer.event("ready", 20_000);
  let writerDone = false;
  const done = writer.event("done", 20_000).then((line) => {
    writerDone = true;
    return line;
  });
  writer.send("go");

  // This process's own reads and writes, interleaved with the child's commits.
  const mine = db.queue("mine");
  const count = (sql: string) => db.raw.prepare(sql).pluck().get() as number;
  let enqueued = 0;
  let claimed = 0;
  let acked = 0;
  let lastHeardCount = 0;
  while (!writerDone || enqueued < 200) {
    const id = mine.enqueue({ k: enqueued });
    enqueued++;
    const jobs = mine.claim("parent-loop", { batchSize: 2 });
    for (const job of jobs) {
      claimed++;
      if (mine.ack(job.id, "parent-loop")) acked++;
    }
    assert.ok(id > 0);
    // Reads see the other process's commits only grow.
    const seen = count("SELECT count(*) FROM _honker_notifications WHERE channel = 'remote'");
    assert.ok(seen >= lastHeardCount, `read ${seen} notifications after ${lastHeardCount}`);
    lastHeardCount = seen;
    await new Promise((r) => setImmediate(r));
  }
  await done;
  await writer.waitExit(5000);
  // Whatever is left of our own queue.
  for (const job of mine.claim("parent-loop", { batchSize: 10000 })) {
    claimed++;
    if (mine.ack(job.id, "parent-loop")) acked++;
  }

  await waitFor(
    () =>
      heard.length === COMMITS &&
      handled.size === COMMITS &&
      count("SELECT count(*) FROM _honker_live") === 0,
    {
      db: db,
      timeoutMs: 10_000,
      what: `${COMMITS} notifications heard and ${COMMITS} jobs handled`,
    },
  );
  const expected = Array.from({ length: COMMITS }, (_, i) => i + 1);
  assert.deepEqual(heard, expected, "every notification, once, in commit order");
  assert.deepEqual(
    [...handled.keys()].sort((x, y) => x - y),
    expected,
    "every job of the other process handled",
  );
  assert.deepEqual(
    [...handled.values()].filter((n) => n !== 1),
    [],
    "no job handled twice",
  );
  assert.ok(enqueued >= 200, `this process enqueued ${enqueued}`);
  assert.equal(claimed, enqueued, "every job of ours claimed once");
  assert.equal(acked, enqueued, "every ack of ours accepted");
  assert.equal(count("SELECT count(*) FROM _honker_live"), 0);
  assert.equal(count("SELECT count(*) FROM _honker_dead"), 0);
  assert.equal(
    count("SELECT count(*) FROM _honker_notifications WHERE channel = 'remote'"),
    COMMITS,
  );
  assert.equal(worker.stats.completed, COMMITS);
  assert.equal(db.raw.pragma("integrity_check", { simple: true }), "ok");

  const fresh = new Database(path, { readonly: true });
  try {
    assert.equal(fresh.pragma("integrity_check", { simple: true }), "ok");
    assert.equal(
      fresh
        .prepare("SELECT count(*) FROM _honker_notifications WHERE channel = 'remote'")
        .pluck()
        .get(),
      COMMITS,
    );
  } finally {
    fresh.close();
  }
});
