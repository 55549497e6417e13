/**
 * `queue.work(handler, options)`: claims jobs as they become due (woken by
 * the watcher, never by a busy poll), runs async handlers with bounded
 * concurrency, heartbeats long jobs, retries failures with exponential
 * backoff and full jitter, and dead-letters what keeps failing.
 */
import * as args from "./args.ts";
import type { ClaimedJob } from "./claimed-job.ts";
import { HonkerError } from "./errors.ts";
import type { Host } from "./host.ts";
import { isTerminal, report } from "./report.ts";
import { plucked } from "./statements.ts";
import { checkJson } from "./values.ts";
import type { WakeReason } from "./watcher.ts";

/** What a worker needs of its queue (Queue implements it). */

/** A finished job waiting for the next completion commit. */
interface Completion<R> {
  id: number;
  result: R;
  save: boolean;
}
export interface WorkQueue<P, R> {
  readonly name: string;
  readonly database: Host;
  claim(
    workerId: string,
    options: { batchSize: number; visibilityTimeout: number },
  ): ClaimedJob<P>[];
  ack(id: number, workerId: string): boolean;
  ackMany(ids: readonly number[], workerId: string): number;
  retry(id: number, workerId: string, delaySeconds: number, error?: string | null): boolean;
  retryJob(
    id: number,
    workerId: string,
    delaySeconds: number,
    error?: string | null,
  ): "retry" | "dead" | "lost";
  fail(id: number, workerId: string, error?: string | null): boolean;
  heartbeat(id: number, workerId: string, extendSeconds: number): boolean;
  setProgress(id: number, progress: unknown): boolean;
  saveResult(id: number, value: R, ttlSeconds?: number): void;
  readyAt(): number;
  nextClaimAt(): number;
}

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
  /**
   * Handlers running at once (default 32: a backlog of short jobs drains
   * several times faster than one at a time; set 1 for jobs that must run
   * one after another).
   */
  concurrency?: number;
  /** Jobs claimed per round trip (default: concurrency, so 32 when neither is given). */
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
  /**
   * Milliseconds a handler may run before its `signal` is aborted (with
   * HONKER_TIMEOUT) and the job is put back for a retry, whether or not the
   * handler ever settles. Default: no limit.
   */
  timeoutMs?: number;
  /**
   * Called when a job fails or something the worker does on its own fails
   * (a claim, an ack, a heartbeat while the file is locked...). `outcome`
   * says what became of the job: "retry" (it will run again), "dead"
   * (dead-lettered), "completed" (the work succeeded but its result could
   * not be saved). Without it, each distinct failure is logged once with
   * console.warn. Never rethrown.
   */
  onError?: (err: unknown, job: ClaimedJob<unknown>, outcome: WorkOutcome) => void;
}

/** What became of a job when onError is called. */
export type WorkOutcome = "retry" | "dead" | "completed";

