/**
 * Wakes across processes: deadlines (a delayed job, an expired claim) wake
 * a worker in another process with the poll disabled; subscribers built
 * while another process commits miss nothing; a listener outlives a killed
 * writer; a replaced or deleted file fails waiters instead of hanging.
 */
import assert from "node:assert/strict";
import { renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import Database from "better-sqlite3";
import { type HonkerDatabase, type OpenOptions, open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import type { Listener, Notification } from "../../src/main/listen.ts";
import type { StreamEvent, StreamSubscription } from "../../src/main/stream.ts";
import { tempDir } from "../helpers/db.ts";
import { sleep } from "../helpers/wait.ts";
import { type Child, killAll, startChild, within } from "./children.ts";

const NO_POLL = JSON.stringify({ disablePoll: true });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function tempDb(options: OpenOptions = {}): { db: HonkerDatabase; path: string; dir: string } {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const db = open(path, options);
  cleanups.push(() => db.close());
  return { db, path, dir };
}

function scalar(db: HonkerDatabase, sql: string, ...params: unknown[]): number {
  return db.raw
    .prepare(sql)
    .pluck()
    .get(...params) as number;
}

test("a delayed job wakes a sleeping worker in another process on time, with the poll disabled", async () => {
  const { db, path } = tempDb();
  const worker = startChild("worker", "proc-worker.ts", [
    path,
    "jobs",
    "sleeper",
    "30",
    "finish",
    NO_POLL,
  ]);
  await worker.event("ready", 20_000);
  // Start 50 ms into a second so run_at (whole seconds) is 1.95 s away.
  await sleep(1050 - (Date.now() % 1000));
  const enqueuedAt = Date.now();
  const id = db.queue("jobs").enqueue({ n: 1 }, { delay: 2 });
  const runAt = scalar(db, "SELECT run_at FROM _honker_live WHERE id = ?", id);
  assert.equal(runAt, Math.floor(enqueuedAt / 1000) + 2);

  const started = await worker.event("started", 5000);
  assert.equal(started.id, id);
  const at = started.at as number;
  assert.ok(at >= runAt * 1000, `started at ${at}, before run_at ${runAt * 1000}`);
  assert.ok(at - enqueuedAt >= 1800, `started ${at - enqueuedAt} ms after enqueue (< 2 s)`);
  assert.ok(at - enqueuedAt <= 2500, `started ${at - enqueuedAt} ms after enqueue (> 2.5 s)`);
  worker.send("stop");
  await worker.event("stopped", 5000);
});

test("an expired claim of a SIGKILLed process wakes a sleeping worker in another process, with the poll disabled", async () => {
  const { db, path } = tempDb();
  const id = db.queue("jobs").enqueue({ n: 1 });
  const holder = startChild("holder", "proc-worker.ts", [path, "jobs", "holder", "1", "hang"]);
  const claimed = await holder.event("started", 20_000);
  assert.equal(claimed.id, id);

  const sleeper = startChild("sleeper", "proc-worker.ts", [
    path,
    "jobs",
    "sleeper",
    "30",
    "finish",
    NO_POLL,
  ]);
  await sleeper.event("ready", 20_000);
  assert.equal(sleeper.lines.filter((l) => l.event === "started").length, 0);

  await holder.kill();
  const expires = scalar(db, "SELECT claim_expires_at FROM _honker_live WHERE id = ?", id);
  const started = await sleeper.event("started", 5000);
  assert.equal(started.id, id);
  assert.equal(started.attempts, 2);
  const at = started.at as number;
  const due = (expires + 1) * 1000;
  assert.ok(at >= due, `re-claimed at ${at}, before the claim lapsed at ${due}`);
  assert.ok(at - due <= 500, `re-claimed ${at - due} ms after the claim lapsed (> 500 ms)`);
  sleeper.send("stop");
  await sleeper.event("stopped", 5000);
});

/** A writer process committing notify + publish + enqueue back to back. */
async function continuousWriter(path: string): Promise<Child> {
  const writer = startChild("writer", "proc-writer.ts", [path, "writer", "continuous", "race"]);
  await writer.event("writing", 20_000);
  return writer;
}

const tick = () => new Promise((r) => setImmediate(r));

/** Reads every iterator on from its `last` item up to seq `commits`: each seq once, in order. */
async function expectEverySeq<E extends { payload: { seq: number } }>(
  iterators: AsyncIterator<E>[],
  last: E[],
  commits: number,
  what: string,
): Promise<void> {
  for (const [i, it] of iterators.entries()) {
    let prev = last[i] as E;
    while (prev.payload.seq < commits) {
      const r = await within(it.next(), 1000, `${what} ${i} after seq ${prev.payload.seq}`);
      assert.equal(r.done, false);
      const e = r.value as E;
      assert.equal(e.payload.seq, prev.payload.seq + 1, `${what} ${i}: no gap, no duplicate`);
      prev = e;
    }
  }
}

test("listeners created while another process commits see the first commit after them within 1 s, and every later one", async () => {
  const { db, path } = tempDb({ watcher: { disablePoll: true } });
  const writer = await continuousWriter(path);
  const firstAfter = db.raw
    .prepare(
      "SELECT min(id) FROM _honker_notifications WHERE channel = 'race' AND id > ? AND id <= ?",
    )
    .pluck();
  const listeners: Listener<{ seq: number }>[] = [];
  const last: Notification<{ seq: number }>[] = [];
  for (let i = 0; i < 5; i++) {
    const listener = db.listen("race") as Listener<{ seq: number }>;
    cleanups.push(() => listener.close());
    const position = listener.position;
    const r = await within(listener.next(), 1000, `listener ${i}: first notification`);
    assert.equal(r.done, false);
    const first = r.value as Notification<{ seq: number }>;
    assert.equal(first.id, firstAfter.get(position, first.id), `listener ${i} skipped a commit`);
    listeners.push(listener);
    last.push(first);
    await tick();
  }
  writer.send("stop");
  const { commits } = await writer.event("stopped", 5000);
  await expectEverySeq(listeners, last, commits as number, "listener");
});

test("stream subscribers created while another process commits see the first event after them within 1 s, and every later one", async () => {
  const { db, path } = tempDb({ watcher: { disablePoll: true } });
  const writer = await continuousWriter(path);
  const firstAfter = db.raw
    .prepare(
      "SELECT min(offset) FROM _honker_stream WHERE topic = 'race' AND offset > ? AND offset <= ?",
    )
    .pluck();
  const subs: StreamSubscription<{ seq: number }>[] = [];
  const last: StreamEvent<{ seq: number }>[] = [];
  for (let i = 0; i < 5; i++) {
    const sub = db.stream("race").subscribe({ from: "latest" }) as StreamSubscription<{
      seq: number;
    }>;
    cleanups.push(() => sub.close());
    const position = sub.position;
    const r = await within(sub.next(), 1000, `subscriber ${i}: first event`);
    assert.equal(r.done, false);
    const first = r.value as StreamEvent<{ seq: number }>;
    assert.equal(first.offset, firstAfter.get(position, first.offset), `subscriber ${i} skipped`);
    subs.push(sub);
    last.push(first);
    await tick();
  }
  writer.send("stop");
  const { commits } = await writer.event("stopped", 5000);
  await expectEverySeq(subs, last, commits as number, "subscriber");
});

test("a worker started while another process commits handles the first job after it within 1 s, and every later one", async () => {
  const { db, path } = tempDb({ watcher: { disablePoll: true } });
  const writer = await continuousWriter(path);
  const queue = db.queue("race");
  const before = scalar(db, "SELECT COALESCE(max(id), 0) FROM _honker_live WHERE queue = 'race'");
  const handled = new Map<number, number>();
  let firstAfter: { resolve: (id: number) => void } | null = null;
  const sawFirst = new Promise<number>((resolve) => {
    firstAfter = { resolve };
  });
  const worker = queue.work(
    (job) => {
      const { seq } = job.payload as { seq: number };
      handled.set(seq, (handled.get(seq) ?? 0) + 1);
      if (job.id > before) firstAfter?.resolve(job.id);
    },
    { concurrency: 8 },
  );
  cleanups.push(() => worker.stop());
  const firstId = await within(sawFirst, 1000, "the worker: a job enqueued after it started");
  assert.ok(firstId > before);
  writer.send("stop");
  const { commits } = await writer.event("stopped", 5000);
  const drained = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (scalar(db, "SELECT count(*) FROM _honker_live WHERE queue = 'race'") === 0) {
        unsubscribe();
        resolve();
      }
    };
    const unsubscribe = db.watcher.subscribe(check);
    db.watcher.onDead(reject);
    check();
  });
  await within(drained, 1000, "the worker: every job done after the writer stopped");
  assert.equal(handled.size, commits);
  for (let seq = 1; seq <= (commits as number); seq++) {
    assert.equal(handled.get(seq), 1, `job seq ${seq} handled once`);
  }
  assert.equal(scalar(db, "SELECT count(*) FROM _honker_dead"), 0);
});

