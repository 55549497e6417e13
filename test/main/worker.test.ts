import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import Database from "better-sqlite3";
import { isHonkerError } from "../../src/main/errors.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import { backoffSeconds, DoNotRetry, RetryAfter } from "../../src/main/worker.ts";
import { deferred, freshHost, type Host } from "../helpers/host.ts";
import { sleep, waitFor } from "../helpers/wait.ts";

let h: Host<AnySchema>;
beforeEach(() => {
  h = freshHost();
});
afterEach(() => h.close());

describe("queue.work", () => {
  it("runs the handler for every job and acks it", async () => {
    const q = h.db.queue<string, string>("q");
    const seen: string[] = [];
    const worker = q.work(async (job) => {
      seen.push(job.payload as string);
      return `done ${job.payload}`;
    });
    q.enqueueMany(["a", "b", "c"]);
    await waitFor(() => seen.length === 3, { db: h.db, timeoutMs: 5000, what: "three jobs" });
    await worker.stop();
    assert.deepEqual(seen.sort(), ["a", "b", "c"]);
    assert.equal(q.stats().pending + q.stats().processing, 0);
    assert.equal(q.getResult(1), "done a");
  });

  it("never runs more handlers at once than its concurrency", async () => {
    const q = h.db.queue("q");
    let running = 0;
    let peak = 0;
    let finished = 0;
    const worker = q.work(
      async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(5);
        running--;
        finished++;
      },
      { concurrency: 3 },
    );
    q.enqueueMany(Array.from({ length: 20 }, (_, i) => i));
    await waitFor(() => finished === 20, { db: h.db, timeoutMs: 5000, what: "20 jobs" });
    await worker.stop();
    assert.equal(peak, 3);
  });

  it("starts every handler outside any transaction while a backlog drains", async () => {
    // The next batch is claimed in the transaction that acks the last one;
    // its handlers must still start after that commit.
    const q = h.db.queue("q");
    const inTransaction: boolean[] = [];
    const worker = q.work(
      () => {
        inTransaction.push(h.db.raw.inTransaction);
      },
      { concurrency: 4 },
    );
    q.enqueueMany(Array.from({ length: 200 }, (_, i) => i));
    await waitFor(() => q.stats().pending + q.stats().processing === 0, {
      db: h.db,
      timeoutMs: 5000,
      what: "200 jobs",
    });
    await worker.stop();
    assert.equal(inTransaction.length, 200);
    assert.deepEqual(
      inTransaction.filter((x) => x),
      [],
    );
    assert.equal(worker.stats.completed, 200);
  });

  it("never starts a handler for a job whose claim did not commit", async () => {
    // Once a job is in the history, every claim fails at COMMIT (a deferred
    // foreign key its trigger breaks): the claim made with the acks rolls
    // back with them, and its jobs must not run (they are pending again).
    h.db.raw.exec(`
      CREATE TABLE parent (id INTEGER PRIMARY KEY);
      CREATE TABLE child (pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER claims_fail_after_an_ack AFTER UPDATE OF state ON _honker_live
        WHEN NEW.state = 'processing' AND (SELECT count(*) FROM _honker_x_history) > 0
        BEGIN INSERT INTO child VALUES (42); END;`);
    const q = h.db.queue("q");
    q.enqueueMany(Array.from({ length: 20 }, (_, i) => i));
    const stateAtStart: string[] = [];
    const errors: unknown[] = [];
    const read = h.db.raw.prepare(
      "SELECT state || ':' || worker_id FROM _honker_live WHERE id = ?",
    );
    const worker = q.work(
      (job) => {
        stateAtStart.push(read.pluck().get(job.id) as string);
      },
      { concurrency: 4, workerId: "w", onError: (err) => errors.push(err) },
    );
    await waitFor(() => errors.length > 0, { db: h.db, timeoutMs: 5000, what: "a failed commit" });
    await worker.stop({ graceMs: 0 });
    // Each round: a fill claims (the acks rolled back, so no history yet),
    // its handlers run, and the ack+claim commit fails again.
    assert.ok(stateAtStart.length >= 4);
    assert.deepEqual(
      stateAtStart.filter((s) => s !== "processing:w"),
      [],
      "every handler started on a committed claim",
    );
  });

  it("retries a failing job with backoff, then dead-letters it", async () => {
    const q = h.db.queue("q");
    const attempts: number[] = [];
    const worker = q.work(
      (job) => {
        attempts.push(job.attempts);
        throw new RetryAfter(0, "flaky");
      },
      { visibilityTimeout: 5 },
    );
    const id = q.enqueue("x", { maxAttempts: 3 });
    await waitFor(() => q.getJob(id)?.state === "dead", {
      db: h.db,
      timeoutMs: 5000,
      what: "dead letter",
    });
    await worker.stop();
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal(worker.stats.dead, 1);
    assert.match(q.getJob(id)?.error ?? "", /flaky/);
  });

  it("dead-letters at once on DoNotRetry", async () => {
    const q = h.db.queue("q");
    const worker = q.work(() => {
      throw new DoNotRetry("bad input");
    });
    const id = q.enqueue("x", { maxAttempts: 5 });
    await waitFor(() => q.getJob(id)?.state === "dead", {
      db: h.db,
      timeoutMs: 5000,
      what: "dead letter",
    });
    await worker.stop();
    assert.equal(q.getJob(id)?.attempts, 1);
    assert.match(q.getJob(id)?.error ?? "", /DoNotRetry: bad input/);
  });

  it("schedules a plain failure's retry within the backoff window", async () => {
    const q = h.db.queue("q");
    const failed = deferred();
    const worker = q.work(
      () => {
        failed.resolve();
        throw new Error("network down");
      },
      { backoff: { baseSeconds: 10 } },
    );
    const id = q.enqueue("x");
    await failed.promise;
    await waitFor(() => q.getJob(id)?.state === "pending", {
      db: h.db,
      timeoutMs: 5000,
      what: "back to pending",
    });
    await worker.stop();
    const runAt = q.getJob(id)?.runAt ?? 0;
    const now = Math.floor(Date.now() / 1000);
    assert.ok(runAt >= now && runAt <= now + 11, `run_at ${runAt} vs now ${now}`);
  });

  it("backoff is full jitter under an exponential cap", () => {
    assert.equal(
      backoffSeconds(1, { baseSeconds: 2 }, () => 1),
      2,
    );
    assert.equal(
      backoffSeconds(4, { baseSeconds: 2 }, () => 1),
      16,
    );
    assert.equal(
      backoffSeconds(30, { baseSeconds: 2, maxSeconds: 60 }, () => 1),
      60,
    );
    assert.equal(
      backoffSeconds(5, { baseSeconds: 2 }, () => 0),
      0,
    );
  });

  it("fires the handler's signal when the job is cancelled", async () => {
    const q = h.db.queue("q");
    const started = deferred<number>();
    const aborted = deferred<unknown>();
    const worker = q.work(async (job) => {
      job.signal.addEventListener("abort", () => aborted.resolve(job.signal.reason));
      started.resolve(job.id);
      await new Promise((r) => job.signal.addEventListener("abort", r));
    });
    q.enqueue("x");
    const id = await started.promise;
    q.cancel(id);
    const reason = await aborted.promise;
    await worker.stop();
    assert.ok(isHonkerError(reason, "HONKER_CANCELLED"), String(reason));
    assert.equal(worker.stats.cancelled, 1);
  });

  it("reports progress readable through getJob", async () => {
    const q = h.db.queue("q");
    const reported = deferred<number>();
    const release = deferred();
    const worker = q.work(async (job) => {
      job.progress({ percent: 50 });
      reported.resolve(job.id);
      await release.promise;
    });
    q.enqueue("x");
    const id = await reported.promise;
    assert.deepEqual(q.getJob(id)?.progress, { percent: 50 });
    release.resolve();
    await worker.stop();
  });

  it("heartbeats a job that runs longer than its visibility timeout", async () => {
    const q = h.db.queue("q");
    const runs: number[] = [];
    const worker = q.work(
      async (job) => {
        runs.push(job.id);
        await sleep(2500);
      },
      { visibilityTimeout: 1 },
    );
    const thief = q.work(
      async (job) => {
        runs.push(-job.id);
      },
      { workerId: "thief" },
    );
    q.enqueue("slow");
    await waitFor(() => worker.stats.completed === 1, {
      db: h.db,
      timeoutMs: 6000,
      what: "slow job done",
    });
    await Promise.all([worker.stop(), thief.stop()]);
    assert.deepEqual(runs, [1]);
  });

  it("stop() lets running handlers finish and claims nothing more", async () => {
    const q = h.db.queue("q");
    const started = deferred();
    let finished = 0;
    const worker = q.work(async () => {
      started.resolve();
      await sleep(50);
      finished++;
    });
    q.enqueue("a");
    await started.promise;
    q.enqueue("b");
    await worker.stop();
    assert.equal(finished, 1);
    assert.equal(q.stats().pending, 1);
  });

  it("a wake with nothing due does not wait for another connection's write lock", async () => {
    // Retention off: its first prune is a write of its own.
    const own = freshHost({ busyTimeoutMs: 2000, retention: false });
    const other = new Database(own.path);
    try {
      const q = own.db.queue("q");
      let ran = 0;
      const worker = q.work(() => {
        ran++;
      });
      other.exec("BEGIN IMMEDIATE");
      const started = Date.now();
      // A deadline wakes the worker; a claim would block on the lock for 2 s.
      const woken = own.db.watcher.wait({ timeoutMs: 2000 });
      own.db.watcher.setDeadline({}, Date.now());
      assert.equal(await woken, "deadline");
      // The worker handles the wake in a setImmediate it queued before this one.
      await new Promise((r) => setImmediate(r));
      assert.ok(Date.now() - started < 1000, `the event loop stalled ${Date.now() - started} ms`);
      other.exec("ROLLBACK");
      q.enqueue("after");
      await waitFor(() => ran === 1, {
        db: own.db,
        timeoutMs: 5000,
        what: "the job after the lock",
      });
      await worker.stop();
    } finally {
      other.close();
      await own.close();
    }
  });

  it("drains a backlog in turns of the event loop, acking as it goes", async () => {
    const q = h.db.queue("q");
    h.db.transaction(() => {
      for (let i = 0; i < 2000; i++) q.enqueue(i);
    });
    const processing = h.db.raw.prepare(
      "SELECT count(*) FROM _honker_live WHERE queue = 'q' AND state = 'processing'",
    );
    let done = 0;
    let processingAtHalf = -1;
    const worker = q.work(
      () => {
        done++;
        if (done === 1000) processingAtHalf = processing.pluck().get() as number;
      },
      { concurrency: 32 },
    );
    // A timer set now fires while the backlog drains, not after it.
    const doneWhenTimerFired = await new Promise<number>((r) => setTimeout(() => r(done), 0));
    await waitFor(() => done === 2000, { db: h.db, timeoutMs: 10_000, what: "the backlog" });
    await worker.stop();
    assert.ok(doneWhenTimerFired < 2000, `the timer waited for all ${doneWhenTimerFired} jobs`);
    // Finished jobs are acked before the next claim: at most two batches in flight.
    assert.ok(processingAtHalf <= 64, `${processingAtHalf} jobs left processing`);
  });

  it("db.close() stops workers gracefully", async () => {
    const q = h.db.queue("q");
    const started = deferred();
    let finished = false;
    q.work(async () => {
      started.resolve();
      await sleep(30);
      finished = true;
    });
    q.enqueue("a");
    await started.promise;
    await h.db.close();
    assert.equal(finished, true);
  });
});
