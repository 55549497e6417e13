/**
 * The extension's cached statements stay compiled and keep their plans.
 * SQLite recompiles a statement on every call when a bound value can steer
 * its plan (a bare `LIMIT ?`, some `column = ?` terms); that once cost a
 * full prepare per claim. `honker_x_statement_stats()` exposes the counters.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, freshDbEachTest, json, now, scalar } from "../helpers/db.ts";

interface StatementStats {
  fullscan_steps: number;
  reprepares: number;
  sorts: number;
  vm_steps: number;
}

let db: Db;
freshDbEachTest((c) => {
  db = c.db;
});

const stats = () => json<StatementStats>(db, "honker_x_statement_stats()");

/** Each hot function, called with values that change from call to call. */
const calls: Record<string, (i: number) => void> = {
  enqueue: (i) =>
    scalar(
      db,
      "honker_enqueue(?, ?, NULL, ?, ?, ?, ?)",
      `q${i % 3}`,
      `{"i":${i}}`,
      i % 2 ? null : 0,
      i % 5,
      3 + (i % 4),
      i % 2 ? null : 100 + i,
    ),
  claim: (i) =>
    scalar(db, "honker_claim_batch(?, ?, ?, ?)", `q${i % 3}`, `w${i % 2}`, 1 + (i % 7), 30 + i),
  ack: (i) => scalar(db, "honker_ack(?, ?)", i, `w${i % 2}`),
  ackBatch: (i) => scalar(db, "honker_ack_batch(?, ?)", JSON.stringify([i, i + 1]), `w${i % 2}`),
  retry: (i) => scalar(db, "honker_retry(?, ?, ?, ?)", i, `w${i % 2}`, i % 3, "e"),
  fail: (i) => scalar(db, "honker_fail(?, ?, ?)", i, `w${i % 2}`, "e"),
  heartbeat: (i) => scalar(db, "honker_heartbeat(?, ?, ?)", i, `w${i % 2}`, 10 + i),
  cancel: (i) => scalar(db, "honker_cancel(?)", 100_000 + i),
  getJob: (i) => scalar(db, "honker_get_job(?)", i),
  nextClaimAt: (i) => scalar(db, "honker_queue_next_claim_at(?)", `q${i % 3}`),
  readyAt: (i) => scalar(db, "honker_x_queue_ready_at(?)", `q${i % 3}`),
  queuePaused: (i) => scalar(db, "honker_x_queue_paused(?)", `q${i % 3}`),
  resultSave: (i) => scalar(db, "honker_result_save(?, ?, ?)", i, `"r${i}"`, i % 3),
  resultGet: (i) => scalar(db, "honker_result_get(?)", i),
  publish: (i) =>
    scalar(db, "honker_stream_publish(?, ?, ?)", `t${i % 2}`, i % 2 ? null : `k${i}`, `{"i":${i}}`),
  read: (i) => scalar(db, "honker_stream_read_since(?, ?, ?)", `t${i % 2}`, i, 1 + i),
  saveOffset: (i) => scalar(db, "honker_stream_save_offset(?, ?, ?)", `c${i % 2}`, `t${i % 2}`, i),
  getOffset: (i) => scalar(db, "honker_stream_get_offset(?, ?)", `c${i % 2}`, `t${i % 2}`),
  notify: (i) => scalar(db, "notify(?, ?)", `ch${i % 2}`, `{"i":${i}}`),
  lockAcquire: (i) => scalar(db, "honker_lock_acquire(?, ?, ?)", `l${i % 3}`, `o${i % 2}`, 1 + i),
  lockRenew: (i) => scalar(db, "honker_lock_renew(?, ?, ?)", `l${i % 3}`, `o${i % 2}`, 1 + i),
  lockRelease: (i) => scalar(db, "honker_lock_release(?, ?)", `l${i % 3}`, `o${i % 2}`),
  xEnqueue: (i) =>
    scalar(
      db,
      "honker_x_enqueue(?, ?, NULL, NULL, ?, ?, NULL, ?)",
      `q${i % 3}`,
      `{"i":${i}}`,
      i % 5,
      3 + (i % 4),
      i % 4 ? `k${i % 7}` : null,
    ),
  progressSet: (i) => scalar(db, "honker_x_progress_set(?, ?)", 1 + i, `{"pct":${i}}`),
  xRetry: (i) => scalar(db, "honker_x_retry(?, ?, ?, ?)", 1 + i, `w${i % 2}`, i % 3, "e"),
  xGetJob: (i) => scalar(db, "honker_x_get_job(?)", 1 + i),
  /** A keyed job with progress through every exit path (history, clean-up). */
  lifecycle: (i) => {
    const q = `q${i % 3}`;
    const id = scalar<number>(
      db,
      "honker_x_enqueue(?, ?, NULL, NULL, 0, ?, NULL, ?)",
      q,
      `{"i":${i}}`,
      1 + (i % 2),
      `k${i}`,
    );
    scalar(db, "honker_x_progress_set(?, ?)", id, `{"pct":${i}}`);
    if (i % 7 === 6) {
      scalar(db, "honker_cancel(?, ?)", q, id);
      return;
    }
    const w = `w${i % 2}`;
    const claimed = JSON.parse(
      scalar<string>(db, "honker_claim_batch(?, ?, ?, ?)", q, w, 1 + (i % 3), 30 + i),
    ) as { id: number }[];
    const ids = claimed.map((c) => c.id);
    for (const c of ids) {
      switch (i % 6) {
        case 0:
          scalar(db, "honker_ack(?, ?)", c, w);
          break;
        case 1:
          scalar(db, "honker_ack_batch(?, ?)", JSON.stringify([c, c + 1]), w);
          break;
        case 2:
          scalar(db, "honker_fail(?, ?, ?)", c, w, `e${i}`);
          break;
        case 3:
          scalar(db, "honker_x_retry(?, ?, ?, ?)", c, w, 0, `e${i}`);
          break;
        case 4:
          scalar(db, "honker_retry(?, ?, ?, ?)", c, w, 0, `e${i}`);
          break;
        default:
          // The claim lapses: the next claim dead-letters what is exhausted.
          db.prepare("UPDATE _honker_live SET claim_expires_at = 0 WHERE id = ?").run(c);
          scalar(db, "honker_claim_batch(?, ?, ?, ?)", q, w, 1, 30);
      }
      scalar(db, "honker_x_get_job(?)", c);
    }
  },
  rateLimit: (i) => scalar(db, "honker_rate_limit_try(?, ?, ?)", `r${i % 2}`, 1 + i, 1 + (i % 5)),
  /** Outbox messages through every settle path, keyed (promotion) and not. */
  outbox: (i) => {
    const box = `o${i % 2}`;
    for (let j = 0; j < 3; j++) {
      scalar(db, "honker_x_outbox_add(?, ?, ?, 3)", box, `{"i":${i}}`, j % 2 ? null : `k${i % 3}`);
    }
    const claimed = json<{ id: number }[]>(
      db,
      "honker_x_outbox_claim(?, ?, ?, ?)",
      box,
      `w${i % 2}`,
      1 + (i % 3),
      30 + i,
    );
    const outcomes = ["delivered", "retry", "rejected", "release"];
    for (const [j, c] of claimed.entries()) {
      scalar(
        db,
        "honker_x_outbox_settle(?, ?, ?, ?, ?)",
        c.id,
        `w${i % 2}`,
        outcomes[(i + j) % 4],
        i % 3,
        `e${i}`,
      );
    }
    scalar(db, "honker_x_outbox_ready_at(?)", box);
    scalar(db, "honker_x_outbox_stats(?)", box);
  },
};

