/**
 * Queue.waitResult through the per-database registry (src/main/result-waiters.ts):
 * outcomes, argument checks, no cost when idle, and one statement per wake
 * however many waits are pending.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { isHonkerError } from "../../src/main/errors.ts";
import { resultWaiters } from "../../src/main/result-waiters.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import { resourceCounts, watcherListeners } from "../helpers/bridge-raw.ts";
import { freshHost, type Host } from "../helpers/host.ts";

let h: Host<AnySchema>;
beforeEach(() => {
  h = freshHost({ retention: false });
});
afterEach(() => h.close());

/** Commits `write` and resolves once the watcher has delivered that commit's wake. */
async function commitAndWake(write: () => void): Promise<void> {
  const woke = h.db.watcher.wait({ timeoutMs: 5000 });
  write();
  await woke;
}

/** True while the promise has not settled (checked after the current turn). */
async function pending(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol("pending");
  const v = await Promise.race([
    p.then(
      () => "settled",
      () => "settled",
    ),
    new Promise((r) => setImmediate(() => r(marker))),
  ]);
  return v === marker;
}

describe("waitResult through the result-waiter registry", () => {
  it("resolves with a result saved later, and at once with one saved before", async () => {
    const q = h.db.queue("jobs");
    const a = q.enqueue({ n: 1 });
    const waiting = q.waitResult(a, { timeoutMs: 5000 });
    assert.equal(await pending(waiting), true);
    q.saveResult(a, { ok: 1 });
    assert.deepEqual(await waiting, { ok: 1 });
    const b = q.enqueue({ n: 2 });
    q.saveResult(b, [2]);
    assert.deepEqual(await q.waitResult(b), [2]);
  });

  it("rejects with HONKER_JOB_DEAD when the job dies, and HONKER_CANCELLED when it is cancelled", async () => {
    const q = h.db.queue("jobs");
    const dies = q.enqueue({ n: 1 }, { maxAttempts: 1 });
    const cancelled = q.enqueue({ n: 2 });
    const dying = q.waitResult(dies, { timeoutMs: 5000 });
    const cancelling = q.waitResult(cancelled, { timeoutMs: 5000 });
    const [job] = q.claim("w", { batchSize: 1 });
    assert.equal(job?.id, dies);
    q.fail(dies, "w", "boom");
    await assert.rejects(
      dying,
      (err) => isHonkerError(err, "HONKER_JOB_DEAD") && /boom/.test(err.message),
    );
    assert.equal(await pending(cancelling), true, "the other job is still pending");
    assert.equal(q.cancel(cancelled), true);
    await assert.rejects(cancelling, (err) => isHonkerError(err, "HONKER_CANCELLED"));
    // Already dead / already cancelled when the wait starts: decided by the first look.
    await assert.rejects(q.waitResult(dies), (err) => isHonkerError(err, "HONKER_JOB_DEAD"));
    await assert.rejects(q.waitResult(cancelled), (err) => isHonkerError(err, "HONKER_CANCELLED"));
  });

  it("keeps waiting for an id not handed out yet (enqueued after the wait starts)", async () => {
    const q = h.db.queue("jobs");
    const first = q.enqueue({ n: 0 });
    const waiting = q.waitResult(first + 1, { timeoutMs: 5000 });
    await commitAndWake(() => h.db.stream("other").publish({ x: 1 }));
    assert.equal(await pending(waiting), true);
    const next = q.enqueue({ n: 1 });
    assert.equal(next, first + 1);
    q.saveResult(next, "done");
    assert.equal(await waiting, "done");
  });

  it("rejects with HONKER_TIMEOUT, with the signal's reason, and refuses bad timeouts", async () => {
    const q = h.db.queue("jobs");
    const id = q.enqueue({ n: 1 });
    await assert.rejects(q.waitResult(id, { timeoutMs: 20 }), (err) =>
      isHonkerError(err, "HONKER_TIMEOUT"),
    );
    const ac = new AbortController();
    const aborted = q.waitResult(id, { signal: ac.signal });
    const reason = new Error("stop");
    ac.abort(reason);
    await assert.rejects(aborted, (err) => err === reason);
    await assert.rejects(
      q.waitResult(id, { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    for (const t of [-1, Number.NaN, Number.POSITIVE_INFINITY, "10", null]) {
      await assert.rejects(
        q.waitResult(id, { timeoutMs: t as number }),
        (err) => isHonkerError(err, "HONKER_INVALID_ARGUMENT") && /timeoutMs/.test(err.message),
        `timeoutMs ${String(t)}`,
      );
    }
    for (const bad of [0, -1, 1.5, "1"]) {
      await assert.rejects(q.waitResult(bad as number), (err) =>
        isHonkerError(err, "HONKER_INVALID_ARGUMENT"),
      );
    }
    // Beyond setTimeout's 2^31-1 ms ceiling (which Node would clamp to 1 ms): still waiting.
    const long = q.waitResult(id, { timeoutMs: 2 ** 31 + 1000 });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await pending(long), true, "a timeout beyond 2^31-1 ms does not fire at once");
    q.saveResult(id, 7);
    assert.equal(await long, 7);
    assert.equal(resultWaiters(h.db).size, 0);
  });

  it("holds one watcher subscription while anyone waits and none when idle", async () => {
    const q = h.db.queue("jobs");
    const base = watcherListeners(h.db);
    const ids = [q.enqueue({ n: 1 }), q.enqueue({ n: 2 }), q.enqueue({ n: 3 })];
    const waits = ids.flatMap((id) => [q.waitResult(id), q.waitResult(id)]);
    assert.equal(watcherListeners(h.db), base + 1, "six waits, one subscription");
    assert.equal(resultWaiters(h.db).size, 6);
    h.db.transaction(() => {
      for (const id of ids) q.saveResult(id, id);
    });
    assert.deepEqual(
      await Promise.all(waits),
      ids.flatMap((id) => [id, id]),
    );
    assert.equal(watcherListeners(h.db), base, "no subscription once nobody waits");
    assert.equal(resultWaiters(h.db).subscribed, false);
  });

  it("a burst of waits costs one first-look statement, one timer and one abort listener", async () => {
    const q = h.db.queue("jobs");
    const reg = resultWaiters(h.db);
    const keep = q.waitResult(q.enqueue({ n: 0 })); // the registry is active from here
    keep.catch(() => {});
    await new Promise((r) => setImmediate(r));
    const timers = () => resourceCounts().Timeout ?? 0;
    const t0 = timers();
    const s0 = reg.stats.statements;
    const ac = new AbortController();
    const ids = Array.from({ length: 100 }, (_, i) => q.enqueue({ i }));
    const late: string[] = [];
    const timed = ids.map((id, i) => {
      const ms = 20 + ((i * 7) % 50);
      const start = Date.now();
      return q.waitResult(id, { timeoutMs: ms, signal: ac.signal }).catch((err) => {
        assert.ok(isHonkerError(err, "HONKER_TIMEOUT"));
        const waited = Date.now() - start;
        if (waited < ms) late.push(`${ms} ms timeout fired after ${waited} ms`);
      });
    });
    const aborted = ids.map((id) => q.waitResult(id, { signal: ac.signal }));
    assert.ok(timers() <= t0 + 1, `${timers() - t0} timers for 100 deadlines`);
    await new Promise((r) => setImmediate(r));
    assert.equal(reg.stats.statements, s0 + 1, "one first look for 200 new waits");
    await Promise.all(timed);
    assert.deepEqual(late, [], "each at its own deadline, none early");
    assert.equal(reg.size, 101);
    const reason = new Error("page gone");
    ac.abort(reason);
    const results = await Promise.allSettled(aborted);
    assert.ok(results.every((r) => r.status === "rejected" && r.reason === reason));
    assert.equal(reg.size, 1);
    q.saveResult(ids[0] as number, 0);
    q.cancel((ids[0] as number) - 1);
    await assert.rejects(keep, (err) => isHonkerError(err, "HONKER_CANCELLED"));
    assert.equal(reg.size, 0);
    assert.ok(timers() <= t0, "no timer left once nobody waits");
  });

  it("ends pending waits with HONKER_CLOSED when the database closes", async () => {
    const q = h.db.queue("jobs");
    const waiting = q.waitResult(q.enqueue({ n: 1 }));
    await h.db.close();
    await assert.rejects(waiting, (err) => isHonkerError(err, "HONKER_CLOSED"));
  });

  it("an unrelated commit costs one statement with 5,000 pending waits, as with one", async () => {
    const q = h.db.queue("idle");
    const reg = resultWaiters(h.db);
    const measure = async (n: number) => {
      const ids: number[] = [];
      h.db.transaction(() => {
        for (let i = 0; i < n; i++) ids.push(q.enqueue({ i }));
      });
      const waits = ids.map((id) => q.waitResult(id, { timeoutMs: 60_000 }));
      for (const w of waits) w.catch(() => {});
      assert.equal(reg.size, n);
      const times: number[] = [];
      const statements: number[] = [];
      for (let round = 0; round < 20; round++) {
        const s0 = reg.stats.statements;
        const w0 = reg.stats.wakes;
        await commitAndWake(() => h.db.stream("unrelated").publish({ round }));
        assert.equal(reg.stats.wakes, w0 + 1, "the registry handled the wake");
        statements.push(reg.stats.statements - s0);
        times.push(reg.stats.lastCheckMs);
      }
      assert.equal(reg.size, n, "an unrelated commit settles nobody");
      h.db.transaction(() => {
        for (const id of ids) q.cancel(id);
      });
      await Promise.allSettled(waits);
      assert.equal(reg.size, 0);
      times.sort((a, b) => a - b);
      return { statements, medianMs: times[times.length >> 1] ?? 0 };
    };
    const one = await measure(1);
    const many = await measure(5000);
    process.stdout.write(
      `wake check: 1 waiter ${one.medianMs.toFixed(3)} ms, 5,000 waiters ${many.medianMs.toFixed(3)} ms (median of 20 commits)\n`,
    );
    assert.deepEqual(one.statements, Array(20).fill(1), "one statement per wake with 1 waiter");
    assert.deepEqual(many.statements, Array(20).fill(1), "one statement per wake with 5,000");
  });
});
