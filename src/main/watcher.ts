/**
 * The watcher: one per database file per process, shared by every listener,
 * worker and subscriber in the process.
 *
 * - The authority is `PRAGMA data_version` on a dedicated connection: it
 *   changes whenever any other connection, in this process or another,
 *   commits.
 * - Triggers: a local commit (`notifyLocal`) checks at once; file-system
 *   events on the database's directory (inotify/FSEvents/ReadDirectoryChanges
 *   through `fs.watch`, which watches the directory and never opens the
 *   database, `-wal` or `-shm` files: closing any descriptor of those would
 *   drop SQLite's POSIX locks); deadline timers; and an adaptive poll as a
 *   safety net (fast right after activity, backing off when idle).
 * - A replaced or deleted database file (device/inode change) fails every
 *   waiter with HONKER_WATCHER_DEAD instead of hanging.
 * - Waiters that give up leave nothing behind.
 */
import { type FSWatcher, type Stats, statSync, unlinkSync, watch, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { HonkerError } from "./errors.ts";
import { currentTurn } from "./turn-clock.ts";

export interface WatcherOptions {
  /** Poll interval right after activity, in ms (default 5). */
  pollMinMs?: number;
  /**
   * Poll interval when idle, in ms. Default: 30000 once file events have
   * been seen for the database's files (the poll is then only a safety net:
   * commits raise -wal events, a trailing check covers the commit published
   * after its last event, and deadlines cover time; every wake-up of an
   * idle process costs a laptop CPU time), 1000 before that, 100 without
   * file events.
   */
  pollMaxMs?: number;
  /** Use file-system events (default true where the platform has them). */
  fileEvents?: boolean;
  /** Disable the safety-net poll entirely (tests prove the other triggers). */
  disablePoll?: boolean;
  /**
   * How long file events stay watched after the last listener (worker,
   * subscription, waitResult...) left, in ms (default 2000). Watching costs
   * every commit of this process kernel time, so a process that only writes
   * does not watch; each of its writes checks the file's identity instead.
   */
  fileEventsLingerMs?: number;
  /** Open the watcher's connection read-only (it only reads `data_version`; default false). */
  readOnly?: boolean;
}

export type WakeReason = "local" | "remote" | "deadline";
export type WakeListener = (reason: WakeReason) => void;
export type DeadListener = (err: HonkerError) => void;

interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
}

function identity(path: string): FileIdentity | null {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  return { dev: st.dev, ino: st.ino, size: st.size };
}

let probeCounter = 0;

/**
 * File events stay on this long after the last listener left. Every write
 * to a watched directory costs the writer kernel time (about 8 µs per
 * commit on Linux), so a process that only writes stops watching; the
 * linger keeps short-lived waits (waitResult) from re-arming it each time.
 */
const FILE_EVENTS_LINGER_MS = 2000;

/** Immediate re-checks after a file event whose check saw no commit yet (recheckSoon). */
const RECHECKS_PER_EVENT = 2;
/** File events this soon after our own commit are taken for its echo (no re-check). */
const OWN_COMMIT_ECHO_MS = 2;

