import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, it } from "node:test";
import Database from "better-sqlite3";
import { type HonkerDatabase, open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { rateLimit, sweepRateLimits } from "../../src/main/ratelimit.ts";
import { Retention, type RetentionReport } from "../../src/main/retention.ts";
import { tempDir } from "../helpers/db.ts";
import { sleep, waitFor } from "../helpers/wait.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function fresh(): HonkerDatabase {
  const { dir, cleanup } = tempDir();
  const db = open(join(dir, "app.db"), { retention: false });
  cleanups.push(cleanup, () => db.close());
  return db;
}

const nowS = () => Math.floor(Date.now() / 1000);
const DAY = 86_400;

function count(db: HonkerDatabase, table: string): number {
  return db.raw.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
}

function addNotifications(db: HonkerDatabase, n: number, createdAt: number): void {
  const stmt = db.raw.prepare(
    "INSERT INTO _honker_notifications (channel, payload, created_at) VALUES ('c', '1', ?)",
  );
  for (let i = 0; i < n; i++) stmt.run(createdAt);
}

function addDead(db: HonkerDatabase, n: number, diedAt: number): void {
  const stmt = db.raw.prepare(
    "INSERT INTO _honker_dead (queue, payload, died_at) VALUES ('q', '1', ?)",
  );
  for (let i = 0; i < n; i++) stmt.run(diedAt);
}

function addWindows(db: HonkerDatabase, n: number, start: number): void {
  const stmt = db.raw.prepare(
    "INSERT INTO _honker_rate_limits (name, window_start, count) VALUES (?, ?, 1)",
  );
  for (let i = 0; i < n; i++) stmt.run(`w${start}-${i}`, start);
}

function addResults(db: HonkerDatabase, ids: number[], expiresAt: number | null): void {
  const stmt = db.raw.prepare(
    "INSERT INTO _honker_results (job_id, value, expires_at) VALUES (?, '1', ?)",
  );
  for (const id of ids) stmt.run(id, expiresAt);
}

// ---- rate limits ------------------------------------------------------------

it("allows limit calls per window and refuses the rest without counting them", () => {
  const db = fresh();
  const calls = Array.from({ length: 5 }, () =>
    rateLimit(db, "email", { limit: 3, perSeconds: 3600 }),
  );
  assert.deepEqual(calls, [true, true, true, false, false]);
  assert.equal(
    db.raw.prepare("SELECT SUM(count) FROM _honker_rate_limits WHERE name = 'email'").pluck().get(),
    3,
    "refused calls are not counted",
  );
  assert.equal(
    rateLimit(db, "sms", { limit: 3, perSeconds: 3600 }),
    true,
    "another name has its own budget",
  );
});

it("allows calls again once the next window starts", { timeout: 5000 }, async () => {
  const db = fresh();
  const opts = { limit: 2, perSeconds: 1 };
  // Start at the top of a second so all three calls share one window.
  await sleep(1000 - (Date.now() % 1000) + 10);
  assert.deepEqual(
    [rateLimit(db, "api", opts), rateLimit(db, "api", opts), rateLimit(db, "api", opts)],
    [true, true, false],
  );
  // Time passing is the scenario here: wait for the next one-second window.
  await sleep(1000 - (Date.now() % 1000) + 10);
  assert.equal(rateLimit(db, "api", opts), true);
});

it("sweeps rate-limit windows older than the given age and keeps current ones", () => {
  const db = fresh();
  addWindows(db, 3, nowS() - 2 * DAY);
  rateLimit(db, "current", { limit: 5, perSeconds: 60 });
  assert.equal(sweepRateLimits(db, DAY), 3);
  assert.deepEqual(db.raw.prepare("SELECT name FROM _honker_rate_limits").pluck().all(), [
    "current",
  ]);
});

it("refuses a rate limit without a whole-number limit or window", () => {
  const db = fresh();
  assert.throws(
    () => rateLimit(db, "x", { limit: 0, perSeconds: 60 }),
    (err: unknown) =>
      isHonkerError(err, "HONKER_INVALID_ARGUMENT") && err.message.includes("limit"),
  );
  assert.throws(
    () => rateLimit(db, "x", { limit: 1, perSeconds: 0.5 }),
    (err: unknown) =>
      isHonkerError(err, "HONKER_INVALID_ARGUMENT") && err.message.includes("perSeconds"),
  );
});

// ---- retention --------------------------------------------------------------

it("deletes old notifications, dead jobs, windows and expired results and keeps fresh ones", () => {
  const db = fresh();
  const now = nowS();
  addNotifications(db, 5, now - 2 * DAY);
  addNotifications(db, 3, now);
  addDead(db, 4, now - 31 * DAY);
  addDead(db, 2, now - DAY);
  addWindows(db, 3, now - 2 * DAY);
  addWindows(db, 1, now);
  addResults(db, [1, 2], now - 10);
  addResults(db, [3], now + 3600);
  addResults(db, [4], null);

  const retention = new Retention(db, { intervalMs: null });
  const report = retention.runOnce();
  assert.deepEqual(report, {
    notifications: 5,
    dead: 4,
    rateLimits: 3,
    results: 2,
    history: 0,
    outboxDead: 0,
    more: false,
  });
  assert.equal(count(db, "_honker_notifications"), 3);
  assert.equal(count(db, "_honker_dead"), 2);
  assert.equal(count(db, "_honker_rate_limits"), 1);
  assert.deepEqual(
    db.raw.prepare("SELECT job_id FROM _honker_results ORDER BY job_id").pluck().all(),
    [3, 4],
  );
});

