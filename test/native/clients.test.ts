import assert from "node:assert/strict";
import { join } from "node:path";
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
  type StreamRow,
  scalar,
} from "../helpers/db.ts";

const ext = getLoadablePath();

let ctx: FreshDb;
let db: Db;
freshDbEachTest((c) => {
  ctx = c;
  db = c.db;
});

const enqueue = (queue: string, payload: string) =>
  scalar<number>(db, "honker_enqueue(?, ?, NULL, NULL, 0, 3, NULL)", queue, payload);
const liveCount = () => scalar<number>(db, "(SELECT count(*) FROM _honker_live)");
const deadCount = () => scalar<number>(db, "(SELECT count(*) FROM _honker_dead)");
/** The claim fields that do not depend on the clock. */
const stable = (c: ClaimedRow) => ({
  attempts: c.attempts,
  id: c.id,
  payload: c.payload,
  queue: c.queue,
  worker_id: c.worker_id,
});

describe("the sqlite3 shell", { skip: shellSkipReason() }, () => {
  it("runs with busy_timeout 5000 and WAL", () => {
    const res = runShell(ctx.path, ext, "PRAGMA busy_timeout;\nPRAGMA journal_mode;\n");
    assert.equal(res.stderr, "");
    assert.deepEqual(lines(res.stdout), ["5000", "wal"]);
  });

  it("claims and acks the jobs enqueued in better-sqlite3", () => {
    assert.deepEqual(
      [enqueue("q", '{"n":1}'), enqueue("q", '{"n":2}'), enqueue("q", '"three"')],
      [1, 2, 3],
    );
    const res = runShell(
      ctx.path,
      ext,
      "SELECT honker_claim_batch('q', 'shell', 10, 60);\n" +
        "SELECT honker_ack(1, 'shell');\n" +
        "SELECT honker_ack_batch('[2,3]', 'shell');\n",
    );
    assert.equal(res.stderr, "");
    assert.equal(res.status, 0);
    const [claimed, ackOne, ackBatch] = lines(res.stdout);
    assert.deepEqual((JSON.parse(claimed ?? "") as ClaimedRow[]).map(stable), [
      { attempts: 1, id: 1, payload: '{"n":1}', queue: "q", worker_id: "shell" },
      { attempts: 1, id: 2, payload: '{"n":2}', queue: "q", worker_id: "shell" },
      { attempts: 1, id: 3, payload: '"three"', queue: "q", worker_id: "shell" },
    ]);
    assert.equal(ackOne, "1");
    assert.equal(ackBatch, "2");
    assert.equal(liveCount(), 0);
    assert.equal(deadCount(), 0);
  });

  it("runs the queue contract functions on its own SQLite (history, retry, redrive, prune)", () => {
    const res = runShell(
      ctx.path,
      ext,
      [
        "SELECT honker_x_format_version();",
        "SELECT honker_x_enqueue('sh', '{\"n\":1}', NULL, NULL, 0, 1, NULL, 'k');",
        "SELECT honker_x_enqueue('sh', '{\"n\":2}', NULL, NULL, 0, 1, NULL, 'k');",
        "SELECT honker_x_progress_set(1, '\"half\"');",
        "SELECT json_array_length(honker_claim_batch('sh', 'w', 10, 60));",
        "SELECT honker_x_retry(1, 'w', 0, 'bad');",
        "SELECT json_extract(honker_x_get_job(1), '$.state', '$.error', '$.progress');",
        "SELECT honker_x_dead_redrive('sh', NULL, 10);",
        "SELECT json_extract(honker_x_get_job(1), '$.state', '$.attempts');",
        "SELECT honker_cancel(1);",
        "SELECT json_extract(honker_x_get_job(1), '$.state');",
        "SELECT honker_x_history_prune(NULL, 0, 10);",
        "SELECT honker_x_get_job(1) IS NULL;",
        "",
      ].join("\n"),
    );
    assert.equal(res.stderr, "");
    assert.deepEqual(lines(res.stdout), [
      "2",
      "1",
      "1",
      "1",
      "1",
      "2",
      '["dead","bad","\\"half\\""]',
      "1",
      '["pending",0]',
      "1",
      "cancelled",
      "1",
      "1",
    ]);
  });

  it("loads the extension from its path without the .so suffix", () => {
    assert.ok(ext.endsWith(".so"), ext);
    const bare = ext.slice(0, -".so".length);
    const res = runShell(
      join(ctx.dir, "bare.db"),
      bare,
      "SELECT honker_bootstrap();\nSELECT honker_enqueue('q', '1', NULL, NULL, 0, 3, NULL);\n",
    );
    assert.equal(res.stderr, "");
    assert.deepEqual(lines(res.stdout), ["1", "1"]);
  });

  it("closes without unfinalized statements after using the functions", () => {
    const other = join(ctx.dir, "other.db");
    const res = runShell(
      ctx.path,
      ext,
      [
        "SELECT honker_enqueue('q', '{}', NULL, NULL, 0, 3, NULL);",
        "SELECT length(honker_claim_batch('q', 'w', 1, 30)) > 0;",
        "SELECT honker_ack(1, 'w');",
        "SELECT notify('ch', '1');",
        "SELECT honker_stream_publish('t', 'k', '1');",
        "SELECT length(honker_stream_read_since('t', 0, 10)) > 0;",
        "SELECT honker_stream_save_offset('c', 't', 1);",
        "SELECT honker_stream_get_offset('c', 't');",
        "SELECT honker_lock_acquire('l', 'me', 60);",
        "SELECT honker_lock_release('l', 'me');",
        "SELECT honker_rate_limit_try('r', 5, 60);",
        "SELECT honker_result_save(1, '\"done\"', 60);",
        "SELECT honker_result_get(1);",
        "SELECT honker_get_job(99) = '';",
        "SELECT honker_sweep_expired('q');",
        "SELECT honker_queue_next_claim_at('q');",
        // Switching files closes the first connection, with its cached statements.
        `.open ${other}`,
        `.load ${ext}`,
        "SELECT honker_bootstrap();",
        "SELECT honker_enqueue('q', '{}', NULL, NULL, 0, 3, NULL);",
        "",
      ].join("\n"),
    );
    assert.equal(res.stderr, "");
    assert.equal(res.status, 0);
    assert.deepEqual(lines(res.stdout), [
      "1",
      "1",
      "1",
      "1",
      "1",
      "1",
      "1",
      "1",
      "1",
      "1",
      "1",
      "1",
      '"done"',
      "1",
      "0",
      "0",
      "1",
      "1",
    ]);
  });

  it("prints the function-named message for a malformed JSON payload and writes nothing", () => {
    const res = runShell(
      ctx.path,
      ext,
      "SELECT honker_enqueue('q', '{not json', NULL, NULL, 0, 3, NULL);\nSELECT 'after';\n",
    );
    assert.equal(res.status, 1);
    const [error, ...rest] = lines(res.stderr);
    assert.deepEqual(rest, []);
    assert.match(
      error ?? "",
      /^Runtime error near line 1: honker_enqueue: argument 2 \(payload\) /,
    );
    assert.match(error ?? "", /JSON/);
    assert.deepEqual(lines(res.stdout), ["after"]);
    assert.equal(liveCount(), 0);
  });
});

