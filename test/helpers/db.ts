/** Test helpers: real SQLite files in fresh temp folders, extension loaded. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "node:test";
import Database from "better-sqlite3";
import { getLoadablePath } from "../../src/extension/index.ts";

export type Db = Database.Database;

/** Node flags that run the project's TypeScript directly (children, worker threads). */
export const TS_FLAGS = ["--experimental-strip-types", "--disable-warning=ExperimentalWarning"];

/** A row of honker_claim_batch's JSON. */
export type ClaimedRow = {
  attempts: number;
  claim_expires_at: number;
  id: number;
  payload: string;
  queue: string;
  worker_id: string;
};

/** A row of honker_stream_read_since's JSON. */
export type StreamRow = {
  created_at: number;
  key: string | null;
  offset: number;
  payload: string;
  topic: string;
};

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = "honker-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** FORMAT.md's connection settings. */
export function applyConnectionSettings(db: Db): void {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  db.pragma("temp_store = MEMORY");
  db.pragma("wal_autocheckpoint = 10000");
}

/** Opens `path` with the extension loaded (and bootstrapped unless told not to). */
export function openDb(path: string, opts: { bootstrap?: boolean } = {}): Db {
  const db = new Database(path);
  applyConnectionSettings(db);
  db.loadExtension(getLoadablePath());
  if (opts.bootstrap !== false) db.prepare("SELECT honker_bootstrap()").get();
  return db;
}

export type FreshDb = { db: Db; path: string; dir: string; close: () => void };

/** A bootstrapped database in a fresh temp folder; `close()` removes the folder. */
export function freshDb(): FreshDb {
  const { dir, cleanup } = tempDir();
  const path = join(dir, "app.db");
  const db = openDb(path);
  return {
    db,
    path,
    dir,
    close: () => {
      if (db.open) db.close();
      cleanup();
    },
  };
}

/** Gives every test of the file its own fresh database (closed after the test). */
export function freshDbEachTest(use: (ctx: FreshDb) => void): void {
  let ctx: FreshDb | null = null;
  beforeEach(() => {
    ctx = freshDb();
    use(ctx);
  });
  afterEach(() => ctx?.close());
}

/** Runs `SELECT <expr>` and returns the single value. */
export function scalar<T = unknown>(db: Db, expr: string, ...params: unknown[]): T {
  return db
    .prepare(`SELECT ${expr} AS v`)
    .pluck()
    .get(...params) as T;
}

/** Runs `SELECT <expr>` returning JSON text and parses it. */
export function json<T = unknown>(db: Db, expr: string, ...params: unknown[]): T {
  return JSON.parse(scalar<string>(db, expr, ...params)) as T;
}

export const now = (): number => Math.floor(Date.now() / 1000);
