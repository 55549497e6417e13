/**
 * Retention: honker lets notifications, dead jobs, rate-limit windows and
 * expired results pile up forever (and the kit's own finished-job history
 * and dead outbox messages would too); this deletes them on a timer. Every
 * statement deletes at most `batch` rows in its own short transaction, and
 * a pass runs at most `passes` statements per table, so it never holds the
 * write lock for long. When a pass stops with rows left, the timer comes
 * back sooner.
 */
import type Database from "better-sqlite3";
import { invalid, isHonkerError } from "./errors.ts";
import type { Host } from "./host.ts";
import { logOnce } from "./report.ts";
import { plucked } from "./statements.ts";

export interface RetentionOptions {
  /** How often start() runs a pass, in ms (default 60000; null: only runOnce()). */
  intervalMs?: number | null;
  /** Delete notifications older than this many seconds (default 86400; null: keep). */
  notificationsMaxAgeS?: number | null;
  /** Keep at most this many newest notifications (default 100000; null: no cap). */
  notificationsKeep?: number | null;
  /** Delete dead jobs that died more than this many seconds ago (default 30 days; null: keep). */
  deadMaxAgeS?: number | null;
  /** Delete rate-limit windows that started more than this many seconds ago (default 86400; null: keep). */
  rateLimitMaxAgeS?: number | null;
  /** Delete expired job results (default true; null/false: keep). */
  sweepResults?: boolean | null;
  /** Delete finished-job history (getJob of completed/cancelled jobs) older than this (default 7 days; null: keep). */
  historyMaxAgeS?: number | null;
  /** Keep at most this many newest finished-job history rows (default 10000; null: no cap). */
  historyKeep?: number | null;
  /** Delete dead outbox messages that died more than this many seconds ago (default 30 days; null: keep). */
  outboxDeadMaxAgeS?: number | null;
  /** Keep at most this many newest dead messages per outbox (default 10000; null: no cap). */
  outboxDeadKeep?: number | null;
  /** Most rows one statement deletes (default 1000, at most 10000). */
  batch?: number;
  /** Statements per table per pass (default 4). */
  passes?: number;
}

/** Rows deleted by one pass. */
export interface RetentionReport {
  notifications: number;
  dead: number;
  rateLimits: number;
  results: number;
  history: number;
  /** Dead outbox messages. */
  outboxDead: number;
  /** True if some table still had rows to delete when the pass stopped. */
  more: boolean;
}

/** Retention options with every default filled in. */
export interface RetentionSettings {
  intervalMs: number | null;
  notificationsMaxAgeS: number | null;
  notificationsKeep: number | null;
  deadMaxAgeS: number | null;
  rateLimitMaxAgeS: number | null;
  sweepResults: boolean;
  historyMaxAgeS: number | null;
  historyKeep: number | null;
  outboxDeadMaxAgeS: number | null;
  outboxDeadKeep: number | null;
  batch: number;
  passes: number;
}

const MAX_SECONDS = 315_360_000;
/** How soon the timer returns when a pass left rows behind. */
const CATCH_UP_MS = 250;
/** Retry delay after another process held the write lock through a pass. */
const BUSY_RETRY_MS = 1000;

function option(
  what: string,
  options: RetentionOptions,
  key: keyof RetentionOptions,
  fallback: number | null,
  min: number,
  max: number,
): number | null {
  const value = key in options ? options[key] : undefined;
  if (value === undefined) return fallback;
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(
      `${what}.${key} must be null or a whole number from ${min} to ${max} (got ${String(value)})`,
    );
  }
  return value;
}

/** Checks retention options (refusing bad ones) and fills in the defaults. */
export function resolveRetentionOptions(
  options: RetentionOptions,
  what = "new Retention(db, options): options",
): RetentionSettings {
  const proto =
    options !== null && typeof options === "object" ? Object.getPrototypeOf(options) : 0;
  if (Array.isArray(options) || (proto !== Object.prototype && proto !== null)) {
    throw invalid(`${what} must be a plain object (or false to turn retention off)`);
  }
  const sweep = options.sweepResults;
  if (sweep !== undefined && sweep !== null && typeof sweep !== "boolean") {
    throw invalid(`${what}.sweepResults must be true, false or null`);
  }
  return {
    intervalMs: option(what, options, "intervalMs", 60_000, 1, 2 ** 31 - 1),
    notificationsMaxAgeS: option(what, options, "notificationsMaxAgeS", 86_400, 0, MAX_SECONDS),
    notificationsKeep: option(what, options, "notificationsKeep", 100_000, 0, 2_147_483_647),
    deadMaxAgeS: option(what, options, "deadMaxAgeS", 30 * 86_400, 0, MAX_SECONDS),
    rateLimitMaxAgeS: option(what, options, "rateLimitMaxAgeS", 86_400, 0, MAX_SECONDS),
    sweepResults: sweep === undefined ? true : sweep === true,
    historyMaxAgeS: option(what, options, "historyMaxAgeS", 7 * 86_400, 0, MAX_SECONDS),
    historyKeep: option(what, options, "historyKeep", 10_000, 0, 2_147_483_647),
    outboxDeadMaxAgeS: option(what, options, "outboxDeadMaxAgeS", 30 * 86_400, 0, MAX_SECONDS),
    outboxDeadKeep: option(what, options, "outboxDeadKeep", 10_000, 0, 2_147_483_647),
    batch: option(what, options, "batch", 1000, 1, 10_000) ?? 1000,
    passes: option(what, options, "passes", 4, 1, 1000) ?? 4,
  };
}

