/**
 * The cron scheduler: named schedules in honker's `_honker_scheduler_tasks`
 * that enqueue a job at every boundary of their cron expression.
 *
 * Any number of processes may run `start()`; exactly one of them leads at a
 * time, through the lock `honker:scheduler`. The leader renews the lock
 * every lockTtl/3 (and once more inside every tick's transaction, so a
 * leader that lost its lease never ticks), and ticks when the soonest
 * schedule is due: a watcher deadline at the soonest `next_fire_at`,
 * re-read on every wake because another process may register or change
 * schedules. Standbys try to take the lock on every wake, at the leader's
 * lease expiry and at least every lockTtl/2, so one takes over within about
 * a TTL when the leader dies. The extension's tick claims each boundary
 * before enqueuing it, so no boundary fires twice even across leaders; a new
 * leader fires the boundaries its predecessor missed (up to 64 per
 * schedule).
 */
import type Database from "better-sqlite3";
import * as args from "./args.ts";
import { HonkerError, invalid } from "./errors.ts";
import type { Host } from "./host.ts";
import { acquireLock, lockHolder, lockOwner, releaseLock } from "./lock.ts";
import { logOnce } from "./report.ts";
import { plucked } from "./statements.ts";
import { fromJsonText, toJsonText } from "./values.ts";

/** The lock every scheduler process competes for. */
export const SCHEDULER_LOCK = "honker:scheduler";

export interface ScheduleOptions {
  /** Queue the job goes to. */
  queue: string;
  /**
   * 5-field cron (`m h dom mon dow`), 6-field with seconds first,
   * `@every <n>s|m|h|d` or `@hourly/@daily/@weekly/@monthly/@yearly`;
   * local time zone.
   */
  cron: string;
  /** The job payload (JSON). */
  payload: unknown;
  /** Job priority, higher first (default 0). */
  priority?: number;
  /** Each job expires this many seconds after it is enqueued (default: never). */
  expires?: number | null;
  /** Attempts per job (default 3). */
  maxAttempts?: number;
}

export interface ScheduleUpdate {
  cron?: string;
  payload?: unknown;
  priority?: number;
  /** Seconds; null clears (jobs never expire). */
  expires?: number | null;
  maxAttempts?: number;
}

export interface ScheduleInfo {
  name: string;
  queue: string;
  cron: string;
  payload: unknown;
  priority: number;
  expires: number | null;
  maxAttempts: number;
  /** Unix seconds of the next boundary. */
  nextFireAt: number;
  enabled: boolean;
}

/** One enqueued job: the boundary it stands for and its id. */
export interface ScheduleFire {
  name: string;
  queue: string;
  /** Unix seconds of the boundary. */
  fireAt: number;
  jobId: number;
}

export interface SchedulerOptions {
  /** Leader lock TTL in whole seconds (default 10, at least 2). */
  lockTtl?: number;
}

type FireListener = (fires: ScheduleFire[]) => void;
type LeaderListener = (isLeader: boolean) => void;
type ErrorListener = (err: unknown) => void;

interface Statements {
  register: Database.Statement;
  unregister: Database.Statement;
  pause: Database.Statement;
  resume: Database.Statement;
  update: Database.Statement;
  list: Database.Statement;
  exists: Database.Statement;
  soonest: Database.Statement;
  tick: Database.Statement;
  renew: Database.Statement;
}

const MAX_PRIORITY = 1_000_000_000;
const MAX_SECONDS = 315_360_000;

function nonEmpty(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string" || value === "")
    throw invalid(`${what} must be a non-empty string`);
}

