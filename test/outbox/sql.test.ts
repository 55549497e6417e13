import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getLoadablePath } from "../../src/extension/index.ts";
import { httpTransport } from "../../src/main/outbox/transport.ts";
import {
  lines,
  pythonSkipReason,
  runPython,
  runShell,
  shellSkipReason,
} from "../helpers/clients.ts";
import { type Db, type FreshDb, freshDb, freshDbEachTest, openDb, scalar } from "../helpers/db.ts";
import { withCleanups } from "../helpers/host.ts";
import { waitFor } from "../helpers/wait.ts";
import { checkApplied, startServer } from "./server.ts";

let ctx: FreshDb;
let db: Db;
freshDbEachTest((c) => {
  ctx = c;
  db = c.db;
});

interface Claimed {
  attempts: number;
  created_at: number;
  id: number;
  idempotency_key: string;
  key: string | null;
  payload: string;
}

const add = (payload: unknown, key: string | null, maxAttempts = 3) =>
  scalar<number>(
    db,
    "honker_x_outbox_add('o', ?, ?, ?)",
    JSON.stringify(payload),
    key,
    maxAttempts,
  );
const claim = (worker: string, n = 100, timeout = 30) =>
  JSON.parse(
    scalar<string>(db, "honker_x_outbox_claim('o', ?, ?, ?)", worker, n, timeout),
  ) as Claimed[];
const settle = (
  id: number,
  worker: string,
  outcome: string,
  delay = 0,
  error: string | null = null,
) => scalar<number>(db, "honker_x_outbox_settle(?, ?, ?, ?, ?)", id, worker, outcome, delay, error);
const stats = () =>
  JSON.parse(scalar<string>(db, "honker_x_outbox_stats('o')")) as Record<string, number | null>;
const sqlError = (sql: string, re: RegExp) =>
  assert.throws(
    () => db.prepare(`SELECT ${sql}`).get(),
    (e: unknown) => re.test((e as Error).message),
  );

