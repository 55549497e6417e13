import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ClaimedRow, type Db, freshDbEachTest, json, now, scalar } from "../helpers/db.ts";

let db: Db;
freshDbEachTest((c) => {
  db = c.db;
});

const enqueue = (queue: string, payload: unknown, opts: Partial<Record<string, number>> = {}) =>
  scalar<number>(
    db,
    "honker_enqueue(?, ?, ?, ?, ?, ?, ?)",
    queue,
    JSON.stringify(payload),
    opts.runAt ?? null,
    opts.delay ?? null,
    opts.priority ?? 0,
    opts.maxAttempts ?? 3,
    opts.expires ?? null,
  );
const claim = (queue: string, worker: string, n = 10, timeout = 30) =>
  json<ClaimedRow[]>(db, "honker_claim_batch(?, ?, ?, ?)", queue, worker, n, timeout);
const live = () =>
  db.prepare("SELECT * FROM _honker_live ORDER BY id").all() as Record<string, unknown>[];
const dead = () =>
  db.prepare("SELECT * FROM _honker_dead ORDER BY id").all() as Record<string, unknown>[];

describe("honker_enqueue", () => {
  it("returns increasing ids and stores the payload as JSON text", () => {
    assert.equal(enqueue("q", { a: 1 }), 1);
    assert.equal(enqueue("q", "text"), 2);
    const rows = live();
    assert.equal(rows[0]?.payload, '{"a":1}');
    assert.equal(rows[1]?.payload, '"text"');
    assert.equal(rows[0]?.state, "pending");
    assert.equal(rows[0]?.max_attempts, 3);
  });

  it("lets delay win over run_at", () => {
    const t = now();
    enqueue("q", 1, { runAt: t + 1000, delay: 10 });
    const runAt = live()[0]?.run_at as number;
    assert.ok(runAt >= t + 10 && runAt <= t + 11, `run_at ${runAt}`);
  });

  it("uses run_at when no delay is given", () => {
    enqueue("q", 1, { runAt: 2_000_000_000 });
    assert.equal(live()[0]?.run_at, 2_000_000_000);
  });

  it("sets expires_at to now plus expires seconds", () => {
    const t = now();
    enqueue("q", 1, { expires: 60 });
    const exp = live()[0]?.expires_at as number;
    assert.ok(exp >= t + 60 && exp <= t + 61);
  });

  it("accepts whole-number reals, as JavaScript sends them", () => {
    assert.equal(scalar(db, "honker_enqueue('q', '1', NULL, NULL, 2.0, 5.0, NULL)"), 1);
    assert.equal(live()[0]?.priority, 2);
  });
});

describe("honker_claim_batch", () => {
  it("claims the highest priority first, then oldest run_at, then id", () => {
    enqueue("q", "low");
    enqueue("q", "high", { priority: 5 });
    enqueue("q", "mid", { priority: 1 });
    const ids = [claim("q", "w", 1), claim("q", "w", 1), claim("q", "w", 1)].map((c) => c[0]?.id);
    assert.deepEqual(ids, [2, 3, 1]);
  });

  it("returns honker's JSON shape with keys in alphabetical order", () => {
    enqueue("q", { a: 1 });
    const text = scalar<string>(db, "honker_claim_batch('q', 'w', 5, 30)");
    const t = now();
    const parsed = JSON.parse(text) as ClaimedRow[];
    assert.deepEqual(Object.keys(parsed[0] ?? {}), [
      "attempts",
      "claim_expires_at",
      "id",
      "payload",
      "queue",
      "worker_id",
    ]);
    assert.equal(parsed[0]?.payload, '{"a":1}');
    assert.equal(parsed[0]?.attempts, 1);
    assert.ok(Math.abs((parsed[0]?.claim_expires_at ?? 0) - (t + 30)) <= 1);
  });

  it("returns [] for an empty queue and for n = 0", () => {
    assert.equal(scalar(db, "honker_claim_batch('none', 'w', 5, 30)"), "[]");
    enqueue("q", 1);
    assert.equal(scalar(db, "honker_claim_batch('q', 'w', 0, 30)"), "[]");
  });

  it("does not claim a delayed job before its run_at", () => {
    enqueue("q", 1, { delay: 100 });
    assert.deepEqual(claim("q", "w"), []);
  });

  it("does not claim a job whose claim is still held", () => {
    enqueue("q", 1);
    assert.equal(claim("q", "a").length, 1);
    assert.deepEqual(claim("q", "b"), []);
  });

  it("reclaims a job whose claim expired, counting the attempt", () => {
    enqueue("q", 1);
    claim("q", "a");
    db.prepare("UPDATE _honker_live SET claim_expires_at = ?").run(now() - 5);
    const again = claim("q", "b");
    assert.equal(again[0]?.worker_id, "b");
    assert.equal(again[0]?.attempts, 2);
  });

  it("dead-letters an exhausted job instead of claiming it", () => {
    enqueue("q", "x", { maxAttempts: 1 });
    claim("q", "a");
    db.prepare("UPDATE _honker_live SET claim_expires_at = ?").run(now() - 5);
    assert.deepEqual(claim("q", "b"), []);
    assert.equal(live().length, 0);
    const d = dead();
    assert.equal(d.length, 1);
    assert.equal(d[0]?.last_error, "max attempts exceeded");
    assert.equal(d[0]?.attempts, 1);
  });

  it("does not claim an expired job", () => {
    enqueue("q", 1, { expires: 0 });
    db.prepare("UPDATE _honker_live SET expires_at = ?").run(now() - 5);
    assert.deepEqual(claim("q", "w"), []);
  });

  it("only claims from the named queue", () => {
    enqueue("a", 1);
    assert.deepEqual(claim("b", "w"), []);
  });
});

