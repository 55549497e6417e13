/**
 * A worker process SIGKILLed mid-handler: its job comes back only after
 * the claim lapses, another process's worker takes it, and the dead
 * worker's late ack is refused.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";
import { waitFor } from "../helpers/wait.ts";
import { killAll, startChild } from "./children.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

test("a job held by a SIGKILLed worker is re-claimed by another process only after its claim expires, and the dead worker's late ack is refused", async () => {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const db = open(path);
  cleanups.push(() => db.close());
  const queue = db.queue("jobs");
  const id = queue.enqueue({ n: 1 });

  const a = startChild("worker-a", "proc-worker.ts", [path, "jobs", "worker-a", "2", "hang"]);
  const claimed = await a.event("started", 20_000);
  assert.equal(claimed.id, id);
  assert.equal(claimed.attempts, 1);
  assert.equal(claimed.workerId, "worker-a");

  const b = startChild("worker-b", "proc-worker.ts", [path, "jobs", "worker-b", "30", "hold"]);
  await b.event("ready", 20_000);
  assert.equal(
    b.lines.some((l) => l.event === "started"),
    false,
    "worker-b took the job while worker-a's claim was live",
  );

  await a.kill();
  // Worker-a may have heartbeated before it died: its last claim is what counts.
  const held = db.raw
    .prepare("SELECT state, worker_id, claim_expires_at FROM _honker_live WHERE id = ?")
    .get(id) as { state: string; worker_id: string; claim_expires_at: number };
  assert.equal(held.state, "processing");
  assert.equal(held.worker_id, "worker-a");
  assert.ok(held.claim_expires_at >= (claimed.claimExpiresAt as number));

  const reclaimed = await b.event("started", 8000);
  assert.equal(reclaimed.id, id);
  assert.equal(reclaimed.attempts, 2, "the re-claim is the job's second attempt");
  assert.equal(reclaimed.workerId, "worker-b");
  // A claim lapses once now > claim_expires_at (whole seconds).
  const reclaimAt = reclaimed.at as number;
  assert.ok(
    reclaimAt >= (held.claim_expires_at + 1) * 1000,
    `re-claimed at ${reclaimAt}, before the claim expired (claim_expires_at ${held.claim_expires_at})`,
  );
  assert.ok(
    reclaimAt <= (held.claim_expires_at + 1) * 1000 + 1500,
    `re-claimed at ${reclaimAt}, long after the claim expired (claim_expires_at ${held.claim_expires_at})`,
  );

  const ack = db.raw.prepare("SELECT honker_ack(?, ?)").pluck();
  assert.equal(ack.get(id, "worker-a"), 0, "the dead worker's late ack is refused");
  const now = db.raw.prepare("SELECT state, worker_id FROM _honker_live WHERE id = ?").get(id) as {
    state: string;
    worker_id: string;
  };
  assert.deepEqual(now, { state: "processing", worker_id: "worker-b" });

  b.send(`release ${id}`);
  await waitFor(
    () => (db.raw.prepare("SELECT count(*) FROM _honker_live").pluck().get() as number) === 0,
    {
      db: db,
      timeoutMs: 5000,
      what: "worker-b to ack the job",
    },
  );
  assert.equal(ack.get(id, "worker-a"), 0, "a late ack after completion is refused too");
  const info = queue.getJob(id);
  assert.equal(info?.state, "completed");
  assert.deepEqual(info?.result, { by: "worker-b" });
  assert.equal(db.raw.prepare("SELECT count(*) FROM _honker_dead").pluck().get(), 0);

  b.send("stop");
  const stopped = await b.event("stopped", 5000);
  assert.deepEqual(stopped.stats, {
    claimed: 1,
    completed: 1,
    retried: 0,
    dead: 0,
    cancelled: 0,
  });
  await b.waitExit(5000);
});