describe("cached statements", () => {
  for (const [name, call] of Object.entries(calls)) {
    it(`${name} is compiled once, whatever values are bound`, () => {
      for (let i = 0; i < 25; i++) call(i);
      assert.equal(stats().reprepares, 0);
    });
  }

  it("a claim walks the claim index: no sort and no full scan under a 2,000-job backlog", () => {
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) calls.enqueue?.(i);
    })();
    const before = stats();
    let claimed = 0;
    for (let i = 0; i < 30; i++) {
      claimed += json<unknown[]>(
        db,
        "honker_claim_batch(?, ?, ?, ?)",
        `q${i % 3}`,
        "w",
        1 + (i % 7),
        30,
      ).length;
    }
    const after = stats();
    assert.ok(claimed > 0, "the claims found jobs");
    assert.equal(after.sorts - before.sorts, 0);
    assert.equal(after.fullscan_steps - before.fullscan_steps, 0);
  });

  it("an outbox claim and settle walk their indexes: no sort and no full scan under 2,000 messages", () => {
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) {
        scalar(db, "honker_x_outbox_add('o', '{}', ?, 20)", i % 2 ? `k${i % 50}` : null);
      }
    })();
    const before = stats();
    let settled = 0;
    for (let i = 0; i < 30; i++) {
      const batch = json<{ id: number }[]>(db, "honker_x_outbox_claim('o', 'w', ?, 60)", 1 + i);
      for (const m of batch) {
        settled += scalar<number>(db, "honker_x_outbox_settle(?, 'w', 'delivered', 0, NULL)", m.id);
      }
    }
    const after = stats();
    assert.equal(settled, (30 * 31) / 2);
    assert.equal(after.sorts - before.sorts, 0);
    assert.equal(after.fullscan_steps - before.fullscan_steps, 0);
  });

  it("an outbox's stats count through the indexes, never reading the table's rows", () => {
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) {
        scalar(db, "honker_x_outbox_add('o', '{}', ?, 20)", i % 2 ? `k${i % 5}` : null);
      }
    })();
    json(db, "honker_x_outbox_claim('o', 'w', 10, 60)");
    const before = stats();
    const s = json<{ pending: number; inflight: number }>(db, "honker_x_outbox_stats('o')");
    assert.deepEqual([s.pending, s.inflight], [1990, 10]);
    assert.equal(stats().fullscan_steps - before.fullscan_steps, 0);
  });

  it("an outbox's ready_at with every key's head in flight walks the heads, not the backlog behind them", () => {
    db.transaction(() => {
      for (let i = 0; i < 2000; i++)
        scalar(db, "honker_x_outbox_add('o', '{}', ?, 20)", `k${i % 5}`);
    })();
    const heads = json<unknown[]>(db, "honker_x_outbox_claim('o', 'w', 50, 60)");
    assert.equal(heads.length, 5);
    const before = stats();
    // Nothing claimable now: the answer is when the claims lapse.
    const ready = scalar<number>(db, "honker_x_outbox_ready_at('o')");
    assert.ok(ready > now() + 50 && ready <= now() + 61, `ready_at ${ready}`);
    const steps = stats().vm_steps - before.vm_steps;
    // Five heads and a couple of index probes; the 1,995 waiting rows behind
    // them took about 10,000 steps when the probe walked the due index.
    assert.ok(steps < 500, `ready_at took ${steps} VM steps`);
  });
});
