/**
 * A writer process SIGKILLed inside an open write transaction: the file
 * stays healthy, nothing it wrote is visible, and the write lock is free
 * again at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import Database from "better-sqlite3";
import { open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";
import { killAll, startChild } from "./children.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await killAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

test("a writer SIGKILLed mid-transaction leaves a healthy file, none of its rows, and a free write lock", async () => {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const db = open(path, { busyTimeoutMs: 2000 });
  cleanups.push(() => db.close());
  const count = (sql: string) => db.raw.prepare(sql).pluck().get() as number;
  const rows = () => ({
    jobs: count("SELECT count(*) FROM _honker_live WHERE queue = 'q'"),
    events: count("SELECT count(*) FROM _honker_stream WHERE topic = 's'"),
    notes: count("SELECT count(*) FROM _honker_notifications WHERE channel = 'c'"),
  });
  assert.deepEqual(rows(), { jobs: 0, events: 0, notes: 0 });

  const writer = startChild("writer", "proc-writer.ts", [path, "hang", "hang"]);
  const inside = await writer.event("inside", 20_000);
  assert.equal(typeof inside.job, "number");
  assert.equal(typeof inside.offset, "number");
  assert.equal(typeof inside.note, "number");

  // The child really holds the write lock: we cannot take it now.
  db.raw.pragma("busy_timeout = 0");
  assert.throws(
    () => db.raw.exec("BEGIN IMMEDIATE"),
    (err: { code?: string }) => err.code === "SQLITE_BUSY",
    "BEGIN IMMEDIATE should be refused while the child is inside its transaction",
  );
  assert.equal(db.raw.inTransaction, false);
  assert.deepEqual(rows(), { jobs: 0, events: 0, notes: 0 }, "uncommitted rows are not visible");
  db.raw.pragma("busy_timeout = 2000");

  await writer.kill();

  assert.equal(db.raw.pragma("integrity_check", { simple: true }), "ok");
  assert.deepEqual(rows(), { jobs: 0, events: 0, notes: 0 }, "rows of the killed transaction");

  const started = Date.now();
  const id = db.transaction(() => db.queue("q").enqueue({ from: "next writer" }));
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 2000, `the next writer waited ${elapsed} ms for the write lock`);
  assert.deepEqual(rows(), { jobs: 1, events: 0, notes: 0 });

  // A fresh connection (as a new process would open) sees the same.
  const other = new Database(path, { readonly: true });
  try {
    assert.equal(other.pragma("integrity_check", { simple: true }), "ok");
    const seen = other.prepare("SELECT id, payload FROM _honker_live WHERE queue = 'q'").all() as {
      id: number;
      payload: string;
    }[];
    assert.deepEqual(seen, [{ id, payload: '{"from":"next writer"}' }]);
    assert.equal(
      other.prepare("SELECT count(*) FROM _honker_stream WHERE topic = 's'").pluck().get(),
      0,
    );
    assert.equal(
      other.prepare("SELECT count(*) FROM _honker_notifications WHERE channel = 'c'").pluck().get(),
      0,
    );
  } finally {
    other.close();
  }
});
