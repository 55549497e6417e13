/**
 * Waiting for job results: one registry per database handle, attached
 * lazily. Waiters are kept by job id; the registry holds ONE watcher
 * subscription while any waiter exists (none at all when idle) and, on each
 * wake, checks every waiting id in ONE statement, settling only the waiters
 * whose job reached an outcome. So a commit costs one indexed statement,
 * however many waits are pending (before: one subscription, one result read
 * and one dead-letter read per waiter, per commit).
 */
import type Database from "better-sqlite3";
import { id as checkJobId, longTimeout, options, optSignal, refuse } from "./args.ts";
import type { AnyHonkerDatabase } from "./database.ts";
import { fromSqlite, HonkerError } from "./errors.ts";
import { fromJsonText } from "./values.ts";

/** What a waiter learns about its job. */
export type JobOutcome =
  | { state: "completed"; resultText: string }
  | { state: "dead"; error: string | null }
  | { state: "cancelled" }
  | { state: "waiting" };

/** One row of the check: only ids whose job reached an outcome are returned. */
interface CheckRow {
  id: number;
  has_result: 0 | 1;
  result: string | null;
  dead: 0 | 1;
  last_error: string | null;
  live: 0 | 1;
  allocated: 0 | 1;
}

/**
 * Every waiting id, checked in one statement (ids as a JSON array). Rows
 * come back only for decided ids, so an unrelated commit returns none.
 * `allocated`: the id was handed out by _honker_live's AUTOINCREMENT, so a
 * missing live row means the job is gone, not "not enqueued yet".
 */
const CHECK_SQL = `
  SELECT w.value AS id,
         r.job_id IS NOT NULL AS has_result,
         r.value AS result,
         d.id IS NOT NULL AS dead,
         d.last_error AS last_error,
         l.id IS NOT NULL AS live,
         w.value <= COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '_honker_live'), 0)
           AS allocated
    FROM json_each(?) AS w
    LEFT JOIN _honker_results AS r
      ON r.job_id = w.value AND (r.expires_at IS NULL OR r.expires_at > unixepoch())
    LEFT JOIN _honker_dead AS d ON d.id = w.value
    LEFT JOIN _honker_live AS l ON l.id = w.value
   WHERE r.job_id IS NOT NULL OR d.id IS NOT NULL OR l.id IS NULL`;

/**
 * THE decision "what is this job's outcome", kept in one place so it can be
 * switched to the extension's `honker_x_get_job(id)` (a JSON view whose
 * `state` is pending|processing|completed|dead|cancelled) in one edit.
 */
export function outcomeOf(row: CheckRow): JobOutcome {
  if (row.has_result) return { state: "completed", resultText: row.result ?? "null" };
  if (row.dead) return { state: "dead", error: row.last_error };
  // Cancellation leaves no row of its own yet: a job id that was handed out,
  // is no longer in _honker_live, and has neither a result nor a dead row
  // (checked after a wake, or at registration) was cancelled. Caveat until
  // honker_x_get_job reports 'completed': a job completed WITHOUT a saved
  // result (a worker with resultTtl: false, or a hand-rolled ack() and
  // saveResult() in two separate commits) looks the same, and is reported
  // as cancelled.
  if (!row.live && row.allocated) return { state: "cancelled" };
  return { state: "waiting" };
}

interface Waiter {
  id: number;
  doing: string;
  resolve(text: string): void;
  reject(err: unknown): void;
}

/** The registry of one database handle. */
export class ResultWaiters {
  private readonly db: AnyHonkerDatabase;
  private readonly byId = new Map<number, Set<Waiter>>();
  private count = 0;
  private stmt: Database.Statement | null = null;
  private idsJson: string | null = null;
  private unsubscribe: (() => void) | null = null;
  private undead: (() => void) | null = null;
  private untrack: (() => void) | null = null;
  /** Counters for tests and diagnostics: wakes handled, statements run, last check's duration. */
  readonly stats = { wakes: 0, statements: 0, lastCheckMs: 0 };

  constructor(db: AnyHonkerDatabase) {
    this.db = db;
  }

  /** Pending waits (all job ids). */
  get size(): number {
    return this.count;
  }

  /** True while the registry listens to the watcher. */
  get subscribed(): boolean {
    return this.unsubscribe !== null;
  }

