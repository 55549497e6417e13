import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, type FreshDb, freshDb, freshDbEachTest } from "../helpers/db.ts";

let ctx: FreshDb;
let db: Db;
freshDbEachTest((c) => {
  ctx = c;
  db = c.db;
});

/** Row counts of every honker table: a refused call must change none. */
function snapshot(): Record<string, number> {
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_honker%' ESCAPE '\\'",
    )
    .pluck()
    .all() as string[];
  return Object.fromEntries(
    tables.map((t) => [t, db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number]),
  );
}

// [call, expected message pattern]
const cases: [string, RegExp][] = [
  [
    "honker_enqueue(NULL, '1', NULL, NULL, 0, 3, NULL)",
    /honker_enqueue: argument 1 \(queue\) must be text, got NULL$/,
  ],
  [
    "honker_enqueue(5, '1', NULL, NULL, 0, 3, NULL)",
    /honker_enqueue: argument 1 \(queue\) must be text, got an integer/,
  ],
  [
    "honker_enqueue('', '1', NULL, NULL, 0, 3, NULL)",
    /honker_enqueue: argument 1 \(queue\) must not be empty/,
  ],
  [
    "honker_enqueue('q', '{nope', NULL, NULL, 0, 3, NULL)",
    /honker_enqueue: argument 2 \(payload\) is not valid JSON text/,
  ],
  [
    "honker_enqueue('q', NULL, NULL, NULL, 0, 3, NULL)",
    /honker_enqueue: argument 2 \(payload\) must be JSON text, got NULL/,
  ],
  [
    "honker_enqueue('q', x'00', NULL, NULL, 0, 3, NULL)",
    /honker_enqueue: argument 2 \(payload\) must be text, got a blob/,
  ],
  [
    "honker_enqueue('q', '1', 'soon', NULL, 0, 3, NULL)",
    /honker_enqueue: argument 3 \(run_at\) must be an integer, got text/,
  ],
  [
    "honker_enqueue('q', '1', NULL, 1.5, 0, 3, NULL)",
    /honker_enqueue: argument 4 \(delay\) must be a whole number, got 1.5/,
  ],
  [
    "honker_enqueue('q', '1', NULL, NULL, NULL, 3, NULL)",
    /honker_enqueue: argument 5 \(priority\) must be an integer, got NULL/,
  ],
  [
    "honker_enqueue('q', '1', NULL, NULL, 0, 0, NULL)",
    /honker_enqueue: max_attempts must be between 1 and/,
  ],
  [
    "honker_enqueue('q', '1', NULL, NULL, 0, 3, -1)",
    /honker_enqueue: expires must be between 0 and/,
  ],
  [
    "honker_enqueue('q', '1', NULL, 9e18, 0, 3, NULL)",
    /honker_enqueue: argument 4 \(delay\) must be a whole number/,
  ],
  [
    "honker_claim_batch('q', 'w', -1, 30)",
    /honker_claim_batch: n must be between 0 and 10000, got -1/,
  ],
  [
    "honker_claim_batch('q', NULL, 1, 30)",
    /honker_claim_batch: argument 2 \(worker_id\) must be text, got NULL/,
  ],
  ["honker_claim_batch('q', 'w', 1, -5)", /honker_claim_batch: timeout_s must be between 0 and/],
  ["honker_ack(NULL, 'w')", /honker_ack: argument 1 \(job_id\) must be an integer, got NULL/],
  [
    "honker_ack_batch('[1,', 'w')",
    /honker_ack_batch: argument 1 \(ids_json\) must be a JSON array of integers/,
  ],
  [
    "honker_ack_batch('{\"a\":1}', 'w')",
    /honker_ack_batch: argument 1 \(ids_json\) must be a JSON array of integers/,
  ],
  [
    "honker_ack_batch('[1.5]', 'w')",
    /honker_ack_batch: argument 1 \(ids_json\) must hold whole numbers only/,
  ],
  ["honker_retry(1, 'w', -1, 'e')", /honker_retry: delay_s must be between 0 and/],
  [
    "honker_heartbeat(1, 'w', NULL)",
    /honker_heartbeat: argument 3 \(extend_s\) must be an integer, got NULL/,
  ],
  ["notify(NULL, '1')", /notify: argument 1 \(channel\) must be text, got NULL/],
  ["notify('c', 'not json')", /notify: argument 2 \(payload\) is not valid JSON text/],
  [
    "honker_stream_publish('t', 5, '1')",
    /honker_stream_publish: argument 2 \(key\) must be text, got an integer/,
  ],
  [
    "honker_stream_publish('t', NULL, '[1,2')",
    /honker_stream_publish: argument 3 \(payload\) is not valid JSON text/,
  ],
  [
    "honker_stream_read_since('t', -1, 10)",
    /honker_stream_read_since: offset must be between 0 and/,
  ],
  [
    "honker_stream_read_since('t', 0, -1)",
    /honker_stream_read_since: limit must be between 0 and 10000, got -1/,
  ],
  [
    "honker_stream_save_offset('c', 't', -3)",
    /honker_stream_save_offset: offset must be between 0/,
  ],
  [
    "honker_result_save(1, '{', 0)",
    /honker_result_save: argument 2 \(value\) is not valid JSON text/,
  ],
  ["honker_lock_acquire('L', 'a', 0)", /honker_lock_acquire: ttl_s must be between 1 and/],
  [
    "honker_lock_renew('L', NULL, 5)",
    /honker_lock_renew: argument 2 \(owner\) must be text, got NULL/,
  ],
  ["honker_rate_limit_try('r', 0, 60)", /honker_rate_limit_try: limit must be between 1 and/],
  ["honker_rate_limit_try('r', 5, -60)", /honker_rate_limit_try: per_s must be between 1 and/],
  ["honker_rate_limit_sweep(-1)", /honker_rate_limit_sweep: older_than_s must be between 0 and/],
  [
    "honker_prune_notifications(NULL, -1, 10)",
    /honker_prune_notifications: keep_last must be between 0 and/,
  ],
  ["honker_prune_dead(10, -1)", /honker_prune_dead: limit must be between 0 and/],
];

describe("bad arguments raise an error naming the function and argument, and write nothing", () => {
  for (const [call, pattern] of cases) {
    it(call, () => {
      const before = snapshot();
      assert.throws(() => db.prepare(`SELECT ${call}`).get(), pattern);
      assert.deepEqual(snapshot(), before);
    });
  }
});

describe("calls before honker_bootstrap()", () => {
  it("say which table is missing instead of crashing", () => {
    ctx.close();
    ctx = freshDb();
    db = ctx.db;
    db.exec("DROP TABLE _honker_live");
    assert.throws(
      () => db.prepare("SELECT honker_enqueue('q', '1', NULL, NULL, 0, 3, NULL)").get(),
      /honker_enqueue: no such table: _honker_live/,
    );
  });
});