test("a listener survives a writer process SIGKILLed mid-transaction and sees the next writer process's notifications", async () => {
  const { db, path } = tempDb();
  const listener = db.listen("news") as Listener<{ writer: string; n: number }>;
  cleanups.push(() => listener.close());
  const take = async (what: string) => {
    const r = await within(listener.next(), 5000, what);
    assert.equal(r.done, false, `the listener ended before ${what}`);
    return r.value as Notification<{ writer: string; n: number }>;
  };
  const a = startChild("writer-a", "proc-writer.ts", [
    path,
    "a",
    "notify",
    "news",
    "3",
    "then-hang",
  ]);
  await a.event("inside", 20_000);
  const fromA = [await take("a:1"), await take("a:2"), await take("a:3")];
  assert.deepEqual(
    fromA.map((n) => n.payload),
    [1, 2, 3].map((n) => ({ writer: "a", n })),
  );
  await a.kill();

  const b = startChild("writer-b", "proc-writer.ts", [path, "b", "notify", "news", "2"]);
  const fromB = [await take("b:1"), await take("b:2")];
  assert.deepEqual(
    fromB.map((n) => n.payload),
    [1, 2].map((n) => ({ writer: "b", n })),
    "the next notifications are writer b's: writer a's uncommitted one never shows",
  );
  await b.waitExit(5000);
  assert.equal(scalar(db, "SELECT count(*) FROM _honker_notifications WHERE channel = 'news'"), 5);
  assert.equal(listener.buffered, 0);
  assert.equal(db.raw.pragma("integrity_check", { simple: true }), "ok");
});

