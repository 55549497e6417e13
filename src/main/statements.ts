/**
 * The host's one statement-cache idiom: every statement is prepared once
 * per connection, on first use, and found again by its SQL text. Kept in a
 * WeakMap keyed by the connection, so a closed and dropped connection takes
 * its statements with it.
 */
import type Database from "better-sqlite3";

const caches = new WeakMap<Database.Database, Map<string, Database.Statement>>();
// Pluck-mode statements in a map of their own: pluck() changes a statement
// for every later user, and a key built per call ("pluck:" + sql) would be
// a new string to hash on every call of the hot paths.
const pluckCaches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function cached(
  caches: WeakMap<Database.Database, Map<string, Database.Statement>>,
  raw: Database.Database,
  sql: string,
  make: () => Database.Statement,
) {
  let cache = caches.get(raw);
  if (!cache) {
    cache = new Map();
    caches.set(raw, cache);
  }
  let st = cache.get(sql);
  if (!st) {
    st = make();
    cache.set(sql, st);
  }
  return st;
}

/** The connection's statement for `sql` (rows as objects). */
export function prepared(raw: Database.Database, sql: string): Database.Statement {
  return cached(caches, raw, sql, () => raw.prepare(sql));
}

/** The connection's statement for `sql` in pluck mode (the first column of each row). */
export function plucked(raw: Database.Database, sql: string): Database.Statement {
  return cached(pluckCaches, raw, sql, () => raw.prepare(sql).pluck());
}
