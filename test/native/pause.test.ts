/**
 * Pausing queues and outboxes in the file (native/pause.c): a paused
 * queue's or outbox's claim returns nothing, in this connection, another
 * one, the sqlite3 shell and Python; adding work still works.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getLoadablePath } from "../../src/extension/index.ts";
import {
  lines,
  pythonSkipReason,
  runPython,
  runShell,
  shellSkipReason,
} from "../helpers/clients.ts";
import {
  type ClaimedRow,
  type Db,
  type FreshDb,
  freshDbEachTest,
  json,
  openDb,
  scalar,
} from "../helpers/db.ts";

let ctx: FreshDb;
let db: Db;
freshDbEachTest((c) => {
  ctx = c;
  db = c.db;
});

const enqueue = (queue: string, payload: string, maxAttempts = 3) =>
  scalar<number>(db, "honker_enqueue(?, ?, NULL, NULL, 0, ?, NULL)", queue, payload, maxAttempts);
const claim = (queue: string, worker = "w", n = 10) =>
  json<ClaimedRow[]>(db, "honker_claim_batch(?, ?, ?, 30)", queue, worker, n).map((c) => c.id);
const pausedRows = () =>
  db.prepare("SELECT kind, name FROM _honker_x_paused ORDER BY kind, name").all();
const sqlError = (sql: string, re: RegExp) =>
  assert.throws(
    () => db.prepare(`SELECT ${sql}`).get(),
    (e: unknown) => re.test((e as Error).message),
  );

describe("queue pause", () => {
  it("pause, paused and resume answer 1 when they change something, 0 when not", () => {
    assert.equal(scalar(db, "honker_x_queue_paused('q')"), 0);
    assert.equal(scalar(db, "honker_x_queue_pause('q')"), 1);
    assert.equal(scalar(db, "honker_x_queue_pause('q')"), 0);
    assert.equal(scalar(db, "honker_x_queue_paused('q')"), 1);
    assert.equal(scalar(db, "honker_x_queue_paused('other')"), 0);
    assert.deepEqual(pausedRows(), [{ kind: "queue", name: "q" }]);
    assert.equal(scalar(db, "honker_x_queue_resume('q')"), 1);
    assert.equal(scalar(db, "honker_x_queue_resume('q')"), 0);
    assert.equal(scalar(db, "honker_x_queue_paused('q')"), 0);
    assert.deepEqual(pausedRows(), []);
  });

  it("a paused queue takes jobs but claims none; ready_at says 0; resume claims them", () => {
    enqueue("other", '"o"');
    scalar(db, "honker_x_queue_pause('q')");
    const a = enqueue("q", '"a"');
    const b = enqueue("q", '"b"');
    assert.deepEqual(claim("q"), []);
    assert.equal(scalar(db, "honker_x_queue_ready_at('q')"), 0);
    // Other queues are not affected.
    assert.equal((scalar(db, "honker_x_queue_ready_at('other')") as number) > 0, true);
    assert.deepEqual(claim("other"), [1]);
    assert.equal(scalar(db, "honker_x_queue_resume('q')"), 1);
    assert.equal((scalar(db, "honker_x_queue_ready_at('q')") as number) > 0, true);
    assert.deepEqual(claim("q"), [a, b]);
  });

  it("jobs claimed before the pause can still be acked, retried and failed", () => {
    const [a, b, c] = [enqueue("q", "1"), enqueue("q", "2"), enqueue("q", "3")];
    assert.deepEqual(claim("q"), [a, b, c]);
    scalar(db, "honker_x_queue_pause('q')");
    assert.equal(scalar(db, "honker_ack(?, 'w')", a), 1);
    assert.equal(scalar(db, "honker_retry(?, 'w', 0, 'e')", b), 1);
    assert.equal(scalar(db, "honker_fail(?, 'w', 'e')", c), 1);
    // b is pending again, but the queue is paused.
    assert.deepEqual(claim("q"), []);
  });

  it("a paused queue does not dead-letter its exhausted jobs either", () => {
    const id = enqueue("q", "1", 1);
    assert.deepEqual(claim("q"), [id]);
    db.prepare("UPDATE _honker_live SET claim_expires_at = 0 WHERE id = ?").run(id);
    scalar(db, "honker_x_queue_pause('q')");
    assert.deepEqual(claim("q"), []);
    assert.equal(scalar(db, "(SELECT count(*) FROM _honker_dead)"), 0);
    scalar(db, "honker_x_queue_resume('q')");
    assert.deepEqual(claim("q"), []);
    assert.equal(scalar(db, "(SELECT count(*) FROM _honker_dead)"), 1);
  });

  it("another connection's claim sees the pause as soon as it commits", () => {
    const other = openDb(ctx.path);
    try {
      const id = enqueue("q", "1");
      db.exec("BEGIN IMMEDIATE");
      scalar(db, "honker_x_queue_pause('q')");
      // Not committed yet: the other connection does not see it (and waits
      // for no lock: it only reads here).
      assert.equal(scalar(other, "honker_x_queue_paused('q')"), 0);
      db.exec("COMMIT");
      assert.equal(scalar(other, "honker_x_queue_paused('q')"), 1);
      assert.equal(scalar(other, "honker_claim_batch('q', 'w2', 5, 30)"), "[]");
      scalar(db, "honker_x_queue_resume('q')");
      assert.deepEqual(
        json<ClaimedRow[]>(other, "honker_claim_batch('q', 'w2', 5, 30)").map((c) => c.id),
        [id],
      );
    } finally {
      other.close();
    }
  });

  it("a rolled-back pause leaves the queue running", () => {
    const id = enqueue("q", "1");
    db.exec("BEGIN");
    scalar(db, "honker_x_queue_pause('q')");
    db.exec("ROLLBACK");
    assert.deepEqual(claim("q"), [id]);
  });

  it("refuses bad arguments with the function and argument named, and writes nothing", () => {
    sqlError(
      "honker_x_queue_pause(NULL)",
      /^honker_x_queue_pause: argument 1 \(queue\) must be text, got NULL/,
    );
    sqlError(
      "honker_x_queue_pause('')",
      /^honker_x_queue_pause: argument 1 \(queue\) must not be empty/,
    );
    sqlError(
      "honker_x_queue_resume(7)",
      /^honker_x_queue_resume: argument 1 \(queue\) must be text, got an integer/,
    );
    sqlError(
      "honker_x_queue_paused(x'00')",
      /^honker_x_queue_paused: argument 1 \(queue\) must be text, got a blob/,
    );
    sqlError(
      "honker_x_outbox_pause(1.5)",
      /^honker_x_outbox_pause: argument 1 \(outbox\) must be text, got a real/,
    );
    sqlError(
      "honker_x_outbox_resume('')",
      /^honker_x_outbox_resume: argument 1 \(outbox\) must not be empty/,
    );
    sqlError(
      "honker_x_outbox_paused(NULL)",
      /^honker_x_outbox_paused: argument 1 \(outbox\) must be text/,
    );
    assert.deepEqual(pausedRows(), []);
  });

  it("honker_x_paused_list() lists queues and outboxes with the time they were paused", () => {
    assert.equal(scalar(db, "honker_x_paused_list()"), "[]");
    const before = scalar<number>(db, "unixepoch()");
    scalar(db, "honker_x_queue_pause('b')");
    scalar(db, "honker_x_outbox_pause('sync')");
    scalar(db, "honker_x_queue_pause('a')");
    const list = json<{ kind: string; name: string; paused_at: number }[]>(
      db,
      "honker_x_paused_list()",
    );
    assert.deepEqual(
      list.map((r) => [r.kind, r.name]),
      [
        ["outbox", "sync"],
        ["queue", "a"],
        ["queue", "b"],
      ],
    );
    for (const r of list) assert.ok(r.paused_at >= before && r.paused_at <= before + 2);
  });

  it("queue and outbox of the same name are paused apart", () => {
    scalar(db, "honker_x_outbox_pause('x')");
    assert.equal(scalar(db, "honker_x_queue_paused('x')"), 0);
    const id = enqueue("x", "1");
    assert.deepEqual(claim("x"), [id]);
  });
});

describe("outbox pause", () => {
  const add = (payload: string, key: string | null = null) =>
    scalar<number>(db, "honker_x_outbox_add('o', ?, ?, 5)", payload, key);
  const oclaim = (worker = "r") =>
    json<{ id: number }[]>(db, "honker_x_outbox_claim('o', ?, 10, 30)", worker).map((m) => m.id);
  const stats = () => json<Record<string, unknown>>(db, "honker_x_outbox_stats('o')");

  it("a paused outbox takes messages, claims none, reports paused; resume sends them", () => {
    assert.equal(stats().paused, false);
    assert.equal(scalar(db, "honker_x_outbox_pause('o')"), 1);
    const a = add("1");
    const b = add("2", "k");
    assert.deepEqual(oclaim(), []);
    assert.equal(scalar(db, "honker_x_outbox_ready_at('o')"), 0);
    assert.equal(scalar(db, "honker_x_outbox_paused('o')"), 1);
    const s = stats();
    assert.equal(s.paused, true);
    assert.equal(s.pending, 2);
    assert.deepEqual(Object.keys(s), [
      "dead",
      "delivered",
      "inflight",
      "last_delivered_at",
      "next_attempt_at",
      "paused",
      "pending",
    ]);
    assert.equal(scalar(db, "honker_x_outbox_resume('o')"), 1);
    assert.equal(stats().paused, false);
    assert.deepEqual(oclaim(), [a, b]);
  });

  it("messages claimed before the pause still settle", () => {
    const a = add("1");
    assert.deepEqual(oclaim(), [a]);
    scalar(db, "honker_x_outbox_pause('o')");
    assert.equal(scalar(db, "honker_x_outbox_settle(?, 'r', 'delivered', 0, NULL)", a), 1);
    assert.equal(stats().delivered, 1);
  });
});

describe("files without the pause table", () => {
  it("nothing is paused, claims go on; bootstrap adds the table without a format bump", () => {
    db.exec("DROP TABLE _honker_x_paused");
    const id = enqueue("q", "1");
    assert.equal(scalar(db, "honker_x_queue_paused('q')"), 0);
    assert.equal(scalar(db, "honker_x_paused_list()"), "[]");
    assert.equal(json<Record<string, unknown>>(db, "honker_x_outbox_stats('o')").paused, false);
    assert.deepEqual(claim("q"), [id]);
    sqlError("honker_x_queue_pause('q')", /^honker_x_queue_pause: no such table: _honker_x_paused/);
    db.prepare("SELECT honker_bootstrap()").get();
    assert.equal(scalar(db, "honker_x_format_version()"), 2);
    assert.equal(scalar(db, "honker_x_queue_pause('q')"), 1);
  });
});

describe("pause from the sqlite3 shell", { skip: shellSkipReason() }, () => {
  it("the shell pauses, better-sqlite3 claims nothing; the shell resumes, the claim finds the job", () => {
    const id = enqueue("q", '"job"');
    const paused = runShell(
      ctx.path,
      getLoadablePath(),
      "SELECT honker_x_queue_pause('q');\nSELECT honker_x_queue_paused('q');\n" +
        "SELECT honker_claim_batch('q', 'shell', 10, 30);\n",
    );
    assert.equal(paused.stderr, "");
    assert.deepEqual(lines(paused.stdout), ["1", "1", "[]"]);
    assert.deepEqual(claim("q"), []);
    const resumed = runShell(ctx.path, getLoadablePath(), "SELECT honker_x_queue_resume('q');\n");
    assert.deepEqual(lines(resumed.stdout), ["1"]);
    assert.deepEqual(claim("q"), [id]);
  });
});

describe("pause from Python", { skip: pythonSkipReason() }, () => {
  it("Python pauses an outbox; this connection's claim finds nothing until it resumes", () => {
    const id = scalar<number>(db, "honker_x_outbox_add('sync', '1', NULL, 5)");
    runPython(ctx.path, getLoadablePath(), `out(one("SELECT honker_x_outbox_pause('sync')"))`);
    assert.equal(scalar(db, "honker_x_outbox_claim('sync', 'r', 10, 30)"), "[]");
    const res = runPython(
      ctx.path,
      getLoadablePath(),
      `out(one("SELECT honker_x_outbox_paused('sync')"))\nout(one("SELECT honker_x_outbox_resume('sync')"))`,
    );
    assert.deepEqual(res, [1, 1]);
    assert.deepEqual(
      json<{ id: number }[]>(db, "honker_x_outbox_claim('sync', 'r', 10, 30)").map((m) => m.id),
      [id],
    );
  });
});