describe("outbox SQL functions", () => {
  it("claims the head of each key and unkeyed messages, oldest first", () => {
    const ids = [add(1, "a"), add(2, "a"), add(3, null), add(4, "b"), add(5, null), add(6, "b")];
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6]);
    const first = claim("w1");
    assert.deepEqual(
      first.map((c) => [c.id, c.key, c.payload, c.attempts]),
      [
        [1, "a", "1", 1],
        [3, null, "3", 1],
        [4, "b", "4", 1],
        [5, null, "5", 1],
      ],
    );
    assert.deepEqual(claim("w2"), [], "the next of a key waits for its head");
    assert.equal(settle(1, "w2", "delivered"), 0, "another worker's claim is not settled");
    assert.equal(settle(1, "w1", "delivered"), 1);
    assert.equal(settle(4, "w1", "rejected", 0, "HTTP 400"), 3);
    assert.deepEqual(
      claim("w2").map((c) => c.id),
      [2, 6],
    );
    const s = stats();
    assert.equal(s.delivered, 1);
    assert.equal(s.dead, 1);
    assert.equal(s.inflight, 4);
    assert.equal(s.pending, 0);
  });

  it("idempotency keys are stable across claims and connections, and unique per file", () => {
    add(1, null);
    const k1 = claim("w1")[0]?.idempotency_key;
    assert.equal(settle(1, "w1", "retry", 0, "503"), 2);
    const again = openDb(ctx.path);
    const k2 = (
      JSON.parse(
        again.prepare("SELECT honker_x_outbox_claim('o', 'w9', 10, 30)").pluck().get() as string,
      ) as Claimed[]
    )[0]?.idempotency_key;
    again.close();
    assert.equal(k1, k2);
    assert.match(k1 ?? "", /^[0-9a-f]{32}\.6f\.1$/);
    const other = freshDb();
    try {
      other.db.prepare("SELECT honker_x_outbox_add('o', '1', NULL, 3)").get();
      const k3 = (
        JSON.parse(
          other.db
            .prepare("SELECT honker_x_outbox_claim('o', 'w', 10, 30)")
            .pluck()
            .get() as string,
        ) as Claimed[]
      )[0]?.idempotency_key;
      assert.notEqual(k3, k1, "another file (device) has another device id");
    } finally {
      other.close();
    }
  });

  it("retry backs off, the last attempt goes dead, release gives the attempt back", () => {
    add("x", "k", 2);
    add("y", "k", 2);
    claim("w");
    assert.equal(settle(1, "w", "release", 0, "offline"), 2);
    assert.equal(scalar(db, "(SELECT attempts FROM _honker_x_outbox WHERE id = 1)"), 0);
    claim("w");
    assert.equal(settle(1, "w", "retry", 60, "HTTP 503"), 2);
    assert.deepEqual(claim("w"), [], "the head is in backoff, so its key waits");
    const now = scalar<number>(db, "unixepoch()");
    assert.ok(scalar<number>(db, "honker_x_outbox_ready_at('o')") >= now + 59);
    assert.equal(scalar(db, "honker_x_outbox_flush('o')"), 1);
    assert.equal(scalar(db, "honker_x_outbox_ready_at('o')"), now);
    assert.equal(claim("w")[0]?.attempts, 2);
    assert.equal(settle(1, "w", "retry", 0, "HTTP 503 again"), 3, "last attempt: dead");
    assert.deepEqual(
      claim("w").map((c) => c.id),
      [2],
      "a dead message does not block its key",
    );
    assert.equal(
      scalar(db, "(SELECT error FROM _honker_x_outbox_dead WHERE id = 1)"),
      "HTTP 503 again",
    );
  });

  it("a claim that lapsed on its last attempt goes dead at the next claim", () => {
    add(1, null, 1);
    claim("w", 10, 0);
    db.prepare("UPDATE _honker_x_outbox SET claim_expires_at = unixepoch() - 5").run();
    assert.deepEqual(claim("w2"), []);
    assert.match(
      scalar<string>(db, "(SELECT error FROM _honker_x_outbox_dead WHERE id = 1)"),
      /max attempts exceeded/,
    );
  });

  it("redrive keeps the id (and so the idempotency key); purge deletes", () => {
    add(1, null);
    add(2, null);
    claim("w");
    settle(1, "w", "rejected", 0, "no");
    settle(2, "w", "rejected", 0, "no");
    assert.equal(scalar(db, "honker_x_outbox_dead_redrive('o', '[2]', 100)"), 1);
    assert.deepEqual(
      claim("w").map((c) => [c.id, c.attempts]),
      [[2, 1]],
    );
    assert.equal(scalar(db, "honker_x_outbox_dead_purge('o', NULL, 100)"), 1);
    assert.equal(stats().dead, 0);
  });

  it("a redriven message goes back to the head of its key; a lapsed last attempt frees its key", () => {
    add("a1", "k", 1);
    add("a2", "k", 1);
    add("a3", "k", 1);
    claim("w");
    assert.equal(settle(1, "w", "rejected", 0, "no"), 3);
    assert.deepEqual(
      claim("w").map((c) => c.id),
      [2],
    );
    assert.equal(scalar(db, "honker_x_outbox_dead_redrive('o', '[1]', 10)"), 1);
    // 1 is its key's head again by id, so it goes even while 2 is still in flight.
    assert.deepEqual(
      claim("w").map((c) => c.id),
      [1],
    );
    // 1 and 2 lapse on their last attempt: both go dead, 3 becomes the head.
    db.prepare("UPDATE _honker_x_outbox SET claim_expires_at = unixepoch() - 5").run();
    assert.deepEqual(
      claim("w").map((c) => c.id),
      [3],
    );
    assert.equal(stats().dead, 2);
  });

  it("a claim does not walk the backlog behind busy keys", () => {
    db.transaction(() => {
      for (let i = 0; i < 5000; i++) add(i, `k${i % 2}`);
    })();
    const steps = () =>
      (JSON.parse(scalar<string>(db, "honker_x_statement_stats()")) as { fullscan_steps: number })
        .fullscan_steps;
    const before = steps();
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      const got = claim("w", 50, 30);
      for (const c of got) settle(c.id, "w", "delivered");
    }
    const ms = (performance.now() - t0) / 20;
    assert.equal(steps() - before, 0, "no full scans");
    assert.equal(stats().delivered, 40);
    assert.ok(ms < 50, `a claim+settle round took ${ms} ms`);
  });

  it("refuses bad arguments and writes nothing", () => {
    sqlError("honker_x_outbox_add('o', 'not json', NULL, 3)", /argument 2 \(payload\)/);
    sqlError("honker_x_outbox_add('o', '1', '', 3)", /argument 3 \(key\) must not be empty/);
    sqlError("honker_x_outbox_add('o', '1', NULL, 0)", /max_attempts/);
    sqlError("honker_x_outbox_claim('o', 'w', -1, 30)", /n must be between/);
    sqlError("honker_x_outbox_settle(1, 'w', 'maybe', 0, NULL)", /outcome/);
    sqlError("honker_x_outbox_dead_redrive('o', '[x]', 10)", /ids_json/);
    assert.equal(scalar(db, "(SELECT count(*) FROM _honker_x_outbox)"), 0);
  });

  it("bootstrap gives a format-2 file made before the outbox its tables", () => {
    db.exec(
      "DROP TABLE _honker_x_outbox; DROP TABLE _honker_x_outbox_dead; DROP TABLE _honker_x_outbox_stats",
    );
    db.prepare("SELECT honker_bootstrap()").get();
    assert.equal(scalar(db, "honker_x_format_version()"), 2);
    assert.equal(add(1, null), 1);
  });
});