/** A listener, a stream subscriber and a worker, all waiting. */
function waiters(db: HonkerDatabase) {
  const listener = db.listen("c");
  const sub = db.stream("s").subscribe();
  const worker = db.queue("q").work(() => {});
  cleanups.push(
    () => listener.close(),
    () => sub.close(),
    () => worker.stop(),
  );
  return { listening: listener.next(), reading: sub.next(), worker };
}

const dead = (err: unknown) => isHonkerError(err, "HONKER_WATCHER_DEAD");

test("replacing the database file fails a waiting listener, subscriber and worker with HONKER_WATCHER_DEAD within 1 s", async () => {
  const { db, path } = tempDb();
  const { listening, reading, worker } = waiters(db);
  const replacement = new Database(`${path}.new`);
  replacement.exec("CREATE TABLE other (x)");
  replacement.close();
  const started = Date.now();
  renameSync(`${path}.new`, path);
  await assert.rejects(within(listening, 1000, "the listener to fail"), dead);
  await assert.rejects(within(reading, 1000, "the subscriber to fail"), dead);
  assert.ok(Date.now() - started <= 1000, `failed after ${Date.now() - started} ms`);
  assert.ok(dead(worker.error), `worker.error: ${String(worker.error)}`);
  assert.equal(worker.isRunning, false);
  // Closing the dead handle still works (it does not hang on the dead watcher).
  await within(db.close(), 1000, "close() of the dead handle");
});

test("deleting the database file fails a waiting listener, subscriber and worker with HONKER_WATCHER_DEAD within 1 s", async () => {
  const { db, path } = tempDb();
  const { listening, reading, worker } = waiters(db);
  const started = Date.now();
  unlinkSync(path);
  await assert.rejects(within(listening, 1000, "the listener to fail"), dead);
  await assert.rejects(within(reading, 1000, "the subscriber to fail"), dead);
  assert.ok(Date.now() - started <= 1000, `failed after ${Date.now() - started} ms`);
  assert.ok(dead(worker.error), `worker.error: ${String(worker.error)}`);
  assert.equal(worker.isRunning, false);
  await within(db.close(), 1000, "close() of the dead handle");
});
