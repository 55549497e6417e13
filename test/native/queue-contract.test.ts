/**
 * The queue contract our extension owns beyond honker's functions: dedup
 * keys, progress, finished-job history, dead-letter redrive/purge and the
 * merged job view, so SQL-only clients get what the host gets.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { getLoadablePath } from "../../src/extension/index.ts";
import {
  type ClaimedRow,
  type Db,
  type FreshDb,
  freshDbEachTest,
  json,
  now,
  openDb,
  scalar,
} from "../helpers/db.ts";

const require = createRequire(import.meta.url);
let ctx: FreshDb;
let db: Db;
freshDbEachTest((c) => {
  ctx = c;
  db = c.db;
});

type Row = Record<string, unknown>;
type JobView = {
  attempts: number | null;
  claim_expires_at: number | null;
  created_at: number | null;
  error: string | null;
  finished_at: number | null;
  id: number;
  max_attempts: number | null;
  payload: string | null;
  priority: number | null;
  progress: string | null;
  queue: string | null;
  result: string | null;
  run_at: number | null;
  state: string;
  worker_id: string | null;
};

const xEnqueue = (
  queue: string,
  payload: string,
  key: string | null = null,
  opts: { maxAttempts?: number; expires?: number | null; priority?: number } = {},
) =>
  scalar<number>(
    db,
    "honker_x_enqueue(?, ?, NULL, NULL, ?, ?, ?, ?)",
    queue,
    payload,
    opts.priority ?? 0,
    opts.maxAttempts ?? 3,
    opts.expires ?? null,
    key,
  );
const claim = (queue: string, worker = "w", n = 10, timeout = 30) =>
  json<ClaimedRow[]>(db, "honker_claim_batch(?, ?, ?, ?)", queue, worker, n, timeout);
const progressSet = (id: unknown, progress: unknown) =>
  scalar<number>(db, "honker_x_progress_set(?, ?)", id, progress);
const getJob = (id: number) => {
  const text = scalar<string | null>(db, "honker_x_get_job(?)", id);
  return text === null ? null : (JSON.parse(text) as JobView);
};
const rows = (table: string, order = "1") =>
  db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all() as Row[];
const count = (table: string) => scalar<number>(db, `(SELECT count(*) FROM ${table})`);
/** Every row our functions may write, for "nothing was written" checks. */
const snapshot = () => ({
  live: rows("_honker_live", "id"),
  dead: rows("_honker_dead", "id"),
  history: rows("_honker_x_history", "id"),
  progress: rows("_honker_x_progress", "job_id"),
  dedup: rows("_honker_x_dedup", "job_id"),
});
const refuses = (expr: string, params: unknown[], message: RegExp) => {
  const before = snapshot();
  assert.throws(() => scalar(db, expr, ...params), message);
  assert.deepEqual(snapshot(), before, `${expr} wrote nothing`);
};
/** A history row without its clock-dependent columns, which are checked apart. */
const historyOf = (id: number) => {
  const row = db.prepare("SELECT * FROM _honker_x_history WHERE id = ?").get(id) as Row | undefined;
  if (!row) return undefined;
  const t = now();
  const finished = row.finished_at as number;
  assert.ok(finished >= t - 2 && finished <= t, `finished_at ${finished} is now`);
  const { finished_at: _f, created_at: _c, run_at: _r, ...rest } = row;
  return rest;
};

/** A job enqueued with a key and given progress, then claimed by `w`. */
function claimedWithSideRows(queue = "q", maxAttempts = 3): number {
  const id = xEnqueue(queue, '{"n":1}', "k1", { maxAttempts });
  assert.equal(progressSet(id, '{"pct":10}'), 1);
  assert.equal(claim(queue)[0]?.id, id);
  assert.equal(progressSet(id, '{"pct":50}'), 1);
  return id;
}
const sideRowsGone = (id: number) => {
  assert.equal(scalar(db, "(SELECT count(*) FROM _honker_x_progress WHERE job_id = ?)", id), 0);
  assert.equal(scalar(db, "(SELECT count(*) FROM _honker_x_dedup WHERE job_id = ?)", id), 0);
};

