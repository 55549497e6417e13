/**
 * Dead outbox messages are pruned by the retention task, by age and by a
 * count per outbox (honker_x_outbox_dead_prune), in bounded statements.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, it } from "node:test";
import { type HonkerDatabase, open } from "../../src/main/database.ts";
import { Retention, resolveRetentionOptions } from "../../src/main/retention.ts";
import { tempDir } from "../helpers/db.ts";

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

function addDead(db: HonkerDatabase, outbox: string, n: number, diedAt: number): void {
  const stmt = db.raw.prepare(
    "INSERT INTO _honker_x_outbox_dead (outbox, payload, died_at) VALUES (?, '1', ?)",
  );
  for (let i = 0; i < n; i++) stmt.run(outbox, diedAt);
}

function deadIds(db: HonkerDatabase, outbox: string): number[] {
  return db.raw
    .prepare("SELECT id FROM _honker_x_outbox_dead WHERE outbox = ? ORDER BY id")
    .pluck()
    .all(outbox) as number[];
}

const prune = (db: HonkerDatabase, age: number | null, keep: number | null, limit: number) =>
  db.raw.prepare("SELECT honker_x_outbox_dead_prune(?, ?, ?)").pluck().get(age, keep, limit);

it("defaults: dead outbox messages kept 30 days and 10,000 per outbox", () => {
  const o = resolveRetentionOptions({});
  assert.equal(o.outboxDeadMaxAgeS, 30 * DAY);
  assert.equal(o.outboxDeadKeep, 10_000);
});

it("deletes dead outbox messages older than outboxDeadMaxAgeS, in every outbox", () => {
  const db = fresh();
  addDead(db, "a", 3, nowS() - 31 * DAY);
  addDead(db, "b", 2, nowS() - 31 * DAY);
  addDead(db, "a", 2, nowS() - DAY);
  const kept = deadIds(db, "a").slice(3);
  const report = new Retention(db, { intervalMs: null }).runOnce();
  assert.equal(report.outboxDead, 5);
  assert.equal(report.more, false);
  assert.deepEqual(deadIds(db, "a"), kept);
  assert.deepEqual(deadIds(db, "b"), []);
});

it("keeps the newest outboxDeadKeep dead messages of each outbox", () => {
  const db = fresh();
  addDead(db, "a", 15, nowS());
  addDead(db, "b", 3, nowS());
  addDead(db, "a", 2, nowS());
  const a = deadIds(db, "a");
  const b = deadIds(db, "b");
  const report = new Retention(db, { intervalMs: null, outboxDeadKeep: 10 }).runOnce();
  assert.equal(report.outboxDead, 7);
  assert.deepEqual(deadIds(db, "a"), a.slice(7));
  assert.deepEqual(deadIds(db, "b"), b);
});

it("deletes at most limit rows per call, oldest first, and reports that more remain", () => {
  const db = fresh();
  addDead(db, "a", 25, nowS() - 40 * DAY);
  const ids = deadIds(db, "a");
  const retention = new Retention(db, { intervalMs: null, batch: 10, passes: 2 });
  const first = retention.runOnce();
  assert.equal(first.outboxDead, 20);
  assert.equal(first.more, true);
  assert.deepEqual(deadIds(db, "a"), ids.slice(20));
  assert.equal(retention.runOnce().outboxDead, 5);
  assert.equal(prune(db, 0, null, 10), 0);
});

it("the count rule takes what the age rule left of limit", () => {
  const db = fresh();
  addDead(db, "a", 4, nowS() - 40 * DAY);
  addDead(db, "a", 6, nowS());
  const ids = deadIds(db, "a");
  assert.equal(prune(db, 30 * DAY, 2, 7), 7);
  assert.deepEqual(deadIds(db, "a"), ids.slice(7));
  assert.equal(prune(db, 30 * DAY, 2, 7), 1);
  assert.deepEqual(deadIds(db, "a"), ids.slice(8));
});

it("leaves dead outbox messages alone when both rules are null", () => {
  const db = fresh();
  addDead(db, "a", 3, nowS() - 365 * DAY);
  const report = new Retention(db, {
    intervalMs: null,
    outboxDeadMaxAgeS: null,
    outboxDeadKeep: null,
  }).runOnce();
  assert.equal(report.outboxDead, 0);
  assert.equal(deadIds(db, "a").length, 3);
  assert.equal(prune(db, null, null, 10), 0);
});

it("refuses bad options and arguments", () => {
  assert.throws(
    () => resolveRetentionOptions({ outboxDeadKeep: -1 }),
    /outboxDeadKeep must be null or a whole number/,
  );
  assert.throws(
    () => resolveRetentionOptions({ outboxDeadMaxAgeS: 1.5 }),
    /outboxDeadMaxAgeS must be null or a whole number/,
  );
  const db = fresh();
  assert.throws(() => prune(db, -1, null, 10), /honker_x_outbox_dead_prune.*max_age_s/);
  assert.throws(() => prune(db, null, 5, -1), /honker_x_outbox_dead_prune.*limit/);
});

it("a message the server rejected is dead, then pruned once past the age", async () => {
  const db = fresh();
  const sync = db.outbox("sync", {
    transport: async (batch) => batch.map(() => ({ status: "rejected", reason: "no" }) as const),
  });
  cleanups.push(() => sync.stop());
  sync.add({ n: 1 });
  await new Promise<void>((resolve) => {
    const off = sync.onStatus((s) => {
      if (s.dead === 1) {
        off();
        resolve();
      }
    });
  });
  db.raw.prepare("UPDATE _honker_x_outbox_dead SET died_at = died_at - 31 * 86400").run();
  assert.equal(new Retention(db, { intervalMs: null }).runOnce().outboxDead, 1);
  assert.deepEqual(sync.dead(), []);
});