it("deletes at most batch rows per statement and passes per table, reporting that more remain", () => {
  const db = fresh();
  addNotifications(db, 25, nowS() - 2 * DAY);
  const retention = new Retention(db, { intervalMs: null, batch: 10, passes: 2 });
  assert.deepEqual(retention.runOnce(), {
    notifications: 20,
    dead: 0,
    rateLimits: 0,
    results: 0,
    history: 0,
    outboxDead: 0,
    more: true,
  });
  assert.equal(count(db, "_honker_notifications"), 5);
  assert.deepEqual(retention.runOnce(), {
    notifications: 5,
    dead: 0,
    rateLimits: 0,
    results: 0,
    history: 0,
    outboxDead: 0,
    more: false,
  });
  assert.equal(count(db, "_honker_notifications"), 0);
});

it("keeps only the newest notificationsKeep notifications", () => {
  const db = fresh();
  addNotifications(db, 10, nowS());
  const ids = db.raw
    .prepare("SELECT id FROM _honker_notifications ORDER BY id")
    .pluck()
    .all() as number[];
  const retention = new Retention(db, { intervalMs: null, notificationsKeep: 4 });
  assert.equal(retention.runOnce().notifications, 6);
  assert.deepEqual(
    db.raw.prepare("SELECT id FROM _honker_notifications ORDER BY id").pluck().all(),
    ids.slice(6),
  );
});

it("leaves a table alone when its policy is null", () => {
  const db = fresh();
  const now = nowS();
  addDead(db, 3, now - 365 * DAY);
  addNotifications(db, 2, now - 365 * DAY);
  addResults(db, [1], now - 10);
  const retention = new Retention(db, {
    intervalMs: null,
    deadMaxAgeS: null,
    notificationsMaxAgeS: null,
    notificationsKeep: null,
    sweepResults: null,
  });
  assert.deepEqual(retention.runOnce(), {
    notifications: 0,
    dead: 0,
    rateLimits: 0,
    results: 0,
    history: 0,
    outboxDead: 0,
    more: false,
  });
  assert.equal(count(db, "_honker_dead"), 3);
  assert.equal(count(db, "_honker_notifications"), 2);
  assert.equal(count(db, "_honker_results"), 1);
});

it("runs a pass at start() and again on its timer", { timeout: 5000 }, async () => {
  const db = fresh();
  addDead(db, 2, nowS() - 40 * DAY);
  const retention = new Retention(db, { intervalMs: 50 });
  const passes: RetentionReport[] = [];
  retention.onPass((r) => passes.push(r));
  retention.start();
  await waitFor(() => passes.length >= 1, { timeoutMs: 2000, what: "the first pass" });
  assert.equal(passes[0]?.dead, 2);
  const before = passes.length;
  addDead(db, 1, nowS() - 40 * DAY);
  await waitFor(() => passes.length > before, {
    timeoutMs: 2000,
    what: "a pass after new old rows",
  });
  assert.equal(count(db, "_honker_dead"), 0);
  assert.equal(
    passes.reduce((n, r) => n + r.dead, 0),
    3,
    "every old dead row was reported once",
  );
});

it("refuses a negative age or a zero batch", () => {
  const db = fresh();
  assert.throws(
    () => new Retention(db, { deadMaxAgeS: -1 }),
    (err: unknown) =>
      isHonkerError(err, "HONKER_INVALID_ARGUMENT") && err.message.includes("deadMaxAgeS"),
  );
  assert.throws(
    () => new Retention(db, { batch: 0 }),
    (err: unknown) =>
      isHonkerError(err, "HONKER_INVALID_ARGUMENT") && err.message.includes("batch"),
  );
});

it("a retention pass gives up at once while another process holds the write lock, and runs after it", async () => {
  const { dir, cleanup } = tempDir();
  const path = join(dir, "app.db");
  const created = open(path, { retention: false });
  await created.close();
  const other = new Database(path);
  other.exec("BEGIN IMMEDIATE");
  // Opening writes nothing (the schema is there); retention's first pass runs at once.
  const db = open(path, { busyTimeoutMs: 2000 });
  cleanups.push(
    cleanup,
    () => db.close(),
    () => {
      other.close();
    },
  );
  const passes: RetentionReport[] = [];
  db.retention?.onPass((r) => passes.push(r));
  const started = Date.now();
  await sleep(100);
  assert.ok(Date.now() - started < 1000, `the event loop stalled ${Date.now() - started} ms`);
  assert.equal(passes.length, 0, "no pass while the lock is held");
  other.exec("ROLLBACK");
  await waitFor(() => passes.length > 0, {
    timeoutMs: 5000,
    what: "the pass once the lock was free",
    intervalMs: 20,
  });
  assert.equal(passes.length, 1, "the pass ran once the lock was free");
  // The connection's own busy timeout is back for the app's writes.
  assert.equal(db.raw.prepare("SELECT honker_busy_timeout()").pluck().get(), 2000);
});
