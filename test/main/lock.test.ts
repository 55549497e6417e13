import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, it } from "node:test";
import { type HonkerDatabase, type OpenOptions, open } from "../../src/main/database.ts";
import { HonkerError, isHonkerError } from "../../src/main/errors.ts";
import { tryLock, withLock } from "../../src/main/lock.ts";
import { openDb, tempDir } from "../helpers/db.ts";
import { nextEvent, sleep } from "../helpers/wait.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Opens `count` handles on one fresh file; all are closed after the test. */
function handles(count: number, options?: OpenOptions): { path: string; dbs: HonkerDatabase[] } {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const dbs: HonkerDatabase[] = [];
  for (let i = 0; i < count; i++) {
    const db = open(path, options);
    cleanups.push(() => db.close());
    dbs.push(db);
  }
  return { path, dbs };
}

function holder(
  db: HonkerDatabase,
  name: string,
): { owner: string; expiresAt: number } | undefined {
  return db.raw
    .prepare("SELECT owner, expires_at AS expiresAt FROM _honker_locks WHERE name = ?")
    .get(name) as { owner: string; expiresAt: number } | undefined;
}

/** Resolves when `signal` aborts, or rejects after `ms`. */
function aborted(signal: AbortSignal, ms: number, what: string): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return nextEvent<unknown>(
    (fn) => {
      const onAbort = () => fn(signal.reason);
      signal.addEventListener("abort", onAbort);
      return () => signal.removeEventListener("abort", onAbort);
    },
    { timeoutMs: ms, what },
  );
}

it("gives a lock to one handle at a time until it is released", () => {
  const [a, b] = handles(2).dbs as [HonkerDatabase, HonkerDatabase];
  const lock = tryLock(a, "export", 30);
  assert.ok(lock, "the first handle gets the lock");
  assert.equal(tryLock(b, "export", 30), null, "the second handle is refused");
  assert.equal(holder(a, "export")?.owner, lock.owner);
  assert.ok(lock.owner.startsWith(`${a.ownerId}:`), "owner is the handle's id plus a suffix");
  assert.equal(lock.renew(), true);
  assert.equal(lock.release(), true);
  assert.equal(lock.release(), false, "a second release does nothing");
  const again = tryLock(b, "export", 30);
  assert.ok(again, "the second handle gets it after the release");
  again.release();
});

it("throws HONKER_LOCK_HELD at once when the lock is held and wait is not set", async () => {
  const [a, b] = handles(2).dbs as [HonkerDatabase, HonkerDatabase];
  const lock = tryLock(a, "busy");
  assert.ok(lock);
  let ran = false;
  await assert.rejects(
    withLock(b, "busy", () => {
      ran = true;
    }),
    (err: unknown) => isHonkerError(err, "HONKER_LOCK_HELD") && err.message.includes("'busy'"),
  );
  assert.equal(ran, false, "fn did not run");
  lock.release();
});

it("runs one holder at a time when two handles contend for the same lock", {
  timeout: 10_000,
}, async () => {
  const [a, b] = handles(2).dbs as [HonkerDatabase, HonkerDatabase];
  let inside = 0;
  let maxInside = 0;
  const order: string[] = [];
  const worker = async (db: HonkerDatabase, tag: string) => {
    for (let i = 0; i < 5; i++) {
      await withLock(
        db,
        "counter",
        async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          order.push(tag);
          await sleep(5);
          inside--;
        },
        { wait: 5000, ttl: 5 },
      );
    }
  };
  await Promise.all([worker(a, "a"), worker(b, "b")]);
  assert.equal(maxInside, 1, "never two holders at once");
  assert.equal(order.length, 10);
  assert.equal(order.filter((t) => t === "a").length, 5);
  assert.equal(holder(a, "counter"), undefined, "the lock is free afterwards");
});

it("keeps renewing the lock while fn runs past its TTL", { timeout: 10_000 }, async () => {
  const [a, b] = handles(2).dbs as [HonkerDatabase, HonkerDatabase];
  const result = await withLock(
    a,
    "long",
    async (signal) => {
      const first = holder(a, "long");
      assert.ok(first);
      // Run well past the 2 s TTL: only renewals keep the lock ours.
      await sleep(2600);
      assert.equal(signal.aborted, false, "the lock was not lost");
      assert.equal(tryLock(b, "long", 2), null, "nobody else can take it");
      const now = holder(a, "long");
      assert.equal(now?.owner, first.owner, "still held by the same owner");
      assert.ok((now?.expiresAt ?? 0) > first.expiresAt, "the expiry moved forward");
      return "finished";
    },
    { ttl: 2 },
  );
  assert.equal(result, "finished");
  assert.equal(holder(a, "long"), undefined, "released at the end");
});