describe("Python's sqlite3 module", { skip: pythonSkipReason() }, () => {
  it("runs with busy_timeout 5000 and WAL", () => {
    const out = runPython(
      ctx.path,
      ext,
      'out([one("PRAGMA busy_timeout"), one("PRAGMA journal_mode")])',
    );
    assert.deepEqual(out, [[5000, "wal"]]);
  });

  it("enqueues jobs that better-sqlite3 claims and acks", () => {
    const out = runPython(
      ctx.path,
      ext,
      [
        'db.execute("BEGIN IMMEDIATE")',
        "ids = [",
        '  one("SELECT honker_enqueue(?, ?, NULL, NULL, ?, 3, NULL)", "py", \'{"from":"python"}\', 0),',
        '  one("SELECT honker_enqueue(?, ?, NULL, NULL, ?, 3, NULL)", "py", "[1,2]", 5),',
        "]",
        'db.execute("COMMIT")',
        "out(ids)",
      ].join("\n"),
    );
    assert.deepEqual(out, [[1, 2]]);
    // One at a time, so the priority set in Python decides the order.
    const claimed = [
      ...json<ClaimedRow[]>(db, "honker_claim_batch('py', 'node', 1, 60)"),
      ...json<ClaimedRow[]>(db, "honker_claim_batch('py', 'node', 1, 60)"),
    ];
    assert.deepEqual(claimed.map(stable), [
      { attempts: 1, id: 2, payload: "[1,2]", queue: "py", worker_id: "node" },
      { attempts: 1, id: 1, payload: '{"from":"python"}', queue: "py", worker_id: "node" },
    ]);
    assert.equal(scalar(db, "honker_ack_batch('[1,2]', 'node')"), 2);
    assert.equal(liveCount(), 0);
  });

  it("claims and acks the jobs enqueued in better-sqlite3", () => {
    enqueue("node", '{"from":"node"}');
    enqueue("node", '"second"');
    const out = runPython(
      ctx.path,
      ext,
      [
        'claimed = json.loads(one("SELECT honker_claim_batch(?, ?, ?, ?)", "node", "py", 10, 60))',
        'ids = json.dumps([c["id"] for c in claimed])',
        "out([[c['id'], c['payload'], c['worker_id'], c['attempts']] for c in claimed])",
        'out(one("SELECT honker_ack_batch(?, ?)", ids, "py"))',
      ].join("\n"),
    );
    assert.deepEqual(out, [
      [
        [1, '{"from":"node"}', "py", 1],
        [2, '"second"', "py", 1],
      ],
      2,
    ]);
    assert.equal(liveCount(), 0);
    assert.equal(deadCount(), 0);
  });

  it("gets dedup keys, progress and the merged job view, as the host does", () => {
    const out = runPython(
      ctx.path,
      ext,
      [
        'enq = "SELECT honker_x_enqueue(?, ?, NULL, NULL, 0, 3, NULL, ?)"',
        'first = one(enq, "py", \'{"n":1}\', "order-9")',
        'out([first, one(enq, "py", \'{"n":2}\', "order-9")])',
        'out(one("SELECT honker_x_progress_set(?, ?)", first, \'{"pct":40}\'))',
        'claimed = json.loads(one("SELECT honker_claim_batch(?, ?, ?, ?)", "py", "py-w", 10, 60))',
        'out([c["id"] for c in claimed])',
        'out(one("SELECT honker_x_progress_set(?, ?)", first, \'{"pct":100}\'))',
        'out(one("SELECT honker_ack(?, ?)", first, "py-w"))',
        'job = json.loads(one("SELECT honker_x_get_job(?)", first))',
        'out([job["state"], job["payload"], job["progress"], job["attempts"], job["queue"]])',
        'out(one("SELECT count(*) FROM _honker_x_progress") + one("SELECT count(*) FROM _honker_x_dedup"))',
        'out(one(enq, "py", \'{"n":3}\', "order-9"))',
      ].join("\n"),
    );
    assert.deepEqual(out, [
      [1, 1],
      1,
      [1],
      1,
      1,
      ["completed", '{"n":1}', '{"pct":100}', 1, "py"],
      0,
      2,
    ]);
    // better-sqlite3 reads the same history.
    assert.equal(JSON.parse(scalar<string>(db, "honker_x_get_job(1)")).progress, '{"pct":100}');
  });

  it("reads with read_since a stream the shell published, saving offsets", {
    skip: shellSkipReason(),
  }, () => {
    const shell = runShell(
      ctx.path,
      ext,
      [
        "SELECT honker_stream_publish('orders', 'o-1', '{\"total\":10}');",
        "SELECT honker_stream_publish('orders', NULL, '{\"total\":20}');",
        "SELECT honker_stream_publish('audit', 'a', '\"ignored\"');",
        "SELECT honker_stream_publish('orders', 'o-3', '{\"total\":30}');",
        "",
      ].join("\n"),
    );
    assert.equal(shell.stderr, "");
    assert.deepEqual(lines(shell.stdout), ["1", "2", "3", "4"]);

    const out = runPython(
      ctx.path,
      ext,
      [
        "def page():",
        '    start = one("SELECT honker_stream_get_offset(?, ?)", "py", "orders")',
        '    events = json.loads(one("SELECT honker_stream_read_since(?, ?, ?)", "orders", start, 2))',
        "    if events:",
        '        saved = one("SELECT honker_stream_save_offset(?, ?, ?)", "py", "orders", events[-1]["offset"])',
        "    else:",
        "        saved = None",
        '    out([start, [[e["offset"], e["key"], e["payload"], e["topic"]] for e in events], saved])',
        "page()",
        "page()",
        "page()",
      ].join("\n"),
    );
    assert.deepEqual(out, [
      [
        0,
        [
          [1, "o-1", '{"total":10}', "orders"],
          [2, null, '{"total":20}', "orders"],
        ],
        1,
      ],
      [2, [[4, "o-3", '{"total":30}', "orders"]], 1],
      [4, [], null],
    ]);
    assert.equal(scalar(db, "honker_stream_get_offset('py', 'orders')"), 4);
    assert.deepEqual(db.prepare("SELECT * FROM _honker_stream_consumers").all(), [
      { name: "py", topic: "orders", offset: 4 },
    ]);
    const fromNode = json<StreamRow[]>(db, "honker_stream_read_since('orders', 0, 10)");
    assert.deepEqual(
      fromNode.map((e) => e.offset),
      [1, 2, 4],
    );
  });

  it("writes notifications that better-sqlite3 reads, only when committed", () => {
    const out = runPython(
      ctx.path,
      ext,
      [
        'db.execute("BEGIN")',
        'a = one("SELECT notify(?, ?)", "jobs", \'{"id":1}\')',
        'b = one("SELECT notify(?, ?)", "jobs", \'"plain"\')',
        'db.execute("COMMIT")',
        'db.execute("BEGIN")',
        'one("SELECT notify(?, ?)", "jobs", \'{"id":"rolled back"}\')',
        'db.execute("ROLLBACK")',
        'c = one("SELECT notify(?, ?)", "other", "null")',
        "out([a, b, c])",
      ].join("\n"),
    );
    assert.deepEqual(out, [[1, 2, 3]]);
    const rows = db
      .prepare("SELECT id, channel, payload FROM _honker_notifications WHERE id > ? ORDER BY id")
      .all(0);
    assert.deepEqual(rows, [
      { id: 1, channel: "jobs", payload: '{"id":1}' },
      { id: 2, channel: "jobs", payload: '"plain"' },
      { id: 3, channel: "other", payload: "null" },
    ]);
  });
});