/** Throw from a handler to retry after a given time instead of the backoff. */
export class RetryAfter extends Error {
  override readonly name = "RetryAfter";
  readonly seconds: number;
  /** `seconds`: a finite number from 0 to ten years (anything else is refused at once). */
  constructor(seconds: number, message = `retry after ${seconds} s`) {
    args.num("new RetryAfter(seconds)", "seconds", seconds, 0, args.MAX_SECONDS);
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
  const cap = Math.min(max, base * 2 ** Math.min(64, Math.max(0, attempts - 1)));
  const delay = Math.ceil(random() * cap);
  // Bad options are refused by work(); this keeps a direct caller's NaN from reaching SQL.
  return Number.isFinite(delay) ? Math.min(Math.max(0, delay), args.MAX_SECONDS) : 1;
}

/** Checks work()'s backoff option (finite, base <= max, at most ten years). */
function checkBackoff(fn: string, v: unknown): BackoffOptions {
  const o = args.options<BackoffOptions>(fn, v, "options.backoff");
  const base = args.optNum(
    fn,
    "options.backoff.baseSeconds",
    o.baseSeconds,
    0,
    args.MAX_SECONDS,
    1,
  );
  const max = args.optNum(fn, "options.backoff.maxSeconds", o.maxSeconds, 0, args.MAX_SECONDS, 300);
  return { baseSeconds: base, maxSeconds: max };
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
  const after = err instanceof RetryAfter ? err.seconds : e?.retryAfterSeconds;
  if (typeof after === "number" && Number.isFinite(after) && after >= 0) {
    return { retry: true, delay: Math.min(Math.ceil(after), args.MAX_SECONDS) };
  }
  return { retry: true, delay: backoffSeconds(attempts, backoff) };
}

interface InFlight {
  job: ClaimedJob<unknown>;
  abort: JobAbort;
  /** When the claim was taken or last extended (ms): heartbeats skip fresh claims. */
  beatAt: number;
  /** The per-job timeout, if any. */
  timeout: { clear(): void } | null;
  /** True once the handler settled or the job was given up on (timeout, forced stop). */
  done: boolean;
  /** Callbacks for stop(), called when `done` becomes true. */
  onDone: (() => void)[] | null;
}

/**
 * A job's abort state. The AbortController (a costly object) is made only
 * when a handler reads `job.signal`; most handlers never do.
 */
class JobAbort {
  aborted = false;
  private reason: unknown;
  private controller: AbortController | null = null;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/** Resolves once the job's handler settled or was given up on. */
function settledOf(entry: InFlight): Promise<void> {
  if (entry.done) return Promise.resolve();
  return new Promise<void>((resolve) => {
    entry.onDone ??= [];
    entry.onDone.push(resolve);
  });
}

let workerCounter = 0;

export class Worker<P, R> {
  readonly queue: WorkQueue<P, R>;
  readonly workerId: string;
  private readonly handler: WorkHandler<P, R>;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly visibility: number;
  private readonly options: WorkOptions;
  private readonly backoff: BackoffOptions;
  private readonly resultTtl: number | false;
  private readonly timeoutMs: number | undefined;
  private readonly inflight = new Map<number, InFlight>();
  private running = false;
  /** start() ran once: a later start() is a restart. */
  private started = false;
  /** pause(): this worker claims nothing until resume(). */
  private pausedHere = false;
  /** The last stop(), running or done. */
  private stopping: Promise<void> | null = null;
  /** A stop() is still waiting for handlers. */
  private stopInProgress = false;
  /** start() came while a stop() was still waiting for handlers: start once it is done. */
  private restartAfterStop = false;
  private unabort: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private untrack: (() => void) | null = null;
  private undead: (() => void) | null = null;
  private wakeScheduled = false;
  /** The last fill left jobs unclaimed for want of a free slot. */
  private refillOnFinish = false;
  /** Another process committed since the last fill. */
  private remoteSinceFill = false;
  /** Finished jobs to ack in the next flush; `save` false: ack without a result row. */
  private completions: Completion<R>[] = [];
  private flushScheduled = false;
  private lastInflightCheck = 0;
  private inflightTimer: NodeJS.Timeout | null = null;
  /** One heartbeat timer for all running jobs (not one per job), armed while any run. */
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private fatal: unknown = null;
  /** Counters for status displays and tests. */
  readonly stats = { claimed: 0, completed: 0, retried: 0, dead: 0, cancelled: 0 };