it("aborts fn's signal with HONKER_CLAIM_LOST when another owner takes the lock", {
  timeout: 10_000,
}, async () => {
  const { path, dbs } = handles(1);
  const db = dbs[0] as HonkerDatabase;
  const thief = openDb(path);
  cleanups.push(() => {
    thief.close();
  });
  let reason: unknown;
  await assert.rejects(
    withLock(
      db,
      "fragile",
      async (signal) => {
        thief
          .prepare(
            "UPDATE _honker_locks SET owner = 'thief', expires_at = unixepoch() + 60 WHERE name = ?",
          )
          .run("fragile");
        reason = await aborted(signal, 3000, "the signal to abort");
        return "ignored the abort";
      },
      { ttl: 2 },
    ),
    (err: unknown) =>
      isHonkerError(err, "HONKER_CLAIM_LOST") && err.message.includes("lock was lost"),
  );
  assert.ok(reason instanceof HonkerError);
  assert.equal(reason.code, "HONKER_CLAIM_LOST");
  assert.equal(holder(db, "fragile")?.owner, "thief", "the thief's lock was left alone");
});

it("takes the lock when a crashed holder's lease runs out, woken by the expiry deadline alone", {
  timeout: 10_000,
}, async () => {
  const { path, dbs } = handles(1, { watcher: { disablePoll: true, fileEvents: false } });
  const db = dbs[0] as HonkerDatabase;
  const crashed = openDb(path);
  cleanups.push(() => {
    crashed.close();
  });
  crashed
    .prepare(
      "INSERT INTO _honker_locks (name, owner, expires_at) VALUES (?, 'crashed', unixepoch() + 1)",
    )
    .run("orphan");
  const started = Date.now();
  const out = await withLock(db, "orphan", () => holder(db, "orphan")?.owner, {
    wait: 5000,
    ttl: 5,
  });
  const waited = Date.now() - started;
  assert.ok(out?.startsWith(db.ownerId), "acquired by this handle");
  assert.ok(waited <= 2500, `acquired ${waited} ms after the wait began`);
  assert.equal(db.watcher.stats.polls, 0, "no polling was involved");
});

it("gives up with HONKER_LOCK_HELD after waiting the given number of ms", {
  timeout: 10_000,
}, async () => {
  const [a, b] = handles(2).dbs as [HonkerDatabase, HonkerDatabase];
  const lock = tryLock(a, "held", 30);
  assert.ok(lock);
  const started = Date.now();
  await assert.rejects(
    withLock(b, "held", () => "never", { wait: 200 }),
    (err: unknown) =>
      isHonkerError(err, "HONKER_LOCK_HELD") && err.message.includes("after waiting"),
  );
  assert.ok(Date.now() - started >= 195, "waited about 200 ms");
  lock.release();
});

it("rejects a waiter with HONKER_CLOSED when its database closes", {
  timeout: 10_000,
}, async () => {
  const [a, b] = handles(2).dbs as [HonkerDatabase, HonkerDatabase];
  const lock = tryLock(a, "shutdown", 30);
  assert.ok(lock);
  const waiting = withLock(b, "shutdown", () => "never", { wait: true });
  const closed = b.close();
  await assert.rejects(waiting, (err: unknown) => isHonkerError(err, "HONKER_CLOSED"));
  await closed;
  lock.release();
});

it("refuses a bad TTL and a bad wait", async () => {
  const [db] = handles(1).dbs as [HonkerDatabase];
  assert.throws(
    () => tryLock(db, "x", 0),
    (err: unknown) => isHonkerError(err, "HONKER_INVALID_ARGUMENT"),
  );
  await assert.rejects(
    withLock(db, "x", () => 1, { wait: -1 }),
    (err: unknown) => isHonkerError(err, "HONKER_INVALID_ARGUMENT") && err.message.includes("wait"),
  );
});
