import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { unlinkSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { Stream, type StreamEvent, type StreamSubscription } from "../../src/main/stream.ts";
import { openDb, TS_FLAGS, tempDir } from "../helpers/db.ts";
import { withCleanups } from "../helpers/host.ts";
import { within } from "../helpers/wait.ts";

type Payload = { n: number };

const { cleanups, tempDb } = withCleanups();

async function take<P>(sub: StreamSubscription<P>, count: number): Promise<StreamEvent<P>[]> {
  const out: StreamEvent<P>[] = [];
  while (out.length < count) {
    const r = await within(sub.next(), 5000, `waiting for event ${out.length + 1} of ${count}`);
    assert.equal(r.done, false, `the subscription ended after ${out.length} of ${count} events`);
    out.push(r.value as StreamEvent<P>);
  }
  return out;
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}

const fixture = fileURLToPath(new URL("../fixtures/publish-and-notify.ts", import.meta.url));

/** Starts the fixture and resolves once it printed "ready". */
async function startChild(
  args: string[],
): Promise<{ child: ChildProcessWithoutNullStreams; lines: AsyncIterator<string> }> {
  const child = spawn(process.execPath, [...TS_FLAGS, fixture, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill();
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await within(lines.next(), 10000, "the child process did not start").catch(
    (err: Error) => {
      throw new Error(`${err.message}; stderr: ${stderr}`);
    },
  );
  assert.equal(first.value, "ready", `child printed ${first.value}; stderr: ${stderr}`);
  return { child, lines };
}

test("publish returns increasing offsets and read returns the events with keys and payloads", () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const a = s.publish({ n: 1 });
  const b = s.publish({ n: 2 }, { key: "user-7" });
  assert.ok(b > a);
  const events = s.read();
  assert.deepEqual(
    events.map((e) => [e.offset, e.key, e.payload, e.topic]),
    [
      [a, null, { n: 1 }, "activity"],
      [b, "user-7", { n: 2 }, "activity"],
    ],
  );
  assert.equal(typeof events[0]?.createdAt, "number");
  assert.deepEqual(
    s.read(a).map((e) => e.offset),
    [b],
  );
  assert.deepEqual(
    s.read(0, 1).map((e) => e.offset),
    [a],
  );
});

test("a publish inside a rolled-back transaction leaves no event", () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  assert.throws(() =>
    db.transaction(() => {
      s.publish({ n: 1 });
      throw new Error("app write failed");
    }),
  );
  assert.deepEqual(s.read(), []);
});

test("a publish inside a committed transaction wakes a live subscriber", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const sub = s.subscribe({ from: "latest" });
  const next = sub.next();
  db.transaction(() => {
    db.raw.exec("CREATE TABLE app_rows (x)");
    s.publish({ n: 42 });
  });
  const r = await within(next, 2000, "the subscriber was not woken by the commit");
  assert.deepEqual((r.value as StreamEvent<Payload>).payload, { n: 42 });
  await sub.close();
});

test("replay then live has no gap and no duplicate while another connection publishes during replay", async () => {
  const { db, path } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  for (let n = 0; n < 500; n++) s.publish({ n });
  const other = openDb(path);
  cleanups.push(() => {
    other.close();
  });
  const otherPublish = other.prepare("SELECT honker_stream_publish('activity', NULL, ?)").pluck();

  const sub = s.subscribe({ batchSize: 50 });
  const seen: number[] = [];
  let next = 500;
  while (seen.length < 700) {
    const r = await within(sub.next(), 5000, `event ${seen.length + 1} of 700 never came`);
    assert.equal(r.done, false);
    seen.push((r.value as StreamEvent<Payload>).payload.n);
    // During the replay, a writer on another connection and this handle
    // both keep appending; the subscriber must pick all of it up.
    if (next < 700) {
      if (next % 2 === 0) otherPublish.get(JSON.stringify({ n: next }));
      else s.publish({ n: next });
      next++;
    }
  }
  await sub.close();
  assert.deepEqual(
    seen,
    Array.from({ length: 700 }, (_, i) => i),
  );
  // Live after the replay: one more from the other connection arrives too.
  const live = s.subscribe({ from: s.read(0, 10000).at(-1)?.offset ?? 0 });
  const pending = live.next();
  otherPublish.get(JSON.stringify({ n: 700 }));
  const r = await within(pending, 3000, "the live event from the other connection never came");
  assert.deepEqual((r.value as StreamEvent<Payload>).payload, { n: 700 });
  await live.close();
});

test("from latest delivers only events published after subscribe", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  s.publish({ n: 1 });
  s.publish({ n: 2 });
  const sub = s.subscribe({ from: "latest" });
  s.publish({ n: 3 });
  const events = await take(sub, 1);
  assert.deepEqual(
    events.map((e) => e.payload.n),
    [3],
  );
  await sub.close();
});