  constructor(queue: WorkQueue<P, R>, handler: WorkHandler<P, R>, options: WorkOptions = {}) {
    const fn = `queue('${queue.name}').work`;
    args.func(fn, "handler", handler);
    const o = args.options<WorkOptions>(fn, options);
    const concurrency = args.optInt(fn, "options.concurrency", o.concurrency, 1, 1000, 32);
    const batchSize = args.optInt(
      fn,
      "options.batchSize",
      o.batchSize,
      1,
      concurrency,
      concurrency,
    );
    const visibility = args.optInt(
      fn,
      "options.visibilityTimeout",
      o.visibilityTimeout,
      1,
      args.MAX_SECONDS,
      30,
    );
    this.backoff = checkBackoff(fn, o.backoff);
    args.optSignal(fn, "options.signal", o.signal);
    args.optFunc(fn, "options.onError", o.onError);
    this.timeoutMs =
      o.timeoutMs === undefined
        ? undefined
        : args.ms(fn, "options.timeoutMs", o.timeoutMs, 1, args.MAX_SECONDS * 1000);
    this.resultTtl =
      o.resultTtl === false
        ? false
        : args.optInt(fn, "options.resultTtl", o.resultTtl, 0, args.MAX_SECONDS, 86400);
    this.queue = queue;
    this.handler = handler;
    this.options = o;
    this.concurrency = concurrency;
    this.batchSize = batchSize;
    this.visibility = visibility;
    this.workerId =
      o.workerId === undefined
        ? `${queue.database.ownerId}:w${++workerCounter}`
        : args.name(fn, "options.workerId", o.workerId);
  }

  /** True between start() and stop(). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Jobs currently being handled. */
  get activeJobs(): number[] {
    return [...this.inflight.keys()];
  }

  /** True between pause() and resume(): this worker claims nothing (its running jobs go on). */
  get paused(): boolean {
    return this.pausedHere;
  }

  /**
   * Starts claiming (`queue.work()` calls it). After `stop()` it starts the
   * worker again, with the same id and options: at once when the stop has
   * finished, else as soon as the stop's running handlers have (a `stop()`
   * before then cancels that). Throws HONKER_CLOSED once the database is
   * closing, HONKER_WATCHER_DEAD when the worker stopped because its file
   * went away, and HONKER_CANCELLED when `options.signal` was aborted.
   */
  start(): void {
    const db = this.queue.database;
    const doing = this.started ? "worker.start()" : "work()";
    db.assertOpen(doing);
    if (this.running) return;
    if (this.fatal !== null) {
      throw new HonkerError(
        "HONKER_WATCHER_DEAD",
        `${doing}: this worker stopped because its database file went away; open the file again`,
        { cause: this.fatal },
      );
    }
    if (this.started && this.options.signal?.aborted) {
      throw new HonkerError(
        "HONKER_CANCELLED",
        `${doing}: options.signal was aborted, which stops this worker for good; call ` +
          `queue('${this.queue.name}').work() with a new signal instead`,
      );
    }
    this.started = true;
    if (this.stopInProgress) {
      this.restartAfterStop = true;
      return;
    }
    this.begin();
  }

  /** Subscribes, registers with close() and the signal, and claims. */
  private begin(): void {
    const db = this.queue.database;
    this.running = true;
    // Subscribe before the first claim so a commit in between is not missed.
    this.unsubscribe = db.watcher.subscribe((reason) => this.onWake(reason));
    this.undead = db.watcher.onDead((err) => {
      this.fatal = err;
      void this.stop({ graceMs: 0 });
    });
    this.untrack = db.track({ close: (o) => this.stop(o) });
    const signal = this.options.signal;
    if (signal) {
      const onAbort = () => void this.stop();
      signal.addEventListener("abort", onAbort, { once: true });
      this.unabort = () => signal.removeEventListener("abort", onAbort);
      if (signal.aborted) {
        void this.stop();
        return;
      }
    }
    this.onWake();
  }

  /**
   * Claims no more jobs until resume(); running handlers go on and their
   * jobs complete as usual. This worker only, in this process:
   * `queue.pause()` pauses the queue for every worker in every process.
   */
  pause(): void {
    this.pausedHere = true;
    try {
      this.queue.database.watcher.setDeadline(this, null);
    } catch {
      // the watcher is gone: nothing to disarm
    }
  }

