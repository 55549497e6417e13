import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { HonkerDatabase } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import {
  type Listener,
  listen,
  listenCallback,
  type Notification,
  pruneNotifications,
} from "../../src/main/listen.ts";
import { TS_FLAGS } from "../helpers/db.ts";
import { withCleanups } from "../helpers/host.ts";
import { within } from "../helpers/wait.ts";

type Payload = { n: number };

const { cleanups, tempDb } = withCleanups();

async function take<P>(listener: Listener<P>, count: number): Promise<Notification<P>[]> {
  const out: Notification<P>[] = [];
  while (out.length < count) {
    const r = await within(
      listener.next(),
      5000,
      `waiting for notification ${out.length + 1} of ${count}`,
    );
    assert.equal(r.done, false, `the listener ended after ${out.length} of ${count}`);
    out.push(r.value as Notification<P>);
  }
  return out;
}

/**
 * Asserts the listener has nothing more: after a wake (which makes it read
 * again) its next() is still pending. Then closes it.
 */
async function nothingPending<P>(db: HonkerDatabase, listener: Listener<P>): Promise<void> {
  const next = listener.next();
  const marker = Symbol("waiting");
  db.watcher.notifyLocal();
  await db.watcher.wait({ timeoutMs: 1000 }).catch(() => {});
  const r = await Promise.race([next, new Promise((r) => setImmediate(() => r(marker)))]);
  assert.equal(r, marker, `unexpected notification: ${JSON.stringify(r)}`);
  await listener.close();
  assert.equal((await within(next, 1000, "next() did not end on close")).done, true);
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
}

const fixture = fileURLToPath(new URL("../fixtures/publish-and-notify.ts", import.meta.url));

test("listen sees no history, only notifications committed after it, in order", async () => {
  const { db } = tempDb();
  db.notify("changed", { n: 1 });
  db.notify("changed", { n: 2 });
  const listener = listen<Payload>(db, "changed");
  const a = db.notify("changed", { n: 3 });
  const b = db.notify("changed", { n: 4 });
  const got = await take(listener, 2);
  assert.deepEqual(
    got.map((x) => [x.id, x.channel, x.payload]),
    [
      [a, "changed", { n: 3 }],
      [b, "changed", { n: 4 }],
    ],
  );
  assert.equal(typeof got[0]?.createdAt, "number");
  await nothingPending(db, listener);
});

test("a notification in a rolled-back transaction is never seen", async () => {
  const { db } = tempDb();
  const listener = listen<Payload>(db, "changed");
  assert.throws(() =>
    db.transaction(() => {
      db.notify("changed", { n: 1 });
      throw new Error("app write failed");
    }),
  );
  db.notify("changed", { n: 2 });
  const got = await take(listener, 1);
  assert.deepEqual(got[0]?.payload, { n: 2 });
  await nothingPending(db, listener);
});

test("a notification inside a committed transaction arrives after the commit", async () => {
  const { db } = tempDb();
  const listener = listen<Payload>(db, "changed");
  const pending = listener.next();
  db.transaction(() => {
    db.raw.exec("CREATE TABLE app_rows (x)");
    db.notify("changed", { n: 1 });
  });
  const r = await within(pending, 2000, "the commit did not wake the listener");
  assert.deepEqual((r.value as Notification<Payload>).payload, { n: 1 });
  await listener.close();
});

test("a listener ignores other channels", async () => {
  const { db } = tempDb();
  const listener = listen<Payload>(db, "mine");
  db.notify("theirs", { n: 1 });
  db.notify("mine", { n: 2 });
  db.notify("theirs", { n: 3 });
  const got = await take(listener, 1);
  assert.deepEqual(got[0]?.payload, { n: 2 });
  await nothingPending(db, listener);
});

test("two listeners each get every notification once", async () => {
  const { db } = tempDb();
  const first = listen<Payload>(db, "changed");
  const second = listen<Payload>(db, "changed");
  for (let n = 0; n < 250; n++) db.notify("changed", { n });
  const expected = Array.from({ length: 250 }, (_, n) => n);
  assert.deepEqual(
    (await take(first, 250)).map((x) => x.payload.n),
    expected,
  );
  assert.deepEqual(
    (await take(second, 250)).map((x) => x.payload.n),
    expected,
  );
  await nothingPending(db, first);
  await second.close();
});

