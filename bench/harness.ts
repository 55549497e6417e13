/** Tiny benchmark harness: interleaved rounds, median rate, ratios vs a floor. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { getLoadablePath } from "../src/extension/index.ts";

export type Db = Database.Database;

export function benchDb(): { db: Db; path: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "honker-bench-"));
  const path = join(dir, "bench.db");
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("temp_store = MEMORY");
  db.pragma("wal_autocheckpoint = 10000");
  db.loadExtension(getLoadablePath());
  db.prepare("SELECT honker_bootstrap()").get();
  return {
    db,
    path,
    dispose: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn(ops)` and returns operations per second. */
export function rate(ops: number, fn: (ops: number) => void): number {
  const t0 = process.hrtime.bigint();
  fn(ops);
  const ns = Number(process.hrtime.bigint() - t0);
  return (ops * 1e9) / ns;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

export interface Pair {
  name: string;
  ops: number;
  floor: (ops: number) => void;
  ours: (ops: number) => void;
  /** Goal for ours/floor. */
  goal: number;
  setup?: () => void;
}

export interface PairResult {
  name: string;
  floorRate: number;
  oursRate: number;
  ratio: number;
  goal: number;
}

/** Alternates floor and ours for `rounds` rounds (after one warm-up each). */
/** A floor/ours body that calls `fn` once per `perCall` ops (n ops in all). */
export function repeat(fn: () => void, perCall = 1): (n: number) => void {
  return (n) => {
    for (let i = 0; i < n / perCall; i++) fn();
  };
}

export function comparePair(p: Pair, rounds = 7): PairResult {
  p.setup?.();
  p.floor(Math.max(1, Math.floor(p.ops / 5)));
  p.ours(Math.max(1, Math.floor(p.ops / 5)));
  const f: number[] = [];
  const o: number[] = [];
  for (let i = 0; i < rounds; i++) {
    p.setup?.();
    f.push(rate(p.ops, p.floor));
    p.setup?.();
    o.push(rate(p.ops, p.ours));
  }
  const floorRate = median(f);
  const oursRate = median(o);
  return { name: p.name, floorRate, oursRate, ratio: oursRate / floorRate, goal: p.goal };
}

export function printResults(title: string, results: PairResult[]): void {
  console.log(`\n${title}`);
  console.log(
    `${"case".padEnd(44)} ${"raw ops/s".padStart(12)} ${"ours ops/s".padStart(12)} ${"ratio".padStart(7)} ${"goal".padStart(6)}`,
  );
  for (const r of results) {
    const mark = r.ratio >= r.goal ? "ok" : "BELOW";
    console.log(
      `${r.name.padEnd(44)} ${r.floorRate.toFixed(0).padStart(12)} ${r.oursRate.toFixed(0).padStart(12)} ${r.ratio.toFixed(2).padStart(7)} ${`>=${r.goal}`.padStart(6)} ${mark}`,
    );
  }
}

/** The raw better-sqlite3 floor: the same SQL the extension runs, without it. */
export const RAW_INSERT =
  "INSERT INTO _honker_live (queue, payload, run_at, priority, max_attempts, expires_at) VALUES (?, ?, ?, ?, ?, ?)";
export const RAW_CLAIM =
  "UPDATE _honker_live SET state = 'processing', worker_id = ?, claim_expires_at = ? + 30, attempts = attempts + 1 " +
  "WHERE id IN (SELECT id FROM _honker_live WHERE queue = ? AND state IN ('pending','processing') " +
  "AND ((+state = 'pending' AND +run_at <= ?) OR (+state = 'processing' AND +claim_expires_at < ?)) " +
  "ORDER BY priority DESC, run_at ASC, id ASC LIMIT ?) RETURNING id, payload";
const ACK_WHERE = "id = ?1 AND worker_id = ?2 AND claim_expires_at >= ?3";
const ACK_MANY_WHERE =
  "id IN (SELECT value FROM json_each(?1)) AND worker_id = ?2 AND claim_expires_at >= ?3";
export const RAW_ACK =
  "DELETE FROM _honker_live WHERE id = ? AND worker_id = ? AND claim_expires_at >= ?";
export const RAW_ACK_MANY =
  "DELETE FROM _honker_live WHERE id IN (SELECT value FROM json_each(?)) AND worker_id = ? AND claim_expires_at >= ?";

/** What an ack writes besides the DELETE: the history row, progress and key clean-up. */
function ackSideSql(where: string): string[] {
  return [
    "INSERT OR REPLACE INTO _honker_x_history (id, queue, state, payload, attempts, max_attempts, " +
      "priority, run_at, created_at, finished_at, progress, error) SELECT id, queue, 'completed', " +
      "payload, attempts, max_attempts, priority, run_at, created_at, ?3, (SELECT p.progress FROM " +
      `_honker_x_progress p WHERE p.job_id = _honker_live.id), NULL FROM _honker_live WHERE ${where}`,
    `DELETE FROM _honker_x_progress WHERE job_id IN (SELECT id FROM _honker_live WHERE ${where})`,
    `DELETE FROM _honker_x_dedup WHERE job_id IN (SELECT id FROM _honker_live WHERE ${where})`,
  ];
}

/**
 * The raw floor of an ack: the same statements honker_ack / honker_ack_batch
 * run (history row, progress and dedup clean-up, the DELETE) in one
 * transaction, as a raw caller would have to.
 */
export function rawAcker(db: Db): {
  one: (id: number, worker: string, now: number) => void;
  many: (idsJson: string, worker: string, now: number) => void;
} {
  const prepare = (where: string) => {
    const sqls = [...ackSideSql(where), `DELETE FROM _honker_live WHERE ${where}`];
    const stmts = sqls.map((sql) => db.prepare(sql));
    return db.transaction((a: number | string, worker: string, now: number) => {
      for (const st of stmts) st.run({ 1: a, 2: worker, 3: now });
    });
  };
  const one = prepare(ACK_WHERE);
  const many = prepare(ACK_MANY_WHERE);
  return { one: (id, w, t) => one(id, w, t), many: (ids, w, t) => many(ids, w, t) };
}
