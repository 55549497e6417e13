/**
 * A named job queue: enqueue (inside or outside the outbox transaction),
 * claim/ack/retry/fail for hand-rolled workers, status, dead letters and
 * results. `work()` runs handlers for you (see worker.ts).
 */
import type Database from "better-sqlite3";
import type { AnyHonkerDatabase } from "./database.ts";
import { HonkerError, invalid } from "./errors.ts";
import { waitForResult } from "./result-waiters.ts";
import { fromJsonText, toJsonText } from "./values.ts";
import { Worker, type WorkHandler, type WorkOptions } from "./worker.ts";

export interface EnqueueOptions {
  /** Seconds from now before the job may run (wins over runAt). */
  delay?: number;
  /** When the job may run: a Date or unix seconds. */
  runAt?: Date | number;
  /** Higher runs first (default 0). */
  priority?: number;
  /** Attempts before the job is dead-lettered (default 3). */
  maxAttempts?: number;
  /** Seconds after which an unstarted job is dropped to the dead letters as 'expired'. */
  expires?: number;
  /**
   * Dedup key: while a job enqueued under this key is still pending or
   * running, enqueueing again returns that job's id instead of a new job.
   */
  key?: string;
}

/** A job as a worker holds it after a claim. */
export interface ClaimedJob<P> {
  id: number;
  queue: string;
  payload: P;
  attempts: number;
  workerId: string;
  /** Unix seconds when the claim lapses unless heartbeated. */
  claimExpiresAt: number;
}

export type JobState = "pending" | "processing" | "completed" | "dead" | "unknown";

/** What `getJob` knows about a job, wherever it is in its life. */
export interface JobInfo<P, R = unknown> {
  id: number;
  queue: string | null;
  state: JobState;
  payload: P | null;
  attempts: number;
  maxAttempts: number | null;
  priority: number | null;
  runAt: number | null;
  createdAt: number | null;
  workerId: string | null;
  claimExpiresAt: number | null;
  /** Last value reported with `job.progress()`, if any. */
  progress: unknown;
  /** Set once completed with a saved result. */
  result: R | undefined;
  /** Set for dead jobs. */
  error: string | null;
}

export interface QueueStats {
  pending: number;
  processing: number;
  dead: number;
  /** Seconds the oldest due pending job has waited, 0 if none. */
  oldestPendingAgeS: number;
  /** Unix seconds of the next delayed job or claim expiry, null if none. */
  nextRunAt: number | null;
}

export interface DeadJob<P> {
  id: number;
  payload: P;
  attempts: number;
  maxAttempts: number;
  error: string | null;
  createdAt: number;
  diedAt: number;
}

interface LiveRow {
  id: number;
  queue: string;
  payload: string;
  state: "pending" | "processing";
  priority: number;
  run_at: number;
  worker_id: string | null;
  claim_expires_at: number | null;
  attempts: number;
  max_attempts: number;
  created_at: number;
}

interface DeadRow {
  id: number;
  queue: string;
  payload: string;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  created_at: number;
  died_at: number;
}

interface ClaimRow {
  attempts: number;
  claim_expires_at: number;
  id: number;
  payload: string;
  queue: string;
  worker_id: string;
}

const MAX_BATCH = 10000;

function nonNegInt(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw invalid(`${what} must be a whole number >= 0, got ${String(v)}`);
  }
  return v;
}

function jobId(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw invalid(`${what}: job id must be a positive whole number, got ${String(v)}`);
  }
  return v;
}

/** Statements are prepared once per queue object, on first use. */
class Statements {
  private readonly cache = new Map<string, Database.Statement>();
  private readonly raw: Database.Database;
  constructor(raw: Database.Database) {
    this.raw = raw;
  }
  get(sql: string): Database.Statement {
    let st = this.cache.get(sql);
    if (!st) {
      st = this.raw.prepare(sql);
      this.cache.set(sql, st);
    }
    return st;
  }
}

export class Queue<P = unknown, R = unknown> {
  readonly name: string;
  private readonly db: AnyHonkerDatabase;
  private readonly st: Statements;

