/**
 * Creating and closing listeners, stream subscribers, workers and whole
 * databases many times leaves nothing behind: no active handles, no
 * timers (unref'd ones included), no watcher listeners, no descriptors.
 */
import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { type HonkerDatabase, open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";
import { sleep, waitFor } from "../helpers/wait.ts";

const CYCLES = 1000;
const DATABASES = 200;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Timers (refed or not) created and not yet cleared or fired. */
const liveTimers = new Set<number>();
const timerHook = createHook({
  init(id, type) {
    if (type === "Timeout") liveTimers.add(id);
  },
  destroy(id) {
    liveTimers.delete(id);
  },
});

interface Snapshot {
  resources: Record<string, number>;
  timers: number;
  fds: number;
}

async function settle(): Promise<void> {
  // The watcher's trailing check fires about 1 ms after the last file event.
  await sleep(10);
  // Destroy hooks and closed handles are reported a few turns later.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

async function snapshot(): Promise<Snapshot> {
  await settle();
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) {
    resources[type] = (resources[type] ?? 0) + 1;
  }
  return { resources, timers: liveTimers.size, fds: readdirSync("/proc/self/fd").length };
}

/** What grew from `before` to `after` (empty: nothing). Fewer is fine: a transient handle ended. */
function growth(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const [type, n] of Object.entries(after.resources)) {
    const was = before.resources[type] ?? 0;
    if (n > was) out.push(`active ${type}: ${was} -> ${n}`);
  }
  if (after.timers > before.timers) out.push(`live timers: ${before.timers} -> ${after.timers}`);
  if (after.fds > before.fds) out.push(`open file descriptors: ${before.fds} -> ${after.fds}`);
  return out;
}

/**
 * Nothing grew from `before`: closed handles and destroyed timers are
 * reported a few turns late (later still on a loaded machine), so the
 * snapshot is retaken until nothing has grown, for up to 2 s; a leak never
 * shrinks back. (Not equality: a timer of the setup that was still live in
 * `before`, e.g. the watcher's trailing check, may be gone by now.)
 */
async function assertNoGrowth(before: Snapshot, what: string): Promise<void> {
  let grew = growth(before, await snapshot());
  if (grew.length > 0) {
    await waitFor(
      async () => {
        grew = growth(before, await snapshot());
        return grew.length === 0;
      },
      { timeoutMs: 2000, what: `${what} to release everything`, intervalMs: 20 },
    ).catch(() => {});
  }
  assert.deepEqual(grew, [], `${what} left these behind`);
}

/** The watcher's waiter sets (private; read here only to prove they shrink back). */
function watcherSets(db: HonkerDatabase): { listeners: number; dead: number } {
  const w = db.watcher as unknown as { listeners: Set<unknown>; deadListeners: Set<unknown> };
  return { listeners: w.listeners.size, dead: w.deadListeners.size };
}

function tempDb(): { db: HonkerDatabase; path: string } {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  // Inline checkpoints: the background checkpoint thread starts lazily after
  // a write and would show up as growth here; its own cleanup is proven in
  // test/main/checkpointer.test.ts. File events stay watched for a linger
  // after the last listener (2 s by default, as long as the growth check
  // waits): 50 ms here, its stop is proven in test/main/watcher.test.ts.
  const db = open(path, {
    retention: false,
    checkpoints: "inline",
    watcher: { fileEventsLingerMs: 50 },
  });
  cleanups.push(() => db.close());
  return { db, path };
}

async function withTimerHook<T>(fn: () => Promise<T>): Promise<T> {
  timerHook.enable();
  try {
    return await fn();
  } finally {
    timerHook.disable();
    liveTimers.clear();
  }
}

/**
 * One listener first: the first file watch of a process opens libuv's one
 * inotify descriptor, kept for the life of the process (not a leak).
 */
async function warmFileEvents(db: HonkerDatabase): Promise<void> {
  const unsubscribe = db.watcher.subscribe(() => {});
  unsubscribe();
  await waitFor(() => !db.watcher.watchingFiles, { what: "the watch released after its linger" });
}

test("1,000 listeners created and closed (each with a pending read) leave nothing behind", async () => {
  await withTimerHook(async () => {
    const { db } = tempDb();
    await warmFileEvents(db);
    const before = await snapshot();
    const sets = watcherSets(db);
    for (let i = 0; i < CYCLES; i++) {
      const listener = db.listen("c");
      const pending = listener.next();
      await listener.close();
      assert.deepEqual(await pending, { value: undefined, done: true });
    }
    assert.deepEqual(watcherSets(db), sets, "watcher listeners");
    await assertNoGrowth(before, `${CYCLES} listeners`);
  });
});

test("1,000 stream subscribers created and closed (each with a pending read) leave nothing behind", async () => {
  await withTimerHook(async () => {
    const { db } = tempDb();
    db.stream("s").publish({ first: true });
    await warmFileEvents(db);
    const before = await snapshot();
    const sets = watcherSets(db);
    for (let i = 0; i < CYCLES; i++) {
      const sub = db.stream("s").subscribe({ from: "latest" });
      const pending = sub.next();
      await sub.close();
      assert.deepEqual(await pending, { value: undefined, done: true });
    }
    assert.deepEqual(watcherSets(db), sets, "watcher listeners");
    await assertNoGrowth(before, `${CYCLES} stream subscribers`);
  });
});

test("1,000 workers started and stopped leave nothing behind", async () => {
  await withTimerHook(async () => {
    const { db } = tempDb();
    // A delayed job gives each worker a deadline timer to clean up.
    db.queue("q").enqueue({ later: true }, { delay: 3600 });
    const before = await snapshot();
    const sets = watcherSets(db);
    for (let i = 0; i < CYCLES; i++) {
      const worker = db.queue("q").work(() => {});
      await new Promise((r) => setImmediate(r));
      await worker.stop();
    }
    assert.deepEqual(watcherSets(db), sets, "watcher listeners");
    const deadlines = (db.watcher as unknown as { deadlines: Map<unknown, number> }).deadlines;
    assert.equal(deadlines.size, 0, "watcher deadlines");
    await assertNoGrowth(before, `${CYCLES} workers`);
  });
});

test("200 databases opened and closed on the same file leave nothing behind", async () => {
  await withTimerHook(async () => {
    const { dir, cleanup } = tempDir("honker-proc-");
    cleanups.push(cleanup);
    const path = join(dir, "app.db");
    await open(path).close();
    const before = await snapshot();
    for (let i = 0; i < DATABASES; i++) {
      const db = open(path);
      db.queue("q").enqueue({ i });
      const listener = db.listen("c");
      await db.close();
      assert.equal(listener.isClosed, true);
    }
    await assertNoGrowth(before, `${DATABASES} databases`);
    const db = open(path);
    cleanups.push(() => db.close());
    assert.equal(db.raw.prepare("SELECT count(*) FROM _honker_live").pluck().get(), DATABASES);
  });
});
