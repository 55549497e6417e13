/**
 * A named job queue: enqueue (inside or outside the outbox transaction),
 * claim/ack/retry/fail for hand-rolled workers, status, dead letters and
 * results. `work()` runs handlers for you (see worker.ts).
 */
import type Database from "better-sqlite3";
import * as args from "./args.ts";
import type { ClaimedJob } from "./claimed-job.ts";
import { HonkerError } from "./errors.ts";
import type { Host } from "./host.ts";
import { waitForResult } from "./result-waiters.ts";
import { plucked, prepared } from "./statements.ts";
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

export type { ClaimedJob } from "./claimed-job.ts";

export type JobState = "pending" | "processing" | "completed" | "cancelled" | "dead";

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
  /** Unix seconds when it completed, was cancelled or died; null while live. */
  finishedAt: number | null;
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
  /**
   * Seconds the oldest due job has waited to be claimed (a pending job since
   * its run_at; a job whose claim lapsed since the claim expired), 0 if none.
   */
  oldestPendingAgeS: number;
  /** Unix seconds of the next delayed job or claim expiry, null if none. */
  nextRunAt: number | null;
  /** The queue is paused in the file (see `Queue.pause()`): no worker anywhere claims from it. */
  paused: boolean;
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

/** honker_x_get_job's JSON. */
interface JobRow {
  attempts: number | null;
  claim_expires_at: number | null;
  created_at: number | null;
  error: string | null;
  finished_at: number | null;
  id: number;
  max_attempts: number | null;
  payload: string | null;
  priority: number | null;
  progress: string | null;
  queue: string | null;
  result: string | null;
  run_at: number | null;
  state: JobState;
  worker_id: string | null;
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

/** enqueue()'s options as the extension's arguments. */
interface EnqueueArgs {
  runAt: number | null;
  delay: number | null;
  priority: number;
  maxAttempts: number;
  expires: number | null;
  key: string | undefined;
}

/** The extension SQL behind enqueue (argument checks and key dedup in C). */
const ENQUEUE_SQL = "SELECT honker_x_enqueue(?, ?, ?, ?, ?, ?, ?, ?)";

/** enqueue() without options: every argument's default. */
const DEFAULT_ENQUEUE: EnqueueArgs = Object.freeze({
  runAt: null,
  delay: null,
  priority: 0,
  maxAttempts: 3,
  expires: null,
  key: undefined,
});

/** Checks enqueue options where they enter; returns the extension's arguments. */
function enqueueArgs(fn: string, options: unknown): EnqueueArgs {
  const o = args.options<EnqueueOptions>(fn, options);
  let runAt: number | null = null;
  if (o.runAt instanceof Date) {
    const t = o.runAt.getTime();
    if (!Number.isFinite(t)) throw args.refuse(fn, "options.runAt", "a valid Date", "Invalid Date");
    runAt = args.int(fn, "options.runAt (as unix seconds)", Math.floor(t / 1000), 0, args.MAX_UNIX);
  } else if (o.runAt !== undefined) {
    runAt = Math.floor(args.num(fn, "options.runAt", o.runAt, 0, args.MAX_UNIX));
  }
  const delay =
    o.delay === undefined
      ? null
      : Math.ceil(args.num(fn, "options.delay", o.delay, -args.MAX_SECONDS, args.MAX_SECONDS));
  const expires =
    o.expires === undefined
      ? null
      : Math.ceil(args.num(fn, "options.expires", o.expires, 0, args.MAX_SECONDS));
  return {
    runAt,
    delay,
    priority: args.optInt(fn, "options.priority", o.priority, -1_000_000_000, 1_000_000_000, 0),
    maxAttempts: args.optInt(fn, "options.maxAttempts", o.maxAttempts, 1, 1_000_000, 3),
    expires,
    key: o.key === undefined ? undefined : args.key(fn, "options.key", o.key),
  };
}

export class Queue<P = unknown, R = unknown> {
  readonly name: string;
  private readonly db: Host;

  /** Error-message prefixes, built once (not per call on the hot path). */
  private readonly label: { enqueue: string; enqueuePayload: string; enqueueMany: string };

