/**
 * A queue paused in the file holds every process's workers: another
 * process pauses it, enqueues, and resumes; the worker here claims nothing
 * in between and everything promptly after. And the other way round: a
 * worker in a child process obeys this process's pause.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { type HonkerDatabase, open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";
import { sleep, waitFor } from "../helpers/wait.ts";
import { killAll, startChild } from "./children.ts";

/** How long "nothing is claimed" is watched for, after a positive control. */
const QUIET_MS = 500;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function tempDb(): { db: HonkerDatabase; path: string } {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const db = open(path);
  cleanups.push(() => db.close());
  return { db, path };
}

test("another process pauses the queue: this worker claims nothing it enqueues; its resume wakes the worker at once", async (t) => {
  const { db, path } = tempDb();
  const q = db.queue("jobs");
  const handled: { id: number; at: number }[] = [];
  const worker = q.work(async (job) => {
    handled.push({ id: job.id, at: Date.now() });
  });
  cleanups.push(() => worker.stop());
  const other = startChild("pauser", "proc-pauser.ts", [path]);
  await other.event("ready", 20_000);

  // Positive control: a job from the other process is handled here.
  other.send("enqueue jobs 1");
  const [first] = (await other.event("enqueued", 5000)).ids as number[];
  await waitFor(() => handled.some((h) => h.id === first), { db, what: "the control job" });

  other.send("pause jobs");
  assert.equal((await other.event("paused", 5000)).changed, true);
  other.send("enqueue jobs 5");
  const held = (await other.event("enqueued", 5000)).ids as number[];
  await sleep(QUIET_MS);
  assert.deepEqual(
    handled.map((h) => h.id),
    [first],
    "nothing claimed while paused",
  );
  assert.equal(q.stats().paused, true);
  assert.equal(q.stats().pending, 5);

  other.send("resume jobs");
  const resumed = await other.event("resumed", 5000);
  assert.equal(resumed.changed, true);
  await waitFor(() => held.every((id) => handled.some((h) => h.id === id)), {
    db,
    what: "the 5 jobs after the resume",
  });
  const last = Math.max(...handled.map((h) => h.at));
  const lag = last - (resumed.at as number);
  t.diagnostic(`the other process's resume -> the 5th job handled here: ${lag} ms`);
  assert.ok(lag < 1000, `the last job ran ${lag} ms after the other process resumed`);
  other.send("stop");
  await other.waitExit(10_000);
});

test("this process pauses the queue: a worker in a child process claims nothing until it resumes", async (t) => {
  const { db, path } = tempDb();
  const q = db.queue("jobs");
  const child = startChild("worker", "proc-worker.ts", [path, "jobs", "child", "30", "finish"]);
  await child.event("ready", 20_000);
  const control = q.enqueue({ n: 0 });
  assert.equal((await child.event("started", 5000)).id, control);

  q.pause();
  const held = q.enqueueMany([{ n: 1 }, { n: 2 }]);
  await sleep(QUIET_MS);
  assert.equal(
    child.lines.filter((l) => l.event === "started").length,
    1,
    "nothing claimed while paused",
  );
  const resumedAt = Date.now();
  q.resume();
  const a = await child.event("started", 5000);
  const b = await child.event("started", 5000);
  assert.deepEqual([a.id, b.id], held);
  t.diagnostic(
    `resume here -> the 2nd job started in the child: ${(b.at as number) - resumedAt} ms`,
  );
  assert.ok(
    (b.at as number) - resumedAt < 1000,
    `ran ${(b.at as number) - resumedAt} ms after resume`,
  );
  child.send("stop");
  await child.waitExit(10_000);
});