  /** Claims again (at once, if jobs are due) after pause(). */
  resume(): void {
    if (!this.pausedHere) return;
    this.pausedHere = false;
    // Commits while paused were not looked at: claim without the read first.
    this.remoteSinceFill = true;
    this.onWake();
  }

  /**
   * Claims no more jobs and waits for running handlers. After `graceMs`
   * (default: wait forever) running handlers are aborted and their jobs put
   * back to pending for another worker.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    const o = args.options<{ graceMs?: number }>("worker.stop", options);
    const graceMs =
      o.graceMs === undefined ? undefined : args.ms("worker.stop", "options.graceMs", o.graceMs);
    this.restartAfterStop = false;
    if (!this.running && this.stopping) return this.stopping;
    this.running = false;
    this.stopInProgress = true;
    this.stopping = (async () => {
      this.unsubscribe?.();
      this.unsubscribe = null;
      this.undead?.();
      this.undead = null;
      this.unabort?.();
      this.unabort = null;
      this.queue.database.watcher.setDeadline(this, null);
      const all = Promise.all([...this.inflight.values()].map(settledOf));
      if (graceMs !== undefined) {
        let timer: { clear(): void } | undefined;
        const timeout = new Promise<"timeout">((r) => {
          timer = args.longTimeout(() => r("timeout"), graceMs);
        });
        const outcome = await Promise.race([all.then(() => "done" as const), timeout]);
        timer?.clear();
        if (outcome === "timeout") {
          // Handlers still running are aborted and their jobs put back; a
          // handler that never settles cannot hold stop() (or close()) up.
          for (const f of [...this.inflight.values()]) {
            f.abort.abort(new HonkerError("HONKER_CANCELLED", "the worker was stopped"));
            this.release(f.job, "worker stopped");
            this.giveUp(f);
          }
        }
      }
      await all;
      this.flushCompletions();
      if (this.inflightTimer) clearTimeout(this.inflightTimer);
      this.inflightTimer = null;
      this.untrack?.();
      this.untrack = null;
      this.stopInProgress = false;
      if (this.restartAfterStop) {
        this.restartAfterStop = false;
        // Closed or gone meanwhile: close() stops workers, so stay stopped.
        if (this.queue.database.open && this.fatal === null) {
          try {
            this.begin();
          } catch (err) {
            this.running = false;
            this.fail(err, this.placeholder(0), "retry");
          }
        }
      }
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
    if (!this.running || this.pausedHere || !this.queue.database.open) return;
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
      if (isTerminal(err)) return;
      // A transient failure (busy, disk full): try again on the next wake.
      try {
        this.queue.database.watcher.setDeadline(this, Date.now() + 1000);
      } catch {
        // the watcher died meanwhile: the dead listener stops us
      }
      this.fail(err, this.placeholder(0), "retry");
    }
  }

  private run(job: ClaimedJob<P>): void {
    this.stats.claimed++;
    const abort = new JobAbort();
    const entry: InFlight = {
      job,
      abort,
      beatAt: Date.now(),
      timeout: null,
      done: false,
      onDone: null,
    };
    this.inflight.set(job.id, entry);
    this.armHeartbeat();
    if (this.timeoutMs !== undefined) {
      const ms = this.timeoutMs;
      entry.timeout = args.longTimeout(() => this.timedOut(entry, ms), ms, true);
    }
    const ctx: JobContext<P> = {
      id: job.id,
      queue: job.queue,
      payload: job.payload,
      attempts: job.attempts,
      get signal() {
        return abort.signal;
      },
      progress: (value) => {
        if (!abort.aborted) this.queue.setProgress(job.id, value);
      },
    };
    void (async () => {
      try {
        const result = await this.handler(ctx);
        this.finishOk(job, abort, result);
      } catch (err) {
        this.finishError(job, abort, err);
      } finally {
        this.giveUp(entry);
      }
    })();
  }

  /** Heartbeats run every half visibilityTimeout while any job runs. */
  private armHeartbeat(): void {
    if (this.heartbeatTimer) return;
    const ms = args.timerMs(Math.max(250, (this.visibility * 1000) / 2));
    this.heartbeatTimer = setInterval(() => this.beatAll(ms), ms);
    this.heartbeatTimer.unref();
  }