  constructor(db: Host, name: string) {
    args.name("queue(name)", "name", name);
    this.label = {
      enqueue: `queue('${name}').enqueue`,
      enqueuePayload: `queue('${name}').enqueue: payload`,
      enqueueMany: `queue('${name}').enqueueMany`,
    };
    this.db = db;
    this.name = name;
  }

  /** The database this queue lives in. */
  get database(): Host {
    return this.db;
  }

  /**
   * Adds a job; returns its id. Inside `db.transaction()` it commits (and
   * wakes workers) together with the app's own writes.
   */
  enqueue(payload: P, options?: EnqueueOptions): number {
    const text = toJsonText(payload, this.label.enqueuePayload);
    const a = options === undefined ? DEFAULT_ENQUEUE : enqueueArgs(this.label.enqueue, options);
    return this.db.write(this.label.enqueue, () => this.insert(text, a));
  }

  /**
   * Adds many jobs (with the same options) in one transaction; returns their
   * ids in order. Every payload is checked before the first row is written.
   */
  enqueueMany(payloads: readonly P[], options?: EnqueueOptions): number[] {
    const doing = this.label.enqueueMany;
    if (!Array.isArray(payloads)) throw args.refuse(doing, "payloads", "an array", payloads);
    const texts = new Array<string>(payloads.length);
    for (let i = 0; i < payloads.length; i++) {
      try {
        texts[i] = toJsonText(payloads[i], doing);
      } catch {
        // Again with the element's path in the message (not built per element up front).
        texts[i] = toJsonText(payloads[i], `${doing}: payloads[${i}]`);
      }
    }
    const a = options === undefined ? DEFAULT_ENQUEUE : enqueueArgs(doing, options);
    return this.db.transaction(() =>
      this.db.write(doing, () => {
        const st = plucked(this.db.raw, ENQUEUE_SQL);
        const ids = new Array<number>(texts.length);
        for (let i = 0; i < texts.length; i++) ids[i] = this.insertWith(st, texts[i] as string, a);
        return ids;
      }),
    );
  }

  /** One row through the extension (with a key, deduplicated by honker_x_enqueue). */
  private insert(text: string, a: EnqueueArgs): number {
    return this.insertWith(plucked(this.db.raw, ENQUEUE_SQL), text, a);
  }

  private insertWith(st: Database.Statement, text: string, a: EnqueueArgs): number {
    return st.get(
      this.name,
      text,
      a.runAt,
      a.delay,
      a.priority,
      a.maxAttempts,
      a.expires,
      a.key ?? null,
    ) as number;
  }

  /**
   * Claims up to `batchSize` due jobs for `workerId` for
   * `visibilityTimeout` seconds. Exhausted jobs are dead-lettered first.
   * A paused queue (see pause()) claims nothing.
   */
  claim(
    workerId: string,
    options: { batchSize?: number; visibilityTimeout?: number } = {},
  ): ClaimedJob<P>[] {
    const doing = `queue('${this.name}').claim`;
    args.name(doing, "workerId", workerId);
    const o = args.options<{ batchSize?: number; visibilityTimeout?: number }>(doing, options);
    const n = args.optInt(doing, "options.batchSize", o.batchSize, 0, args.MAX_BATCH, 1);
    const timeout = args.optInt(
      doing,
      "options.visibilityTimeout",
      o.visibilityTimeout,
      0,
      args.MAX_SECONDS,
      30,
    );
    const text = this.db.write(doing, () =>
      plucked(this.db.raw, "SELECT honker_claim_batch(?, ?, ?, ?)").get(
        this.name,
        workerId,
        n,
        timeout,
      ),
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
    args.id(doing, "id", id);
    args.name(doing, "workerId", workerId);
    return this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_ack(?, ?)").get(id, workerId) === 1,
    );
  }

  /** Acks many jobs; returns how many were still ours. */
  ackMany(ids: readonly number[], workerId: string): number {
    const doing = `queue('${this.name}').ackMany`;
    args.ids(doing, "ids", ids);
    args.name(doing, "workerId", workerId);
    return this.db.write(
      doing,
      () =>
        plucked(this.db.raw, "SELECT honker_ack_batch(?, ?)").get(
          JSON.stringify(ids),
          workerId,
        ) as number,
    );
  }

