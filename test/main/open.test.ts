import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { tempDir } from "../helpers/db.ts";
import { freshHost } from "../helpers/host.ts";

describe("open()", () => {
  it("refuses an in-memory database and says why", () => {
    for (const path of [":memory:", "", "file::memory:?cache=shared"]) {
      assert.throws(
        () => open(path),
        (err) =>
          isHonkerError(err, "HONKER_MEMORY_DATABASE") && /needs a database file/.test(err.message),
      );
    }
  });

  it("refuses a path whose directory does not exist", () => {
    assert.throws(
      () => open("/nonexistent-dir-honker/app.db"),
      (err) => isHonkerError(err, "HONKER_CANNOT_OPEN") && /does not exist/.test(err.message),
    );
  });

  it("applies FORMAT.md's connection settings", async () => {
    const h = freshHost();
    try {
      const p = (name: string) => h.db.raw.pragma(name, { simple: true });
      assert.deepEqual(
        [
          p("journal_mode"),
          p("synchronous"),
          // busy_timeout: our polling busy handler, with the same 5000 ms budget.
          h.db.raw.prepare("SELECT honker_busy_timeout()").pluck().get(),
          p("foreign_keys"),
          p("temp_store"),
          p("wal_autocheckpoint"),
        ],
        // wal_autocheckpoint 0: checkpoints run in a worker thread (see checkpointer.ts).
        ["wal", 1, 5000, 1, 2, 0],
      );
    } finally {
      await h.close();
    }
  });

  it("refuses calls after close() with HONKER_CLOSED", async () => {
    const h = freshHost();
    await h.close();
    assert.throws(
      () => h.db.queue("q").enqueue(1),
      (err) => isHonkerError(err, "HONKER_CLOSED"),
    );
    await h.db.close();
  });

  it("reports a file that is not a database as HONKER_CORRUPT and stays usable elsewhere", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const bad = join(dir, "bad.db");
      (await import("node:fs")).writeFileSync(
        bad,
        "this is not a database file at all, just text".repeat(100),
      );
      assert.throws(
        () => open(bad),
        (err) => isHonkerError(err, "HONKER_CORRUPT"),
      );
      const good = open(join(dir, "good.db"));
      assert.equal(good.queue("q").enqueue(1), 1);
      await good.close();
    } finally {
      cleanup();
    }
  });
});

describe("transaction() (the outbox)", () => {
  it("commits the app's write, the job, the event and the notification together", async () => {
    const h = freshHost();
    try {
      const { db } = h;
      db.raw.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)");
      db.transaction(() => {
        db.raw.prepare("INSERT INTO orders (total) VALUES (5)").run();
        db.queue("ship").enqueue({ order: 1 });
        db.notify("orders", { id: 1 });
      });
      const count = (sql: string) => db.raw.prepare(sql).pluck().get();
      assert.equal(count("SELECT count(*) FROM orders"), 1);
      assert.equal(count("SELECT count(*) FROM _honker_live"), 1);
      assert.equal(count("SELECT count(*) FROM _honker_notifications"), 1);
    } finally {
      await h.close();
    }
  });

  it("leaves nothing behind when fn throws", async () => {
    const h = freshHost();
    try {
      const { db } = h;
      db.raw.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY)");
      assert.throws(
        () =>
          db.transaction(() => {
            db.raw.prepare("INSERT INTO orders DEFAULT VALUES").run();
            db.queue("ship").enqueue(1);
            db.notify("orders", 1);
            throw new Error("payment declined");
          }),
        /payment declined/,
      );
      const count = (sql: string) => db.raw.prepare(sql).pluck().get();
      assert.deepEqual(
        [
          count("SELECT count(*) FROM orders"),
          count("SELECT count(*) FROM _honker_live"),
          count("SELECT count(*) FROM _honker_notifications"),
        ],
        [0, 0, 0],
      );
    } finally {
      await h.close();
    }
  });

  it("treats a nested call as a savepoint", async () => {
    const h = freshHost();
    try {
      const { db } = h;
      db.transaction(() => {
        db.queue("q").enqueue("outer");
        try {
          db.transaction(() => {
            db.queue("q").enqueue("inner");
            throw new Error("inner fails");
          });
        } catch {
          // the inner part is rolled back, the outer goes on
        }
      });
      assert.deepEqual(db.raw.prepare("SELECT payload FROM _honker_live").pluck().all(), [
        '"outer"',
      ]);
    } finally {
      await h.close();
    }
  });

  it("refuses an async fn instead of committing half of it", async () => {
    const h = freshHost();
    try {
      assert.throws(
        () => h.db.transaction((async () => h.db.queue("q").enqueue(1)) as unknown as () => void),
        (err) =>
          isHonkerError(err, "HONKER_INVALID_ARGUMENT") && /cannot span an await/.test(err.message),
      );
      assert.equal(h.db.raw.prepare("SELECT count(*) FROM _honker_live").pluck().get(), 0);
    } finally {
      await h.close();
    }
  });
});