test("a consumer's offset is saved only after the loop body handled the event", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const offsets = [s.publish({ n: 1 }), s.publish({ n: 2 }), s.publish({ n: 3 })];
  const savedDuring: number[] = [];
  const sub = s.subscribe({ consumer: "feed" });
  for await (const e of sub) {
    savedDuring.push(s.savedOffset("feed"));
    if (e.payload.n === 3) break;
  }
  assert.deepEqual(savedDuring, [0, offsets[0], offsets[1]]);
  // break cannot be told from a throwing body, so event 3 is not saved.
  assert.equal(s.savedOffset("feed"), offsets[1]);
});

test("commit() before break saves the event just handled", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  s.publish({ n: 1 });
  const last = s.publish({ n: 2 });
  const sub = s.subscribe({ consumer: "feed" });
  for await (const e of sub) {
    if (e.payload.n === 2) {
      sub.commit();
      break;
    }
  }
  assert.equal(s.savedOffset("feed"), last);
});

test("a consumer that crashes while handling event 3 gets event 3 again on a new subscription", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  for (let n = 1; n <= 5; n++) s.publish({ n });
  const handled: number[] = [];
  await assert.rejects(async () => {
    for await (const e of s.subscribe({ consumer: "feed" })) {
      if (e.payload.n === 3) throw new Error("handler crashed");
      handled.push(e.payload.n);
    }
  }, /handler crashed/);
  assert.deepEqual(handled, [1, 2]);
  const again = s.subscribe({ consumer: "feed" });
  const events = await take(again, 3);
  assert.deepEqual(
    events.map((e) => e.payload.n),
    [3, 4, 5],
  );
  await again.close();
});

test("a saved offset wins over from, and from applies to a consumer without one", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const first = s.publish({ n: 1 });
  s.publish({ n: 2 });
  const fresh = s.subscribe({ consumer: "new", from: first });
  assert.deepEqual(
    (await take(fresh, 1)).map((e) => e.payload.n),
    [2],
  );
  await fresh.close();
  db.raw.prepare("SELECT honker_stream_save_offset('old', 'activity', ?)").get(first);
  const old = s.subscribe({ consumer: "old", from: "latest" });
  assert.deepEqual(
    (await take(old, 1)).map((e) => e.payload.n),
    [2],
  );
  await old.close();
});

test("on() awaits each handler before saving its offset and stops when a handler throws", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const offsets = [s.publish({ n: 1 }), s.publish({ n: 2 }), s.publish({ n: 3 })];
  const savedAtStart: number[] = [];
  const errors: unknown[] = [];
  const handle = s.on(
    async (e) => {
      savedAtStart.push(s.savedOffset("feed"));
      await new Promise((r) => setImmediate(r));
      if (e.payload.n === 3) throw new Error("cannot handle 3");
    },
    { consumer: "feed", onError: (err) => errors.push(err) },
  );
  await assert.rejects(within(handle.done, 3000, "on() did not stop"), /cannot handle 3/);
  assert.deepEqual(savedAtStart, [0, offsets[0], offsets[1]]);
  assert.equal(s.savedOffset("feed"), offsets[1]);
  assert.equal(errors.length, 1);
  await handle.close();
});

test("on() close() lets the running handler finish and saves its offset", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const offset = s.publish({ n: 1 });
  let release: () => void = () => {};
  let started: () => void = () => {};
  const running = new Promise<void>((r) => {
    started = r;
  });
  const handle = s.on(
    () =>
      new Promise<void>((r) => {
        release = r;
        started();
      }),
    { consumer: "feed" },
  );
  await within(running, 2000, "the handler never started");
  const closing = handle.close();
  release();
  await within(closing, 2000, "close() did not finish");
  assert.equal(s.savedOffset("feed"), offset);
});

test("a subscriber is woken within 1 s by a publish from another process", async () => {
  const { db, path } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const sub = s.subscribe({ from: "latest" });
  const pending = sub.next();
  const { lines, child } = await startChild([path, "stream", "activity", '{"n":99}']);
  const started = performance.now();
  child.stdin.write("go\n");
  const r = await within(pending, 1000, "the subscriber was not woken by the other process");
  const elapsed = performance.now() - started;
  assert.deepEqual((r.value as StreamEvent<Payload>).payload, { n: 99 });
  assert.ok(elapsed < 1000, `woken after ${elapsed} ms`);
  const done = await within(lines.next(), 5000, "the child did not report");
  assert.equal(done.value, `done ${(r.value as StreamEvent<Payload>).offset}`);
  await sub.close();
});