  constructor(db: AnyHonkerDatabase, name: string) {
    if (typeof name !== "string" || name === "") {
      throw invalid("queue(name): name must be a non-empty string");
    }
    this.db = db;
    this.name = name;
    this.st = new Statements(db.raw);
  }

  /** The database this queue lives in. */
  get database(): AnyHonkerDatabase {
    return this.db;
  }

  /**
   * Adds a job; returns its id. Inside `db.transaction()` it commits (and
   * wakes workers) together with the app's own writes.
   */
  enqueue(payload: P, options: EnqueueOptions = {}): number {
    const doing = `queue('${this.name}').enqueue`;
    const text = toJsonText(payload, `${doing} payload`);
    const runAt =
      options.runAt instanceof Date ? Math.floor(options.runAt.getTime() / 1000) : options.runAt;
    if (runAt !== undefined && (typeof runAt !== "number" || !Number.isFinite(runAt))) {
      throw invalid(`${doing}: runAt must be a Date or unix seconds`);
    }
    if (options.key !== undefined && (typeof options.key !== "string" || options.key === "")) {
      throw invalid(`${doing}: key must be a non-empty string`);
    }
    const args = [
      this.name,
      text,
      runAt === undefined ? null : Math.floor(runAt),
      options.delay ?? null,
      options.priority ?? 0,
      options.maxAttempts ?? 3,
      options.expires ?? null,
    ];
    const insert = () =>
      this.st
        .get("SELECT honker_enqueue(?, ?, ?, ?, ?, ?, ?)")
        .pluck()
        .get(...args) as number;
    if (options.key === undefined) return this.db.write(doing, insert);
    const key = options.key;
    return this.db.transaction(() =>
      this.db.write(doing, () => {
        const existing = this.st
          .get(
            "SELECT d.job_id FROM _honker_x_dedup d JOIN _honker_live l ON l.id = d.job_id " +
              "WHERE d.queue = ? AND d.key = ?",
          )
          .pluck()
          .get(this.name, key) as number | undefined;
        if (existing !== undefined) return existing;
        const id = insert();
        this.st
          .get("INSERT OR REPLACE INTO _honker_x_dedup (queue, key, job_id) VALUES (?, ?, ?)")
          .run(this.name, key, id);
        return id;
      }),
    );
  }

  /** Adds many jobs (with the same options) in one transaction; returns their ids in order. */
  enqueueMany(payloads: readonly P[], options: EnqueueOptions = {}): number[] {
    if (!Array.isArray(payloads)) {
      throw invalid(`queue('${this.name}').enqueueMany: payloads must be an array`);
    }
    return this.db.transaction(() => payloads.map((p) => this.enqueue(p, options)));
  }

  /**
   * Claims up to `batchSize` due jobs for `workerId` for
   * `visibilityTimeout` seconds. Exhausted jobs are dead-lettered first.
   */
  claim(
    workerId: string,
    options: { batchSize?: number; visibilityTimeout?: number } = {},
  ): ClaimedJob<P>[] {
    const doing = `queue('${this.name}').claim`;
    const n = nonNegInt(options.batchSize ?? 1, `${doing}: batchSize`);
    if (n > MAX_BATCH) throw invalid(`${doing}: batchSize must be at most ${MAX_BATCH}`);
    const timeout = nonNegInt(options.visibilityTimeout ?? 30, `${doing}: visibilityTimeout`);
    const text = this.db.write(doing, () =>
      this.st
        .get("SELECT honker_claim_batch(?, ?, ?, ?)")
        .pluck()
        .get(this.name, workerId, n, timeout),
    ) as string;
    return (JSON.parse(text) as ClaimRow[]).map((r) => ({
      id: r.id,
      queue: r.queue,
      payload: fromJsonText<P>(r.payload),
      attempts: r.attempts,
      workerId: r.worker_id,
      claimExpiresAt: r.claim_expires_at,
    }));
  }

