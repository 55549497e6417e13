/**
 * The live-tail machinery shared by stream subscriptions and listeners: an
 * async iterator that subscribes to the watcher before its first read,
 * reads at most one batch ahead, yields the event loop on long backlogs,
 * and the callback driver (`runHandler`) behind `stream.on()` and
 * `db.listen(channel, fn)`.
 */
import { HonkerError } from "./errors.ts";
import type { Host } from "./host.ts";
import { report } from "./report.ts";
import { TURN_BUDGET_MS, turnAgeMs } from "./turn-clock.ts";

/** What `stream.on()` returns. */
export interface StreamHandle {
  /** Stops after the event being handled (its offset is saved), releasing everything. */
  close(): Promise<void>;
  /** Resolves when the subscription stops; rejects with the handler's or watcher's error. */
  readonly done: Promise<void>;
}

/**
 * The live-tail machinery shared by stream subscriptions and listeners: a
 * watcher subscription taken before the first read, a cursor, and a buffer
 * of at most one batch that is refilled only when the consumer asks for
 * more.
 */
export abstract class LiveIterator<E> implements AsyncIterableIterator<E> {
  protected readonly db: Host;
  protected readonly batchSize: number;
  /** The last event handed out, until it is acknowledged. */
  protected lastYielded: E | null = null;
  private buffer: E[] = [];
  private bufferAt = 0;
  private waiter: (() => void) | null = null;
  private failure: unknown = null;
  private closed = false;
  private pending: Promise<IteratorResult<E>> | null = null;
  /** The last read filled a whole batch (set until the next read). */
  private backlog = false;
  private readonly cleanups: (() => void)[] = [];

  protected constructor(db: Host, batchSize: number, signal: AbortSignal | undefined) {
    this.db = db;
    this.batchSize = batchSize;
    // Subscribe to wakes before anything is read.
    this.cleanups.push(db.watcher.subscribe(() => this.wake()));
    this.cleanups.push(
      db.watcher.onDead((err) => {
        // HONKER_CLOSED means the database is going away: end quietly.
        if (err.code !== "HONKER_CLOSED") this.failure = err;
        else this.closed = true;
        this.wake();
      }),
    );
    this.cleanups.push(db.track(this));
    if (signal) {
      if (signal.aborted) {
        this.release();
        return;
      }
      const onAbort = () => this.stop();
      signal.addEventListener("abort", onAbort, { once: true });
      this.cleanups.push(() => signal.removeEventListener("abort", onAbort));
    }
  }

  /** Reads up to `limit` events after the cursor and advances it. */
  protected abstract fetch(limit: number): E[];

  /** Called with the previous event when the next one is asked for (it was handled). */
  protected acknowledge(_event: E): void {}

  /** Events read from the database and not yet handed out (never more than batchSize). */
  get buffered(): number {
    return this.buffer.length - this.bufferAt;
  }

  /** True once closed, aborted, or failed. */
  get isClosed(): boolean {
    return this.closed;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<E>> {
    // One step at a time: concurrent next() calls queue behind each other.
    const previous = this.pending;
    const step = previous
      ? previous.then(
          () => this.step(),
          () => this.step(),
        )
      : this.step();
    this.pending = step;
    const clear = () => {
      if (this.pending === step) this.pending = null;
    };
    step.then(clear, clear);
    return step;
  }

  /**
   * Ends the iteration (what `break` calls). The event being handled is not
   * acknowledged: JavaScript calls return() both on `break` and when the
   * loop body throws, so it cannot tell a handled event from a failed one.
   */
  async return(): Promise<IteratorResult<E>> {
    this.lastYielded = null;
    this.stop();
    return { value: undefined, done: true };
  }

  /** Releases the watcher subscription and everything else; a pending next() ends. */
  async close(): Promise<void> {
    this.stop();
  }

  private stop(): void {
    if (this.closed && this.cleanups.length === 0) return;
    this.closed = true;
    this.release();
    this.wake();
  }

  private release(): void {
    this.closed = true;
    this.buffer = [];
    this.bufferAt = 0;
    for (const fn of this.cleanups.splice(0)) fn();
  }

  private wake(): void {
    const fn = this.waiter;
    this.waiter = null;
    fn?.();
  }

  private async step(): Promise<IteratorResult<E>> {
    const handled = this.lastYielded;
    this.lastYielded = null;
    if (handled !== null && this.db.raw.open) {
      try {
        this.acknowledge(handled);
      } catch (err) {
        this.release();
        throw err;
      }
    }
    for (;;) {
      if (this.failure !== null) {
        this.release();
        throw this.failure;
      }
      if (this.closed) {
        this.release();
        return { value: undefined, done: true };
      }
      if (this.bufferAt < this.buffer.length) {
        const event = this.buffer[this.bufferAt++] as E;
        if (this.bufferAt === this.buffer.length) {
          this.buffer = [];
          this.bufferAt = 0;
        }
        this.lastYielded = event;
        return { value: event, done: false };
      }
      // Reading on the writer connection mid-transaction would show
      // uncommitted rows; wait for the commit's wake instead.
      if (!this.db.open) {
        this.release();
        return { value: undefined, done: true };
      }
      if (this.backlog) {
        // The last read filled a whole batch: more are waiting. Once this
        // turn of the event loop has run for TURN_BUDGET_MS, let timers
        // and I/O run before reading on, so replaying a long history does
        // not hold the loop for all of it (a short burst is still handed
        // out at once).
        this.backlog = false;
        if (turnAgeMs() > TURN_BUDGET_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
      }
      if (!this.db.raw.inTransaction) {
        let batch: E[];
        try {
          batch = this.fetch(this.batchSize);
        } catch (err) {
          this.release();
          if (err instanceof HonkerError && err.code === "HONKER_CLOSED") {
            return { value: undefined, done: true };
          }
          throw err;
        }
        if (batch.length > 0) {
          this.buffer = batch;
          this.bufferAt = 0;
          this.backlog = batch.length >= this.batchSize;
          continue;
        }
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }
}

/**
 * Drives a LiveIterator with a callback. With `stopOnError`, a throwing
 * handler ends the subscription; otherwise the error is reported and the
 * next event is delivered.
 */
export function runHandler<E>(
  db: Host,
  sub: LiveIterator<E>,
  handler: (event: E) => void | Promise<void>,
  onError: ((err: unknown) => void) | undefined,
  stopOnError: boolean,
): StreamHandle {
  const fail = (err: unknown) => report("subscription handler", onError, err);
  const done = (async () => {
    for (;;) {
      const result = await sub.next();
      if (result.done) return;
      try {
        await handler(result.value);
      } catch (err) {
        if (stopOnError) {
          await sub.return();
          throw err;
        }
        fail(err);
      }
    }
  })();
  let untrack: () => void = () => {};
  const handle: StreamHandle = {
    done,
    async close() {
      untrack();
      await sub.close();
      await done.catch(() => {});
    },
  };
  untrack = db.track(handle);
  done.then(untrack, (err: unknown) => {
    untrack();
    fail(err);
  });
  return handle;
}
