/**
 * `open(path)`: the host's entry point. One better-sqlite3 connection (the
 * writer, shared with the app's own tables), the extension, the shared
 * watcher, and the queue/stream/channel/scheduler/lock objects on top.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, realpathSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { getLoadablePath } from "../extension/index.ts";
import * as args from "./args.ts";
import {
  Checkpointer,
  type CheckpointResult,
  type WriterCheckpoints,
  walBytesOf,
  walLimitBytes,
} from "./checkpointer.ts";
import { fromSqlite, HonkerError } from "./errors.ts";
import type { Closeable, Host } from "./host.ts";
import { type Listener, type ListenOptions, listen, listenCallback } from "./listen.ts";
import { type Lock, tryLock, type WithLockOptions, withLock } from "./lock.ts";
import { Outbox, type OutboxOptions } from "./outbox/outbox.ts";
import { Queue } from "./queue.ts";
import { type RateLimitOptions, rateLimit } from "./ratelimit.ts";
import { report } from "./report.ts";
import { Retention, type RetentionOptions, resolveRetentionOptions } from "./retention.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler.ts";
import type {
  AnySchema,
  ChannelName,
  ChannelPayload,
  HonkerSchema,
  OutboxName,
  OutboxPayload,
  QueueName,
  QueuePayload,
  StreamName,
  StreamPayload,
} from "./schema.ts";
import { plucked, prepared } from "./statements.ts";
import { Stream } from "./stream.ts";
import { toJsonText } from "./values.ts";
import { Watcher, type WatcherOptions } from "./watcher.ts";

export interface OpenOptions {
  /** Explicit path of the extension (default: getLoadablePath()). */
  extensionPath?: string;
  /** SQLite busy timeout in ms (default 5000). */
  busyTimeoutMs?: number;
  /** Watcher tuning; mostly for tests. */
  watcher?: WatcherOptions;
  /**
   * Background retention of notifications, dead letters, rate-limit windows
   * and expired results (bounded work per pass). `false` disables it.
   */
  retention?: RetentionOptions | false;
  /** Scheduler options (leader lock TTL). */
  scheduler?: SchedulerOptions;
  /**
   * Where WAL checkpoints run: "background" (default) in a worker thread,
   * so a checkpoint never stalls this thread's event loop; "inline" keeps
   * SQLite's automatic checkpoint (wal_autocheckpoint = 10000) in commits.
   */
  checkpoints?: "background" | "inline";
  /**
   * Background checkpoints start once the WAL holds this much (default 4
   * MiB, about SQLite's own 1,000-page threshold). Below it no checkpoint
   * thread runs at all: an app that writes a little never pays for one.
   * The -wal file is reused in place after a checkpoint, so it stays at
   * about this size; twice this is its journal_size_limit.
   */
  checkpointAfterWalBytes?: number;
  /**
   * Where warnings about the database as a whole go: today, a -wal file
   * that keeps growing because a reader pins an old snapshot
   * (HONKER_WAL_GROWING). Default: logged once per cause.
   */
  onError?: (err: unknown) => void;
}

export type { Closeable } from "./host.ts";

/** close()'s default grace for running job handlers before they are aborted and released. */
export const DEFAULT_CLOSE_GRACE_MS = 3_000;

/**
 * Set while a transaction's fn runs; marked `escaped` once fn turns out to
 * be async, so writes by the kit from the code after its first await (which
 * would run outside any transaction) are refused instead of committing.
 */
const transactionScope = new AsyncLocalStorage<{ escaped: boolean }>();