  /** Completes a job; false if the claim was lost (expired or taken over). */
  ack(id: number, workerId: string): boolean {
    const doing = `queue('${this.name}').ack`;
    jobId(id, doing);
    return this.db.write(doing, () => {
      const ok = this.st.get("SELECT honker_ack(?, ?)").pluck().get(id, workerId) === 1;
      if (ok) this.st.get("DELETE FROM _honker_x_progress WHERE job_id = ?").run(id);
      return ok;
    });
  }

  /** Acks many jobs; returns how many were still ours. */
  ackMany(ids: readonly number[], workerId: string): number {
    const doing = `queue('${this.name}').ackMany`;
    for (const id of ids) jobId(id, doing);
    return this.db.write(
      doing,
      () =>
        this.st
          .get("SELECT honker_ack_batch(?, ?)")
          .pluck()
          .get(JSON.stringify(ids), workerId) as number,
    );
  }

  /** Puts a job back after `delaySeconds`, or dead-letters it on its last attempt. */
  retry(id: number, workerId: string, delaySeconds: number, error: string | null = null): boolean {
    const doing = `queue('${this.name}').retry`;
    jobId(id, doing);
    const delay = nonNegInt(Math.ceil(delaySeconds), `${doing}: delaySeconds`);
    return this.db.write(
      doing,
      () =>
        this.st.get("SELECT honker_retry(?, ?, ?, ?)").pluck().get(id, workerId, delay, error) ===
        1,
    );
  }

  /** Dead-letters a claimed job with `error`. */
  fail(id: number, workerId: string, error: string | null = null): boolean {
    const doing = `queue('${this.name}').fail`;
    jobId(id, doing);
    return this.db.write(
      doing,
      () => this.st.get("SELECT honker_fail(?, ?, ?)").pluck().get(id, workerId, error) === 1,
    );
  }

  /** Extends a live claim by `extendSeconds` from now. */
  heartbeat(id: number, workerId: string, extendSeconds: number): boolean {
    const doing = `queue('${this.name}').heartbeat`;
    jobId(id, doing);
    const extend = nonNegInt(Math.ceil(extendSeconds), `${doing}: extendSeconds`);
    return this.db.write(
      doing,
      () => this.st.get("SELECT honker_heartbeat(?, ?, ?)").pluck().get(id, workerId, extend) === 1,
    );
  }

  /**
   * Cancels a pending or running job of this queue. A running handler (in
   * any process) sees its AbortSignal fire.
   */
  cancel(id: number): boolean {
    const doing = `queue('${this.name}').cancel`;
    jobId(id, doing);
    return this.db.write(
      doing,
      () => this.st.get("SELECT honker_cancel(?, ?)").pluck().get(this.name, id) === 1,
    );
  }

  /** Stores a progress value for a running job (readable by getJob and renderers). */
  setProgress(id: number, progress: unknown): void {
    const doing = `queue('${this.name}').progress`;
    const text = toJsonText(progress, `${doing} value`);
    this.db.write(doing, () =>
      this.st
        .get(
          "INSERT INTO _honker_x_progress (job_id, progress, updated_at) VALUES (?, ?, unixepoch()) " +
            "ON CONFLICT(job_id) DO UPDATE SET progress = excluded.progress, updated_at = excluded.updated_at",
        )
        .run(id, text),
    );
  }