  /** Puts a job back after `delaySeconds`, or dead-letters it on its last attempt. */
  retry(id: number, workerId: string, delaySeconds: number, error: string | null = null): boolean {
    const doing = `queue('${this.name}').retry`;
    args.id(doing, "id", id);
    args.name(doing, "workerId", workerId);
    const delay = Math.ceil(args.num(doing, "delaySeconds", delaySeconds, 0, args.MAX_SECONDS));
    if (error !== null) args.text(doing, "error", error);
    return this.db.write(
      doing,
      () =>
        plucked(this.db.raw, "SELECT honker_retry(?, ?, ?, ?)").get(id, workerId, delay, error) ===
        1,
    );
  }

  /**
   * Like retry(), but says what became of the job: "retry" (back to
   * pending), "dead" (that was its last attempt), or "lost" (the claim was
   * no longer ours; nothing was written).
   */
  retryJob(
    id: number,
    workerId: string,
    delaySeconds: number,
    error: string | null = null,
  ): "retry" | "dead" | "lost" {
    const doing = `queue('${this.name}').retryJob`;
    args.id(doing, "id", id);
    args.name(doing, "workerId", workerId);
    const delay = Math.ceil(args.num(doing, "delaySeconds", delaySeconds, 0, args.MAX_SECONDS));
    if (error !== null) args.text(doing, "error", error);
    const code = this.db.write(
      doing,
      () =>
        plucked(this.db.raw, "SELECT honker_x_retry(?, ?, ?, ?)").get(
          id,
          workerId,
          delay,
          error,
        ) as number,
    );
    return code === 1 ? "retry" : code === 2 ? "dead" : "lost";
  }

  /** Dead-letters a claimed job with `error`. */
  fail(id: number, workerId: string, error: string | null = null): boolean {
    const doing = `queue('${this.name}').fail`;
    args.id(doing, "id", id);
    args.name(doing, "workerId", workerId);
    if (error !== null) args.text(doing, "error", error);
    return this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_fail(?, ?, ?)").get(id, workerId, error) === 1,
    );
  }

  /** Extends a live claim by `extendSeconds` from now. */
  heartbeat(id: number, workerId: string, extendSeconds: number): boolean {
    const doing = `queue('${this.name}').heartbeat`;
    args.id(doing, "id", id);
    args.name(doing, "workerId", workerId);
    const extend = Math.ceil(args.num(doing, "extendSeconds", extendSeconds, 0, args.MAX_SECONDS));
    return this.db.write(
      doing,
      () =>
        plucked(this.db.raw, "SELECT honker_heartbeat(?, ?, ?)").get(id, workerId, extend) === 1,
    );
  }

