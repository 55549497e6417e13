import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { getLoadablePath } from "../../src/extension/index.ts";
import { freshDb, openDb, scalar, tempDir } from "../helpers/db.ts";

const require = createRequire(import.meta.url);

describe("honker_bootstrap", () => {
  it("creates honker's tables and indexes with honker's exact DDL", () => {
    const { db, close } = freshDb();
    try {
      const live = scalar<string>(
        db,
        "(SELECT sql FROM sqlite_master WHERE name = '_honker_live')",
      );
      assert.ok(
        live.startsWith(
          "CREATE TABLE _honker_live (\n      id INTEGER PRIMARY KEY AUTOINCREMENT,\n",
        ),
      );
      const claimIdx = scalar<string>(
        db,
        "(SELECT sql FROM sqlite_master WHERE name = '_honker_live_claim')",
      );
      assert.equal(
        claimIdx,
        "CREATE INDEX _honker_live_claim\n      ON _honker_live(queue, priority DESC, run_at, id)\n      WHERE state IN ('pending', 'processing')",
      );
      const names = db
        .prepare(
          "SELECT name FROM sqlite_master WHERE name LIKE '\\_honker%' ESCAPE '\\' ORDER BY name",
        )
        .pluck()
        .all();
      for (const t of [
        "_honker_dead",
        "_honker_live",
        "_honker_locks",
        "_honker_notifications",
        "_honker_rate_limits",
        "_honker_results",
        "_honker_scheduler_tasks",
        "_honker_stream",
        "_honker_stream_consumers",
        "_honker_x_meta",
        "_honker_x_dedup",
        "_honker_x_progress",
        "_honker_x_history",
        "_honker_x_history_finished",
        "_honker_x_history_queue",
        "_honker_x_dedup_job",
      ]) {
        assert.ok(names.includes(t), `missing ${t}`);
      }
      assert.equal(
        scalar(db, "(SELECT value FROM _honker_x_meta WHERE key = 'format_version')"),
        "2",
      );
    } finally {
      close();
    }
  });

  it("is idempotent, also inside the caller's transaction", () => {
    const { db, close } = freshDb();
    try {
      assert.equal(scalar(db, "honker_bootstrap()"), 1);
      db.exec("BEGIN");
      assert.equal(scalar(db, "honker_bootstrap()"), 1);
      db.exec("COMMIT");
      assert.equal(scalar(db, "honker_x_version()"), "0.1.0");
    } finally {
      close();
    }
  });

  it("adds the scheduler columns that old honker files lack", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "old.db");
      const raw = new Database(path);
      raw.exec(
        "CREATE TABLE _honker_scheduler_tasks (name TEXT PRIMARY KEY, queue TEXT NOT NULL, cron_expr TEXT NOT NULL, payload TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0, expires_s INTEGER, next_fire_at INTEGER NOT NULL)",
      );
      raw.close();
      const db = openDb(path);
      const cols = db
        .prepare("SELECT name FROM pragma_table_info('_honker_scheduler_tasks')")
        .pluck()
        .all();
      assert.ok(cols.includes("enabled") && cols.includes("max_attempts"));
      db.close();
    } finally {
      cleanup();
    }
  });

  /** Turns a bootstrapped file back into format 1 (before _honker_x_history). */
  const makeFormat1 = (db: Database.Database) => {
    db.exec(
      "DROP TABLE _honker_x_history; DROP INDEX _honker_x_dedup_job; " +
        "UPDATE _honker_x_meta SET value = '1' WHERE key = 'format_version'",
    );
  };
  const tableNames = (db: Database.Database) =>
    db.prepare("SELECT name FROM sqlite_master ORDER BY name").pluck().all();

  it("migrates a format-1 file to format 2", () => {
    const { db, path, close } = freshDb();
    try {
      makeFormat1(db);
      db.close();
      const again = openDb(path);
      assert.equal(scalar(again, "honker_x_format_version()"), 2);
      const names = tableNames(again);
      for (const t of [
        "_honker_x_history",
        "_honker_x_history_finished",
        "_honker_x_history_queue",
        "_honker_x_dedup_job",
      ]) {
        assert.ok(names.includes(t), `missing ${t}`);
      }
      again.close();
    } finally {
      close();
    }
  });

  it("refuses a file whose format is newer than ours and writes nothing", () => {
    const { db, close } = freshDb();
    try {
      db.exec(
        "DROP TABLE _honker_x_history; UPDATE _honker_x_meta SET value = '3' WHERE key = 'format_version'",
      );
      const before = tableNames(db);
      const expected =
        /^honker_bootstrap: format version 3 is newer than this extension supports \(2\)/;
      assert.throws(
        () => scalar(db, "honker_bootstrap()"),
        (e: Error) => expected.test(e.message),
      );
      // Inside the caller's transaction too.
      db.exec("BEGIN");
      assert.throws(
        () => scalar(db, "honker_bootstrap()"),
        (e: Error) => expected.test(e.message),
      );
      db.exec("COMMIT");
      assert.deepEqual(tableNames(db), before);
      assert.equal(scalar(db, "honker_x_format_version()"), 3);
    } finally {
      close();
    }
  });

  it("honker_x_format_version() reads the file's version: 0 before any bootstrap", () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = openDb(join(dir, "empty.db"), { bootstrap: false });
      assert.equal(scalar(db, "honker_x_format_version()"), 0);
      assert.deepEqual(tableNames(db), []);
      scalar(db, "honker_bootstrap()");
      assert.equal(scalar(db, "honker_x_format_version()"), 2);
      db.close();
    } finally {
      cleanup();
    }
  });

  it("is safe when several processes migrate the same format-1 file at once", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "race1.db");
      const first = openDb(path);
      makeFormat1(first);
      first.close();
      const script = `
        const Database = require(${JSON.stringify(require.resolve("better-sqlite3"))});
        const db = new Database(process.argv[1]);
        db.pragma("busy_timeout = 5000");
        db.loadExtension(process.argv[2]);
        db.prepare("SELECT honker_bootstrap()").get();
        db.close();`;
      const runs = Array.from(
        { length: 6 },
        () =>
          new Promise<number>((resolve) => {
            const child = spawn(process.execPath, ["-e", script, path, getLoadablePath()], {
              stdio: ["ignore", "ignore", "inherit"],
            });
            child.on("exit", (code) => resolve(code ?? 1));
          }),
      );
      assert.deepEqual(await Promise.all(runs), [0, 0, 0, 0, 0, 0]);
      const db = openDb(path);
      assert.equal(scalar(db, "honker_x_format_version()"), 2);
      assert.ok(tableNames(db).includes("_honker_x_history"));
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      db.close();
    } finally {
      cleanup();
    }
  });

  it("is safe when several processes bootstrap the same new file at once", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "race.db");
      const script = `
        const Database = require(${JSON.stringify(require.resolve("better-sqlite3"))});
        const db = new Database(process.argv[1]);
        db.pragma("busy_timeout = 5000");
        try { db.pragma("journal_mode = WAL"); } catch {}
        db.loadExtension(process.argv[2]);
        db.prepare("SELECT honker_bootstrap()").get();
        db.close();`;
      const runs = Array.from(
        { length: 6 },
        () =>
          new Promise<number>((resolve) => {
            const child = spawn(process.execPath, ["-e", script, path, getLoadablePath()], {
              stdio: ["ignore", "ignore", "inherit"],
            });
            child.on("exit", (code) => resolve(code ?? 1));
          }),
      );
      assert.deepEqual(await Promise.all(runs), [0, 0, 0, 0, 0, 0]);
      const db = openDb(path);
      assert.equal(scalar(db, "(SELECT count(*) FROM _honker_x_meta)"), 1);
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      db.close();
    } finally {
      cleanup();
    }
  });
});

describe("closing a connection", () => {
  it("closes cleanly after cached statements ran (the WAL file is removed)", () => {
    const { db, path, close } = freshDb();
    for (let i = 0; i < 3; i++) {
      scalar(db, "honker_enqueue('q', '1', NULL, NULL, 0, 3, NULL)");
      scalar(db, "honker_claim_batch('q', 'w', 1, 30)");
    }
    db.close();
    assert.equal(existsSync(`${path}-wal`), false);
    close();
  });

  it("loads twice on one connection without breaking", () => {
    const { db, close } = freshDb();
    db.loadExtension(getLoadablePath());
    assert.equal(scalar(db, "honker_enqueue('q', '1', NULL, NULL, 0, 3, NULL)"), 1);
    close();
  });
});