  /** Everything known about a job: live, dead, or completed with a result. */
  getJob(id: number): JobInfo<P, R> | null {
    const doing = `queue('${this.name}').getJob`;
    jobId(id, doing);
    return this.db.read(doing, () => {
      const progressText = this.st
        .get("SELECT progress FROM _honker_x_progress WHERE job_id = ?")
        .pluck()
        .get(id) as string | undefined;
      const progress = progressText === undefined ? undefined : fromJsonText(progressText);
      const live = this.st
        .get("SELECT * FROM _honker_live WHERE id = ? AND queue = ?")
        .get(id, this.name) as LiveRow | undefined;
      if (live) {
        return {
          id,
          queue: live.queue,
          state: live.state,
          payload: fromJsonText<P>(live.payload),
          attempts: live.attempts,
          maxAttempts: live.max_attempts,
          priority: live.priority,
          runAt: live.run_at,
          createdAt: live.created_at,
          workerId: live.worker_id,
          claimExpiresAt: live.claim_expires_at,
          progress,
          result: undefined,
          error: null,
        };
      }
      const dead = this.st
        .get("SELECT * FROM _honker_dead WHERE id = ? AND queue = ?")
        .get(id, this.name) as DeadRow | undefined;
      if (dead) {
        return {
          id,
          queue: dead.queue,
          state: "dead",
          payload: fromJsonText<P>(dead.payload),
          attempts: dead.attempts,
          maxAttempts: dead.max_attempts,
          priority: dead.priority,
          runAt: dead.run_at,
          createdAt: dead.created_at,
          workerId: null,
          claimExpiresAt: null,
          progress,
          result: undefined,
          error: dead.last_error,
        };
      }
      const result = this.getResultRow(id);
      if (result === undefined && progress === undefined) return null;
      return {
        id,
        queue: this.name,
        state: result === undefined ? "unknown" : "completed",
        payload: null,
        attempts: 0,
        maxAttempts: null,
        priority: null,
        runAt: null,
        createdAt: null,
        workerId: null,
        claimExpiresAt: null,
        progress,
        result: result === undefined ? undefined : fromJsonText<R>(result),
        error: null,
      };
    });
  }

  /** Counts and ages for dashboards and status bars. */
  stats(): QueueStats {
    return this.db.read(`queue('${this.name}').stats`, () => {
      const row = this.st
        .get(
          "SELECT " +
            "(SELECT count(*) FROM _honker_live WHERE queue = @queue AND state = 'pending') AS pending, " +
            "(SELECT count(*) FROM _honker_live WHERE queue = @queue AND state = 'processing') AS processing, " +
            "(SELECT count(*) FROM _honker_dead WHERE queue = @queue) AS dead, " +
            "(SELECT min(run_at) FROM _honker_live WHERE queue = @queue AND state = 'pending' AND run_at <= unixepoch()) AS oldest, " +
            "honker_queue_next_claim_at(@queue) AS next, unixepoch() AS now",
        )
        .get({ queue: this.name }) as {
        pending: number;
        processing: number;
        dead: number;
        oldest: number | null;
        next: number;
        now: number;
      };
      return {
        pending: row.pending,
        processing: row.processing,
        dead: row.dead,
        oldestPendingAgeS: row.oldest === null ? 0 : Math.max(0, row.now - row.oldest),
        nextRunAt: row.next === 0 ? null : row.next,
      };
    });
  }

  /** Unix seconds when a job next becomes claimable (0: none scheduled, or one is due now). */
  nextClaimAt(): number {
    return this.db.read(
      `queue('${this.name}').nextClaimAt`,
      () => this.st.get("SELECT honker_queue_next_claim_at(?)").pluck().get(this.name) as number,
    );
  }

  /**
   * Unix seconds when a claim will next find work: now (or earlier) if it
   * would right away, a future time, or 0 when nothing is scheduled. A
   * read: workers ask it before taking the write lock for a claim.
   */
  readyAt(): number {
    return this.db.read(
      `queue('${this.name}').readyAt`,
      () => this.st.get("SELECT honker_x_queue_ready_at(?)").pluck().get(this.name) as number,
    );
  }

  /** Dead letters, newest first. */
  deadLetters(options: { limit?: number; offset?: number } = {}): DeadJob<P>[] {
    const limit = nonNegInt(options.limit ?? 100, "deadLetters: limit");
    const offset = nonNegInt(options.offset ?? 0, "deadLetters: offset");
    return this.db.read(`queue('${this.name}').deadLetters`, () =>
      (
        this.st
          .get("SELECT * FROM _honker_dead WHERE queue = ? ORDER BY id DESC LIMIT ? OFFSET ?")
          .all(this.name, limit, offset) as DeadRow[]
      ).map((r) => ({
        id: r.id,
        payload: fromJsonText<P>(r.payload),
        attempts: r.attempts,
        maxAttempts: r.max_attempts,
        error: r.last_error,
        createdAt: r.created_at,
        diedAt: r.died_at,
      })),
    );
  }

