/**
 * The narrow interface that the host's feature modules (queues, workers,
 * streams, listen, locks, scheduler, retention, rate limits) depend on,
 * instead of the whole `HonkerDatabase` facade: it keeps them below
 * database.ts in the import graph, with no circle back up.
 */
import type Database from "better-sqlite3";
import type { Watcher } from "./watcher.ts";

/** Something `close()` must stop first (workers, subscriptions, the scheduler). */
export interface Closeable {
  close(options?: { graceMs?: number }): Promise<void> | void;
}

/** What a feature module needs of an open database. */
export interface Host {
  /** The better-sqlite3 connection (the writer, shared with the app's own tables). */
  readonly raw: Database.Database;
  /** Absolute path of the database file. */
  readonly path: string;
  /** The shared watcher of this file in this process. */
  readonly watcher: Watcher;
  /** Identifies this handle's workers and locks across processes. */
  readonly ownerId: string;
  /** True until close() starts. */
  readonly open: boolean;
  /** Throws HONKER_CLOSED once close() has started. */
  assertOpen(doing: string): void;
  /** Runs a write (mapping SQLite errors, waking local waiters once committed). */
  write<T>(doing: string, fn: () => T): T;
  /** Runs a read (mapping SQLite errors). */
  read<T>(doing: string, fn: () => T): T;
  /** Runs fn in one transaction (a savepoint when nested). */
  transaction<T>(fn: () => T): T;
  /** Runs housekeeping that gives up after `ms` if another process holds the write lock. */
  withShortBusyWait<T>(fn: () => T, ms?: number): T;
  /** Registers something close() must stop first; returns an unregister function. */
  track(item: Closeable): () => void;
}