export class Watcher {
  readonly path: string;
  private readonly conn: Database.Database;
  private readonly dataVersion: Database.Statement;
  private lastVersion: number;
  private readonly listeners = new Set<WakeListener>();
  private readonly deadListeners = new Set<DeadListener>();
  private readonly deadlines = new Map<object, number>();
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt = Number.POSITIVE_INFINITY;
  private pollTimer: NodeJS.Timeout | null = null;
  private pollInterval: number;
  private readonly pollMin: number;
  private readonly pollMax: number;
  /** The idle ceiling until file events have been seen to report a commit. */
  private readonly pollMaxUnproven: number;
  private readonly pollMaxOption: number | undefined;
  private fileEventsProven = false;
  private readonly pollDisabled: boolean;
  private fsWatcher: FSWatcher | null = null;
  /** File events are wanted by the options and worked when first tried. */
  private fileEventsAvailable = false;
  /** Stops file events once nobody has listened for FILE_EVENTS_LINGER_MS. */
  private lingerTimer: NodeJS.Timeout | null = null;
  private probed = false;
  private readonly lingerMs: number;
  /** Keeps the process alive while anyone waits (everything else is unref'd). */
  private keepAlive: NodeJS.Timeout | null = null;
  private readonly identity: FileIdentity;
  private readonly watchedNames: Set<string>;
  private readonly dbName: string;
  private trailingCheck: NodeJS.Timeout | null = null;
  private probeName: string | null = null;
  private checkQueued = false;
  private localPending = false;
  /** A file event asked for the queued check (see recheckSoon). */
  private eventPending = false;
  /** When this process last committed (performance.now()), for recheckSoon. */
  private lastLocalAt = Number.NEGATIVE_INFINITY;
  /** Immediate re-checks left for the current file event (see recheckSoon). */
  private rechecks = 0;
  private lastIdentityCheck = 0;
  private identityCheckedTurn = -1;
  /** A rate-limited identity check put off to the end of its 250 ms window. */
  private identityTimer: NodeJS.Timeout | null = null;
  private deadError: HonkerError | null = null;
  private closed = false;
  /** Counters for tests and status displays. */
  readonly stats = { checks: 0, wakes: 0, fileEvents: 0, polls: 0 };

  constructor(path: string, options: WatcherOptions = {}) {
    this.path = path;
    const id = identity(path);
    if (!id) {
      throw new HonkerError("HONKER_CANNOT_OPEN", `Watcher: ${path} does not exist`);
    }
    this.identity = id;
    // A plain connection: it only ever reads `data_version`.
    this.conn = new Database(path, { fileMustExist: true, readonly: options.readOnly === true });
    this.conn.pragma("busy_timeout = 5000");
    this.dataVersion = this.conn.prepare("PRAGMA data_version").pluck();
    this.lastVersion = this.dataVersion.get() as number;
    const base = basename(path);
    this.dbName = base;
    this.watchedNames = new Set([base, `${base}-wal`]);
    this.lingerMs = options.fileEventsLingerMs ?? FILE_EVENTS_LINGER_MS;
    this.fileEventsAvailable = options.fileEvents !== false;
    // File events start with the first listener (see FILE_EVENTS_LINGER_MS):
    // a process that only writes never watches.
    const fileEvents = this.fileEventsAvailable;
    this.pollDisabled = options.disablePoll === true;
    this.pollMin = options.pollMinMs ?? 5;
    this.pollMax = options.pollMaxMs ?? (fileEvents ? 30_000 : 100);
    this.pollMaxUnproven = options.pollMaxMs ?? (fileEvents ? 1000 : 100);
    this.pollMaxOption = options.pollMaxMs;
    this.pollInterval = this.pollMin;
  }

  /**
   * True once the platform has delivered a file-system event for the
   * database's directory (then the idle poll backs off to `pollMaxMs`).
   */
  get fileEventsWork(): boolean {
    return this.fileEventsProven;
  }

  /** True once the database file was replaced, deleted or truncated, or close() ran. */
  get dead(): boolean {
    return this.deadError !== null || this.closed;
  }

  /** Why the watcher died (file replaced, deleted or truncated), or null. */
  get failure(): HonkerError | null {
    return this.deadError;
  }

  /** Checks now (not rate-limited) whether the file was replaced, deleted or truncated. */
  verifyFile(): void {
    this.checkIdentity(true);
  }

