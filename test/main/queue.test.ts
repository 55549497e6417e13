import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { isHonkerError } from "../../src/main/errors.ts";
import { freshHost, type Host } from "../helpers/host.ts";

type Schema = {
  queues: { sync: { folder: string }; mail: string };
  streams: Record<string, unknown>;
  channels: Record<string, unknown>;
};

let h: Host<Schema>;
beforeEach(() => {
  h = freshHost<Schema>();
});
afterEach(() => h.close());

describe("queue.enqueue", () => {
  it("returns the job id and stores the payload", () => {
    const q = h.db.queue("sync");
    const id = q.enqueue({ folder: "inbox" }, { priority: 3, maxAttempts: 5 });
    const job = q.getJob(id);
    assert.equal(job?.state, "pending");
    assert.deepEqual(job?.payload, { folder: "inbox" });
    assert.equal(job?.priority, 3);
    assert.equal(job?.maxAttempts, 5);
  });

  it("returns the existing id for a second enqueue under a live dedup key", () => {
    const q = h.db.queue("sync");
    const a = q.enqueue({ folder: "a" }, { key: "folder:a" });
    const b = q.enqueue({ folder: "a" }, { key: "folder:a" });
    assert.equal(b, a);
    assert.equal(q.stats().pending, 1);
  });

  it("creates a new job under the same key once the first is done", () => {
    const q = h.db.queue("sync");
    const a = q.enqueue({ folder: "a" }, { key: "k" });
    const [job] = q.claim("w");
    assert.equal(job?.id, a);
    q.ack(a, "w");
    assert.notEqual(q.enqueue({ folder: "a" }, { key: "k" }), a);
  });

  it("enqueues many in one transaction", () => {
    const ids = h.db.queue("mail").enqueueMany(["a", "b", "c"]);
    assert.deepEqual(ids, [1, 2, 3]);
  });

  it("accepts runAt as a Date and delay in seconds", () => {
    const q = h.db.queue("mail");
    const at = new Date(Date.now() + 3600_000);
    const id = q.enqueue("later", { runAt: at });
    assert.equal(q.getJob(id)?.runAt, Math.floor(at.getTime() / 1000));
    assert.deepEqual(q.claim("w"), []);
    assert.ok((q.stats().nextRunAt ?? 0) >= Math.floor(at.getTime() / 1000));
  });

  it("refuses a payload that is not JSON, with a clear error and nothing written", () => {
    const q = h.db.queue("mail");
    assert.throws(
      () => q.enqueue(undefined as unknown as string),
      (err) =>
        isHonkerError(err, "HONKER_INVALID_ARGUMENT") &&
        /payload is undefined, which JSON cannot hold/.test(err.message),
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(
      () => q.enqueue(cyclic as unknown as string),
      (err) => isHonkerError(err, "HONKER_INVALID_ARGUMENT"),
    );
    assert.throws(
      () => q.enqueue("x", { maxAttempts: 0 }),
      (err) => isHonkerError(err, "HONKER_INVALID_ARGUMENT") && /maxAttempts/.test(err.message),
    );
    assert.equal(q.stats().pending, 0);
  });
});

describe("getJob, stats, dead letters, results", () => {
  it("follows a job from pending to processing to completed", () => {
    const q = h.db.queue("mail");
    const id = q.enqueue("hi");
    assert.equal(q.getJob(id)?.state, "pending");
    q.claim("w");
    assert.equal(q.getJob(id)?.state, "processing");
    assert.equal(q.getJob(id)?.workerId, "w");
    q.setProgress(id, { done: 1, of: 2 });
    assert.deepEqual(q.getJob(id)?.progress, { done: 1, of: 2 });
    q.ack(id, "w");
    q.saveResult(id, "sent");
    const done = q.getJob(id);
    assert.equal(done?.state, "completed");
    assert.equal(done?.result, "sent");
    assert.equal(q.getJob(999), null);
  });

  it("counts pending, processing and dead jobs", () => {
    const q = h.db.queue("mail");
    q.enqueueMany(["a", "b", "c"]);
    const [first] = q.claim("w");
    q.fail(first?.id ?? 0, "w", "broken");
    q.claim("w");
    const s = q.stats();
    assert.deepEqual([s.pending, s.processing, s.dead], [1, 1, 1]);
  });

  it("lists, re-drives and purges dead letters", () => {
    const q = h.db.queue("mail");
    const id = q.enqueue("x");
    q.claim("w");
    q.fail(id, "w", "boom");
    const dead = q.deadLetters();
    assert.deepEqual(
      dead.map((d) => [d.id, d.payload, d.error]),
      [[id, "x", "boom"]],
    );
    assert.equal(q.getJob(id)?.state, "dead");
    const [again] = q.redrive();
    assert.equal(q.getJob(again ?? 0)?.state, "pending");
    assert.equal(q.deadLetters().length, 0);
    const [j] = q.claim("w");
    q.fail(j?.id ?? 0, "w", "boom again");
    assert.equal(q.purgeDead(), 1);
    assert.equal(q.stats().dead, 0);
  });

  it("waitResult resolves when the result is saved", async () => {
    const q = h.db.queue("mail");
    const id = q.enqueue("x");
    const waiting = q.waitResult(id, { timeoutMs: 5000 });
    setImmediate(() => q.saveResult(id, { ok: true }));
    assert.deepEqual(await waiting, { ok: true });
  });

  it("waitResult times out with HONKER_TIMEOUT", async () => {
    const q = h.db.queue("mail");
    const id = q.enqueue("x");
    await assert.rejects(q.waitResult(id, { timeoutMs: 50 }), (err) =>
      isHonkerError(err, "HONKER_TIMEOUT"),
    );
  });

  it("cancel removes a pending job", () => {
    const q = h.db.queue("mail");
    const id = q.enqueue("x");
    assert.equal(q.cancel(id), true);
    assert.equal(q.getJob(id), null);
  });
});