test("a listener is woken within 1 s by a notify from another process", async () => {
  const { db, path } = tempDb();
  const listener = listen<Payload>(db, "changed");
  const pending = listener.next();
  const child = spawn(
    process.execPath,
    [...TS_FLAGS, fixture, path, "notify", "changed", '{"n":7}'],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  cleanups.push(() => {
    if (child.exitCode === null) child.kill();
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ready = await within(lines.next(), 10000, "the child process did not start");
  assert.equal(ready.value, "ready", `child printed ${ready.value}; stderr: ${stderr}`);
  const started = performance.now();
  child.stdin.write("go\n");
  const r = await within(pending, 1000, "the listener was not woken by the other process");
  const elapsed = performance.now() - started;
  const got = r.value as Notification<Payload>;
  assert.deepEqual(got.payload, { n: 7 });
  assert.ok(elapsed < 1000, `woken after ${elapsed} ms`);
  const done = await within(lines.next(), 5000, "the child did not report");
  assert.equal(done.value, `done ${got.id}`);
  await listener.close();
});

test("listenCallback delivers in order and its stop function ends delivery", async () => {
  const { db } = tempDb();
  const got: number[] = [];
  let reached: () => void = () => {};
  const three = new Promise<void>((r) => {
    reached = r;
  });
  const stop = listenCallback<Payload>(db, "changed", async (x) => {
    await new Promise((r) => setImmediate(r));
    got.push(x.payload.n);
    if (got.length === 3) reached();
  });
  db.notify("changed", { n: 1 });
  db.notify("changed", { n: 2 });
  db.notify("changed", { n: 3 });
  await within(three, 3000, "the callback did not get three notifications");
  await within(stop(), 2000, "stop() hung");
  // The control: a callback listener that was not stopped, with the same
  // delivery path, gets n: 4; once it has, a stopped one would have too.
  const control: number[] = [];
  let controlGot: () => void = () => {};
  const four = new Promise<void>((r) => {
    controlGot = r;
  });
  const stopControl = listenCallback<Payload>(db, "changed", async (x) => {
    await new Promise((r) => setImmediate(r));
    control.push(x.payload.n);
    controlGot();
  });
  db.notify("changed", { n: 4 });
  await within(four, 3000, "the control listener did not get n: 4");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(control, [4]);
  assert.deepEqual(got, [1, 2, 3]);
  await stopControl();
});

test("a throwing callback is reported and delivery goes on", async () => {
  const { db } = tempDb();
  const errors: unknown[] = [];
  const got: number[] = [];
  let reached: () => void = () => {};
  const two = new Promise<void>((r) => {
    reached = r;
  });
  const stop = listenCallback<Payload>(
    db,
    "changed",
    (x) => {
      if (x.payload.n === 1) throw new Error("bad one");
      got.push(x.payload.n);
      reached();
    },
    { onError: (err) => errors.push(err) },
  );
  db.notify("changed", { n: 1 });
  db.notify("changed", { n: 2 });
  await within(two, 3000, "the second notification never came");
  assert.deepEqual(got, [2]);
  assert.equal(errors.length, 1);
  assert.match((errors[0] as Error).message, /bad one/);
  await stop();
});

test("a listener that fell behind while notifications were pruned goes on with what is left", async () => {
  const { db } = tempDb();
  const listener = listen<Payload>(db, "changed");
  for (let n = 0; n < 10; n++) db.notify("changed", { n });
  assert.equal(pruneNotifications(db, { keepLast: 3 }), 7);
  const got = await take(listener, 3);
  assert.deepEqual(
    got.map((x) => x.payload.n),
    [7, 8, 9],
  );
  db.notify("changed", { n: 10 });
  assert.deepEqual((await take(listener, 1))[0]?.payload, { n: 10 });
  await listener.close();
});

test("pruneNotifications deletes in bounded passes and refuses an empty policy", () => {
  const { db } = tempDb();
  for (let n = 0; n < 30; n++) db.notify("changed", { n });
  assert.equal(pruneNotifications(db, { keepLast: 4, batch: 5 }), 26);
  assert.equal(
    db.raw.prepare("SELECT COUNT(*) FROM _honker_notifications").pluck().get() as number,
    4,
  );
  assert.equal(pruneNotifications(db, { maxAgeS: 3600 }), 0);
  assert.throws(
    () => pruneNotifications(db, {}),
    (err: unknown) => isHonkerError(err, "HONKER_INVALID_ARGUMENT"),
  );
});

test("1,000 listen/close cycles end every iteration and leave no timers behind", async () => {
  const { db } = tempDb();
  const baseline = timeouts();
  const probe = listen(db, "changed");
  assert.equal(timeouts(), baseline + 1, "an open listener keeps one watcher timer alive");
  await probe.close();
  assert.equal(timeouts(), baseline);
  for (let i = 0; i < 1000; i++) {
    const controller = new AbortController();
    const listener = listen(db, "changed", { signal: controller.signal });
    const pending = listener.next();
    if (i % 2 === 0) await listener.close();
    else controller.abort();
    const r = await within(pending, 1000, `cycle ${i}: next() did not end after closing`);
    assert.equal(r.done, true, `cycle ${i}`);
  }
  assert.equal(timeouts(), baseline);
});

test("a stalled listener reads nothing until asked, then at most batchSize ahead", async () => {
  const { db } = tempDb();
  const listener = listen<Payload>(db, "changed", { batchSize: 50 });
  for (let n = 0; n < 5000; n++) db.notify("changed", { n });
  await within(db.watcher.wait({ timeoutMs: 2000 }), 3000, "no wake after the notifies");
  assert.equal(listener.buffered, 0);
  await take(listener, 1);
  assert.equal(listener.buffered, 49);
  const rest = await take(listener, 4999);
  assert.equal(rest.at(-1)?.payload.n, 4999);
  await listener.close();
});

test("an already aborted signal gives a listener that ends at once", async () => {
  const { db } = tempDb();
  const listener = listen(db, "changed", { signal: AbortSignal.abort() });
  assert.equal((await within(listener.next(), 1000, "next() did not end")).done, true);
});