  /**
   * Calls `fn` on every wake until the returned function is called. Register
   * before your first read so a commit between the two is never missed.
   */
  subscribe(fn: WakeListener): () => void {
    this.assertAlive();
    this.listeners.add(fn);
    this.startFileEvents();
    if (!this.keepAlive) this.keepAlive = setInterval(() => {}, 2 ** 30);
    this.schedulePoll();
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.idle();
      this.releaseFileEvents();
    };
  }

  /** Calls `fn` once if the watcher dies (file replaced or deleted). */
  onDead(fn: DeadListener): () => void {
    if (this.deadError) {
      fn(this.deadError);
      return () => {};
    }
    this.deadListeners.add(fn);
    this.startFileEvents();
    return () => {
      this.deadListeners.delete(fn);
      this.releaseFileEvents();
    };
  }

  /**
   * Before a write (a transaction's first): when no file events are
   * watched (nobody listens), look at the file's identity (one stat per
   * turn of the event loop, less than the events cost the writer), so a
   * write after the file was deleted, replaced or truncated is refused.
   */
  checkBeforeWrite(): void {
    if (this.fsWatcher || this.dead) return;
    // Once per turn of the event loop: file events, too, are only seen
    // between turns, and a loop of writes pays one stat, not one each.
    const turn = currentTurn();
    if (turn === this.identityCheckedTurn) return;
    this.identityCheckedTurn = turn;
    this.checkIdentity(true);
  }

  /** True while the database's directory is watched for file events (someone listens). */
  get watchingFiles(): boolean {
    return this.fsWatcher !== null;
  }

  /** Watches the directory (again) while anyone listens, if file events work here. */
  private startFileEvents(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (this.fsWatcher || !this.fileEventsAvailable || this.closed || this.deadError) return;
    try {
      this.fsWatcher = watch(dirname(this.path), { persistent: false }, (event, name) =>
        this.onFileEvent(event, name),
      );
      this.fsWatcher.on("error", () => {
        this.fileEventsAvailable = false;
        this.stopFileEvents();
      });
    } catch {
      this.fileEventsAvailable = false;
      return;
    }
    // Once: prove that this directory reports changes (the poll backs off then).
    if (!this.probed) {
      this.probed = true;
      this.probeFileEvents(dirname(this.path), this.dbName);
    }
  }

  /** Nobody listens any more: stop watching after the linger. */
  private releaseFileEvents(): void {
    if (this.listeners.size > 0 || this.deadListeners.size > 0 || !this.fsWatcher) return;
    if (this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      if (this.listeners.size === 0 && this.deadListeners.size === 0) this.stopFileEvents();
    }, this.lingerMs);
    this.lingerTimer.unref();
  }

  /**
   * Resolves on the next wake; rejects with HONKER_WATCHER_DEAD if the file
   * goes away, HONKER_TIMEOUT after `timeoutMs`, or the signal's reason.
   */
  wait(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<WakeReason> {
    return new Promise<WakeReason>((resolve, reject) => {
      if (this.deadError) return reject(this.deadError);
      if (this.closed) return reject(closedError());
      if (options.signal?.aborted) return reject(options.signal.reason);
      let timer: NodeJS.Timeout | null = null;
      const cleanup = () => {
        unsubscribe();
        undead();
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
      };
      const unsubscribe = this.subscribe((reason) => {
        cleanup();
        resolve(reason);
      });
      const undead = this.onDead((err) => {
        cleanup();
        reject(err);
      });
      const onAbort = () => {
        cleanup();
        reject(options.signal?.reason);
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          reject(new HonkerError("HONKER_TIMEOUT", `no change within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
    });
  }

  /** A commit on this process's own connection: check now instead of at the next event or poll. */
  notifyLocal(): void {
    if (this.dead) return;
    // Nobody to wake: skip the data_version read (a read transaction on
    // its own connection, the larger part of a small write's cost). The
    // next check after someone subscribes may then wake once for this
    // commit; listeners re-read, so a spare wake costs one query.
    if (this.listeners.size === 0) return;
    // recheckSoon runs only while someone listens: its clock is set only then.
    this.lastLocalAt = performance.now();
    this.localPending = true;
    this.queueCheck();
  }

  /**
   * Wakes everyone at `atMs` (epoch ms) even if nothing changed: the owner
   * (a worker, a scheduler) knows a job becomes due then. `null` clears.
   */
  setDeadline(owner: object, atMs: number | null): void {
    if (atMs === null) this.deadlines.delete(owner);
    else this.deadlines.set(owner, atMs);
    this.armDeadline();
  }

  /** Checks `data_version` now; wakes everyone if it moved. */
  check(): boolean {
    if (this.dead) return false;
    this.stats.checks++;
    let version: number;
    try {
      version = this.dataVersion.get() as number;
    } catch {
      // The file may be mid-replacement or locked; the identity check decides.
      this.checkIdentity(true);
      return false;
    }
    const local = this.localPending;
    this.localPending = false;
    // A local write that changed nothing (a claim that found no job) leaves
    // data_version alone and wakes nobody: no wake-claim-wake loop.
    if (version !== this.lastVersion) {
      this.lastVersion = version;
      this.emit(local ? "local" : "remote");
      return true;
    }
    return false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopFileEvents();
    this.idle();
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlines.clear();
    this.listeners.clear();
    const err = closedError();
    for (const fn of [...this.deadListeners]) fn(err);
    this.deadListeners.clear();
    this.conn.close();
  }

  // ---- internals ---------------------------------------------------------

  private assertAlive(): void {
    if (this.deadError) throw this.deadError;
    if (this.closed) throw closedError();
  }

  private emit(reason: WakeReason): void {
    this.stats.wakes++;
    this.pollInterval = this.pollMin;
    this.schedulePoll(true);
    for (const fn of [...this.listeners]) {
      try {
        fn(reason);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private queueCheck(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    queueMicrotask(() => {
      this.checkQueued = false;
      const fromEvent = this.eventPending;
      this.eventPending = false;
      if (!this.check() && fromEvent) this.recheckSoon();
    });
  }

  /**
   * A writer appends its frames to -wal (the file events) a moment before
   * it publishes the commit in the shared-memory index (no event): a check
   * that runs in between sees nothing new. Look again at the end of this
   * turn of the event loop (a few tens of microseconds later) instead of
   * leaving the commit to the trailing check a millisecond later. Not after
   * this process's own recent commits: their events are the usual reason
   * for a check that finds nothing, and the trailing check still follows.
   * Not while nobody listens (file events linger after the last listener).
   */
  private recheckSoon(): void {
    if (this.listeners.size === 0 || this.rechecks > 0) return;
    if (performance.now() - this.lastLocalAt < OWN_COMMIT_ECHO_MS) return;
    this.rechecks = RECHECKS_PER_EVENT;
    const again = () => {
      this.rechecks--;
      if (this.dead || this.check() || this.rechecks <= 0) {
        this.rechecks = 0;
        return;
      }
      setImmediate(again);
    };
    setImmediate(again);
  }

  /**
   * Creates and removes a file of our own beside the database: its event
   * proves that this directory reports changes, so the poll may back off
   * to its long idle interval even in a process that never writes. (A
   * different file: SQLite's locks on the database files are untouched.)
   */
  private probeFileEvents(dir: string, base: string): void {
    const name = `.${base}-honker-watch-${process.pid}-${++probeCounter}`;
    try {
      writeFileSync(join(dir, name), "", { flag: "wx" });
      unlinkSync(join(dir, name));
      this.probeName = name;
    } catch {
      // A read-only directory: stay with the shorter ceiling.
    }
  }

  private onFileEvent(event: string, name: string | Buffer | null): void {
    const file = name === null ? null : String(name);
    if (file !== null && file === this.probeName) {
      this.fileEventsProven = true;
      return;
    }
    if (file !== null && !this.watchedNames.has(file)) return;
    this.stats.fileEvents++;
    // Events for our files arrive (even for our own commits): the platform
    // delivers them here, so the poll can back off further.
    this.fileEventsProven = true;
    if (event === "rename") this.checkIdentity(true);
    // In WAL mode a commit appends to -wal; the database file itself is
    // written only by checkpoints, which change no data; but a truncation
    // shows up here too, so look at its size (at most every 250 ms).
    else if (file === this.dbName) {
      this.checkIdentity(false);
      return;
    }
    this.eventPending = true;
    this.queueCheck();
    this.armTrailingCheck();
  }

  /**
   * A writer appends its frames to -wal (the events) before it publishes
   * the commit in the shared-memory index (no event). A check that runs in
   * between sees nothing new, so one more check follows the last event of
   * a burst by about a millisecond instead of leaving the commit to the poll.
   */
  private armTrailingCheck(): void {
    if (this.trailingCheck) {
      this.trailingCheck.refresh();
      return;
    }
    this.trailingCheck = setTimeout(() => this.check(), 1);
    this.trailingCheck.unref();
  }

  private stopFileEvents(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.fsWatcher?.close();
    this.fsWatcher = null;
    if (this.identityTimer) clearTimeout(this.identityTimer);
    this.identityTimer = null;
    if (this.trailingCheck) clearTimeout(this.trailingCheck);
    this.trailingCheck = null;
  }

  private schedulePoll(reset = false): void {
    if (this.pollDisabled || this.closed || this.listeners.size === 0) return;
    if (this.pollTimer && !reset) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => this.onPoll(), this.pollInterval);
    this.pollTimer.unref();
  }

  private idle(): void {
    this.clearPoll();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  private clearPoll(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private onPoll(): void {
    this.pollTimer = null;
    this.stats.polls++;
    this.checkIdentity(false);
    const ceiling = !this.fileEventsAvailable
      ? (this.pollMaxOption ?? 100) // file events failed since: poll as without them
      : this.fileEventsProven
        ? this.pollMax
        : this.pollMaxUnproven;
    if (!this.check()) this.pollInterval = Math.min(ceiling, this.pollInterval * 2);
    this.schedulePoll();
  }

  private checkIdentity(force: boolean): void {
    if (this.dead) return;
    const t = Date.now();
    if (!force && t - this.lastIdentityCheck < 250) {
      // Not now, but not never: a truncation's event may be the last one.
      this.identityTimer ??= setTimeout(
        () => {
          this.identityTimer = null;
          this.checkIdentity(true);
        },
        250 - (t - this.lastIdentityCheck),
      );
      this.identityTimer.unref();
      return;
    }
    this.lastIdentityCheck = t;
    const id = identity(this.path);
    // A WAL database's file always holds at least its header page (the WAL
    // switch writes it), so 0 bytes means someone truncated it under us.
    const same = id && id.dev === this.identity.dev && id.ino === this.identity.ino;
    if (same && (id.size > 0 || this.identity.size === 0)) return;
    const what = !id ? "deleted" : same ? "truncated to 0 bytes" : "replaced";
    this.die(
      new HonkerError(
        "HONKER_WATCHER_DEAD",
        `The database file ${this.path} was ${what} while open; ` +
          "this handle can no longer see its changes. Close every handle on it before opening " +
          "the path again: SQLite leaves the old file's -wal/-shm beside the path until then, and " +
          "would apply them to the new file. Replace database files only while they are closed.",
      ),
    );
  }

  private die(err: HonkerError): void {
    this.deadError = err;
    this.stopFileEvents();
    this.idle();
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.listeners.clear();
    for (const fn of [...this.deadListeners]) fn(err);
    this.deadListeners.clear();
  }

  private armDeadline(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const at of this.deadlines.values()) next = Math.min(next, at);
    if (next === this.deadlineAt && this.deadlineTimer) return;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlineAt = next;
    if (!Number.isFinite(next) || this.dead) return;
    // setTimeout caps at ~24.8 days; re-arm on the way.
    const delay = Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1);
    this.deadlineTimer = setTimeout(() => this.onDeadline(), delay);
    this.deadlineTimer.unref();
  }

  private onDeadline(): void {
    this.deadlineTimer = null;
    const t = Date.now();
    for (const [owner, at] of this.deadlines) if (at <= t) this.deadlines.delete(owner);
    this.deadlineAt = Number.POSITIVE_INFINITY;
    this.armDeadline();
    if (!this.check()) this.emit("deadline");
  }
}

function closedError(): HonkerError {
  return new HonkerError("HONKER_CLOSED", "The database was closed; open it again to continue.");
}
