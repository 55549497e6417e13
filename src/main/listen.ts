/**
 * LISTEN with Postgres semantics: a listener sees only notifications
 * committed after it was created (no history), in id order, each once.
 * Notifications are rows of `_honker_notifications`, written by `notify()`
 * in the writer's transaction, so a rolled-back notify is never seen.
 */
import type Database from "better-sqlite3";
import * as args from "./args.ts";
import { fromSqlite } from "./errors.ts";
import type { Host } from "./host.ts";
import { LiveIterator, runHandler } from "./live-tail.ts";
import { prunePasses, type RetentionOptions } from "./prune.ts";
import { plucked, prepared } from "./statements.ts";
import { fromJsonText } from "./values.ts";

export interface Notification<P> {
  id: number;
  channel: string;
  payload: P;
  /** Unix seconds. */
  createdAt: number;
}

export interface ListenOptions {
  /** Aborting ends the iteration and releases everything. */
  signal?: AbortSignal;
  /** Notifications read ahead per batch, at most (default 100, max 10000). */
  batchSize?: number;
}

export interface ListenCallbackOptions extends ListenOptions {
  /** Called when the callback throws (delivery goes on) or the listener fails. */
  onError?: (err: unknown) => void;
}

interface NotificationRow {
  id: number;
  payload: string;
  created_at: number;
}

/**
 * An async iterable of the notifications on one channel committed after
 * it was created. If pruning removed some it had not read yet, it goes on
 * with what is left.
 */
export class Listener<P> extends LiveIterator<Notification<P>> {
  readonly channel: string;
  private cursor: number;
  private readonly readStmt: Database.Statement;

  constructor(db: Host, channel: string, options: ListenOptions = {}) {
    args.name("listen(channel)", "channel", channel);
    const what = `listen('${channel}')`;
    const o = args.options<ListenOptions>(what, options);
    const batchSize = args.optInt(what, "options.batchSize", o.batchSize, 1, args.MAX_BATCH, 100);
    args.optSignal(what, "options.signal", o.signal);
    db.assertOpen(what);
    // Subscribes to the watcher first (in super), then records where "now" is.
    super(db, batchSize, o.signal);
    this.channel = channel;
    try {
      // `+?` keeps SQLite from recompiling the statement whenever a new
      // value is bound (it would for a bare LIMIT ? or channel = ?).
      this.readStmt = prepared(
        db.raw,
        "SELECT id, payload, created_at FROM _honker_notifications " +
          "WHERE channel = +? AND id > ? ORDER BY id LIMIT +?",
      );
      this.cursor = plucked(
        db.raw,
        "SELECT COALESCE(MAX(id), 0) FROM _honker_notifications",
      ).get() as number;
    } catch (err) {
      void this.close();
      throw fromSqlite(err, what);
    }
  }

  /** Id of the last notification read (where "after" starts). */
  get position(): number {
    return this.cursor;
  }

  protected override fetch(limit: number): Notification<P>[] {
    const rows = this.db.read(
      `listen('${this.channel}')`,
      () => this.readStmt.all(this.channel, this.cursor, limit) as NotificationRow[],
    );
    const last = rows[rows.length - 1];
    if (last) this.cursor = last.id;
    return rows.map((row) => ({
      id: row.id,
      channel: this.channel,
      payload: fromJsonText<P>(row.payload),
      createdAt: row.created_at,
    }));
  }
}

/**
 * LISTEN as an async iterable:
 *
 * ```ts
 * for await (const n of listen<{ key: string }>(db, "settings-changed")) apply(n.payload);
 * ```
 */
export function listen<P>(db: Host, channel: string, options: ListenOptions = {}): Listener<P> {
  return new Listener<P>(db, channel, options);
}

/**
 * LISTEN with a callback, awaited for each notification in order. Returns
 * a function that stops listening (after the callback in progress).
 */
export function listenCallback<P>(
  db: Host,
  channel: string,
  fn: (notification: Notification<P>) => void | Promise<void>,
  options: ListenCallbackOptions = {},
): () => Promise<void> {
  const what = `listen('${String(channel)}', fn)`;
  args.func(what, "fn", fn);
  const { onError, ...listenOptions } = args.options<ListenCallbackOptions>(what, options);
  args.optFunc(what, "options.onError", onError);
  const handle = runHandler(db, new Listener<P>(db, channel, listenOptions), fn, onError, false);
  return () => handle.close();
}

/** Prunes notifications by age and/or count; returns the number deleted. */
export function pruneNotifications(db: Host, options: RetentionOptions): number {
  db.assertOpen("pruneNotifications");
  let stmt: Database.Statement;
  try {
    stmt = plucked(db.raw, "SELECT honker_prune_notifications(?, ?, ?)");
  } catch (err) {
    throw fromSqlite(err, "pruneNotifications");
  }
  return prunePasses(
    db,
    "pruneNotifications",
    options,
    (age, keep, batch) => stmt.get(age, keep, batch) as number,
  );
}