describe("honker_ack", () => {
  it("deletes the job when the caller holds a live claim", () => {
    const id = enqueue("q", 1);
    claim("q", "w");
    assert.equal(scalar(db, "honker_ack(?, 'w')", id), 1);
    assert.equal(live().length, 0);
  });

  it("refuses another worker's ack", () => {
    const id = enqueue("q", 1);
    claim("q", "w");
    assert.equal(scalar(db, "honker_ack(?, 'other')", id), 0);
    assert.equal(live().length, 1);
  });

  it("refuses a late ack after the claim expired", () => {
    const id = enqueue("q", 1);
    claim("q", "w");
    db.prepare("UPDATE _honker_live SET claim_expires_at = ?").run(now() - 5);
    assert.equal(scalar(db, "honker_ack(?, 'w')", id), 0);
  });

  it("acks a batch and counts what it deleted", () => {
    for (let i = 0; i < 4; i++) enqueue("q", i);
    claim("q", "w", 3);
    assert.equal(scalar(db, "honker_ack_batch('[1,2,3,4]', 'w')"), 3);
    assert.equal(live().length, 1);
    assert.equal(scalar(db, "honker_ack_batch('[]', 'w')"), 0);
  });
});

describe("honker_retry and honker_fail", () => {
  it("puts a failed attempt back to pending after the delay", () => {
    const id = enqueue("q", 1);
    claim("q", "w");
    const t = now();
    assert.equal(scalar(db, "honker_retry(?, 'w', 60, 'boom')", id), 1);
    const row = live()[0];
    assert.equal(row?.state, "pending");
    assert.equal(row?.worker_id, null);
    assert.equal(row?.attempts, 1);
    assert.ok((row?.run_at as number) >= t + 60);
  });

  it("moves the last attempt to dead with the error, keeping run_at", () => {
    const id = enqueue("q", 1, { maxAttempts: 1 });
    const runAt = live()[0]?.run_at;
    claim("q", "w");
    assert.equal(scalar(db, "honker_retry(?, 'w', 0, 'boom')", id), 1);
    assert.equal(live().length, 0);
    assert.equal(dead()[0]?.last_error, "boom");
    assert.equal(dead()[0]?.run_at, runAt);
  });

  it("refuses a retry from a worker that does not hold the claim", () => {
    const id = enqueue("q", 1);
    claim("q", "w");
    assert.equal(scalar(db, "honker_retry(?, 'x', 0, 'e')", id), 0);
    assert.equal(live()[0]?.state, "processing");
  });

  it("fail moves a claimed job to dead at once", () => {
    const id = enqueue("q", 1, { maxAttempts: 5 });
    claim("q", "w");
    assert.equal(scalar(db, "honker_fail(?, 'w', 'fatal')", id), 1);
    assert.equal(live().length, 0);
    assert.equal(dead()[0]?.last_error, "fatal");
    assert.equal(dead()[0]?.id, id);
  });

  it("fail refuses an unclaimed job", () => {
    const id = enqueue("q", 1);
    assert.equal(scalar(db, "honker_fail(?, 'w', 'fatal')", id), 0);
    assert.equal(dead().length, 0);
  });
});

describe("heartbeat, cancel, get_job", () => {
  it("heartbeat extends a live claim", () => {
    const id = enqueue("q", 1);
    claim("q", "w", 1, 5);
    const t = now();
    assert.equal(scalar(db, "honker_heartbeat(?, 'w', 600)", id), 1);
    assert.ok((live()[0]?.claim_expires_at as number) >= t + 600);
  });

  it("heartbeat refuses a lapsed claim", () => {
    const id = enqueue("q", 1);
    claim("q", "w");
    db.prepare("UPDATE _honker_live SET claim_expires_at = ?").run(now() - 5);
    assert.equal(scalar(db, "honker_heartbeat(?, 'w', 600)", id), 0);
  });

  it("cancel deletes a live job without a dead row", () => {
    const id = enqueue("q", 1);
    assert.equal(scalar(db, "honker_cancel(?)", id), 1);
    assert.equal(scalar(db, "honker_cancel(?)", id), 0);
    assert.equal(dead().length, 0);
  });

  it("cancel with a queue name only matches that queue", () => {
    const id = enqueue("q", 1);
    assert.equal(scalar(db, "honker_cancel('other', ?)", id), 0);
    assert.equal(scalar(db, "honker_cancel('q', ?)", id), 1);
  });

  it("get_job returns honker's shape, or '' when the job is gone", () => {
    const id = enqueue("q", { a: 1 }, { priority: 2 });
    const job = json<Record<string, unknown>>(db, "honker_get_job(?)", id);
    assert.deepEqual(Object.keys(job), [
      "attempts",
      "claim_expires_at",
      "created_at",
      "expires_at",
      "id",
      "max_attempts",
      "payload",
      "priority",
      "queue",
      "run_at",
      "state",
      "worker_id",
    ]);
    assert.equal(job.payload, '{"a":1}');
    assert.equal(job.priority, 2);
    assert.equal(scalar(db, "honker_get_job(999)"), "");
  });
});

