/**
 * Interop with upstream honker 0.5.1 through its prebuilt Node binding, on
 * the same database files as our extension (loaded into better-sqlite3).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import {
  type ClaimedRow,
  type Db,
  json,
  openDb,
  type StreamRow,
  scalar,
  tempDir,
} from "../helpers/db.ts";
import {
  type HonkerDatabase,
  type HonkerTransaction,
  loadUpstream,
  type Row,
} from "../helpers/honker-upstream.ts";

const upstream = loadUpstream();
const skip = "reason" in upstream ? `honker interop skipped: ${upstream.reason}` : false;

type Fire = { fire_at: number; job_id: number; name: string; queue: string };
type MasterRow = { type: string; name: string; tbl_name: string; sql: string | null };

/** The claim fields that do not depend on the clock. */
const stable = (c: ClaimedRow) => ({
  attempts: c.attempts,
  id: c.id,
  payload: c.payload,
  queue: c.queue,
  worker_id: c.worker_id,
});
const events = (list: StreamRow[]) =>
  list.map((e) => ({ key: e.key, offset: e.offset, payload: e.payload, topic: e.topic }));

/** A database file in its own temp folder, removed afterwards. */
async function withFile(fn: (path: string) => void | Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir("honker-interop-");
  try {
    await fn(join(dir, "shared.db"));
  } finally {
    cleanup();
  }
}

/** Opens the file with honker (which applies its pragmas and bootstraps) and closes it after. */
function withHonker<T>(path: string, fn: (hdb: HonkerDatabase) => T): T {
  if (!("module" in upstream)) throw new Error("honker is unavailable");
  const hdb = upstream.module.open(path);
  try {
    return fn(hdb);
  } finally {
    hdb.close();
  }
}

/** Runs `fn` in one honker write transaction; commits on success, rolls back on error. */
function inTx<T>(hdb: HonkerDatabase, fn: (tx: HonkerTransaction) => T): T {
  const tx = hdb.transaction();
  try {
    const result = fn(tx);
    tx.commit();
    return result;
  } finally {
    tx.rollback();
  }
}

/** The single value of a one-row, one-column honker query. */
function one<T>(tx: HonkerTransaction, sql: string, params: unknown[] = []): T {
  const rows = tx.query(sql, params);
  assert.equal(rows.length, 1, sql);
  const values = Object.values(rows[0] as Row);
  assert.equal(values.length, 1, sql);
  return values[0] as T;
}

