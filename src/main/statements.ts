/**
 * The host's one statement-cache idiom: every statement is prepared once
 * per connection, on first use, and found again by its SQL text. Kept in a
 * WeakMap keyed by the connection, so a closed and dropped connection takes
 * its statements with it.
 */
import type Database from "better-sqlite3";

const caches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function cached(raw: Database.Database, key: string, make: () => Database.Statement) {
  let cache = caches.get(raw);
  if (!cache) {
    cache = new Map();
    caches.set(raw, cache);
  }
  let st = cache.get(key);
  if (!st) {
    st = make();
    cache.set(key, st);
  }
  return st;
}

/** The connection's statement for `sql` (rows as objects). */
export function prepared(raw: Database.Database, sql: string): Database.Statement {
  return cached(raw, sql, () => raw.prepare(sql));
}

/** The connection's statement for `sql` in pluck mode (the first column of each row). */
export function plucked(raw: Database.Database, sql: string): Database.Statement {
  // A separate entry: pluck() changes the statement for every later user.
  return cached(raw, `\u0000pluck\u0000${sql}`, () => raw.prepare(sql).pluck());
}