describe("sweep and next claim", () => {
  it("sweeps expired pending jobs to dead with 'expired'", () => {
    enqueue("q", 1, { expires: 100 });
    enqueue("q", 2);
    db.prepare("UPDATE _honker_live SET expires_at = ? WHERE id = 1").run(now() - 5);
    assert.equal(scalar(db, "honker_sweep_expired('q')"), 1);
    assert.equal(dead()[0]?.last_error, "expired");
    assert.equal(live().length, 1);
  });

  it("sweeps a processing job that expired once its claim lapsed (honker keeps it forever)", () => {
    enqueue("q", 1, { expires: 100 });
    claim("q", "w");
    db.prepare("UPDATE _honker_live SET expires_at = ?, claim_expires_at = ?").run(
      now() - 6,
      now() - 5,
    );
    assert.equal(scalar(db, "honker_sweep_expired('q')"), 1);
    assert.equal(live().length, 0);
  });

  it("leaves a processing job alone while its claim is live", () => {
    enqueue("q", 1, { expires: 100 });
    claim("q", "w");
    db.prepare("UPDATE _honker_live SET expires_at = ?").run(now() - 2);
    assert.equal(scalar(db, "honker_sweep_expired('q')"), 0);
  });

  it("bounds one sweep by its limit", () => {
    for (let i = 0; i < 5; i++) enqueue("q", i, { expires: 1 });
    db.prepare("UPDATE _honker_live SET expires_at = ?").run(now() - 5);
    assert.equal(scalar(db, "honker_sweep_expired('q', 2)"), 2);
    assert.equal(scalar(db, "honker_sweep_expired('q', 10)"), 3);
  });

  it("next_claim_at is the earliest future run_at, or claim expiry + 1", () => {
    assert.equal(scalar(db, "honker_queue_next_claim_at('q')"), 0);
    enqueue("q", 1, { runAt: 2_000_000_000 });
    enqueue("q", 2, { runAt: 1_999_999_000 });
    assert.equal(scalar(db, "honker_queue_next_claim_at('q')"), 1_999_999_000);
    enqueue("p", 1);
    const c = claim("p", "w", 1, 100);
    assert.equal(scalar(db, "honker_queue_next_claim_at('p')"), (c[0]?.claim_expires_at ?? 0) + 1);
  });

  it("ready_at is now when a claim would find work, else next_claim_at", () => {
    const readyAt = (q: string) => scalar<number>(db, "honker_x_queue_ready_at(?)", q);
    assert.equal(readyAt("q"), 0, "an empty queue");
    enqueue("q", 1, { runAt: 2_000_000_000 });
    assert.equal(readyAt("q"), 2_000_000_000, "only a future job");
    enqueue("q", 2);
    const t = now();
    assert.ok(readyAt("q") >= t && readyAt("q") <= t + 1, "a due job: now");
    const c = claim("q", "w", 1, 100);
    assert.equal(readyAt("q"), (c[0]?.claim_expires_at ?? 0) + 1, "claimed: when its claim lapses");
    db.prepare("UPDATE _honker_live SET claim_expires_at = ? WHERE state = 'processing'").run(
      t - 1,
    );
    assert.ok(readyAt("q") >= t, "an expired claim is claimable: now");
    db.prepare("UPDATE _honker_live SET attempts = max_attempts WHERE state = 'processing'").run();
    assert.ok(readyAt("q") >= t, "an exhausted job for the claim to dead-letter: now");
    claim("q", "w", 1, 100);
    assert.equal(dead().length, 1, "the claim dead-lettered it");
    assert.equal(readyAt("q"), 2_000_000_000);
  });
});

describe("transactions", () => {
  it("an enqueue rolled back with the app's write leaves nothing", () => {
    db.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY)");
    const tx = db.transaction(() => {
      db.prepare("INSERT INTO orders DEFAULT VALUES").run();
      enqueue("q", 1);
      throw new Error("abort");
    });
    assert.throws(() => tx(), /abort/);
    assert.equal(live().length, 0);
    assert.equal(scalar(db, "(SELECT count(*) FROM orders)"), 0);
  });

  it("enqueue from a trigger commits with the row that caused it (outbox)", () => {
    db.exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER);
      CREATE TRIGGER orders_job AFTER INSERT ON orders BEGIN
        SELECT honker_enqueue('ship', json_object('order', NEW.id), NULL, NULL, 0, 3, NULL);
      END;`);
    db.prepare("INSERT INTO orders (total) VALUES (5)").run();
    assert.equal(live()[0]?.payload, '{"order":1}');
  });
});