  /**
   * Cancels a pending or running job of this queue. A running handler (in
   * any process) sees its AbortSignal fire.
   */
  cancel(id: number): boolean {
    const doing = `queue('${this.name}').cancel`;
    args.id(doing, "id", id);
    return this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_cancel(?, ?)").get(this.name, id) === 1,
    );
  }

  /**
   * Stores a progress value for a live job (readable by getJob and
   * renderers); false when the job is no longer live (nothing stored).
   */
  setProgress(id: number, progress: unknown): boolean {
    const doing = `queue('${this.name}').setProgress`;
    args.id(doing, "id", id);
    const text = toJsonText(progress, `${doing}: progress`);
    return this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_x_progress_set(?, ?)").get(id, text) === 1,
    );
  }

  /**
   * Everything known about a job of this queue, wherever it is in its life:
   * pending or processing, dead, or finished (completed or cancelled, from
   * the completed-job history, kept for `historyMaxAgeS`/`historyKeep`).
   * Null when nothing is known (or the id belongs to another queue).
   */
  getJob(id: number): JobInfo<P, R> | null {
    const doing = `queue('${this.name}').getJob`;
    args.id(doing, "id", id);
    const text = this.db.read(
      doing,
      () => plucked(this.db.raw, "SELECT honker_x_get_job(?)").get(id) as string | null,
    );
    if (text === null) return null;
    const row = JSON.parse(text) as JobRow;
    if (row.queue !== null && row.queue !== this.name) return null;
    return {
      id,
      queue: row.queue ?? this.name,
      state: row.state,
      payload: row.payload === null ? null : fromJsonText<P>(row.payload),
      attempts: row.attempts ?? 0,
      maxAttempts: row.max_attempts,
      priority: row.priority,
      runAt: row.run_at,
      createdAt: row.created_at,
      finishedAt: row.finished_at,
      workerId: row.worker_id,
      claimExpiresAt: row.claim_expires_at,
      progress: row.progress === null ? undefined : fromJsonText(row.progress),
      result: row.result === null ? undefined : fromJsonText<R>(row.result),
      error: row.error,
    };
  }

  /** Counts and ages for dashboards and status bars. */
  stats(): QueueStats {
    return this.db.read(`queue('${this.name}').stats`, () => {
      const row = prepared(
        this.db.raw,
        "SELECT " +
          "(SELECT count(*) FROM _honker_live WHERE queue = @queue AND state = 'pending') AS pending, " +
          "(SELECT count(*) FROM _honker_live WHERE queue = @queue AND state = 'processing') AS processing, " +
          "(SELECT count(*) FROM _honker_dead WHERE queue = @queue) AS dead, " +
          // Due since: run_at for pending jobs, claim_expires_at for claims that lapsed
          // (a worker died: the job waits to be claimed again just the same).
          "(SELECT min(due) FROM (" +
          "SELECT min(run_at) AS due FROM _honker_live WHERE queue = @queue AND state = 'pending' AND run_at <= unixepoch() " +
          "UNION ALL SELECT min(claim_expires_at) FROM _honker_live WHERE queue = @queue AND state = 'processing' AND claim_expires_at < unixepoch())) AS oldest, " +
          "honker_queue_next_claim_at(@queue) AS next, unixepoch() AS now, " +
          "honker_x_queue_paused(@queue) AS paused",
      ).get({ queue: this.name }) as {
        pending: number;
        processing: number;
        dead: number;
        oldest: number | null;
        next: number;
        now: number;
        paused: number;
      };
      return {
        pending: row.pending,
        processing: row.processing,
        dead: row.dead,
        oldestPendingAgeS: row.oldest === null ? 0 : Math.max(0, row.now - row.oldest),
        nextRunAt: row.next === 0 ? null : row.next,
        paused: row.paused === 1,
      };
    });
  }

  /**
   * Pauses the queue in the file: from the commit on, no worker in any
   * process (nor any SQLite client that loads the extension) claims its
   * jobs; running jobs finish, and enqueueing goes on. Inside
   * `db.transaction()` it takes effect when that commits. Returns false
   * when the queue was paused already.
   */
  pause(): boolean {
    const doing = `queue('${this.name}').pause`;
    return this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_x_queue_pause(?)").get(this.name) === 1,
    );
  }

  /**
   * Resumes a paused queue: the commit wakes every worker of it, in every
   * process, and they claim at once. Returns false when it was not paused.
   */
  resume(): boolean {
    const doing = `queue('${this.name}').resume`;
    return this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_x_queue_resume(?)").get(this.name) === 1,
    );
  }

  /** True while the queue is paused in the file (by any process). */
  isPaused(): boolean {
    return this.db.read(
      `queue('${this.name}').isPaused`,
      () => plucked(this.db.raw, "SELECT honker_x_queue_paused(?)").get(this.name) === 1,
    );
  }

  /** Unix seconds when a job next becomes claimable (0: none scheduled, or one is due now). */
  nextClaimAt(): number {
    return this.db.read(
      `queue('${this.name}').nextClaimAt`,
      () => plucked(this.db.raw, "SELECT honker_queue_next_claim_at(?)").get(this.name) as number,
    );
  }

  /**
   * Unix seconds when a claim will next find work: now (or earlier) if it
   * would right away, a future time, or 0 when nothing is scheduled (or the
   * queue is paused). A read: workers ask it before taking the write lock
   * for a claim.
   */
  readyAt(): number {
    return this.db.read(
      `queue('${this.name}').readyAt`,
      () => plucked(this.db.raw, "SELECT honker_x_queue_ready_at(?)").get(this.name) as number,
    );
  }

  /** Dead letters, newest first. */
  deadLetters(options: { limit?: number; offset?: number } = {}): DeadJob<P>[] {
    const doing = `queue('${this.name}').deadLetters`;
    const o = args.options<{ limit?: number; offset?: number }>(doing, options);
    const limit = args.optInt(doing, "options.limit", o.limit, 0, args.MAX_BATCH, 100);
    const offset = args.optInt(doing, "options.offset", o.offset, 0, Number.MAX_SAFE_INTEGER, 0);
    return this.db.read(`queue('${this.name}').deadLetters`, () =>
      (
        prepared(
          this.db.raw,
          "SELECT * FROM _honker_dead WHERE queue = ? ORDER BY id DESC LIMIT ? OFFSET ?",
        ).all(this.name, limit, offset) as DeadRow[]
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
   * Moves dead jobs of this queue (all of them, oldest first, up to 10,000
   * a call; or the given ids) back to pending with fresh attempts, keeping
   * their ids. Returns how many were moved.
   */
  redrive(ids?: readonly number[]): number {
    const doing = `queue('${this.name}').redrive`;
    const list = ids === undefined ? null : JSON.stringify(args.ids(doing, "ids", ids));
    return this.db.write(
      doing,
      () =>
        plucked(this.db.raw, "SELECT honker_x_dead_redrive(?, ?, ?)").get(
          this.name,
          list,
          args.MAX_BATCH,
        ) as number,
    );
  }

  /** Deletes dead letters of this queue (all, or older than `olderThanS`); returns the count. */
  purgeDead(options: { olderThanS?: number } = {}): number {
    const doing = `queue('${this.name}').purgeDead`;
    const o = args.options<{ olderThanS?: number }>(doing, options);
    const age =
      o.olderThanS === undefined
        ? null
        : args.int(doing, "options.olderThanS", o.olderThanS, 0, args.MAX_SECONDS);
    return this.db.write(
      doing,
      () =>
        prepared(
          this.db.raw,
          "DELETE FROM _honker_dead WHERE queue = ? AND (? IS NULL OR died_at < unixepoch() - ?)",
        ).run(this.name, age, age).changes,
    );
  }

  /** Moves this queue's expired jobs to the dead letters; returns the count. */
  sweepExpired(): number {
    return this.db.write(
      `queue('${this.name}').sweepExpired`,
      () => plucked(this.db.raw, "SELECT honker_sweep_expired(?)").get(this.name) as number,
    );
  }

  /** Saves a job's result for `ttlSeconds` (0 = forever). */
  saveResult(id: number, value: R, ttlSeconds = 86400): void {
    const doing = `queue('${this.name}').saveResult`;
    args.id(doing, "id", id);
    const text = toJsonText(value === undefined ? null : value, `${doing}: value`);
    const ttl = args.int(doing, "ttlSeconds", ttlSeconds, 0, args.MAX_SECONDS);
    this.db.write(doing, () => {
      // A result belongs to a job of this queue, running or finished: one
      // saved under an id not handed out yet would be inherited by that job.
      const known = plucked(
        this.db.raw,
        "SELECT EXISTS (SELECT 1 FROM _honker_live WHERE id = ? AND queue = ?) " +
          "OR EXISTS (SELECT 1 FROM _honker_x_history WHERE id = ? AND queue = ?)",
      ).get(id, this.name, id, this.name);
      if (known !== 1) {
        throw new HonkerError(
          "HONKER_NOT_FOUND",
          `${doing}: queue '${this.name}' has no job ${id} (running or finished) to save a result for`,
        );
      }
      prepared(this.db.raw, "SELECT honker_result_save(?, ?, ?)").get(id, text, ttl);
    });
  }

  /** The saved result, or undefined when there is none (or it expired). */
  getResult(id: number): R | undefined {
    const doing = `queue('${this.name}').getResult`;
    args.id(doing, "id", id);
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
    const v = plucked(this.db.raw, "SELECT honker_result_get(?)").get(id) as string | null;
    return v === null ? undefined : v;
  }
}
