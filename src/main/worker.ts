/**
 * `queue.work(handler, options)`: claims jobs as they become due (woken by
 * the watcher, never by a busy poll), runs async handlers with bounded
 * concurrency, heartbeats long jobs, retries failures with exponential
 * backoff and full jitter, and dead-letters what keeps failing.
 */
import { HonkerError } from "./errors.ts";
import type { ClaimedJob, Queue } from "./queue.ts";
import type { WakeReason } from "./watcher.ts";

/** What a handler receives. */
export interface JobContext<P> {
  readonly id: number;
  readonly queue: string;
  readonly payload: P;
  /** 1 on the first run, 2 on the first retry... */
  readonly attempts: number;
  /** Fires when the job is cancelled (from any process), its claim is lost, or the worker is force-stopped. */
  readonly signal: AbortSignal;
  /** Stores a progress value, readable through getJob() and by renderers. */
  progress(value: unknown): void;
}

export type WorkHandler<P, R> = (job: JobContext<P>) => Promise<R> | R;

export interface BackoffOptions {
  /** First retry delay ceiling in seconds (default 1). */
  baseSeconds?: number;
  /** Largest delay in seconds (default 300). */
  maxSeconds?: number;
}

export interface WorkOptions {
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /** Jobs claimed per round trip (default: concurrency). */
  batchSize?: number;
  /** Seconds a claim lasts without a heartbeat (default 30). Heartbeats run every half of it. */
  visibilityTimeout?: number;
  backoff?: BackoffOptions;
  /** Stops the worker like stop(). */
  signal?: AbortSignal;
  /** Worker id (default: the database's owner id plus a counter). */
  workerId?: string;
  /** Keep handler return values as results for this many seconds (default 86400; 0 = forever; false = don't save). */
  resultTtl?: number | false;
  /** Called when a handler throws (after the retry/dead-letter decision). */
  onError?: (err: unknown, job: ClaimedJob<unknown>, outcome: "retry" | "dead") => void;
}

/** Throw from a handler to retry after a given time instead of the backoff. */
export class RetryAfter extends Error {
  override readonly name = "RetryAfter";
  readonly seconds: number;
  constructor(seconds: number, message = `retry after ${seconds} s`) {
    super(message);
    this.seconds = seconds;
  }
}

/** Throw from a handler to dead-letter the job at once. */
export class DoNotRetry extends Error {
  override readonly name = "DoNotRetry";
}

/** Delay before the next attempt: full jitter over an exponentially growing cap. */
export function backoffSeconds(
  attempts: number,
  options: BackoffOptions = {},
  random = Math.random,
): number {
  const base = options.baseSeconds ?? 1;
  const max = options.maxSeconds ?? 300;
  const cap = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.ceil(random() * cap);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 4000);
  return String(err).slice(0, 4000);
}

function retryDecision(
  err: unknown,
  attempts: number,
  backoff: BackoffOptions = {},
): { retry: boolean; delay: number } {
  if (err instanceof DoNotRetry) return { retry: false, delay: 0 };
  const e = err as { retryable?: unknown; retryAfterSeconds?: unknown } | null;
  if (e && e.retryable === false) return { retry: false, delay: 0 };
  if (err instanceof RetryAfter) return { retry: true, delay: Math.max(0, Math.ceil(err.seconds)) };
  if (e && typeof e.retryAfterSeconds === "number" && e.retryAfterSeconds >= 0) {
    return { retry: true, delay: Math.ceil(e.retryAfterSeconds) };
  }
  return { retry: true, delay: backoffSeconds(attempts, backoff) };
}

interface InFlight {
  job: ClaimedJob<unknown>;
  controller: AbortController;
  heartbeat: NodeJS.Timeout;
  done: Promise<void>;
}

let workerCounter = 0;