  private disarmHeartbeat(): void {
    if (!this.heartbeatTimer) return;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /** Frees a job's slot: its timers stop, and a full worker claims again. */
  private giveUp(entry: InFlight): void {
    entry.timeout?.clear();
    if (!entry.done) {
      entry.done = true;
      const waiting = entry.onDone;
      entry.onDone = null;
      if (waiting) for (const resolve of waiting) resolve();
    }
    // The same id may have been claimed again since (after a timeout).
    if (this.inflight.get(entry.job.id) !== entry) return;
    this.inflight.delete(entry.job.id);
    if (this.inflight.size === 0) this.disarmHeartbeat();
    if (this.refillOnFinish) this.onWake();
  }

  /** The per-job timeout: abort the handler, put the job back, free its slot. */
  private timedOut(entry: InFlight, ms: number): void {
    if (entry.abort.aborted || this.inflight.get(entry.job.id) !== entry) return;
    const err = new HonkerError(
      "HONKER_TIMEOUT",
      `job ${entry.job.id} of queue '${this.queue.name}' ran longer than timeoutMs (${ms} ms)`,
    );
    entry.abort.abort(err);
    const outcome = this.retryOrDead(entry.job, err);
    if (outcome !== null) this.fail(err, entry.job, outcome);
    this.giveUp(entry);
  }

  private finishOk(job: ClaimedJob<P>, abort: JobAbort, result: R): void {
    if (abort.aborted) {
      this.stats.cancelled++;
      return;
    }
    if (this.resultTtl !== false && result !== undefined) {
      try {
        checkJson(result, `queue('${this.queue.name}') job ${job.id} result`);
      } catch (err) {
        // The work succeeded: complete the job without its result rather
        // than run it again (and again, until dead).
        this.completions.push({ id: job.id, result: undefined as R, save: false });
        this.scheduleFlush();
        this.fail(err, job as ClaimedJob<unknown>, "completed");
        return;
      }
    }
    // Completions are committed together, once per turn of the event loop:
    // one commit for many jobs instead of one each.
    // A handler that returns nothing leaves no result row: the completed-job
    // history already says it completed (waitResult resolves undefined).
    this.completions.push({ id: job.id, result, save: result !== undefined });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
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
    const ttl = this.resultTtl === false ? undefined : this.resultTtl;
    // Jobs without a result to save are completed by one set-based
    // statement (honker_ack_batch); the others one by one, so a result is
    // saved only for a claim that was still ours.
    const plain: number[] = [];
    const withResult: Completion<R>[] = [];
    for (const c of batch) {
      if (this.resultTtl !== false && c.save) withResult.push(c);
      else plain.push(c.id);
    }
    let next: ClaimedJob<P>[];
    try {
      // The claimed jobs come out only if the whole transaction committed.
      next = db.transaction(() => {
        if (plain.length > 0) this.queue.ackMany(plain, this.workerId);
        for (const c of withResult) {
          if (this.queue.ack(c.id, this.workerId)) this.queue.saveResult(c.id, c.result, ttl);
        }
        return this.claimWithAcks();
      });
      this.stats.completed += batch.length;
    } catch (err) {
      // Busy or disk full: the claims lapse and the jobs run again (at-least-once).
      if (isTerminal(err)) return;
      for (const c of batch) this.fail(err, this.placeholder(c.id), "retry");
      return;
    }
    // Handlers start after the commit, never inside our transaction.
    for (const job of next) this.run(job);
  }

  /**
   * A busy worker claims its next jobs in the transaction that acks the
   * finished ones: one commit (one set of WAL pages) instead of two. Only
   * when slots were waiting for a finish (the queue had more due jobs);
   * a failed claim rolls back its savepoint alone, the acks still commit.
   */
  private claimWithAcks(): ClaimedJob<P>[] {
    if (!this.running || this.pausedHere || !this.refillOnFinish) return [];
    const want = Math.min(this.batchSize, this.concurrency - this.inflight.size);
    if (want <= 0) return [];
    try {
      return this.queue.database.transaction(() =>
        this.queue.claim(this.workerId, { batchSize: want, visibilityTimeout: this.visibility }),
      );
    } catch {
      return []; // the fill that follows claims (and reports) on its own
    }
  }

  private finishError(job: ClaimedJob<P>, abort: JobAbort, err: unknown): void {
    if (abort.aborted) {
      this.stats.cancelled++;
      return;
    }
    if (!this.queue.database.open) return;
    const outcome = this.retryOrDead(job as ClaimedJob<unknown>, err);
    if (outcome !== null) this.fail(err, job as ClaimedJob<unknown>, outcome);
  }

  /**
   * Retries or dead-letters a failed job as the error asks. Returns what
   * became of it, or null when that could not be written (the failure is
   * reported; the claim lapses and the job runs again).
   */
  private retryOrDead(job: ClaimedJob<unknown>, err: unknown): "retry" | "dead" | null {
    const decision = retryDecision(err, job.attempts, this.backoff);
    try {
      let outcome: "retry" | "dead";
      if (decision.retry) {
        const r = this.queue.retryJob(job.id, this.workerId, decision.delay, errorText(err));
        // "lost": someone else holds the job now; it runs again there.
        outcome = r === "dead" ? "dead" : "retry";
      } else {
        this.queue.fail(job.id, this.workerId, errorText(err));
        outcome = "dead";
      }
      if (outcome === "dead") this.stats.dead++;
      else this.stats.retried++;
      return outcome;
    } catch (writeErr) {
      if (!isTerminal(writeErr)) this.fail(writeErr, job, "retry");
      return null;
    }
  }

  /** Every failure goes through here to onError (or a log line once per cause). */
  private fail(err: unknown, job: ClaimedJob<unknown>, outcome: WorkOutcome): void {
    report(
      `worker ${this.workerId} of queue '${this.queue.name}'`,
      this.options.onError,
      err,
      job,
      outcome,
    );
  }

  /** Extends every claim older than half a period (a fresh claim needs no beat yet). */
  private beatAll(periodMs: number): void {
    const now = Date.now();
    for (const entry of [...this.inflight.values()]) {
      if (now - entry.beatAt >= periodMs / 2) this.beat(entry, now);
    }
  }

  private beat(entry: InFlight, now: number): void {
    if (this.inflight.get(entry.job.id) !== entry || !this.queue.database.open) return;
    let ok = false;
    try {
      ok = this.queue.heartbeat(entry.job.id, this.workerId, this.visibility);
    } catch (err) {
      // Transient (busy): the next beat tries again before the claim lapses.
      if (!isTerminal(err)) this.fail(err, entry.job, "retry");
      return;
    }
    if (ok) entry.beatAt = now;
    else this.lose(entry, "claim lost: the job was cancelled, taken over or expired");
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
      const owned = plucked(
        db.raw,
        "SELECT id FROM _honker_live WHERE id IN (SELECT value FROM json_each(?)) AND worker_id = ? AND state = 'processing'",
      );
      const rows = owned.all(JSON.stringify(ids), this.workerId) as number[];
      mine = new Set(rows);
    } catch {
      return;
    }
    for (const [id, entry] of this.inflight) {
      if (!mine.has(id)) this.lose(entry, "the job was cancelled or claimed by another worker");
    }
  }

  private lose(entry: InFlight, why: string): void {
    if (entry.abort.aborted) return;
    const code = why.startsWith("claim lost") ? "HONKER_CLAIM_LOST" : "HONKER_CANCELLED";
    entry.abort.abort(new HonkerError(code, `job ${entry.job.id}: ${why}`));
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