describe("outbox across clients", { skip: pythonSkipReason() }, () => {
  const { tempDb } = withCleanups();
  it("messages Python adds in its own transaction are relayed by the Node host", async () => {
    const srv = await startServer();
    try {
      const { db: host, path } = tempDb();
      const sync = host.outbox("sync", {
        transport: httpTransport({ url: srv.url, batchSize: 50 }),
      });
      runPython(
        path,
        getLoadablePath(),
        `
db.execute("BEGIN IMMEDIATE")
for i in range(20):
    db.execute("SELECT honker_x_outbox_add('sync', ?, ?, 20)", (json.dumps({"seq": i, "key": "k%d" % (i % 3)}), "k%d" % (i % 3)))
db.execute("COMMIT")
db.execute("BEGIN")
db.execute("SELECT honker_x_outbox_add('sync', '{\\"seq\\": 99, \\"key\\": null}', NULL, 20)")
db.execute("ROLLBACK")
out(one("SELECT json_extract(honker_x_outbox_stats('sync'), '$.pending')"))
`,
      );
      await srv.until(() => srv.applied.length === 20);
      checkApplied(srv.applied);
      // The server applies before it answers: wait for the relay to settle.
      await waitFor(() => sync.status().delivered === 20, { db: host, what: "20 delivered" });
      assert.equal(sync.status().pending, 0);
    } finally {
      await srv.close();
    }
  });
});

describe("outbox from the sqlite3 shell", { skip: shellSkipReason() }, () => {
  it("adds in a transaction, claims in key order and settles", () => {
    const res = runShell(
      ctx.path,
      getLoadablePath(),
      "BEGIN;\n" +
        "SELECT honker_x_outbox_add('o', '{\"n\":1}', 'k', 20);\n" +
        "SELECT honker_x_outbox_add('o', '{\"n\":2}', 'k', 20);\n" +
        "COMMIT;\n" +
        "SELECT json_array_length(honker_x_outbox_claim('o', 'shell', 10, 60));\n" +
        "SELECT honker_x_outbox_settle(1, 'shell', 'delivered', 0, NULL);\n" +
        "SELECT json_extract(honker_x_outbox_claim('o', 'shell', 10, 60), '$[0].id');\n",
    );
    assert.equal(res.stderr, "");
    assert.deepEqual(lines(res.stdout), ["1", "2", "1", "1", "2"]);
    assert.equal(stats().delivered, 1);
  });
});