export class Worker<P, R> {
  readonly queue: Queue<P, R>;
  readonly workerId: string;
  private readonly handler: WorkHandler<P, R>;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly visibility: number;
  private readonly options: WorkOptions;
  private readonly inflight = new Map<number, InFlight>();
  private running = false;
  private stopping: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private untrack: (() => void) | null = null;
  private undead: (() => void) | null = null;
  private wakeScheduled = false;
  /** The last fill left jobs unclaimed for want of a free slot. */
  private refillOnFinish = false;
  /** Another process committed since the last fill. */
  private remoteSinceFill = false;
  private completions: { id: number; result: R }[] = [];
  private flushScheduled = false;
  private lastInflightCheck = 0;
  private inflightTimer: NodeJS.Timeout | null = null;
  private fatal: unknown = null;
  private ownedStmt: import("better-sqlite3").Statement | null = null;
  /** Counters for status displays and tests. */
  readonly stats = { claimed: 0, completed: 0, retried: 0, dead: 0, cancelled: 0 };

  constructor(queue: Queue<P, R>, handler: WorkHandler<P, R>, options: WorkOptions = {}) {
    if (typeof handler !== "function") {
      throw new HonkerError("HONKER_INVALID_ARGUMENT", "work(handler): handler must be a function");
    }
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
      throw new HonkerError(
        "HONKER_INVALID_ARGUMENT",
        "work(): concurrency must be a whole number from 1 to 1000",
      );
    }
    const visibility = options.visibilityTimeout ?? 30;
    if (!Number.isInteger(visibility) || visibility < 1) {
      throw new HonkerError(
        "HONKER_INVALID_ARGUMENT",
        "work(): visibilityTimeout must be a whole number of seconds >= 1",
      );
    }
    this.queue = queue;
    this.handler = handler;
    this.options = options;
    this.concurrency = concurrency;
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? concurrency, concurrency));
    this.visibility = visibility;
    this.workerId = options.workerId ?? `${queue.database.ownerId}:w${++workerCounter}`;
  }

  /** True between start() and stop(). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Jobs currently being handled. */
  get activeJobs(): number[] {
    return [...this.inflight.keys()];
  }

  start(): void {
    if (this.running || this.stopping) return;
    const db = this.queue.database;
    db.assertOpen("work()");
    this.running = true;
    // Subscribe before the first claim so a commit in between is not missed.
    this.unsubscribe = db.watcher.subscribe((reason) => this.onWake(reason));
    this.undead = db.watcher.onDead((err) => {
      this.fatal = err;
      void this.stop({ graceMs: 0 });
    });
    this.untrack = db.track({ close: () => this.stop() });
    this.options.signal?.addEventListener("abort", () => void this.stop(), { once: true });
    if (this.options.signal?.aborted) {
      void this.stop();
      return;
    }
    this.onWake();
  }

  /**
   * Claims no more jobs and waits for running handlers. After `graceMs`
   * (default: wait forever) running handlers are aborted and their jobs put
   * back to pending for another worker.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.stopping) return this.stopping;
    this.running = false;
    this.stopping = (async () => {
      this.unsubscribe?.();
      this.unsubscribe = null;
      this.undead?.();
      this.undead = null;
      this.queue.database.watcher.setDeadline(this, null);
      const all = Promise.all([...this.inflight.values()].map((f) => f.done));
      if (options.graceMs !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<"timeout">((r) => {
          timer = setTimeout(() => r("timeout"), options.graceMs);
        });
        const outcome = await Promise.race([all.then(() => "done" as const), timeout]);
        clearTimeout(timer);
        if (outcome === "timeout") {
          for (const f of this.inflight.values()) {
            f.controller.abort(new HonkerError("HONKER_CANCELLED", "the worker was stopped"));
            this.release(f.job, "worker stopped");
          }
        }
      }
      await all;
      this.flushCompletions();
      if (this.inflightTimer) clearTimeout(this.inflightTimer);
      this.inflightTimer = null;
      this.untrack?.();
      this.untrack = null;
    })();
    return this.stopping;
  }

  /** Rejects if the worker stopped because its database file went away. */
  get error(): unknown {
    return this.fatal;
  }

  // ---- internals ---------------------------------------------------------

  private onWake(reason?: WakeReason): void {
    if (!this.running) return;
    if (reason === "remote") this.remoteSinceFill = true;
    if (this.inflight.size > 0) this.scheduleInflightCheck();
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    // A macrotask, not a microtask: our own claim's commit wakes us again,
    // and the completion flush (also setImmediate, scheduled earlier) must
    // commit the acks before the next claim, or a busy queue would be
    // drained in one microtask chain that starves the event loop and
    // leaves every finished job "processing" in front of the claim index.
    setImmediate(() => {
      this.wakeScheduled = false;
      this.fill();
    });
  }

  /** Claims as many jobs as there are free slots, and arms the next deadline. */
  private fill(): void {
    this.refillOnFinish = false;
    if (!this.running || !this.queue.database.open) return;
    try {
      if (this.inflight.size >= this.concurrency) {
        // No free slot: claim when a handler finishes.
        this.refillOnFinish = true;
        return;
      }
      // Our own commits (acks, other local writes) and deadlines usually
      // find nothing to claim: a read answers that without taking the write
      // lock. Another process's commit is claimed at once, the fastest path
      // from its enqueue to our handler.
      const remote = this.remoteSinceFill;
      this.remoteSinceFill = false;
      if (!remote) {
        const ready = this.queue.readyAt();
        if (ready === 0 || ready * 1000 > Date.now()) {
          this.queue.database.watcher.setDeadline(this, ready > 0 ? ready * 1000 : null);
          return;
        }
      }
      while (this.running && this.inflight.size < this.concurrency) {
        const want = Math.min(this.batchSize, this.concurrency - this.inflight.size);
        const jobs = this.queue.claim(this.workerId, {
          batchSize: want,
          visibilityTimeout: this.visibility,
        });
        for (const job of jobs) this.run(job);
        if (jobs.length < want) break;
      }
      if (this.inflight.size < this.concurrency) {
        const next = this.queue.nextClaimAt();
        this.queue.database.watcher.setDeadline(this, next > 0 ? next * 1000 : null);
      } else {
        // Every slot is busy and more jobs may be due.
        this.refillOnFinish = true;
      }
    } catch (err) {
      if (
        err instanceof HonkerError &&
        (err.code === "HONKER_CLOSED" || err.code === "HONKER_WATCHER_DEAD")
      )
        return;
      // A transient failure (busy, disk full): try again on the next wake.
      this.queue.database.watcher.setDeadline(this, Date.now() + 1000);
      this.options.onError?.(err, this.placeholder(0), "retry");
    }
  }

  private run(job: ClaimedJob<P>): void {
    this.stats.claimed++;
    const controller = new AbortController();
    const heartbeatMs = Math.max(250, (this.visibility * 1000) / 2);
    const heartbeat = setInterval(() => this.beat(job.id), heartbeatMs);
    heartbeat.unref();
    const entry: InFlight = { job, controller, heartbeat, done: Promise.resolve() };
    this.inflight.set(job.id, entry);
    const ctx: JobContext<P> = {
      id: job.id,
      queue: job.queue,
      payload: job.payload,
      attempts: job.attempts,
      signal: controller.signal,
      progress: (value) => {
        if (!controller.signal.aborted) this.queue.setProgress(job.id, value);
      },
    };
    entry.done = (async () => {
      try {
        const result = await this.handler(ctx);
        this.finishOk(job, controller, result);
      } catch (err) {
        this.finishError(job, controller, err);
      } finally {
        clearInterval(heartbeat);
        this.inflight.delete(job.id);
        if (this.refillOnFinish) this.onWake();
      }
    })();
  }

  private finishOk(job: ClaimedJob<P>, controller: AbortController, result: R): void {
    if (controller.signal.aborted) {
      this.stats.cancelled++;
      return;
    }
    // Completions are committed together, once per turn of the event loop:
    // one commit for many jobs instead of one each.
    this.completions.push({ id: job.id, result });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushCompletions());
    }
  }

  private flushCompletions(): void {
    this.flushScheduled = false;
    const batch = this.completions;
    this.completions = [];
    const db = this.queue.database;
    if (batch.length === 0 || !db.open) return;
    const ttl = this.options.resultTtl ?? 86400;
    try {
      db.transaction(() => {
        for (const c of batch) {
          // Only the holder of a live claim completes the job (and saves its result).
          if (this.queue.ack(c.id, this.workerId) && ttl !== false) {
            this.queue.saveResult(c.id, c.result, ttl);
          }
        }
      });
      this.stats.completed += batch.length;
    } catch (err) {
      // Busy or disk full: the claims lapse and the jobs run again (at-least-once).
      for (const c of batch) {
        this.options.onError?.(err, this.placeholder(c.id), "retry");
      }
    }
  }

  private finishError(job: ClaimedJob<P>, controller: AbortController, err: unknown): void {
    if (controller.signal.aborted) {
      this.stats.cancelled++;
      return;
    }
    if (!this.queue.database.open) return;
    const decision = retryDecision(err, job.attempts, this.options.backoff);
    let outcome: "retry" | "dead";
    if (decision.retry) {
      this.queue.retry(job.id, this.workerId, decision.delay, errorText(err));
      const info = this.queue.getJob(job.id);
      outcome = info?.state === "dead" ? "dead" : "retry";
    } else {
      this.queue.fail(job.id, this.workerId, errorText(err));
      outcome = "dead";
    }
    if (outcome === "dead") this.stats.dead++;
    else this.stats.retried++;
    this.options.onError?.(err, job as ClaimedJob<unknown>, outcome);
  }

  private beat(id: number): void {
    const entry = this.inflight.get(id);
    if (!entry || !this.queue.database.open) return;
    let ok = false;
    try {
      ok = this.queue.heartbeat(id, this.workerId, this.visibility);
    } catch {
      return; // transient (busy): the next beat tries again before the claim lapses
    }
    if (!ok) this.lose(entry, "claim lost: the job was cancelled, taken over or expired");
  }

  /** What onError gets when the failure is not about one claimed job's handler. */
  private placeholder(id: number): ClaimedJob<unknown> {
    return {
      id,
      queue: this.queue.name,
      payload: null,
      attempts: 0,
      workerId: this.workerId,
      claimExpiresAt: 0,
    };
  }

  /** At most one ownership check per 20 ms, however many commits wake us. */
  private scheduleInflightCheck(): void {
    const wait = this.lastInflightCheck + 20 - Date.now();
    if (wait <= 0) {
      this.lastInflightCheck = Date.now();
      this.checkInflight();
    } else if (!this.inflightTimer) {
      this.inflightTimer = setTimeout(() => {
        this.inflightTimer = null;
        this.lastInflightCheck = Date.now();
        if (this.inflight.size > 0) this.checkInflight();
      }, wait);
      this.inflightTimer.unref();
    }
  }

  /** Aborts handlers whose job was cancelled or re-claimed by someone else. */
  private checkInflight(): void {
    const db = this.queue.database;
    if (!db.open) return;
    let mine: Set<number>;
    try {
      const ids = [...this.inflight.keys()];
      this.ownedStmt ??= db.raw
        .prepare(
          "SELECT id FROM _honker_live WHERE id IN (SELECT value FROM json_each(?)) AND worker_id = ? AND state = 'processing'",
        )
        .pluck();
      const rows = this.ownedStmt.all(JSON.stringify(ids), this.workerId) as number[];
      mine = new Set(rows);
    } catch {
      return;
    }
    for (const [id, entry] of this.inflight) {
      if (!mine.has(id)) this.lose(entry, "the job was cancelled or claimed by another worker");
    }
  }

  private lose(entry: InFlight, why: string): void {
    if (entry.controller.signal.aborted) return;
    const code = why.startsWith("claim lost") ? "HONKER_CLAIM_LOST" : "HONKER_CANCELLED";
    entry.controller.abort(new HonkerError(code, `job ${entry.job.id}: ${why}`));
  }

  /** Puts a job we still hold back to pending without waiting for its claim to lapse. */
  private release(job: ClaimedJob<unknown>, why: string): void {
    try {
      this.queue.retry(job.id, this.workerId, 0, why);
    } catch {
      // the claim lapses by itself after visibilityTimeout
    }
  }
}