describe("honker_x_enqueue", () => {
  it("without a key is honker_enqueue: a new job each call, no dedup row", () => {
    assert.equal(xEnqueue("q", '"a"'), 1);
    assert.equal(xEnqueue("q", '"a"'), 2);
    assert.equal(count("_honker_live"), 2);
    assert.equal(count("_honker_x_dedup"), 0);
    const live = rows("_honker_live", "id")[0];
    assert.equal(live?.payload, '"a"');
    assert.equal(live?.state, "pending");
  });

  it("with a key returns the live job of that key and inserts nothing", () => {
    const id = xEnqueue("q", '{"v":1}', "user-7");
    assert.equal(id, 1);
    const before = snapshot();
    assert.equal(xEnqueue("q", '{"v":2}', "user-7"), 1);
    assert.deepEqual(snapshot(), before);
    assert.deepEqual(rows("_honker_x_dedup", "job_id"), [
      { queue: "q", key: "user-7", job_id: 1, created_at: before.dedup[0]?.created_at },
    ]);
    // The same key on another queue, or another key, is another job.
    assert.equal(xEnqueue("other", '{"v":3}', "user-7"), 2);
    assert.equal(xEnqueue("q", '{"v":4}', "user-8"), 3);
    assert.equal(count("_honker_live"), 3);
  });

  it("a running job still holds its key; once acked the key enqueues anew", () => {
    const id = xEnqueue("q", "1", "k");
    claim("q");
    assert.equal(xEnqueue("q", "2", "k"), id);
    assert.equal(scalar(db, "honker_ack(?, 'w')", id), 1);
    assert.equal(count("_honker_x_dedup"), 0);
    const again = xEnqueue("q", "3", "k");
    assert.equal(again, id + 1);
    assert.deepEqual(
      rows("_honker_x_dedup", "job_id").map((r) => [r.key, r.job_id]),
      [["k", again]],
    );
  });

  it("a key whose job left live through honker's own SQL (no clean-up) enqueues anew", () => {
    const id = xEnqueue("q", "1", "k");
    db.prepare("DELETE FROM _honker_live WHERE id = ?").run(id); // what honker's bindings do
    assert.equal(xEnqueue("q", "2", "k"), id + 1);
    assert.deepEqual(
      rows("_honker_x_dedup", "job_id").map((r) => r.job_id),
      [id + 1],
    );
  });

  it("makes one job per key when four processes enqueue the same keys at once", {
    timeout: 60_000,
  }, async () => {
    const script = `
      const Database = require(${JSON.stringify(require.resolve("better-sqlite3"))});
      const db = new Database(process.argv[1]);
      db.pragma("busy_timeout = 5000");
      db.loadExtension(process.argv[2]);
      const enqueue = db
        .prepare("SELECT honker_x_enqueue('race', '1', NULL, NULL, 0, 3, NULL, ?)")
        .pluck();
      const ids = {};
      for (let i = 0; i < 400; i++) {
        const key = "k" + ((i + Number(process.argv[3]) * 5) % 20);
        for (;;) {
          try {
            const id = enqueue.get(key);
            (ids[key] ??= new Set()).add(id);
            break;
          } catch (e) {
            if (e.code !== "SQLITE_BUSY" && e.code !== "SQLITE_BUSY_SNAPSHOT") throw e;
          }
        }
      }
      db.close();
      process.stdout.write(JSON.stringify(Object.fromEntries(
        Object.entries(ids).map(([k, v]) => [k, [...v]]))));`;
    const runs = [0, 1, 2, 3].map(
      (n) =>
        new Promise<Record<string, number[]>>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            ["-e", script, ctx.path, getLoadablePath(), String(n)],
            { stdio: ["ignore", "pipe", "inherit"] },
          );
          let out = "";
          child.stdout.setEncoding("utf8").on("data", (d: string) => {
            out += d;
          });
          child.on("exit", (code) =>
            code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}`)),
          );
        }),
    );
    const reports = await Promise.all(runs);
    assert.equal(count("_honker_live"), 20);
    const byKey = new Map<string, Set<number>>();
    for (const r of reports) {
      for (const [k, ids] of Object.entries(r)) {
        for (const id of ids) byKey.set(k, (byKey.get(k) ?? new Set()).add(id));
      }
    }
    assert.equal(byKey.size, 20);
    for (const [k, ids] of byKey) assert.equal(ids.size, 1, `key ${k} got ids ${[...ids]}`);
  });

  it("refuses a bad key or bad argument, naming it, and writes nothing", () => {
    xEnqueue("q", "1", "k");
    const call = "honker_x_enqueue(?, ?, NULL, NULL, 0, 3, NULL, ?)";
    refuses(call, ["q", "1", ""], /honker_x_enqueue: argument 8 \(key\) must not be empty$/);
    refuses(
      "honker_x_enqueue('q', '1', NULL, NULL, 0, 3, NULL, 5)",
      [],
      /honker_x_enqueue: argument 8 \(key\) must be text, got an integer$/,
    );
    refuses(
      call,
      ["q", "{bad", "k2"],
      /honker_x_enqueue: argument 2 \(payload\) is not valid JSON text$/,
    );
    refuses(
      call,
      [null, "1", "k2"],
      /honker_x_enqueue: argument 1 \(queue\) must be text, got NULL$/,
    );
    refuses(
      "honker_x_enqueue('q', '1', NULL, NULL, 0, 0, NULL, 'k2')",
      [],
      /honker_x_enqueue: max_attempts must be between 1 and 1000000, got 0$/,
    );
  });
});

describe("honker_x_progress_set", () => {
  it("stores progress for a pending or running job and replaces it", () => {
    const id = xEnqueue("q", "1");
    assert.equal(progressSet(id, '{"step":1}'), 1);
    claim("q");
    assert.equal(progressSet(id, '"half"'), 1);
    const row = rows("_honker_x_progress")[0];
    assert.equal(row?.job_id, id);
    assert.equal(row?.progress, '"half"');
    assert.equal(count("_honker_x_progress"), 1);
  });

  it("returns 0 and writes nothing for an unknown, dead or finished job", () => {
    assert.equal(progressSet(42, "1"), 0);
    const id = xEnqueue("q", "1");
    claim("q");
    scalar(db, "honker_fail(?, 'w', 'boom')", id);
    assert.equal(progressSet(id, "1"), 0);
    const done = xEnqueue("q", "2");
    claim("q");
    scalar(db, "honker_ack(?, 'w')", done);
    assert.equal(progressSet(done, "1"), 0);
    assert.equal(count("_honker_x_progress"), 0);
  });

  it("refuses a job id that is not a positive integer, and bad JSON", () => {
    const id = xEnqueue("q", "1");
    const call = "honker_x_progress_set(?, ?)";
    refuses(
      call,
      [null, "1"],
      /honker_x_progress_set: argument 1 \(job_id\) must be an integer, got NULL$/,
    );
    refuses(
      call,
      [0, "1"],
      /honker_x_progress_set: argument 1 \(job_id\) must be a positive integer, got 0$/,
    );
    refuses(
      call,
      [-3, "1"],
      /honker_x_progress_set: argument 1 \(job_id\) must be a positive integer, got -3$/,
    );
    refuses(
      call,
      [1.5, "1"],
      /honker_x_progress_set: argument 1 \(job_id\) must be a whole number, got 1.5$/,
    );
    refuses(
      call,
      ["1", "1"],
      /honker_x_progress_set: argument 1 \(job_id\) must be an integer, got text$/,
    );
    refuses(
      "honker_x_progress_set(1, 0.0/0.0)",
      [],
      /honker_x_progress_set: argument 2 \(progress_json\) must be JSON text, got NULL$/,
    );
    refuses(
      "honker_x_progress_set(CAST('NaN' AS REAL), '1')",
      [],
      /honker_x_progress_set: argument 1 \(job_id\)/,
    );
    refuses(
      call,
      [id, "{nope"],
      /honker_x_progress_set: argument 2 \(progress_json\) is not valid JSON text$/,
    );
    refuses(
      call,
      [id, null],
      /honker_x_progress_set: argument 2 \(progress_json\) must be JSON text, got NULL$/,
    );
  });
});

describe("leaving _honker_live: history, and no progress or dedup row left behind", () => {
  const base = { queue: "q", payload: '{"n":1}', priority: 0 };

  it("honker_ack: a 'completed' row with the last progress", () => {
    const id = claimedWithSideRows();
    assert.equal(scalar(db, "honker_ack(?, 'w')", id), 1);
    sideRowsGone(id);
    assert.deepEqual(historyOf(id), {
      ...base,
      id,
      state: "completed",
      attempts: 1,
      max_attempts: 3,
      progress: '{"pct":50}',
      error: null,
    });
  });

  it("honker_ack by another worker writes nothing", () => {
    const id = claimedWithSideRows();
    const before = snapshot();
    assert.equal(scalar(db, "honker_ack(?, 'intruder')", id), 0);
    assert.deepEqual(snapshot(), before);
  });

  it("honker_ack_batch: only the jobs still ours", () => {
    const a = xEnqueue("q", "1", "ka");
    const b = xEnqueue("q", "2", "kb");
    const c = xEnqueue("q", "3", "kc");
    claim("q", "w", 2);
    claim("q", "other", 1);
    progressSet(a, "10");
    progressSet(c, "30");
    assert.equal(scalar(db, "honker_ack_batch(?, 'w')", JSON.stringify([a, b, c])), 2);
    sideRowsGone(a);
    sideRowsGone(b);
    assert.deepEqual(
      rows("_honker_x_history", "id").map((r) => [r.id, r.state, r.progress]),
      [
        [a, "completed", "10"],
        [b, "completed", null],
      ],
    );
    // c is another worker's: still live with its progress and key.
    assert.deepEqual(
      rows("_honker_x_progress").map((r) => r.job_id),
      [c],
    );
    assert.deepEqual(
      rows("_honker_x_dedup", "job_id").map((r) => r.job_id),
      [c],
    );
  });

  it("honker_fail: a 'dead' row with the error, next to the _honker_dead row", () => {
    const id = claimedWithSideRows();
    assert.equal(scalar(db, "honker_fail(?, 'w', 'boom')", id), 1);
    sideRowsGone(id);
    assert.equal(rows("_honker_dead")[0]?.last_error, "boom");
    assert.deepEqual(historyOf(id), {
      ...base,
      id,
      state: "dead",
      attempts: 1,
      max_attempts: 3,
      progress: '{"pct":50}',
      error: "boom",
    });
  });

  it("honker_retry on the last attempt: dead with the error (and still returns 1)", () => {
    const id = claimedWithSideRows("q", 1);
    assert.equal(scalar(db, "honker_retry(?, 'w', 0, 'last')", id), 1);
    sideRowsGone(id);
    assert.equal(count("_honker_live"), 0);
    assert.deepEqual(historyOf(id), {
      ...base,
      id,
      state: "dead",
      attempts: 1,
      max_attempts: 1,
      progress: '{"pct":50}',
      error: "last",
    });
  });

  it("a retry back to pending keeps the job's progress and key", () => {
    const id = claimedWithSideRows();
    assert.equal(scalar(db, "honker_retry(?, 'w', 0, 'again')", id), 1);
    assert.equal(count("_honker_x_progress"), 1);
    assert.equal(count("_honker_x_dedup"), 1);
    assert.equal(count("_honker_x_history"), 0);
  });

  for (const [label, expr] of [
    ["honker_cancel(id)", "honker_cancel(?)"],
    ["honker_cancel(queue, id)", "honker_cancel('q', ?)"],
  ] as const) {
    it(`${label}: a 'cancelled' row, pending or running`, () => {
      const running = claimedWithSideRows();
      const pending = xEnqueue("q", '"p"', "k2");
      progressSet(pending, "1");
      assert.equal(scalar(db, expr, running), 1);
      assert.equal(scalar(db, expr, pending), 1);
      sideRowsGone(running);
      sideRowsGone(pending);
      assert.deepEqual(historyOf(running), {
        ...base,
        id: running,
        state: "cancelled",
        attempts: 1,
        max_attempts: 3,
        progress: '{"pct":50}',
        error: null,
      });
      assert.deepEqual(historyOf(pending), {
        ...base,
        payload: '"p"',
        id: pending,
        state: "cancelled",
        attempts: 0,
        max_attempts: 3,
        progress: "1",
        error: null,
      });
    });
  }

  it("honker_cancel of another queue's job writes nothing", () => {
    const id = claimedWithSideRows();
    const before = snapshot();
    assert.equal(scalar(db, "honker_cancel('other', ?)", id), 0);
    assert.deepEqual(snapshot(), before);
  });

  it("honker_sweep_expired: dead with 'expired'", () => {
    const id = xEnqueue("q", '{"n":1}', "k1", { expires: 0 });
    progressSet(id, '"p"');
    const keep = xEnqueue("q", '"keep"', "k2");
    progressSet(keep, '"k"');
    // expires_at = now: expired once the clock reaches it.
    db.prepare("UPDATE _honker_live SET expires_at = expires_at - 5 WHERE id = ?").run(id);
    assert.equal(scalar(db, "honker_sweep_expired('q')"), 1);
    sideRowsGone(id);
    assert.equal(rows("_honker_dead")[0]?.last_error, "expired");
    assert.deepEqual(historyOf(id), {
      ...base,
      id,
      state: "dead",
      attempts: 0,
      max_attempts: 3,
      progress: '"p"',
      error: "expired",
    });
    assert.equal(count("_honker_x_progress"), 1);
    assert.equal(count("_honker_x_dedup"), 1);
  });

  it("honker_claim_batch dead-letters exhausted jobs with 'max attempts exceeded'", () => {
    const id = claimedWithSideRows("q", 1);
    // The claim lapses; the next claim finds it exhausted.
    db.prepare("UPDATE _honker_live SET claim_expires_at = 0 WHERE id = ?").run(id);
    assert.deepEqual(claim("q"), []);
    sideRowsGone(id);
    assert.deepEqual(historyOf(id), {
      ...base,
      id,
      state: "dead",
      attempts: 1,
      max_attempts: 1,
      progress: '{"pct":50}',
      error: "max attempts exceeded",
    });
  });
});

describe("honker_x_retry", () => {
  it("returns 1 when requeued, 2 when moved to dead, 0 when the claim is not ours", () => {
    const a = xEnqueue("q", "1", null, { maxAttempts: 2 });
    claim("q");
    const before = snapshot();
    assert.equal(scalar(db, "honker_x_retry(?, 'intruder', 0, 'e')", a), 0);
    assert.deepEqual(snapshot(), before);
    assert.equal(scalar(db, "honker_x_retry(?, 'w', 0, 'first')", a), 1);
    assert.equal(rows("_honker_live")[0]?.state, "pending");
    claim("q");
    assert.equal(scalar(db, "honker_x_retry(?, 'w', 0, 'second')", a), 2);
    assert.equal(count("_honker_live"), 0);
    assert.deepEqual(
      rows("_honker_dead").map((r) => [r.id, r.attempts, r.last_error]),
      [[a, 2, "second"]],
    );
    assert.equal(historyOf(a)?.state, "dead");
    // An expired claim is not ours either.
    const b = xEnqueue("q", "2");
    claim("q");
    db.prepare("UPDATE _honker_live SET claim_expires_at = 0 WHERE id = ?").run(b);
    assert.equal(scalar(db, "honker_x_retry(?, 'w', 0, 'late')", b), 0);
  });

  it("refuses bad arguments with its own name", () => {
    refuses(
      "honker_x_retry(1, 'w', -1, NULL)",
      [],
      /honker_x_retry: delay_s must be between 0 and 315360000, got -1$/,
    );
    refuses(
      "honker_x_retry(1, NULL, 0, NULL)",
      [],
      /honker_x_retry: argument 2 \(worker_id\) must be text, got NULL$/,
    );
  });
});

describe("honker_x_dead_redrive / honker_x_dead_purge", () => {
  /** Dead jobs 1..n in queue q (and one in queue other). */
  function deadJobs(n: number): number[] {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(xEnqueue("q", `{"i":${i}}`, null, { priority: i }));
    const other = xEnqueue("other", '"o"');
    for (const c of [...claim("q", "w", 100), ...claim("other")]) {
      scalar(db, "honker_fail(?, 'w', 'boom')", c.id);
    }
    assert.equal(count("_honker_dead"), n + 1);
    return [...ids, other];
  }

  it("redrives the given ids as pending now, attempts 0, same id/payload/priority", () => {
    const [a, b, c, other] = deadJobs(3) as [number, number, number, number];
    const t = now();
    assert.equal(
      scalar(db, "honker_x_dead_redrive('q', ?, 100)", JSON.stringify([c, a, other, 999])),
      2,
    );
    const live = rows("_honker_live", "id");
    assert.deepEqual(
      live.map((r) => [
        r.id,
        r.queue,
        r.payload,
        r.state,
        r.priority,
        r.attempts,
        r.max_attempts,
        r.worker_id,
      ]),
      [
        [a, "q", '{"i":0}', "pending", 0, 0, 3, null],
        [c, "q", '{"i":2}', "pending", 2, 0, 3, null],
      ],
    );
    for (const r of live) assert.ok((r.run_at as number) >= t - 1 && (r.run_at as number) <= t + 1);
    assert.deepEqual(
      rows("_honker_dead", "id").map((r) => r.id),
      [b, other],
    );
    // Claimable again, from attempt 1.
    assert.deepEqual(
      claim("q")
        .map((r) => [r.id, r.attempts])
        .sort((x, y) => (y[0] ?? 0) - (x[0] ?? 0)),
      [
        [c, 1],
        [a, 1],
      ],
    );
  });

  it("with NULL ids takes the queue's oldest dead jobs, up to limit", () => {
    const [a, b, c] = deadJobs(3) as [number, number, number];
    assert.equal(scalar(db, "honker_x_dead_redrive('q', NULL, 2)"), 2);
    assert.deepEqual(
      rows("_honker_live", "id").map((r) => r.id),
      [a, b],
    );
    assert.equal(scalar(db, "honker_x_dead_redrive('q', NULL, 10)"), 1);
    assert.deepEqual(
      rows("_honker_live", "id").map((r) => r.id),
      [a, b, c],
    );
    assert.equal(scalar(db, "honker_x_dead_redrive('q', NULL, 10)"), 0);
    assert.deepEqual(
      rows("_honker_dead").map((r) => r.queue),
      ["other"],
    );
  });

  it("purges the given ids of the queue, or the oldest up to limit", () => {
    const [a, b, c, other] = deadJobs(3) as [number, number, number, number];
    assert.equal(scalar(db, "honker_x_dead_purge('q', ?, 10)", JSON.stringify([b, other])), 1);
    assert.deepEqual(
      rows("_honker_dead", "id").map((r) => r.id),
      [a, c, other],
    );
    assert.equal(scalar(db, "honker_x_dead_purge('q', NULL, 1)"), 1);
    assert.deepEqual(
      rows("_honker_dead", "id").map((r) => r.id),
      [c, other],
    );
    assert.equal(scalar(db, "honker_x_dead_purge('q', '[]', 10)"), 0);
    assert.equal(count("_honker_live"), 0);
  });

  it("refuses bad arguments and writes nothing", () => {
    deadJobs(2);
    for (const name of ["honker_x_dead_redrive", "honker_x_dead_purge"]) {
      refuses(
        `${name}('q', NULL, 10001)`,
        [],
        new RegExp(`${name}: limit must be between 0 and 10000, got 10001$`),
      );
      refuses(
        `${name}('q', NULL, -1)`,
        [],
        new RegExp(`${name}: limit must be between 0 and 10000, got -1$`),
      );
      refuses(
        `${name}('q', NULL, NULL)`,
        [],
        new RegExp(`${name}: argument 3 \\(limit\\) must be an integer, got NULL$`),
      );
      refuses(`${name}('q', '[1,', 10)`, [], new RegExp(`${name}: argument 2 \\(ids_json\\) `));
      refuses(`${name}('q', '{"a":1}', 10)`, [], new RegExp(`${name}: argument 2 \\(ids_json\\) `));
      refuses(
        `${name}(NULL, NULL, 10)`,
        [],
        new RegExp(`${name}: argument 1 \\(queue\\) must be text, got NULL$`),
      );
      refuses(
        `${name}('', NULL, 10)`,
        [],
        new RegExp(`${name}: argument 1 \\(queue\\) must not be empty$`),
      );
    }
  });
});

describe("honker_x_get_job", () => {
  const view = (over: Partial<JobView>): JobView => ({
    attempts: null,
    claim_expires_at: null,
    created_at: null,
    error: null,
    finished_at: null,
    id: 0,
    max_attempts: null,
    payload: null,
    priority: null,
    progress: null,
    queue: null,
    result: null,
    run_at: null,
    state: "completed",
    worker_id: null,
    ...over,
  });
  /** The view with clock-dependent fields checked against the rows and dropped. */
  const stable = (v: JobView | null) => {
    assert.ok(v);
    const { created_at, run_at, finished_at, claim_expires_at, ...rest } = v;
    const t = now();
    for (const x of [created_at, run_at, finished_at]) {
      if (x !== null) assert.ok(x >= t - 2 && x <= t + 1, `timestamp ${x}`);
    }
    return {
      ...rest,
      has_claim_expiry: claim_expires_at !== null,
      has_finished: finished_at !== null,
    };
  };

  it("shows a pending job with its progress, keys in alphabetical order", () => {
    const id = xEnqueue("q", '{"a":1}', null, { priority: 4 });
    progressSet(id, '{"pct":1}');
    const text = scalar<string>(db, "honker_x_get_job(?)", id);
    assert.deepEqual(Object.keys(JSON.parse(text) as object), [
      "attempts",
      "claim_expires_at",
      "created_at",
      "error",
      "finished_at",
      "id",
      "max_attempts",
      "payload",
      "priority",
      "progress",
      "queue",
      "result",
      "run_at",
      "state",
      "worker_id",
    ]);
    assert.deepEqual(stable(getJob(id)), {
      attempts: 0,
      error: null,
      id,
      max_attempts: 3,
      payload: '{"a":1}',
      priority: 4,
      progress: '{"pct":1}',
      queue: "q",
      result: null,
      state: "pending",
      worker_id: null,
      has_claim_expiry: false,
      has_finished: false,
    });
  });

  it("shows a running job with its worker and claim expiry", () => {
    const id = xEnqueue("q", "1");
    const c = claim("q", "w1", 1, 60)[0];
    const v = getJob(id);
    assert.equal(v?.state, "processing");
    assert.equal(v?.worker_id, "w1");
    assert.equal(v?.attempts, 1);
    assert.equal(v?.claim_expires_at, c?.claim_expires_at);
  });

  it("shows a completed job with its progress and result", () => {
    const id = claimedWithSideRows();
    scalar(db, "honker_result_save(?, ?, 0)", id, '{"ok":true}');
    scalar(db, "honker_ack(?, 'w')", id);
    assert.deepEqual(stable(getJob(id)), {
      attempts: 1,
      error: null,
      id,
      max_attempts: 3,
      payload: '{"n":1}',
      priority: 0,
      progress: '{"pct":50}',
      queue: "q",
      result: '{"ok":true}',
      state: "completed",
      worker_id: null,
      has_claim_expiry: false,
      has_finished: true,
    });
  });

  it("shows a cancelled job", () => {
    const id = xEnqueue("q", "1");
    scalar(db, "honker_cancel(?)", id);
    assert.equal(getJob(id)?.state, "cancelled");
    assert.equal(getJob(id)?.payload, "1");
  });

  it("shows a dead job from _honker_dead (dead wins over history), progress kept", () => {
    const id = claimedWithSideRows();
    scalar(db, "honker_fail(?, 'w', 'boom')", id);
    // Make the history row disagree, to see which one is read.
    db.prepare("UPDATE _honker_x_history SET state = 'completed', error = NULL WHERE id = ?").run(
      id,
    );
    assert.deepEqual(stable(getJob(id)), {
      attempts: 1,
      error: "boom",
      id,
      max_attempts: 3,
      payload: '{"n":1}',
      priority: 0,
      progress: '{"pct":50}',
      queue: "q",
      result: null,
      state: "dead",
      worker_id: null,
      has_claim_expiry: false,
      has_finished: true,
    });
    // Purged from _honker_dead: the history row speaks.
    scalar(db, "honker_x_dead_purge('q', NULL, 10)");
    assert.equal(getJob(id)?.state, "completed");
  });

  it("with only a result left (history pruned): completed with nulls; expired results hidden", () => {
    scalar(db, "honker_result_save(77, '\"r\"', 0)");
    assert.deepEqual(getJob(77), view({ id: 77, result: '"r"' }));
    db.prepare("UPDATE _honker_results SET expires_at = 1 WHERE job_id = 77").run();
    assert.equal(getJob(77), null);
  });

  it("returns NULL for an unknown job and refuses a bad id", () => {
    assert.equal(getJob(12345), null);
    assert.throws(
      () => scalar(db, "honker_x_get_job(0)"),
      /honker_x_get_job: argument 1 \(job_id\) must be a positive integer, got 0$/,
    );
    assert.throws(
      () => scalar(db, "honker_x_get_job(NULL)"),
      /honker_x_get_job: argument 1 \(job_id\) must be an integer, got NULL$/,
    );
    assert.throws(
      () => scalar(db, "honker_x_get_job('1')"),
      /honker_x_get_job: argument 1 \(job_id\) must be an integer, got text$/,
    );
  });
});

describe("honker_x_history_prune", () => {
  /** n finished jobs with finished_at = base + i (ids 1..n). */
  function history(n: number, base: number) {
    const insert = db.prepare(
      "INSERT INTO _honker_x_history (id, queue, state, payload, finished_at) VALUES (?, 'q', 'completed', '1', ?)",
    );
    for (let i = 1; i <= n; i++) insert.run(i, base + i);
  }
  const ids = () => rows("_honker_x_history", "id").map((r) => r.id);

  it("deletes rows older than max_age_s, at most limit per call, oldest first", () => {
    const t = now();
    history(5, t - 1000); // finished t-999 .. t-995
    db.prepare("UPDATE _honker_x_history SET finished_at = ? WHERE id = 5").run(t);
    assert.equal(scalar(db, "honker_x_history_prune(100, NULL, 2)"), 2);
    assert.deepEqual(ids(), [3, 4, 5]);
    assert.equal(scalar(db, "honker_x_history_prune(100, NULL, 10)"), 2);
    assert.deepEqual(ids(), [5]);
    assert.equal(scalar(db, "honker_x_history_prune(100, NULL, 10)"), 0);
  });

  it("keeps the newest max_count rows (ties broken by id)", () => {
    const t = now();
    history(6, t);
    db.prepare("UPDATE _honker_x_history SET finished_at = ? WHERE id IN (5, 6)").run(t);
    // Oldest first by (finished_at, id): 5, 6 (both t), then 1 (t+1) ... 4 (t+4).
    assert.equal(scalar(db, "honker_x_history_prune(NULL, 3, 1)"), 1);
    assert.deepEqual(ids(), [1, 2, 3, 4, 6]);
    assert.equal(scalar(db, "honker_x_history_prune(NULL, 3, 100)"), 2);
    assert.deepEqual(ids(), [2, 3, 4]);
    assert.equal(scalar(db, "honker_x_history_prune(NULL, 3, 100)"), 0);
    assert.equal(scalar(db, "honker_x_history_prune(NULL, 0, 100)"), 3);
    assert.equal(count("_honker_x_history"), 0);
  });

  it("applies both rules within one limit, and NULL skips a rule", () => {
    const t = now();
    history(4, t - 1000);
    history(0, t);
    db.prepare(
      "INSERT INTO _honker_x_history (id, queue, state, payload, finished_at) VALUES (10, 'q', 'dead', '1', ?), (11, 'q', 'dead', '1', ?)",
    ).run(t, t);
    assert.equal(scalar(db, "honker_x_history_prune(NULL, NULL, 100)"), 0);
    assert.equal(scalar(db, "honker_x_history_prune(500, 1, 3)"), 3);
    assert.deepEqual(ids(), [4, 10, 11]);
    assert.equal(scalar(db, "honker_x_history_prune(500, 1, 100)"), 2);
    assert.deepEqual(ids(), [11]);
  });

  it("refuses bad arguments and deletes nothing", () => {
    history(3, now() - 1000);
    refuses(
      "honker_x_history_prune(-1, NULL, 10)",
      [],
      /honker_x_history_prune: max_age_s must be between 0 and 315360000, got -1$/,
    );
    refuses(
      "honker_x_history_prune(NULL, -1, 10)",
      [],
      /honker_x_history_prune: max_count must be between 0 and 2147483647, got -1$/,
    );
    refuses(
      "honker_x_history_prune(0, NULL, NULL)",
      [],
      /honker_x_history_prune: argument 3 \(limit\) must be an integer, got NULL$/,
    );
    refuses(
      "honker_x_history_prune(0, NULL, 100001)",
      [],
      /honker_x_history_prune: limit must be between 0 and 100000, got 100001$/,
    );
    refuses(
      "honker_x_history_prune('a', NULL, 10)",
      [],
      /honker_x_history_prune: argument 1 \(max_age_s\) must be an integer, got text$/,
    );
  });
});

describe("honker's functions on a file without our tables", () => {
  for (const [label, drop] of [
    [
      "a file honker made",
      ["_honker_x_meta", "_honker_x_dedup", "_honker_x_progress", "_honker_x_history"],
    ],
    ["a format-1 file not bootstrapped again", ["_honker_x_history"]],
  ] as const) {
    it(`${label}: ack, fail, retry, cancel, sweep and dead-lettering behave as honker's`, () => {
      for (const t of drop) db.exec(`DROP TABLE ${t}`);
      db.close();
      // A client that loads the extension and never runs honker_bootstrap().
      const other = openDb(ctx.path, { bootstrap: false });
      try {
        const enq = (maxAttempts = 3, expires: number | null = null) =>
          scalar<number>(
            other,
            "honker_enqueue('q', '1', NULL, NULL, 0, ?, ?)",
            maxAttempts,
            expires,
          );
        const ids = [enq(), enq(), enq(1), enq(), enq(1)];
        assert.equal(
          JSON.parse(scalar<string>(other, "honker_claim_batch('q', 'w', 5, 30)")).length,
          5,
        );
        const [a, b, c, d, e] = ids as [number, number, number, number, number];
        assert.equal(scalar(other, "honker_ack(?, 'w')", a), 1);
        assert.equal(scalar(other, "honker_ack(?, 'w')", a), 0);
        assert.equal(scalar(other, "honker_fail(?, 'w', 'boom')", b), 1);
        assert.equal(scalar(other, "honker_retry(?, 'w', 0, 'last')", c), 1);
        assert.equal(scalar(other, "honker_cancel(?)", d), 1);
        other.prepare("UPDATE _honker_live SET claim_expires_at = 0 WHERE id = ?").run(e);
        assert.equal(scalar(other, "honker_claim_batch('q', 'w', 5, 30)"), "[]");
        const f = enq(3, 0);
        other.prepare("UPDATE _honker_live SET expires_at = expires_at - 5 WHERE id = ?").run(f);
        assert.equal(scalar(other, "honker_sweep_expired('q')"), 1);
        assert.equal(scalar(other, "honker_ack_batch('[1]', 'w')"), 0);
        assert.equal(scalar(other, "(SELECT count(*) FROM _honker_live)"), 0);
        assert.deepEqual(
          other.prepare("SELECT id, last_error FROM _honker_dead ORDER BY id").raw().all(),
          [
            [b, "boom"],
            [c, "last"],
            [e, "max attempts exceeded"],
            [f, "expired"],
          ],
        );
      } finally {
        other.close();
      }
    });
  }
});