export class Retention {
  readonly db: Host;
  readonly options: Readonly<RetentionSettings>;
  /** The report of the last pass, or null before the first. */
  lastReport: RetentionReport | null = null;
  private readonly stmts: {
    notifications: Database.Statement;
    dead: Database.Statement;
    rateLimits: Database.Statement;
    results: Database.Statement;
    history: Database.Statement;
    outboxDead: Database.Statement;
  };
  private timer: NodeJS.Timeout | null = null;
  private untrack: (() => void) | null = null;
  private readonly errorListeners = new Set<(err: unknown) => void>();
  private readonly passListeners = new Set<(report: RetentionReport) => void>();

  constructor(db: Host, options: RetentionOptions = {}) {
    const resolved = resolveRetentionOptions(options);
    db.assertOpen("new Retention(db)");
    this.db = db;
    this.options = Object.freeze(resolved);
    this.stmts = {
      notifications: plucked(db.raw, "SELECT honker_prune_notifications(?, ?, ?)"),
      dead: plucked(db.raw, "SELECT honker_prune_dead(?, ?)"),
      rateLimits: plucked(db.raw, "SELECT honker_rate_limit_sweep(?, ?)"),
      results: plucked(db.raw, "SELECT honker_result_sweep(?)"),
      history: plucked(db.raw, "SELECT honker_x_history_prune(?, ?, ?)"),
      outboxDead: plucked(db.raw, "SELECT honker_x_outbox_dead_prune(?, ?, ?)"),
    };
  }

  /** One bounded pass over every table with a policy. */
  runOnce(): RetentionReport {
    const o = this.options;
    const report: RetentionReport = {
      notifications: 0,
      dead: 0,
      rateLimits: 0,
      results: 0,
      history: 0,
      outboxDead: 0,
      more: false,
    };
    const drain = (
      key: "notifications" | "dead" | "rateLimits" | "results" | "history" | "outboxDead",
      run: () => number,
    ) => {
      for (let pass = 0; pass < o.passes; pass++) {
        const n = this.db.write(`retention: prune ${key}`, run);
        report[key] += n;
        if (n < o.batch) return;
      }
      report.more = true;
    };
    if (o.notificationsMaxAgeS !== null || o.notificationsKeep !== null) {
      drain(
        "notifications",
        () =>
          this.stmts.notifications.get(
            o.notificationsMaxAgeS,
            o.notificationsKeep,
            o.batch,
          ) as number,
      );
    }
    if (o.deadMaxAgeS !== null) {
      drain("dead", () => this.stmts.dead.get(o.deadMaxAgeS, o.batch) as number);
    }
    if (o.rateLimitMaxAgeS !== null) {
      drain("rateLimits", () => this.stmts.rateLimits.get(o.rateLimitMaxAgeS, o.batch) as number);
    }
    if (o.sweepResults) {
      drain("results", () => this.stmts.results.get(o.batch) as number);
    }
    if (o.historyMaxAgeS !== null || o.historyKeep !== null) {
      drain(
        "history",
        () => this.stmts.history.get(o.historyMaxAgeS, o.historyKeep, o.batch) as number,
      );
    }
    if (o.outboxDeadMaxAgeS !== null || o.outboxDeadKeep !== null) {
      drain(
        "outboxDead",
        () => this.stmts.outboxDead.get(o.outboxDeadMaxAgeS, o.outboxDeadKeep, o.batch) as number,
      );
    }
    this.lastReport = report;
    for (const fn of [...this.passListeners]) {
      try {
        fn(report);
      } catch (err) {
        this.report(err);
      }
    }
    return report;
  }

  /** Runs a pass now and then every intervalMs (the timer does not keep the process alive). */
  start(): void {
    if (this.timer || this.options.intervalMs === null) return;
    this.db.assertOpen("retention.start()");
    this.untrack = this.db.track(this);
    this.schedule(0);
  }

  /** Called after every pass (timer or runOnce) with its report. */
  onPass(fn: (report: RetentionReport) => void): () => void {
    this.passListeners.add(fn);
    return () => this.passListeners.delete(fn);
  }

  /** Errors of timer passes; without a listener they become process warnings. */
  onError(fn: (err: unknown) => void): () => void {
    this.errorListeners.add(fn);
    return () => this.errorListeners.delete(fn);
  }

  /** Stops the timer. Safe to call twice. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.untrack?.();
    this.untrack = null;
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => this.onTimer(), delay);
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = null;
    if (!this.db.open) {
      this.close();
      return;
    }
    let delay = this.options.intervalMs ?? 60_000;
    try {
      // Housekeeping can wait for another process's transaction; the event loop should not.
      if (this.db.withShortBusyWait(() => this.runOnce()).more) delay = CATCH_UP_MS;
    } catch (err) {
      if (isHonkerError(err, "HONKER_BUSY")) delay = BUSY_RETRY_MS;
      else this.report(err);
    }
    if (this.untrack) this.schedule(delay);
  }

  private report(err: unknown): void {
    if (this.errorListeners.size === 0) {
      logOnce("retention", err);
      return;
    }
    for (const fn of [...this.errorListeners]) {
      try {
        fn(err);
      } catch {
        // nowhere left to report to
      }
    }
  }
}
