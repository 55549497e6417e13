/**
 * Trust, class 8: semantics a user trips on. An async transaction commits
 * nothing; a stuck handler cannot hold its job, stop() or close() forever.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isHonkerError } from "../../src/main/errors.ts";
import { RetryAfter } from "../../src/main/worker.ts";
import { deferred, withCleanups, within } from "../helpers/host.ts";

const { tempDb } = withCleanups();

describe("transaction(async fn)", () => {
  it("commits nothing: neither the writes before its await nor those after", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const after = deferred<unknown>();
    assert.throws(
      () =>
        db.transaction((async () => {
          q.enqueue("before the await");
          await Promise.resolve();
          try {
            q.enqueue("after the await");
            after.resolve("written");
          } catch (err) {
            after.resolve(err);
          }
        }) as never),
      (err) =>
        isHonkerError(err, "HONKER_INVALID_ARGUMENT") && /returned a Promise/.test(err.message),
    );
    const outcome = await after.promise;
    assert.ok(isHonkerError(outcome, "HONKER_INVALID_ARGUMENT"), String(outcome));
    assert.match((outcome as Error).message, /after an await inside transaction/);
    assert.equal(q.stats().pending, 0);
  });

  it("refuses a write inside fn once close() has started, and commits none of fn", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    let closing: Promise<void> | undefined;
    assert.throws(
      () =>
        db.transaction(() => {
          q.enqueue("before close()");
          closing = db.close();
          q.enqueue("after close()");
        }),
      (err) => isHonkerError(err, "HONKER_CLOSED"),
    );
    await closing;
  });

  it("refuses a write inside fn after the app closed db.raw itself, with HONKER_CLOSED", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    assert.throws(
      () =>
        db.transaction(() => {
          db.raw.close();
          q.enqueue("after raw.close()");
        }),
      (err) => isHonkerError(err, "HONKER_CLOSED"),
    );
  });

  it("leaves later, unrelated writes alone", async () => {
    const { db } = tempDb();
    assert.throws(() => db.transaction((async () => {}) as never));
    await new Promise((r) => setImmediate(r));
    db.queue("q").enqueue("fine");
    assert.equal(db.queue("q").stats().pending, 1);
  });
});

describe("stuck handlers", () => {
  it("stop({ graceMs }) resolves, aborts the handler and puts its job back", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const id = q.enqueue(1);
    const started = deferred<AbortSignal>();
    const worker = q.work((job) => {
      started.resolve(job.signal);
      return new Promise(() => {}); // never settles
    });
    const signal = await started.promise;
    await within(worker.stop({ graceMs: 50 }), 2000, "stop with a grace period");
    assert.equal(signal.aborted, true);
    assert.equal(q.getJob(id)?.state, "pending");
  });

  it("db.close({ graceMs }) resolves with a handler that never settles", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    q.enqueue(1);
    const started = deferred();
    q.work(() => {
      started.resolve();
      return new Promise(() => {});
    });
    await started.promise;
    await within(db.close({ graceMs: 50 }), 2000, "close with a grace period");
  });

  it("timeoutMs aborts the handler, retries the job and frees its slot for the next job", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const stuck = q.enqueue("stuck", { priority: 1 });
    const next = q.enqueue("next");
    const seen: string[] = [];
    const nextRan = deferred();
    const errors: string[] = [];
    const worker = q.work(
      (job) => {
        seen.push(job.payload as string);
        if (job.payload === "next") nextRan.resolve();
        return job.payload === "stuck" ? new Promise(() => {}) : undefined;
      },
      {
        timeoutMs: 50,
        backoff: { baseSeconds: 60, maxSeconds: 60 },
        onError: (err, job, outcome) =>
          errors.push(`${job.id}:${(err as { code?: string }).code}:${outcome}`),
      },
    );
    await within(nextRan.promise, 3000, "the next job runs in the freed slot");
    await worker.stop({ graceMs: 100 });
    assert.deepEqual(seen, ["stuck", "next"]);
    assert.deepEqual(errors, [`${stuck}:HONKER_TIMEOUT:retry`]);
    const job = q.getJob(stuck);
    assert.equal(job?.state, "pending");
    assert.equal(job?.attempts, 1);
    assert.notEqual(q.getJob(next)?.state, "pending");
  });
});

describe("stats", () => {
  it("reports how long the oldest due job has waited", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    q.enqueue(1, { runAt: Math.floor(Date.now() / 1000) - 8 });
    const age = q.stats().oldestPendingAgeS;
    assert.ok(age >= 8 && age <= 9, `age ${age}`);
  });

  it("counts a job whose claim lapsed 8 s ago (its worker died) as waiting 8 s", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const id = q.enqueue(1);
    q.claim("dead-worker");
    db.raw
      .prepare("UPDATE _honker_live SET claim_expires_at = unixepoch() - 8 WHERE id = ?")
      .run(id);
    const age = q.stats().oldestPendingAgeS;
    assert.ok(age >= 8 && age <= 9, `age ${age}`);
  });
});

describe("getJob of a finished job", () => {
  it("keeps a completed job's attempts, payload, last progress and result", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const id = q.enqueue({ file: "a.txt" });
    let tries = 0;
    const worker = q.work(
      (job) => {
        job.progress({ percent: 50 });
        if (++tries === 1) throw new RetryAfter(0);
        return { bytes: 42 };
      },
      { onError: () => {} },
    );
    const result = await within(q.waitResult(id), 5000, "the job's result");
    await worker.stop();
    assert.deepEqual(result, { bytes: 42 });
    const job = q.getJob(id);
    assert.equal(job?.state, "completed");
    assert.equal(job?.attempts, 2);
    assert.deepEqual(job?.payload, { file: "a.txt" });
    assert.deepEqual(job?.progress, { percent: 50 });
    assert.deepEqual(job?.result, { bytes: 42 });
    assert.ok((job?.finishedAt ?? 0) > 0);
  });

  it("leaves no progress row behind after ackMany or fail", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const [a, b] = q.enqueueMany([1, 2]);
    q.claim("w", { batchSize: 2 });
    q.setProgress(a as number, "half");
    q.setProgress(b as number, "half");
    q.ackMany([a as number], "w");
    q.fail(b as number, "w", "boom");
    const left = db.raw.prepare("SELECT count(*) FROM _honker_x_progress").pluck().get();
    assert.equal(left, 0);
    assert.equal(q.getJob(a as number)?.progress, "half");
    assert.equal(q.getJob(b as number)?.state, "dead");
  });
});