function integer(value: unknown, min: number, max: number, what: string): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${what} must be a whole number from ${min} to ${max} (got ${String(value)})`);
  }
}

function checkName(name: unknown, doing: string): asserts name is string {
  args.name(doing, "name", name);
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

interface RawInfo {
  name: string;
  queue: string;
  cron_expr: string;
  payload: string;
  priority: number;
  expires_s: number | null;
  max_attempts: number;
  next_fire_at: number;
  enabled: boolean;
}

export class Scheduler {
  readonly db: Host;
  readonly lockTtl: number;
  private readonly s: Statements;
  private readonly fireListeners = new Set<FireListener>();
  private readonly leaderListeners = new Set<LeaderListener>();
  private readonly errorListeners = new Set<ErrorListener>();
  private owner: string | null = null;
  private leader = false;
  private running = false;
  private unsubscribe: (() => void) | null = null;
  private undead: (() => void) | null = null;
  private untrack: (() => void) | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private standbyTimer: NodeJS.Timeout | null = null;
  /** After a failed tick, do not retry before this time (ms). */
  private retryAt = 0;
  private stepping = false;
  /** Identity for watcher deadlines. */
  private readonly deadlineKey = {};

  constructor(db: Host, options: SchedulerOptions = {}) {
    const lockTtl = options.lockTtl ?? 10;
    integer(lockTtl, 2, 3600, "new Scheduler(db, { lockTtl }): lockTtl (seconds)");
    db.assertOpen("new Scheduler(db)");
    this.db = db;
    this.lockTtl = lockTtl;
    const raw = db.raw;
    this.s = {
      register: plucked(raw, "SELECT honker_scheduler_register(?, ?, ?, ?, ?, ?, ?)"),
      unregister: plucked(raw, "SELECT honker_scheduler_unregister(?)"),
      pause: plucked(raw, "SELECT honker_scheduler_pause(?)"),
      resume: plucked(raw, "SELECT honker_scheduler_resume(?)"),
      update: plucked(raw, "SELECT honker_scheduler_update(?, ?, ?, ?, ?, ?, ?, ?)"),
      list: plucked(raw, "SELECT honker_scheduler_list()"),
      exists: plucked(raw, "SELECT 1 FROM _honker_scheduler_tasks WHERE name = ?"),
      soonest: plucked(raw, "SELECT honker_scheduler_soonest()"),
      tick: plucked(raw, "SELECT honker_scheduler_tick(?)"),
      renew: plucked(raw, "SELECT honker_lock_renew(?, ?, ?)"),
    };
  }

  // ---- schedules ----------------------------------------------------------

  /**
   * Creates or replaces the schedule `name`. Replacing keeps its paused
   * state and restarts its boundaries from now.
   *
   * ```ts
   * scheduler.register("nightly-report", { queue: "reports", cron: "0 3 * * *", payload: {} });
   * ```
   */
  register(name: string, options: ScheduleOptions): void {
    checkName(name, "scheduler.register(name, options)");
    const doing = `scheduler.register('${name}')`;
    if (options === null || typeof options !== "object") {
      throw invalid(`${doing}: options must be an object like { queue, cron, payload }`);
    }
    args.name(doing, "options.queue", options.queue);
    args.text(doing, "options.cron", options.cron, 256);
    nonEmpty(options.cron, `${doing}: cron`);
    if (!("payload" in options)) {
      throw invalid(`${doing}: payload is required (pass null for none)`);
    }
    const payload = toJsonText(options.payload, `${doing} payload`);
    const priority = options.priority ?? 0;
    integer(priority, -MAX_PRIORITY, MAX_PRIORITY, `${doing}: priority`);
    const expires = options.expires ?? null;
    if (expires !== null) integer(expires, 1, MAX_SECONDS, `${doing}: expires (seconds)`);
    const maxAttempts = options.maxAttempts ?? 3;
    integer(maxAttempts, 1, 1_000_000, `${doing}: maxAttempts`);
    this.write(doing, () =>
      this.s.register.get(
        name,
        options.queue,
        options.cron,
        payload,
        priority,
        expires,
        maxAttempts,
      ),
    );
  }

  /**
   * Changes some fields of the schedule `name`; a new cron restarts its
   * boundaries from now. Throws HONKER_NOT_FOUND for an unknown name.
   */
  update(name: string, changes: ScheduleUpdate): void {
    checkName(name, "scheduler.update(name, changes)");
    const doing = `scheduler.update('${name}')`;
    if (changes === null || typeof changes !== "object") {
      throw invalid(`${doing}: changes must be an object like { cron } or { payload }`);
    }
    const cron = changes.cron ?? null;
    if (cron !== null) nonEmpty(cron, `${doing}: cron`);
    const payload = "payload" in changes ? toJsonText(changes.payload, `${doing} payload`) : null;
    const priority = changes.priority ?? null;
    if (priority !== null) integer(priority, -MAX_PRIORITY, MAX_PRIORITY, `${doing}: priority`);
    const touchExpires = "expires" in changes && changes.expires !== undefined;
    const expires = changes.expires ?? null;
    if (expires !== null) integer(expires, 1, MAX_SECONDS, `${doing}: expires (seconds)`);
    const maxAttempts = changes.maxAttempts ?? null;
    if (maxAttempts !== null) integer(maxAttempts, 1, 1_000_000, `${doing}: maxAttempts`);
    const touchMax = maxAttempts !== null;
    if (cron === null && payload === null && priority === null && !touchExpires && !touchMax) {
      throw invalid(
        `${doing}: nothing to change; pass cron, payload, priority, expires or maxAttempts`,
      );
    }
    const changed = this.write(
      doing,
      () =>
        this.s.update.get(
          name,
          cron,
          payload,
          priority,
          expires,
          touchExpires ? 1 : 0,
          maxAttempts,
          touchMax ? 1 : 0,
        ) === 1,
    );
    if (!changed) throw this.notFound(doing, name);
  }

  /** Stops firing `name` until resume(); false if it was already paused. */
  pause(name: string): boolean {
    checkName(name, "scheduler.pause(name)");
    return this.byName(`scheduler.pause('${name}')`, this.s.pause, name);
  }

  /**
   * Fires `name` again; boundaries missed while paused fire at the next
   * tick (up to 64). False if it was not paused.
   */
  resume(name: string): boolean {
    checkName(name, "scheduler.resume(name)");
    return this.byName(`scheduler.resume('${name}')`, this.s.resume, name);
  }

  /** Deletes the schedule `name`; false if there was none. Queued jobs stay. */
  remove(name: string): boolean {
    checkName(name, "scheduler.remove(name)");
    return this.write(`scheduler.remove('${name}')`, () => this.s.unregister.get(name) === 1);
  }

  /** Every schedule, ordered by name. */
  list(): ScheduleInfo[] {
    const text = this.db.read("scheduler.list()", () => this.s.list.get() as string);
    return (JSON.parse(text) as RawInfo[]).map((r) => ({
      name: r.name,
      queue: r.queue,
      cron: r.cron_expr,
      payload: fromJsonText(r.payload),
      priority: r.priority,
      expires: r.expires_s,
      maxAttempts: r.max_attempts,
      nextFireAt: r.next_fire_at,
      enabled: r.enabled,
    }));
  }

  // ---- events -------------------------------------------------------------

  /** Called by the leader with the jobs of each tick. Returns an unsubscribe. */
  onFire(fn: FireListener): () => void {
    args.func(`scheduler.onFire(fn)`, "fn", fn);
    this.fireListeners.add(fn);
    return () => this.fireListeners.delete(fn);
  }

  /** Called when this scheduler becomes or stops being the leader. */
  onLeaderChange(fn: LeaderListener): () => void {
    args.func(`scheduler.onLeaderChange(fn)`, "fn", fn);
    this.leaderListeners.add(fn);
    return () => this.leaderListeners.delete(fn);
  }

  /**
   * Errors of the background loop (a busy database, a schedule row another
   * client broke). Without a listener they become process warnings.
   */
  onError(fn: ErrorListener): () => void {
    args.func(`scheduler.onError(fn)`, "fn", fn);
    this.errorListeners.add(fn);
    return () => this.errorListeners.delete(fn);
  }

  on(event: "fire", fn: FireListener): () => void;
  on(event: "leader", fn: LeaderListener): () => void;
  on(event: "error", fn: ErrorListener): () => void;
  on(event: "fire" | "leader" | "error", fn: (arg: never) => void): () => void {
    if (event === "fire") return this.onFire(fn as FireListener);
    if (event === "leader") return this.onLeaderChange(fn as LeaderListener);
    if (event === "error") return this.onError(fn as ErrorListener);
    throw invalid(`scheduler.on(event): unknown event '${String(event)}' (fire, leader, error)`);
  }

  // ---- the leader loop ----------------------------------------------------

  /** True while this scheduler holds the leader lock. */
  get isLeader(): boolean {
    return this.leader;
  }

  /** True between start() and stop(). */
  get started(): boolean {
    return this.running;
  }

  /** Joins the leader election and, once leading, fires due schedules. */
  start(): void {
    if (this.running) return;
    this.db.assertOpen("scheduler.start()");
    this.running = true;
    this.owner = lockOwner(this.db);
    this.untrack = this.db.track(this);
    // Subscribe before the first read so no commit in between is missed.
    this.unsubscribe = this.db.watcher.subscribe(() => this.step());
    this.undead = this.db.watcher.onDead((err) => {
      this.report(err);
      this.halt(false);
    });
    this.standbyTimer = setInterval(() => this.step(), Math.floor((this.lockTtl * 1000) / 2));
    this.standbyTimer.unref();
    this.step();
  }

  /** Leaves the election and releases the leader lock. */
  stop(): Promise<void> {
    this.halt(true);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.stop();
  }

  private halt(release: boolean): void {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.undead?.();
    this.untrack?.();
    this.unsubscribe = this.undead = this.untrack = null;
    if (this.standbyTimer) clearInterval(this.standbyTimer);
    this.standbyTimer = null;
    if (!this.db.watcher.dead) this.db.watcher.setDeadline(this.deadlineKey, null);
    const wasLeader = this.leader;
    this.dropLeadership();
    if (release && wasLeader && this.owner && this.db.open) {
      try {
        releaseLock(this.db, SCHEDULER_LOCK, this.owner);
      } catch (err) {
        this.report(err); // the lease lapses on its own
      }
    }
  }

  /** One pass: elect, then tick if due, then arm the next deadline. */
  private step(): void {
    if (!this.running || this.stepping) return;
    this.stepping = true;
    try {
      if (!this.db.open) {
        this.halt(false);
        return;
      }
      if (!this.leader) this.tryLead();
      if (this.leader) this.tickIfDue();
      else this.armStandbyDeadline();
    } catch (err) {
      this.report(err);
    } finally {
      this.stepping = false;
    }
  }

  private tryLead(): void {
    const owner = this.owner as string;
    const holder = lockHolder(this.db, SCHEDULER_LOCK);
    if (holder && holder.owner !== owner && holder.expiresAt > nowS()) return;
    if (!acquireLock(this.db, SCHEDULER_LOCK, owner, this.lockTtl)) return;
    this.leader = true;
    this.renewTimer = setInterval(
      () => this.renew(),
      args.timerMs(Math.floor((this.lockTtl * 1000) / 3)),
    );
    this.renewTimer.unref();
    this.emitLeader(true);
  }

  private renew(): void {
    if (!this.leader || !this.running) return;
    try {
      const ok = this.db.write("scheduler: renew the leader lock", () =>
        this.s.renew.get(SCHEDULER_LOCK, this.owner, this.lockTtl),
      );
      if (ok !== 1) this.dropLeadership();
    } catch (err) {
      // Keep trying: the tick's own renewal decides whether we may fire.
      this.report(err);
    }
  }

  private dropLeadership(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    if (!this.leader) return;
    this.leader = false;
    if (!this.db.watcher.dead) this.db.watcher.setDeadline(this.deadlineKey, null);
    this.emitLeader(false);
  }

  private tickIfDue(): void {
    const t = Date.now();
    if (t < this.retryAt) {
      this.db.watcher.setDeadline(this.deadlineKey, this.retryAt);
      return;
    }
    let soonest = this.db.read("scheduler: soonest", () => this.s.soonest.get() as number);
    if (soonest !== 0 && soonest <= Math.floor(t / 1000)) {
      let fires: ScheduleFire[] | null;
      try {
        fires = this.tick(Math.floor(t / 1000));
      } catch (err) {
        // A broken row must not make us spin: retry in a second.
        this.retryAt = Date.now() + 1000;
        this.db.watcher.setDeadline(this.deadlineKey, this.retryAt);
        throw err;
      }
      if (fires === null) {
        this.dropLeadership();
        this.armStandbyDeadline();
        return;
      }
      if (fires.length > 0) this.emitFires(fires);
      if (!this.leader || !this.running) return;
      soonest = this.db.read("scheduler: soonest", () => this.s.soonest.get() as number);
    }
    this.db.watcher.setDeadline(this.deadlineKey, soonest === 0 ? null : soonest * 1000);
  }

  /**
   * Renews the lease and ticks in one transaction: a leader whose lease
   * lapsed (a long pause, a stolen lock) fires nothing. Null = not leader.
   */
  private tick(now: number): ScheduleFire[] | null {
    const out = this.db.transaction(() => {
      if (this.s.renew.get(SCHEDULER_LOCK, this.owner, this.lockTtl) !== 1) return null;
      return this.s.tick.get(now) as string;
    });
    if (out === null) return null;
    return (
      JSON.parse(out) as { fire_at: number; job_id: number; name: string; queue: string }[]
    ).map((f) => ({ name: f.name, queue: f.queue, fireAt: f.fire_at, jobId: f.job_id }));
  }

  /** Standbys also wake when the leader's lease runs out. */
  private armStandbyDeadline(): void {
    const holder = lockHolder(this.db, SCHEDULER_LOCK);
    this.db.watcher.setDeadline(this.deadlineKey, holder ? holder.expiresAt * 1000 : null);
  }

  // ---- helpers --------------------------------------------------------------

  private write<T>(doing: string, fn: () => T): T {
    return this.db.write(doing, fn);
  }

  private byName(doing: string, stmt: Database.Statement, name: string): boolean {
    const changed = this.write(doing, () => stmt.get(name) === 1);
    if (!changed && this.db.read(doing, () => this.s.exists.get(name)) !== 1) {
      throw this.notFound(doing, name);
    }
    return changed;
  }

  private notFound(doing: string, name: string): HonkerError {
    return new HonkerError(
      "HONKER_NOT_FOUND",
      `${doing}: there is no schedule named '${name}'; register it first (see scheduler.list()).`,
    );
  }

  private emitFires(fires: ScheduleFire[]): void {
    for (const fn of [...this.fireListeners]) {
      try {
        fn(fires);
      } catch (err) {
        this.report(err);
      }
    }
  }

  private emitLeader(isLeader: boolean): void {
    for (const fn of [...this.leaderListeners]) {
      try {
        fn(isLeader);
      } catch (err) {
        this.report(err);
      }
    }
  }

  private report(err: unknown): void {
    if (this.errorListeners.size === 0) {
      logOnce("scheduler", err);
      return;
    }
    for (const fn of [...this.errorListeners]) {
      try {
        fn(err);
      } catch {
        // An error listener that throws has nowhere left to report to.
      }
    }
  }
}