test("1,000 subscribe/close cycles end every iteration and leave no timers behind", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const baseline = timeouts();
  const probe = s.subscribe({ from: "latest" });
  assert.equal(timeouts(), baseline + 1, "an open subscription keeps one watcher timer alive");
  await probe.close();
  assert.equal(timeouts(), baseline);
  for (let i = 0; i < 1000; i++) {
    const controller = new AbortController();
    const sub = s.subscribe({ from: "latest", signal: controller.signal });
    const pending = sub.next();
    if (i % 3 === 0) await sub.close();
    else if (i % 3 === 1) controller.abort();
    else await sub.return();
    const r = await within(pending, 1000, `cycle ${i}: next() did not end after closing`);
    assert.equal(r.done, true, `cycle ${i}`);
    assert.equal(sub.isClosed, true);
  }
  assert.equal(timeouts(), baseline);
  // The watcher still works for a new subscriber.
  const sub = s.subscribe({ from: "latest" });
  const pending = sub.next();
  s.publish({ n: 1 });
  assert.deepEqual(
    ((await within(pending, 2000, "no wake after the cycles")).value as StreamEvent<Payload>)
      .payload,
    { n: 1 },
  );
  await sub.close();
});

test("a stalled subscriber holds at most one batch while 5,000 events are published", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  s.publish({ n: 0 });
  const sub = s.subscribe({ batchSize: 100 });
  assert.equal((await take(sub, 1))[0]?.payload.n, 0);
  const heapBefore = process.memoryUsage().heapUsed;
  for (let n = 1; n <= 5000; n++) s.publish({ n });
  await within(db.watcher.wait({ timeoutMs: 2000 }), 3000, "no wake after the publishes");
  assert.equal(sub.buffered, 0, "nothing is read until the subscriber asks");
  const events = await take(sub, 5000);
  assert.ok(sub.buffered <= 100);
  assert.deepEqual(
    events.map((e) => e.payload.n),
    Array.from({ length: 5000 }, (_, i) => i + 1),
  );
  assert.ok(
    process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024,
    "heap grew by more than 64 MB",
  );
  await sub.close();
});

test("replaying a long history lets timers run before it ends", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const total = 10_000;
  db.transaction(() => {
    for (let n = 0; n < total; n++) s.publish({ n });
  });
  const sub = s.subscribe({ consumer: "replayer", from: "beginning", batchSize: 100 });
  let handled = 0;
  const handledWhenTimerFired = new Promise<number>((r) => setTimeout(() => r(handled), 0));
  for await (const _event of sub) {
    if (++handled === total) break;
  }
  // Iterators give the loop back after about 20 ms of a backlog.
  const atTimer = await handledWhenTimerFired;
  assert.ok(atTimer < total, "the timer waited for the whole replay");
});

test("each read fetches at most batchSize events ahead", async () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  for (let n = 0; n < 250; n++) s.publish({ n });
  const sub = s.subscribe({ batchSize: 100 });
  await take(sub, 1);
  assert.equal(sub.buffered, 99);
  await take(sub, 100);
  assert.equal(sub.buffered, 99);
  await sub.close();
  assert.equal(sub.buffered, 0);
});

test("db.close() ends a waiting subscription", async () => {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const db = open(join(dir, "app.db"));
  const sub = new Stream<Payload>(db, "activity").subscribe({ from: "latest" });
  const pending = sub.next();
  await within(db.close(), 2000, "db.close() hung");
  assert.equal((await within(pending, 1000, "next() did not end")).done, true);
});

test("deleting the database file makes the iterator throw HONKER_WATCHER_DEAD", async () => {
  const { db, path } = tempDb();
  const sub = new Stream<Payload>(db, "activity").subscribe({ from: "latest" });
  const pending = sub.next();
  unlinkSync(path);
  await assert.rejects(within(pending, 3000, "the iterator did not fail"), (err: unknown) =>
    isHonkerError(err, "HONKER_WATCHER_DEAD"),
  );
  assert.equal(sub.isClosed, true);
});

test("retention keeps the newest events of this topic only", () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const other = new Stream<Payload>(db, "other");
  for (let n = 0; n < 25; n++) s.publish({ n });
  other.publish({ n: 100 });
  assert.equal(s.retention({ keepLast: 5, batch: 7 }), 20);
  assert.deepEqual(
    s.read().map((e) => e.payload.n),
    [20, 21, 22, 23, 24],
  );
  assert.equal(other.read().length, 1);
  assert.throws(
    () => s.retention({}),
    (err: unknown) => isHonkerError(err, "HONKER_INVALID_ARGUMENT"),
  );
});

test("bad arguments are refused with HONKER_INVALID_ARGUMENT", () => {
  const { db } = tempDb();
  const s = new Stream<Payload>(db, "activity");
  const invalid = (err: unknown) => isHonkerError(err, "HONKER_INVALID_ARGUMENT");
  assert.throws(() => new Stream(db, ""), invalid);
  assert.throws(() => s.subscribe({ batchSize: 0 }), invalid);
  assert.throws(() => s.subscribe({ from: -1 }), invalid);
  assert.throws(() => s.read(0, 10001), invalid);
  assert.throws(() => s.publish(undefined as unknown as Payload), invalid);
});
