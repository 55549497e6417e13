/**
 * Trust, class 1: nothing a worker does on its own ends the process. Each
 * failure reaches onError (or a log line once per cause) and the job is
 * retried or released.
 */
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { isHonkerError } from "../../src/main/errors.ts";
import { RetryAfter } from "../../src/main/worker.ts";
import { deferred, until, withCleanups, within } from "../helpers/host.ts";
import { killAll, startChild } from "../process/children.ts";

const { tempDb } = withCleanups();
after(killAll);

/** Records unhandled rejections and uncaught exceptions for one test. */
function recordProcessFailures(): unknown[] {
  const seen: unknown[] = [];
  const onFailure = (err: unknown) => seen.push(err);
  process.on("unhandledRejection", onFailure);
  process.on("uncaughtException", onFailure);
  afterEach(() => {
    process.off("unhandledRejection", onFailure);
    process.off("uncaughtException", onFailure);
  });
  return seen;
}

describe("a worker whose writes fail", () => {
  const failures = recordProcessFailures();

  it("reports HONKER_BUSY to onError, with no unhandled rejection, when a handler fails while another process holds the write lock", async () => {
    const { db, path } = tempDb({ busyTimeoutMs: 100 });
    const q = db.queue("jobs");
    const id = q.enqueue({ n: 1 });
    const holder = startChild("holder", "hold-write-lock.ts", [path]);
    await holder.event("ready", 10_000);
    const errors: { code: unknown; outcome: string }[] = [];
    const reported = deferred();
    const started = deferred();
    const release = deferred();
    const worker = q.work(
      async () => {
        started.resolve();
        await release.promise;
        throw new Error("handler failed");
      },
      {
        onError: (err, job, outcome) => {
          // Claims and other housekeeping report job id 0; wait for this job's failure.
          if (job.id !== id) return;
          errors.push({ code: (err as { code?: unknown }).code, outcome });
          reported.resolve();
        },
      },
    );
    await started.promise;
    holder.send("lock");
    await holder.event("locked", 5000);
    release.resolve();
    await within(reported.promise, 5000, "onError for the failed job");
    assert.deepEqual(errors[0], { code: "HONKER_BUSY", outcome: "retry" });
    holder.send("unlock");
    await holder.event("unlocked", 5000);
    await worker.stop({ graceMs: 1000 });
    // The claim was never settled: the job is still there, to run again.
    assert.equal(q.getJob(id)?.state, "processing");
    assert.deepEqual(failures, []);
  });
});

describe("RetryAfter and backoff with bad numbers", () => {
  const failures = recordProcessFailures();

  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
    it(`refuses new RetryAfter(${bad}) with HONKER_INVALID_ARGUMENT`, () => {
      assert.throws(
        () => new RetryAfter(bad),
        (err) => isHonkerError(err, "HONKER_INVALID_ARGUMENT") && /seconds/.test(err.message),
      );
    });
  }

  it("retries with the backoff a job whose handler throws RetryAfter(NaN), and the process lives", async () => {
    const { db } = tempDb();
    const q = db.queue("jobs");
    const id = q.enqueue(1);
    const outcomes: string[] = [];
    const done = deferred();
    const worker = q.work(
      () => {
        throw new RetryAfter(Number.NaN);
      },
      {
        onError: (err, _job, outcome) => {
          outcomes.push(`${(err as { code?: string }).code}:${outcome}`);
          done.resolve();
        },
      },
    );
    await done.promise;
    await worker.stop();
    assert.deepEqual(outcomes, ["HONKER_INVALID_ARGUMENT:retry"]);
    const job = q.getJob(id);
    assert.equal(job?.state, "pending");
    assert.equal(job?.attempts, 1);
    assert.deepEqual(failures, []);
  });

  for (const backoff of [
    { baseSeconds: Number.NaN },
    { maxSeconds: -1 },
    { baseSeconds: 10, maxSeconds: 1 },
    { baseSeconds: Number.POSITIVE_INFINITY },
  ]) {
    it(`refuses work() with backoff ${JSON.stringify(backoff, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v))}`, () => {
      const { db } = tempDb();
      assert.throws(
        () => db.queue("jobs").work(() => {}, { backoff }),
        (err) =>
          isHonkerError(err, "HONKER_INVALID_ARGUMENT") && /options\.backoff/.test(err.message),
      );
    });
  }
});

describe("onError itself", () => {
  const failures = recordProcessFailures();

  it("is not allowed to crash the process when it throws", async () => {
    const { db } = tempDb();
    const q = db.queue("jobs");
    q.enqueue(1);
    const called = deferred();
    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (msg: string) => warned.push(msg);
    try {
      const worker = q.work(
        () => {
          throw new Error("boom");
        },
        {
          onError: () => {
            called.resolve();
            throw new Error("onError is broken too");
          },
        },
      );
      await called.promise;
      await worker.stop();
    } finally {
      console.warn = warn;
    }
    assert.deepEqual(failures, []);
    assert.equal(warned.length, 1);
    assert.match(warned[0] as string, /onError itself threw.*onError is broken too/);
  });

  it("defaults to one log line per cause, not one per job", async () => {
    const { db } = tempDb();
    const q = db.queue("jobs");
    q.enqueueMany([1, 2, 3, 4, 5], { maxAttempts: 1 });
    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (msg: string) => warned.push(msg);
    try {
      const worker = q.work(() => {
        throw new Error("same cause every time");
      });
      await until(db, () => q.stats().dead === 5, 5000, "five dead jobs");
      await worker.stop();
    } finally {
      console.warn = warn;
    }
    assert.equal(warned.length, 1);
    assert.match(warned[0] as string, /same cause every time/);
  });
});