/** Opens the file with our extension; closes it after. */
function withOurs<T>(path: string, fn: (db: Db) => T): T {
  const db = openDb(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** sqlite_master without loading any extension. */
function master(path: string): MasterRow[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
      .all() as MasterRow[];
  } finally {
    db.close();
  }
}

const isOurAddition = (r: MasterRow) =>
  r.name.startsWith("_honker_x_") ||
  r.tbl_name.startsWith("_honker_x_") ||
  r.name.startsWith("sqlite_autoindex__honker_x_");

function hasFunction(hdb: HonkerDatabase, name: string): boolean {
  return inTx(
    hdb,
    (tx) =>
      one<number>(tx, "SELECT count(*) AS n FROM pragma_function_list WHERE name = ?", [name]) > 0,
  );
}

describe("interop with upstream honker 0.5.1", { skip }, () => {
  it("claims, reads and receives in our extension what honker enqueued, published and notified", () =>
    withFile((path) => {
      withHonker(path, (hdb) =>
        inTx(hdb, (tx) => {
          assert.equal(
            one(tx, "SELECT honker_enqueue(?, ?, NULL, NULL, ?, ?, NULL) AS id", [
              "emails",
              '{"to":"a@example.com"}',
              0,
              3,
            ]),
            1,
          );
          assert.equal(
            one(tx, "SELECT honker_enqueue(?, ?, NULL, NULL, ?, ?, NULL) AS id", [
              "emails",
              '"urgent"',
              9,
              5,
            ]),
            2,
          );
          assert.equal(
            one(tx, "SELECT honker_stream_publish(?, ?, ?) AS o", ["orders", "o-1", '{"n":1}']),
            1,
          );
          assert.equal(
            one(tx, "SELECT honker_stream_publish(?, ?, ?) AS o", ["orders", null, "[2]"]),
            2,
          );
          assert.equal(tx.notify("changes", { table: "users", id: 7 }), 1);
          assert.equal(one(tx, "SELECT notify(?, ?) AS id", ["changes", '"raw"']), 2);
        }),
      );

      withOurs(path, (db) => {
        const first = json<ClaimedRow[]>(db, "honker_claim_batch('emails', 'ours', 1, 60)");
        const second = json<ClaimedRow[]>(db, "honker_claim_batch('emails', 'ours', 5, 60)");
        assert.deepEqual([...first, ...second].map(stable), [
          { attempts: 1, id: 2, payload: '"urgent"', queue: "emails", worker_id: "ours" },
          {
            attempts: 1,
            id: 1,
            payload: '{"to":"a@example.com"}',
            queue: "emails",
            worker_id: "ours",
          },
        ]);
        assert.equal(scalar(db, "honker_ack_batch('[1,2]', 'ours')"), 2);

        assert.deepEqual(
          events(json<StreamRow[]>(db, "honker_stream_read_since('orders', 0, 10)")),
          [
            { key: "o-1", offset: 1, payload: '{"n":1}', topic: "orders" },
            { key: null, offset: 2, payload: "[2]", topic: "orders" },
          ],
        );
        assert.equal(scalar(db, "honker_stream_save_offset('ours', 'orders', 2)"), 1);

        assert.deepEqual(
          db
            .prepare(
              "SELECT id, channel, payload FROM _honker_notifications WHERE id > ? ORDER BY id",
            )
            .all(0),
          [
            // honker serialises the JS value through serde: keys come out sorted.
            { id: 1, channel: "changes", payload: '{"id":7,"table":"users"}' },
            { id: 2, channel: "changes", payload: '"raw"' },
          ],
        );
      });

      withHonker(path, (hdb) =>
        inTx(hdb, (tx) => {
          assert.equal(one(tx, "SELECT count(*) AS n FROM _honker_live"), 0);
          assert.equal(one(tx, "SELECT count(*) AS n FROM _honker_dead"), 0);
          assert.equal(
            one(tx, "SELECT honker_stream_get_offset(?, ?) AS o", ["ours", "orders"]),
            2,
          );
        }),
      );
    }));

  it("lets honker claim, ack and read what our extension enqueued, published and notified", () =>
    withFile((path) => {
      withOurs(path, (db) => {
        assert.equal(
          scalar(db, "honker_enqueue('reports', '{\"id\":41}', NULL, NULL, 0, 3, NULL)"),
          1,
        );
        assert.equal(
          scalar(db, "honker_enqueue('reports', '{\"id\":42}', NULL, NULL, 0, 3, NULL)"),
          2,
        );
        assert.equal(
          scalar(db, "honker_stream_publish('audit', 'user-1', '{\"did\":\"login\"}')"),
          1,
        );
        assert.equal(scalar(db, "honker_stream_publish('audit', NULL, '\"logout\"')"), 2);
        assert.equal(scalar(db, "notify('ours', '{\"hello\":\"honker\"}')"), 1);
      });

      withHonker(path, (hdb) =>
        inTx(hdb, (tx) => {
          const claimed = JSON.parse(
            one<string>(tx, "SELECT honker_claim_batch(?, ?, ?, ?) AS r", [
              "reports",
              "honker",
              10,
              60,
            ]),
          ) as ClaimedRow[];
          assert.deepEqual([...claimed].sort((a, b) => a.id - b.id).map(stable), [
            { attempts: 1, id: 1, payload: '{"id":41}', queue: "reports", worker_id: "honker" },
            { attempts: 1, id: 2, payload: '{"id":42}', queue: "reports", worker_id: "honker" },
          ]);
          assert.equal(one(tx, "SELECT honker_ack(?, ?) AS n", [1, "honker"]), 1);
          assert.equal(one(tx, "SELECT honker_ack_batch(?, ?) AS n", ["[2]", "honker"]), 1);

          const read = JSON.parse(
            one<string>(tx, "SELECT honker_stream_read_since(?, ?, ?) AS r", ["audit", 0, 10]),
          ) as StreamRow[];
          assert.deepEqual(events(read), [
            { key: "user-1", offset: 1, payload: '{"did":"login"}', topic: "audit" },
            { key: null, offset: 2, payload: '"logout"', topic: "audit" },
          ]);
          assert.equal(
            one(tx, "SELECT honker_stream_save_offset(?, ?, ?) AS r", ["honker", "audit", 2]),
            1,
          );
          assert.deepEqual(
            tx.query("SELECT id, channel, payload FROM _honker_notifications ORDER BY id", []),
            [{ channel: "ours", id: 1, payload: '{"hello":"honker"}' }],
          );
        }),
      );

      withOurs(path, (db) => {
        assert.equal(scalar(db, "(SELECT count(*) FROM _honker_live)"), 0);
        assert.equal(scalar(db, "(SELECT count(*) FROM _honker_dead)"), 0);
        assert.equal(scalar(db, "honker_stream_get_offset('honker', 'audit')"), 2);
      });
    }));

  it("ticks in our extension a schedule honker registered", (t) =>
    withFile((path) => {
      let next = 0;
      const registered = withHonker(path, (hdb) => {
        if (!hasFunction(hdb, "honker_scheduler_register")) return false;
        inTx(hdb, (tx) => {
          assert.equal(
            one(tx, "SELECT honker_scheduler_register(?, ?, ?, ?, ?, ?) AS r", [
              "every-ten",
              "sched",
              "@every 10s",
              '{"kind":"tick"}',
              2,
              null,
            ]),
            1,
          );
          next = one<number>(tx, "SELECT next_fire_at AS n FROM _honker_scheduler_tasks");
        });
        return true;
      });
      if (!registered) {
        t.skip("this honker has no honker_scheduler_register");
        return;
      }

      withOurs(path, (db) => {
        assert.deepEqual(json<Fire[]>(db, "honker_scheduler_tick(?)", next + 20), [
          { fire_at: next, job_id: 1, name: "every-ten", queue: "sched" },
          { fire_at: next + 10, job_id: 2, name: "every-ten", queue: "sched" },
          { fire_at: next + 20, job_id: 3, name: "every-ten", queue: "sched" },
        ]);
        assert.deepEqual(json<Fire[]>(db, "honker_scheduler_tick(?)", next + 20), []);
        assert.deepEqual(
          db.prepare("SELECT id, queue, payload, priority FROM _honker_live ORDER BY id").all(),
          [1, 2, 3].map((id) => ({ id, queue: "sched", payload: '{"kind":"tick"}', priority: 2 })),
        );
      });

      withHonker(path, (hdb) =>
        inTx(hdb, (tx) => {
          const list = JSON.parse(one<string>(tx, "SELECT honker_scheduler_list() AS r")) as Row[];
          assert.deepEqual(list, [
            {
              cron_expr: "@every 10s",
              enabled: true,
              expires_s: null,
              max_attempts: 3,
              name: "every-ten",
              next_fire_at: next + 30,
              payload: '{"kind":"tick"}',
              priority: 2,
              queue: "sched",
            },
          ]);
          assert.deepEqual(
            JSON.parse(one<string>(tx, "SELECT honker_scheduler_tick(?) AS r", [next + 20])),
            [],
          );
        }),
      );
    }));

  it("lets honker tick a schedule our extension registered", (t) =>
    withFile((path) => {
      const next = withOurs(path, (db) => {
        assert.equal(
          scalar(
            db,
            "honker_scheduler_register('nightly', 'jobs', '@every 1m', '\"run\"', 0, 120, 4)",
          ),
          1,
        );
        return scalar<number>(db, "(SELECT next_fire_at FROM _honker_scheduler_tasks)");
      });

      const fires = withHonker(path, (hdb) => {
        if (!hasFunction(hdb, "honker_scheduler_tick")) return null;
        return inTx(
          hdb,
          (tx) =>
            JSON.parse(
              one<string>(tx, "SELECT honker_scheduler_tick(?) AS r", [next + 60]),
            ) as Fire[],
        );
      });
      if (fires === null) {
        t.skip("this honker has no honker_scheduler_tick");
        return;
      }
      assert.deepEqual(fires, [
        { fire_at: next, job_id: 1, name: "nightly", queue: "jobs" },
        { fire_at: next + 60, job_id: 2, name: "nightly", queue: "jobs" },
      ]);

      withOurs(path, (db) => {
        assert.equal(scalar(db, "(SELECT next_fire_at FROM _honker_scheduler_tasks)"), next + 120);
        const rows = db
          .prepare(
            "SELECT id, queue, payload, max_attempts, expires_at - created_at AS ttl FROM _honker_live ORDER BY id",
          )
          .all();
        assert.deepEqual(rows, [
          { id: 1, queue: "jobs", payload: '"run"', max_attempts: 4, ttl: 120 },
          { id: 2, queue: "jobs", payload: '"run"', max_attempts: 4, ttl: 120 },
        ]);
      });
    }));

  it("computes the same next cron times as honker", () =>
    withFile((path) => {
      const from = 1_776_601_800;
      const exprs = [
        "* * * * *",
        "*/5 * * * *",
        "*/10 * * * * *",
        "@every 1s",
        "@every 2m",
        "0 3 * * *",
        "1,2-4,*/20 * * * *",
        "0 0 13 * 5",
      ];
      const theirs = withHonker(path, (hdb) =>
        inTx(hdb, (tx) =>
          exprs.map((e) => one<number>(tx, "SELECT honker_cron_next_after(?, ?) AS n", [e, from])),
        ),
      );
      const ours = withOurs(path, (db) =>
        exprs.map((e) => scalar<number>(db, "honker_cron_next_after(?, ?)", e, from)),
      );
      assert.deepEqual(ours, theirs);
    }));

  it("keeps honker's DDL text and passes integrity_check when we bootstrap a file honker created", () =>
    withFile((path) => {
      withHonker(path, () => {});
      const before = master(path);
      assert.ok(before.some((r) => r.name === "_honker_live"));

      withOurs(path, (db) => {
        assert.deepEqual(db.pragma("integrity_check"), [{ integrity_check: "ok" }]);
      });
      const after = master(path);
      assert.deepEqual(
        after.filter((r) => !isOurAddition(r)),
        before,
      );

      withHonker(path, (hdb) =>
        inTx(hdb, (tx) => {
          assert.equal(one(tx, "PRAGMA integrity_check"), "ok");
          assert.equal(
            one(tx, "SELECT honker_enqueue(?, ?, NULL, NULL, ?, ?, NULL) AS id", ["q", "1", 0, 3]),
            1,
          );
        }),
      );
    }));

  it("opens in honker, without error, a file our extension bootstrapped first", () =>
    withFile((path) => {
      withOurs(path, (db) => {
        assert.equal(scalar(db, "honker_enqueue('q', '\"ours\"', NULL, NULL, 0, 3, NULL)"), 1);
      });
      const before = master(path);

      withHonker(path, (hdb) =>
        inTx(hdb, (tx) => {
          assert.equal(one(tx, "PRAGMA integrity_check"), "ok");
          const claimed = JSON.parse(
            one<string>(tx, "SELECT honker_claim_batch(?, ?, ?, ?) AS r", ["q", "h", 1, 60]),
          ) as ClaimedRow[];
          assert.deepEqual(claimed.map(stable), [
            { attempts: 1, id: 1, payload: '"ours"', queue: "q", worker_id: "h" },
          ]);
          assert.equal(one(tx, "SELECT honker_ack(?, ?) AS n", [1, "h"]), 1);
        }),
      );
      assert.deepEqual(master(path), before, "honker's open changes no schema object of ours");
    }));

  it("creates honker's tables and indexes with honker's exact DDL text", () =>
    withFile(async (path) => {
      withHonker(path, () => {});
      const theirs = master(path);
      await withFile((oursPath) => {
        withOurs(oursPath, () => {});
        const ours = master(oursPath).filter((r) => !isOurAddition(r));
        assert.deepEqual(ours, theirs);
      });
    }));
});
