/**
 * Pausing: `queue.pause()`/`resume()` stored in the file (every worker of
 * every process respects it), `worker.pause()`/`resume()` for one worker,
 * and `worker.start()` after `stop()`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isHonkerError } from "../../src/main/errors.ts";
import { deferred, withCleanups } from "../helpers/host.ts";
import { sleep, waitFor } from "../helpers/wait.ts";

const { tempDb } = withCleanups();

/** How long "nothing is claimed" is watched for, after a positive control. */
const QUIET_MS = 300;

describe("queue.pause()", () => {
  it("stops every worker's claims (running jobs finish); resume() wakes them at once", async () => {
    const { db } = tempDb();
    const q = db.queue<string>("q");
    const seen: string[] = [];
    const release = deferred();
    const worker = q.work(async (job) => {
      seen.push(job.payload);
      if (job.payload === "long") await release.promise;
    });
    q.enqueue("first");
    await waitFor(() => seen.includes("first"), { db, what: "the positive control" });
    q.enqueue("long");
    await waitFor(() => seen.includes("long"), { db, what: "the long job to start" });

    assert.equal(q.pause(), true);
    assert.equal(q.pause(), false, "paused already");
    assert.equal(q.isPaused(), true);
    q.enqueue("while paused"); // enqueueing goes on
    release.resolve(); // the running job finishes and is acked
    await waitFor(() => q.stats().processing === 0, { db, what: "the long job to complete" });
    await sleep(QUIET_MS);
    assert.deepEqual(seen, ["first", "long"]);
    const stats = q.stats();
    assert.equal(stats.paused, true);
    assert.equal(stats.pending, 1);
    assert.equal(q.readyAt(), 0);

    const resumedAt = Date.now();
    assert.equal(q.resume(), true);
    await waitFor(() => seen.includes("while paused"), { db, what: "the job after resume" });
    assert.ok(Date.now() - resumedAt < 1000, `claimed ${Date.now() - resumedAt} ms after resume`);
    assert.equal(q.resume(), false, "not paused any more");
    assert.equal(q.stats().paused, false);
    await worker.stop();
  });

  it("inside a transaction it takes effect with the commit, and not at all on a rollback", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    assert.throws(() =>
      db.transaction(() => {
        q.pause();
        throw new Error("boom");
      }),
    );
    assert.equal(q.isPaused(), false);
    db.transaction(() => {
      q.enqueue(1);
      q.pause();
    });
    assert.equal(q.isPaused(), true);
    assert.deepEqual(q.claim("me"), [], "a hand-rolled claim finds nothing either");
  });

  it("is refused once the database is closed", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    await db.close();
    for (const call of [() => q.pause(), () => q.resume(), () => q.isPaused()]) {
      assert.throws(call, (e: unknown) => isHonkerError(e, "HONKER_CLOSED"));
    }
  });
});

describe("worker.pause()", () => {
  it("stops this worker's claims only; its running job finishes; resume() claims again", async () => {
    const { db } = tempDb();
    const q = db.queue<string>("q");
    const mine: string[] = [];
    const release = deferred();
    const worker = q.work(
      async (job) => {
        mine.push(job.payload);
        if (job.payload === "long") await release.promise;
      },
      { concurrency: 4 },
    );
    q.enqueue("long");
    await waitFor(() => mine.length === 1, { db, what: "the first job" });
    worker.pause();
    assert.equal(worker.paused, true);
    assert.equal(worker.isRunning, true);
    q.enqueue("a");
    // Another worker of the queue is not paused: it takes the job.
    const others: string[] = [];
    const other = q.work(async (job) => {
      others.push(job.payload);
    });
    await waitFor(() => others.includes("a"), { db, what: "the other worker's job" });
    await other.stop();
    q.enqueue("b");
    release.resolve();
    await waitFor(() => worker.activeJobs.length === 0, { what: "the running job to finish" });
    await sleep(QUIET_MS);
    assert.deepEqual(mine, ["long"]);
    assert.equal(q.stats().pending, 1);
    assert.equal(worker.stats.completed, 1, "the job running at pause() completed");

    worker.resume();
    assert.equal(worker.paused, false);
    await waitFor(() => mine.includes("b"), { db, what: "the job after resume" });
    await worker.stop();
  });
});

describe("worker.start() after stop()", () => {
  it("starts the worker again, with the same id", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const seen: number[] = [];
    const worker = q.work(async (job) => {
      seen.push(job.payload as number);
    });
    q.enqueue(1);
    await waitFor(() => seen.length === 1, { db, what: "the first job" });
    await worker.stop();
    assert.equal(worker.isRunning, false);
    q.enqueue(2);
    await sleep(QUIET_MS);
    assert.deepEqual(seen, [1], "a stopped worker claims nothing");

    worker.start();
    assert.equal(worker.isRunning, true);
    await waitFor(() => seen.length === 2, { db, what: "the job enqueued while stopped" });
    q.enqueue(3);
    await waitFor(() => seen.length === 3, { db, what: "a job enqueued after the restart" });
    await worker.stop();
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(worker.stats.completed, 3);
    assert.equal(q.getJob(3)?.state, "completed");
  });

  it("during a stop that waits for a handler: starts once the handler is done", async () => {
    const { db } = tempDb();
    const q = db.queue<string>("q");
    const seen: string[] = [];
    const release = deferred();
    const worker = q.work(async (job) => {
      seen.push(job.payload);
      if (job.payload === "long") await release.promise;
    });
    q.enqueue("long");
    await waitFor(() => seen.length === 1, { db, what: "the long job" });
    const stopped = worker.stop();
    worker.start(); // the stop is still waiting for "long"
    assert.equal(worker.isRunning, false);
    q.enqueue("next");
    release.resolve();
    await stopped;
    await waitFor(() => seen.includes("next"), { db, what: "the job after the restart" });
    assert.equal(worker.isRunning, true);
    await worker.stop();
  });

  it("a stop() before the deferred restart cancels it", async () => {
    const { db } = tempDb();
    const q = db.queue<string>("q");
    const release = deferred();
    let runs = 0;
    const worker = q.work(async () => {
      runs++;
      await release.promise;
    });
    q.enqueue("long");
    await waitFor(() => runs === 1, { db, what: "the long job" });
    const first = worker.stop();
    worker.start();
    const second = worker.stop();
    assert.equal(second, first, "the same stop");
    release.resolve();
    await second;
    q.enqueue("after");
    await sleep(QUIET_MS);
    assert.equal(runs, 1);
    assert.equal(worker.isRunning, false);
  });

  it("throws HONKER_CLOSED after close() and HONKER_CANCELLED after its signal aborted", async () => {
    const { db } = tempDb();
    const ac = new AbortController();
    const byStop = db.queue("a").work(async () => {});
    const bySignal = db.queue("b").work(async () => {}, { signal: ac.signal });
    ac.abort();
    await bySignal.stop();
    assert.throws(
      () => bySignal.start(),
      (e: unknown) => isHonkerError(e, "HONKER_CANCELLED") && /options\.signal/.test(e.message),
    );
    await db.close();
    assert.throws(
      () => byStop.start(),
      (e: unknown) => isHonkerError(e, "HONKER_CLOSED") && /worker\.start\(\)/.test(e.message),
    );
  });
});