/** Checks every open() argument before the file is touched. */
function checkOpenArgs(path: unknown, options: unknown): OpenOptions {
  const fn = "open(path, options)";
  if (path === "") refuseMemory(path);
  if (typeof path !== "string" || path.length === 0) {
    throw args.refuse(fn, "path", "a non-empty string (the database file's path)", path);
  }
  if (path.includes("\0")) throw args.refuse(fn, "path", "free of NUL characters", path);
  if (!(path as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw args.refuse(fn, "path", "well-formed Unicode (it has a lone surrogate)", path);
  }
  const o = args.options<OpenOptions>(fn, options);
  if (o.extensionPath !== undefined) args.text(fn, "options.extensionPath", o.extensionPath, 4096);
  // The extension's busy handler takes at most an hour.
  args.optInt(fn, "options.busyTimeoutMs", o.busyTimeoutMs, 0, 3_600_000, 5000);
  const w = args.options<WatcherOptions>(fn, o.watcher, "options.watcher");
  args.optInt(fn, "options.watcher.pollMinMs", w.pollMinMs, 1, args.MAX_TIMER_MS, 5);
  args.optInt(fn, "options.watcher.pollMaxMs", w.pollMaxMs, 1, args.MAX_TIMER_MS, 30_000);
  args.optBool(fn, "options.watcher.fileEvents", w.fileEvents, true);
  args.optBool(fn, "options.watcher.disablePoll", w.disablePoll, false);
  args.optInt(
    fn,
    "options.watcher.fileEventsLingerMs",
    w.fileEventsLingerMs,
    0,
    args.MAX_TIMER_MS,
    2000,
  );
  if (o.retention !== false && o.retention !== undefined) {
    resolveRetentionOptions(o.retention, `${fn}: options.retention`);
  }
  const sch = args.options<SchedulerOptions>(fn, o.scheduler, "options.scheduler");
  args.optInt(fn, "options.scheduler.lockTtl", sch.lockTtl, 2, 3600, 10);
  args.optFunc(fn, "options.onError", o.onError);
  args.oneOf(fn, "options.checkpoints", o.checkpoints, ["background", "inline"], "background");
  args.optInt(
    fn,
    "options.checkpointAfterWalBytes",
    o.checkpointAfterWalBytes,
    0,
    Number.MAX_SAFE_INTEGER,
    4 * 1024 * 1024,
  );
  return o;
}

/** Shared watchers: one per database file per process. */
const watchers = new Map<string, { watcher: Watcher; refs: number }>();

function acquireWatcher(path: string, options: WatcherOptions | undefined): Watcher {
  const entry = watchers.get(path);
  if (entry && !entry.watcher.dead) {
    entry.refs++;
    return entry.watcher;
  }
  const watcher = new Watcher(path, options);
  watchers.set(path, { watcher, refs: 1 });
  return watcher;
}

function releaseWatcher(watcher: Watcher): void {
  const entry = watchers.get(watcher.path);
  if (!entry || entry.watcher !== watcher) {
    watcher.close();
    return;
  }
  entry.refs--;
  if (entry.refs <= 0) {
    watchers.delete(watcher.path);
    watcher.close();
  }
}

function refuseMemory(path: string): void {
  if (path === "" || path === ":memory:" || /^file:.*(:memory:|mode=memory)/.test(path)) {
    throw new HonkerError(
      "HONKER_MEMORY_DATABASE",
      "honker-electron needs a database file: an in-memory database cannot be seen by other " +
        "connections or processes, so no watcher, worker process or renderer could wake on it. " +
        "Pass a file path (for tests, a file in a temp directory).",
    );
  }
}

/** SQLite reports a read-only mount as "cannot open" (it cannot create -shm); say what it is. */
function readOnlyHint(err: unknown, abs: string): unknown {
  if (!(err instanceof HonkerError) || err.code !== "HONKER_CANNOT_OPEN") return err;
  try {
    accessSync(dirname(abs), constants.W_OK);
    return err;
  } catch {
    return new HonkerError(
      "HONKER_READONLY",
      `open(${abs}): the database's directory is read-only, and SQLite needs to create its ` +
        "-wal and -shm files beside it. Move the file to a writable directory.",
      { cause: err },
    );
  }
}

/** A unique id for this process's workers and locks: host:pid:random. */
export function makeOwnerId(prefix = "honker"): string {
  return `${prefix}:${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/** A database of any schema (for code that serves every schema). */
// biome-ignore lint/suspicious/noExplicitAny: the schema is irrelevant to such code
export type AnyHonkerDatabase = HonkerDatabase<any>;

export class HonkerDatabase<S extends HonkerSchema = AnySchema> implements Host {
  /** The better-sqlite3 connection: use it for the app's own tables. */
  readonly raw: Database.Database;
  /** Absolute path of the database file. */
  readonly path: string;
  readonly watcher: Watcher;
  /** Identifies this handle's workers and locks across processes. */
  readonly ownerId: string;
  private readonly closeables = new Set<Closeable>();
  private closing: Promise<void> | null = null;
  private readonly notifyStmt: Database.Statement;
  private readonly runner: Database.Transaction<(f: () => unknown) => unknown>;
  /**
   * Depth of transaction(fn) calls running fn right now. Above 0 the code
   * runs synchronously inside our own transaction, whose start checked that
   * the file is writable and the call did not escape through an await:
   * writes in it skip those checks (the hot path of enqueue in a transaction).
   */
  private inside = 0;
  // biome-ignore lint/suspicious/noExplicitAny: each name has its own payload type
  private readonly queues = new Map<string, Queue<any, any>>();
  // biome-ignore lint/suspicious/noExplicitAny: each name has its own payload type
  private readonly streams = new Map<string, Stream<any>>();
  // biome-ignore lint/suspicious/noExplicitAny: each name has its own payload type
  private readonly outboxes = new Map<string, Outbox<any>>();
  private schedulerInstance: Scheduler | null = null;
  private readonly schedulerOptions: SchedulerOptions | undefined;
  /** Background WAL checkpoints (null with `checkpoints: "inline"`). */
  readonly checkpointer: Checkpointer | null;
  /** The background retention task (null when disabled). */
  readonly retention: Retention | null;
  private readonly busyTimeoutMs: number;
  /** The writer's own checkpoints: past the hard bound, and in a synchronous burst. */
  private readonly writerCheckpoints: WriterCheckpoints = {
    force: () => prepared(this.raw, "PRAGMA wal_checkpoint(RESTART)").get() as CheckpointResult,
    autocheckpoint: (pages) => {
      if (this.raw.open) plucked(this.raw, "SELECT honker_x_wal_watch(?)").get(Math.trunc(pages));
    },
    walBytes: () => {
      const frames = plucked(this.raw, "SELECT honker_x_wal_frames()").get() as number;
      return frames < 0 ? -1 : walBytesOf(frames, this.pageSize);
    },
  };
  /** The database's page size (a WAL frame is a page plus a 24-byte header). */
  private pageSize = 4096;
  private busyTimeoutStmt!: Database.Statement;

  constructor(path: string, options: OpenOptions = {}) {
    options = checkOpenArgs(path, options);
    refuseMemory(path);
    const abs = resolve(path);
    if (!existsSync(dirname(abs))) {
      throw new HonkerError(
        "HONKER_CANNOT_OPEN",
        `open(${path}): the directory ${dirname(abs)} does not exist; create it first.`,
      );
    }
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    let raw: Database.Database;
    try {
      raw = new Database(abs);
    } catch (err) {
      throw fromSqlite(err, `open(${path})`);
    }
    // From here on, a refusal closes everything it opened: the process keeps
    // no descriptor, and the file is changed only once the schema is in place.
    let watcher: Watcher | null = null;
    try {
      raw.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      try {
        raw.loadExtension(options.extensionPath ?? getLoadablePath());
      } catch (err) {
        throw new HonkerError(
          "HONKER_EXTENSION",
          `open(${path}): could not load the honker SQLite extension: ${String((err as Error).message).replace(/^honker-electron: /, "")}`,
          { cause: err },
        );
      }
      // Our busy handler polls the lock every few tens of microseconds instead of
      // sleeping 1..100 ms, so a wait for another process's commit does not stall
      // the event loop for longer than that commit.
      this.busyTimeoutStmt = raw.prepare("SELECT honker_busy_timeout(?)");
      this.busyTimeoutStmt.get(this.busyTimeoutMs);
      // Bootstrap (one savepoint: all or nothing) before the switch to WAL,
      // so a file whose tables clash with ours is left as it was.
      raw.prepare("SELECT honker_bootstrap()").get();
      raw.pragma("journal_mode = WAL");
      raw.pragma("synchronous = NORMAL");
      raw.pragma("foreign_keys = ON");
      raw.pragma("temp_store = MEMORY");
      // Background checkpoints (and, past a hard bound, the writer itself)
      // keep the WAL near checkpointAfterWalBytes; see checkpointer.ts.
      const walTarget = options.checkpointAfterWalBytes ?? 4 * 1024 * 1024;
      if (options.checkpoints === "inline") {
        raw.pragma("wal_autocheckpoint = 10000");
      } else {
        // The extension's WAL hook instead of SQLite's automatic checkpoint:
        // it tells the checkpointer how big the WAL is (see native/wal.c).
        raw.pragma("wal_autocheckpoint = 0");
        raw.prepare("SELECT honker_x_wal_watch(0)").get();
      }
      // A writer rewinds a checkpointed WAL in place; a file that grew past
      // this (a long burst, a pinned reader) is cut back to it then.
      raw.pragma(`journal_size_limit = ${walLimitBytes(walTarget)}`);
      // A first read in WAL mode opens -wal and -shm now, not at some later call.
      raw.prepare("SELECT count(*) FROM sqlite_schema").get();
      this.path = realpathSync(abs);
      watcher = acquireWatcher(this.path, options.watcher);
      this.notifyStmt = raw.prepare("SELECT notify(?, ?)").pluck();
    } catch (err) {
      if (watcher) releaseWatcher(watcher);
      raw.close();
      throw readOnlyHint(fromSqlite(err, `open(${path})`), abs);
    }
    this.raw = raw;
    this.pageSize = raw.pragma("page_size", { simple: true }) as number;
    this.watcher = watcher;
    this.ownerId = makeOwnerId(basename(abs));
    // Built once: better-sqlite3 prepares BEGIN/COMMIT/SAVEPOINT per wrapper.
    this.runner = raw.transaction((f: () => unknown) => {
      const scope = { escaped: false };
      let result: unknown;
      this.inside++;
      try {
        result = transactionScope.run(scope, f);
      } finally {
        this.inside--;
      }
      if (result && typeof (result as { then?: unknown }).then === "function") {
        scope.escaped = true;
        // The rejection is ours to report (below); don't let it go unhandled.
        (result as Promise<unknown>).then(undefined, () => {});
        throw new HonkerError(
          "HONKER_INVALID_ARGUMENT",
          "transaction(fn): fn returned a Promise; a transaction cannot span an await, so " +
            "nothing of it was committed (and the kit refuses writes from the code after its " +
            "await). Do the async work first, then write inside a synchronous fn.",
        );
      }
      return result;
    });
    this.schedulerOptions = options.scheduler;
    this.checkpointer =
      options.checkpoints === "inline"
        ? null
        : new Checkpointer(this.path, {
            minWalBytes: options.checkpointAfterWalBytes,
            onWarning: (err) => report(`database ${this.path}`, options.onError, err),
          });
    if (options.retention === false) {
      this.retention = null;
    } else {
      this.retention = new Retention(this, options.retention ?? {});
      this.retention.start();
      this.track(this.retention);
    }
  }

  /** True until close() starts. */
  get open(): boolean {
    return this.closing === null && this.raw.open;
  }

  /** Throws HONKER_CLOSED once close() has started. */
  assertOpen(doing: string): void {
    if (this.closing !== null || !this.raw.open) {
      throw new HonkerError(
        "HONKER_CLOSED",
        `${doing}: the database was closed; open it again to continue.`,
      );
    }
  }

  /**
   * Throws before a write when the file is gone (replaced, deleted or
   * truncated: writes would land in a dead file or corrupt it) or when the
   * call comes from the code after an await inside transaction(fn).
   */
  private assertWritable(doing: string): void {
    if (!this.raw.inTransaction) this.watcher.checkBeforeWrite();
    const failure = this.watcher.failure;
    if (failure) {
      throw new HonkerError("HONKER_WATCHER_DEAD", `${doing}: ${failure.message}`, {
        cause: failure,
      });
    }
    if (transactionScope.getStore()?.escaped) {
      throw new HonkerError(
        "HONKER_INVALID_ARGUMENT",
        `${doing}: called after an await inside transaction(fn), outside any transaction; ` +
          "refused so that nothing of that transaction commits. Make fn synchronous.",
      );
    }
  }

  /**
   * Runs a write, mapping SQLite errors to HonkerError and waking local
   * waiters once it is committed (now, or when the enclosing transaction
   * commits).
   */
  write<T>(doing: string, fn: () => T): T {
    if (this.inside > 0 && this.closing === null && this.raw.open) {
      try {
        return fn();
      } catch (err) {
        throw fromSqlite(err, doing);
      }
    }
    this.assertOpen(doing);
    this.assertWritable(doing);
    let out: T;
    try {
      out = fn();
    } catch (err) {
      throw fromSqlite(err, doing);
    }
    if (!this.raw.inTransaction) this.committed();
    return out;
  }

  /**
   * Runs housekeeping (retention) that can wait: if another process holds
   * the write lock, give up after `ms` with HONKER_BUSY instead of holding
   * this thread's event loop for the whole busy timeout.
   */
  withShortBusyWait<T>(fn: () => T, ms = 50): T {
    this.busyTimeoutStmt.get(ms);
    try {
      return fn();
    } finally {
      if (this.raw.open) this.busyTimeoutStmt.get(this.busyTimeoutMs);
    }
  }

  /** Runs a read, mapping SQLite errors to HonkerError. */
  read<T>(doing: string, fn: () => T): T {
    this.assertOpen(doing);
    try {
      return fn();
    } catch (err) {
      throw fromSqlite(err, doing);
    }
  }

  /**
   * The transactional outbox: the app's writes and every enqueue, publish
   * and notify inside `fn` commit together or not at all. Nested calls
   * become savepoints. `fn` must be synchronous (SQLite transactions cannot
   * span an await).
   */
  transaction<T>(fn: () => NotPromise<T>): T {
    args.func("transaction(fn)", "fn", fn);
    this.assertOpen("transaction");
    this.assertWritable("transaction");
    let out: T;
    try {
      // IMMEDIATE takes the write lock up front, so a commit by another
      // process cannot make our read-then-write fail half way.
      out = (this.raw.inTransaction ? this.runner(fn) : this.runner.immediate(fn)) as T;
    } catch (err) {
      throw fromSqlite(err, "transaction");
    }
    if (!this.raw.inTransaction) this.committed();
    return out;
  }

  /** NOTIFY: returns the notification id; inside transaction() it commits with it. */
  notify<C extends ChannelName<S>>(channel: C, payload: ChannelPayload<S, C>): number {
    args.name("notify(channel, payload)", "channel", channel);
    const text = toJsonText(payload, `notify('${channel}'): payload`);
    return this.write(`notify('${channel}')`, () => this.notifyStmt.get(channel, text) as number);
  }

  /** The named queue (one object per name per handle). */
  queue<Q extends QueueName<S>, R = unknown>(name: Q): Queue<QueuePayload<S, Q>, R> {
    args.name("queue(name)", "name", name);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<QueuePayload<S, Q>, R>(this, name);
      this.queues.set(name, q);
    }
    return q as Queue<QueuePayload<S, Q>, R>;
  }

  /**
   * The named outbox: messages added inside `transaction()` commit with the
   * app's writes and are relayed by `options.transport` (see
   * docs/outbox.md). One relay per name per handle: a second call with the
   * same name returns the first (its options win); stop() it first to
   * change them.
   */
  outbox<N extends OutboxName<S>>(
    name: N,
    options?: OutboxOptions<OutboxPayload<S, N>>,
  ): Outbox<OutboxPayload<S, N>> {
    args.name("outbox(name, options)", "name", name);
    this.assertOpen(`outbox('${name}')`);
    const existing = this.outboxes.get(name);
    if (existing && !existing.isStopped) return existing as Outbox<OutboxPayload<S, N>>;
    const ob = new Outbox<OutboxPayload<S, N>>(this, name, options);
    this.outboxes.set(name, ob);
    return ob;
  }

  /**
   * The outbox `outbox(name, ...)` opened on this handle, if it is still
   * running; undefined otherwise. Looks only: never opens one (so the
   * app's own later `outbox(name, options)` keeps its options).
   */
  openedOutbox(name: string): Outbox<unknown> | undefined {
    args.name("openedOutbox(name)", "name", name);
    const ob = this.outboxes.get(name);
    return ob && !ob.isStopped ? ob : undefined;
  }

  /** The named stream (one object per name per handle). */
  stream<T extends StreamName<S>>(name: T): Stream<StreamPayload<S, T>> {
    args.name("stream(name)", "name", name);
    let st = this.streams.get(name);
    if (!st) {
      st = new Stream<StreamPayload<S, T>>(this, name);
      this.streams.set(name, st);
    }
    return st as Stream<StreamPayload<S, T>>;
  }

  /**
   * LISTEN: notifications on `channel` committed after this call, in order,
   * as an async iterable; or, with a callback, delivered to it until the
   * returned function is called.
   */
  listen<C extends ChannelName<S>>(
    channel: C,
    options?: ListenOptions,
  ): Listener<ChannelPayload<S, C>>;
  listen<C extends ChannelName<S>>(
    channel: C,
    callback: (n: {
      id: number;
      channel: string;
      payload: ChannelPayload<S, C>;
      createdAt: number;
    }) => void,
    options?: ListenOptions,
  ): () => Promise<void>;
  listen<C extends ChannelName<S>>(
    channel: C,
    a?:
      | ListenOptions
      | ((n: {
          id: number;
          channel: string;
          payload: ChannelPayload<S, C>;
          createdAt: number;
        }) => void),
    b?: ListenOptions,
  ): Listener<ChannelPayload<S, C>> | (() => Promise<void>) {
    if (typeof a === "function") return listenCallback<ChannelPayload<S, C>>(this, channel, a, b);
    return listen<ChannelPayload<S, C>>(this, channel, a);
  }

  /** The cron scheduler (created on first use; call `.start()` to run it in this process). */
  get scheduler(): Scheduler {
    if (!this.schedulerInstance)
      this.schedulerInstance = new Scheduler(this, this.schedulerOptions);
    return this.schedulerInstance;
  }

  /** Runs `fn` while holding the cross-process lock `name` (renewed while it runs). */
  withLock<T>(
    name: string,
    fn: (signal: AbortSignal) => Promise<T> | T,
    options?: WithLockOptions,
  ): Promise<T> {
    return withLock(this, name, fn, options);
  }

  /** Takes the lock `name` for `ttl` seconds if it is free; null if held elsewhere. */
  tryLock(name: string, ttl?: number): Lock | null {
    return tryLock(this, name, ttl);
  }

  /** True if this call fits within `limit` per `perSeconds` window for `name` (and counts it). */
  rateLimit(name: string, options: RateLimitOptions): boolean {
    return rateLimit(this, name, options);
  }

  /** After a local commit: wake local waiters, schedule a background checkpoint. */
  private committed(): void {
    this.watcher.notifyLocal();
    this.checkpointer?.afterCommit(this.writerCheckpoints);
  }

  /** Registers something close() must stop first. Returns an unregister function. */
  track(item: Closeable): () => void {
    this.closeables.add(item);
    return () => this.closeables.delete(item);
  }

  /**
   * Stops workers, subscriptions and the scheduler, then the watcher and
   * the connection. Running job handlers get `graceMs` (default 3 s) to
   * finish; then their signals are aborted and their jobs put back for
   * another run, so close() always resolves. Safe to call twice.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    const o = args.options<{ graceMs?: number }>("close(options)", options);
    const graceMs = args.ms(
      "close(options)",
      "options.graceMs",
      o.graceMs ?? DEFAULT_CLOSE_GRACE_MS,
    );
    if (this.closing) return this.closing;
    this.closing = (async () => {
      const items = [...this.closeables];
      this.closeables.clear();
      await Promise.allSettled(items.map(async (item) => item.close({ graceMs })));
      await this.checkpointer?.close();
      releaseWatcher(this.watcher);
      if (this.raw.open) this.raw.close();
    })();
    return this.closing;
  }
}

/**
 * Opens (creating if needed) a database file with the extension loaded and
 * honker's tables in place.
 *
 * ```ts
 * const db = open<AppSchema>(join(app.getPath("userData"), "app.db"));
 * ```
 */
/** A function's return type that is not a Promise (transaction fns must be synchronous). */
export type NotPromise<T> = T extends PromiseLike<unknown> ? never : T;

export function open<S extends HonkerSchema = AnySchema>(
  path: string,
  options: OpenOptions = {},
): HonkerDatabase<S> {
  return new HonkerDatabase<S>(path, options);
}