  /**
   * Re-drives dead letters (all of this queue's, or the given ids) as new
   * pending jobs with fresh attempts; returns the new ids.
   */
  redrive(ids?: readonly number[]): number[] {
    const doing = `queue('${this.name}').redrive`;
    return this.db.transaction(() =>
      this.db.write(doing, () => {
        const rows = (
          ids === undefined
            ? this.st
                .get("SELECT * FROM _honker_dead WHERE queue = ? ORDER BY id LIMIT 10000")
                .all(this.name)
            : ids.map((id) =>
                this.st
                  .get("SELECT * FROM _honker_dead WHERE queue = ? AND id = ?")
                  .get(this.name, jobId(id, doing)),
              )
        ).filter((r): r is DeadRow => r !== undefined) as DeadRow[];
        const enqueue = this.st.get("SELECT honker_enqueue(?, ?, NULL, NULL, ?, ?, NULL)").pluck();
        const del = this.st.get("DELETE FROM _honker_dead WHERE id = ?");
        return rows.map((r) => {
          const id = enqueue.get(this.name, r.payload, r.priority, r.max_attempts) as number;
          del.run(r.id);
          return id;
        });
      }),
    );
  }

  /** Deletes dead letters of this queue (all, or older than `olderThanS`); returns the count. */
  purgeDead(options: { olderThanS?: number } = {}): number {
    const doing = `queue('${this.name}').purgeDead`;
    const age =
      options.olderThanS === undefined
        ? null
        : nonNegInt(options.olderThanS, `${doing}: olderThanS`);
    return this.db.write(
      doing,
      () =>
        this.st
          .get(
            "DELETE FROM _honker_dead WHERE queue = ? AND (? IS NULL OR died_at < unixepoch() - ?)",
          )
          .run(this.name, age, age).changes,
    );
  }

  /** Moves this queue's expired jobs to the dead letters; returns the count. */
  sweepExpired(): number {
    return this.db.write(
      `queue('${this.name}').sweepExpired`,
      () => this.st.get("SELECT honker_sweep_expired(?)").pluck().get(this.name) as number,
    );
  }

  /** Saves a job's result for `ttlSeconds` (0 = forever). */
  saveResult(id: number, value: R, ttlSeconds = 86400): void {
    const doing = `queue('${this.name}').saveResult`;
    jobId(id, doing);
    const text = toJsonText(value === undefined ? null : value, `${doing} value`);
    this.db.write(doing, () =>
      this.st.get("SELECT honker_result_save(?, ?, ?)").get(id, text, Math.floor(ttlSeconds)),
    );
  }

  /** The saved result, or undefined when there is none (or it expired). */
  getResult(id: number): R | undefined {
    const doing = `queue('${this.name}').getResult`;
    jobId(id, doing);
    const text = this.db.read(doing, () => this.getResultRow(id));
    return text === undefined ? undefined : fromJsonText<R>(text);
  }

  /**
   * Waits for a job's result (saved by a worker in any process). Rejects
   * with HONKER_TIMEOUT after `timeoutMs`, or with an error when the job
   * died.
   */
  async waitResult(
    id: number,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<R> {
    return waitForResult<R>(this.db, id, options, `queue('${this.name}').waitResult`);
  }

  /** Runs `handler` for each job; see WorkOptions. */
  work(handler: WorkHandler<P, R>, options: WorkOptions = {}): Worker<P, R> {
    const worker = new Worker<P, R>(this, handler, options);
    worker.start();
    return worker;
  }

  private getResultRow(id: number): string | undefined {
    const v = this.st.get("SELECT honker_result_get(?)").pluck().get(id) as string | null;
    return v === null ? undefined : v;
  }
}