  /**
   * Resolves with the job's result (JSON text); rejects with HONKER_TIMEOUT
   * after `timeoutMs`, the signal's reason on abort, HONKER_JOB_DEAD when the
   * job died and HONKER_CANCELLED when it was cancelled.
   */
  wait(
    jobId: number,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
    doing: string,
  ) {
    return new Promise<string>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let timer: { clear(): void } | null = null;
      const settle = () => {
        this.remove(waiter);
        timer?.clear();
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        id: jobId,
        doing,
        resolve: (text) => {
          settle();
          resolve(text);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      const onAbort = () => waiter.reject(signal?.reason);
      try {
        // Subscribe before reading, so a result saved in between wakes us.
        this.add(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
        if (timeoutMs !== undefined) {
          timer = longTimeout(
            () =>
              waiter.reject(
                new HonkerError(
                  "HONKER_TIMEOUT",
                  `${doing}: no result for job ${jobId} within ${timeoutMs} ms`,
                ),
              ),
            timeoutMs,
          );
        }
        // The first look, for this id only (a result may already be saved).
        const rows = this.check(JSON.stringify([jobId]));
        for (const row of rows) this.deliver(row, waiter);
      } catch (err) {
        waiter.reject(fromSqlite(err, doing));
      }
    });
  }

  private add(w: Waiter): void {
    if (this.count === 0) this.activate();
    let set = this.byId.get(w.id);
    if (!set) {
      set = new Set();
      this.byId.set(w.id, set);
      this.idsJson = null;
    }
    set.add(w);
    this.count++;
  }

  private remove(w: Waiter): void {
    const set = this.byId.get(w.id);
    if (!set?.delete(w)) return;
    this.count--;
    if (set.size === 0) {
      this.byId.delete(w.id);
      this.idsJson = null;
    }
    if (this.count === 0) this.deactivate();
  }

  private activate(): void {
    this.db.assertOpen("waitResult");
    this.unsubscribe = this.db.watcher.subscribe(() => this.onWake());
    this.undead = this.db.watcher.onDead((err) => this.failAll(err));
    this.untrack = this.db.track({
      close: () =>
        this.failAll(
          new HonkerError("HONKER_CLOSED", "waitResult: the database was closed while waiting"),
        ),
    });
  }

  /** No waiter left: no watcher subscription, no cost at all on commits. */
  private deactivate(): void {
    this.unsubscribe?.();
    this.undead?.();
    this.untrack?.();
    this.unsubscribe = this.undead = this.untrack = null;
  }

  private failAll(err: unknown): void {
    for (const set of [...this.byId.values()]) for (const w of [...set]) w.reject(err);
  }

  /** One statement for every waiting id; only decided ids come back. */
  private check(idsJson: string): CheckRow[] {
    if (!this.db.open) {
      throw new HonkerError("HONKER_CLOSED", "waitResult: the database was closed");
    }
    this.stmt ??= this.db.raw.prepare(CHECK_SQL);
    this.stats.statements++;
    return this.stmt.all(idsJson) as CheckRow[];
  }

  private onWake(): void {
    if (this.count === 0) return;
    // On the writer connection mid-transaction a read would show uncommitted
    // rows; the commit wakes us again.
    if (this.db.raw.inTransaction) return;
    this.stats.wakes++;
    this.idsJson ??= JSON.stringify([...this.byId.keys()]);
    const t0 = performance.now();
    let rows: CheckRow[];
    try {
      rows = this.check(this.idsJson);
    } catch (err) {
      // Closed: everyone ends. Anything else (busy, I/O) is retried on the next wake.
      if (!this.db.open) this.failAll(fromSqlite(err, "waitResult"));
      return;
    } finally {
      this.stats.lastCheckMs = performance.now() - t0;
    }
    for (const row of rows) {
      const set = this.byId.get(row.id);
      if (set) for (const w of [...set]) this.deliver(row, w);
    }
  }

  private deliver(row: CheckRow, w: Waiter): void {
    const o = outcomeOf(row);
    switch (o.state) {
      case "completed":
        w.resolve(o.resultText);
        return;
      case "dead":
        w.reject(
          new HonkerError(
            "HONKER_JOB_DEAD",
            `${w.doing}: job ${w.id} died: ${o.error ?? "no error"} (see deadLetters(); redrive() retries it)`,
          ),
        );
        return;
      case "cancelled":
        w.reject(
          new HonkerError(
            "HONKER_CANCELLED",
            `${w.doing}: job ${w.id} was cancelled (or is gone without a result); it will never have one`,
          ),
        );
        return;
      case "waiting":
        return;
    }
  }
}

const registries = new WeakMap<AnyHonkerDatabase, ResultWaiters>();

/** The registry of `db`, created on first use. */
export function resultWaiters(db: AnyHonkerDatabase): ResultWaiters {
  let r = registries.get(db);
  if (!r) {
    r = new ResultWaiters(db);
    registries.set(db, r);
  }
  return r;
}

/**
 * `Queue.waitResult`: validates, then waits through the database's registry.
 * `timeoutMs`: finite and >= 0 (beyond setTimeout's 2^31-1 ms ceiling is fine).
 */
export async function waitForResult<R>(
  db: AnyHonkerDatabase,
  jobId: unknown,
  opts: unknown,
  doing: string,
): Promise<R> {
  checkJobId(doing, "id", jobId);
  const o = options<{ timeoutMs: number; signal: AbortSignal }>(doing, opts);
  const t = o.timeoutMs;
  if (t !== undefined && (typeof t !== "number" || !Number.isFinite(t) || t < 0)) {
    throw refuse(doing, "options.timeoutMs", "a finite number of milliseconds >= 0", t);
  }
  const signal = optSignal(doing, "options.signal", o.signal);
  db.assertOpen(doing);
  const text = await resultWaiters(db).wait(jobId as number, t, signal, doing);
  return fromJsonText<R>(text);
}
