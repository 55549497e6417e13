/**
 * Streams: Kafka-style topics in the app's SQLite file. `publish` appends
 * (inside `db.transaction()` it commits with the app's writes); `read`
 * pages by offset; `subscribe` replays from a start point and then goes
 * live, with optional durable consumer offsets (at-least-once).
 *
 * Subscriptions are pull-based: they read at most `batchSize` events ahead,
 * and only when asked for the next one, so a subscriber that stops reading
 * holds a bounded amount of memory however much is published.
 */
import type Database from "better-sqlite3";
import { fromSqlite, HonkerError, invalid } from "./errors.ts";
import type { Host } from "./host.ts";
import { fromJsonText, toJsonText } from "./values.ts";

/** One event of a stream. */
export interface StreamEvent<P> {
  /** Position in the log (one sequence shared by all topics, so gaps are normal). */
  offset: number;
  key: string | null;
  payload: P;
  /** Unix seconds. */
  createdAt: number;
  topic: string;
}

export interface SubscribeOptions {
  /**
   * A durable consumer name: the subscription starts after this consumer's
   * saved offset and saves the offset of each event once it is handled.
   */
  consumer?: string;
  /**
   * Where to start when there is no saved offset (default "beginning"):
   * "beginning", "latest" (only events published after subscribe()), or an
   * offset (events after it, as in `read(from)`).
   */
  from?: number | "latest" | "beginning";
  /** Events read ahead per batch, at most (default 100, max 10000). */
  batchSize?: number;
  /** Aborting ends the iteration and releases everything. */
  signal?: AbortSignal;
}

export interface StreamHandlerOptions extends SubscribeOptions {
  /**
   * Called when the handler throws or the subscription fails; the
   * subscription stops there (the failed event was not saved, so a new
   * subscription with the same consumer gets it again). Default: logged
   * with console.error.
   */
  onError?: (err: unknown) => void;
}

/** What `stream.on()` returns. */
export interface StreamHandle {
  /** Stops after the event being handled (its offset is saved), releasing everything. */
  close(): Promise<void>;
  /** Resolves when the subscription stops; rejects with the handler's or watcher's error. */
  readonly done: Promise<void>;
}

export interface RetentionOptions {
  /** Delete events older than this many seconds. */
  maxAgeS?: number;
  /** Keep at most this many of the newest events. */
  keepLast?: number;
  /** Rows deleted per statement (default 1000). */
  batch?: number;
}

const DEFAULT_BATCH = 100;
const MAX_BATCH = 10000;
const MAX_PRUNE_BATCH = 100000;
const MAX_PRUNE_PASSES = 100;

export function checkBatchSize(value: number | undefined, what: string): number {
  if (value === undefined) return DEFAULT_BATCH;
  if (!Number.isInteger(value) || value < 1 || value > MAX_BATCH) {
    throw invalid(`${what}: batchSize must be an integer from 1 to ${MAX_BATCH} (got ${value})`);
  }
  return value;
}

export function checkName(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") {
    throw invalid(`${what} must be a non-empty string`);
  }
  return value;
}

function checkOffset(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${what} must be a non-negative integer (got ${String(value)})`);
  }
  return value;
}

/**
 * Runs `honker_prune_*` passes of `batch` rows until one deletes fewer,
 * at most MAX_PRUNE_PASSES times. Returns the number of rows deleted.
 */
export function prunePasses(
  db: Host,
  doing: string,
  options: RetentionOptions,
  run: (maxAgeS: number | null, keepLast: number | null, batch: number) => number,
): number {
  const { maxAgeS, keepLast } = options;
  if (maxAgeS === undefined && keepLast === undefined) {
    throw invalid(`${doing}: give maxAgeS, keepLast or both`);
  }
  if (maxAgeS !== undefined) checkOffset(maxAgeS, `${doing}: maxAgeS`);
  if (keepLast !== undefined) checkOffset(keepLast, `${doing}: keepLast`);
  const batch = options.batch ?? 1000;
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_PRUNE_BATCH) {
    throw invalid(`${doing}: batch must be an integer from 1 to ${MAX_PRUNE_BATCH}`);
  }
  let total = 0;
  for (let pass = 0; pass < MAX_PRUNE_PASSES; pass++) {
    const n = db.write(doing, () => run(maxAgeS ?? null, keepLast ?? null, batch));
    total += n;
    if (n < batch) break;
  }
  return total;
}

/**
 * How long iterators may keep one turn of the event loop busy with a
 * backlog. Shorter budgets made a publisher in the same process outrun its
 * subscribers under load (bench/bridge.bench.ts fan-out: p99 doubled at
 * 10 ms); 20 ms still splits a 5,000-event replay into several turns.
 */
const YIELD_AFTER_MS = 20;
let turnStartedAt = 0;
let turnMarked = false;

/**
 * Milliseconds since the first call in the current turn of the event loop
 * (a setImmediate marks the turn's end). Shared by every iterator, so ten
 * subscribers replaying at once still give the loop back after about YIELD_AFTER_MS.
 */
function turnAgeMs(): number {
  const t = performance.now();
  if (!turnMarked) {
    turnMarked = true;
    turnStartedAt = t;
    setImmediate(() => {
      turnMarked = false;
    });
  }
  return t - turnStartedAt;
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
        // turn of the event loop has run for YIELD_AFTER_MS, let timers
        // and I/O run before reading on, so replaying a long history does
        // not hold the loop for all of it (a short burst is still handed
        // out at once).
        this.backlog = false;
        if (turnAgeMs() > YIELD_AFTER_MS) {
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

interface RawEvent {
  created_at: number;
  key: string | null;
  offset: number;
  payload: string;
  topic: string;
}

/**
 * A subscription to one topic: an async iterable of events that replays
 * from its start point and then follows new events with no gap and no
 * duplicate. With a consumer name, each event's offset is saved when the
 * next event is asked for (it was handled), or by commit().
 */
export class StreamSubscription<P> extends LiveIterator<StreamEvent<P>> {
  readonly topic: string;
  readonly consumer: string | null;
  private cursor: number;
  private readonly readStmt: Database.Statement;
  private readonly saveStmt: Database.Statement | null;

  constructor(stream: Stream<P>, db: Host, options: SubscribeOptions) {
    const what = `stream('${stream.name}').subscribe`;
    const batchSize = checkBatchSize(options.batchSize, what);
    if (options.consumer !== undefined) checkName(options.consumer, `${what}: consumer`);
    const from = options.from ?? "beginning";
    if (from !== "beginning" && from !== "latest") checkOffset(from, `${what}: from`);
    db.assertOpen(what);
    super(db, batchSize, options.signal);
    this.topic = stream.name;
    this.consumer = options.consumer ?? null;
    try {
      this.readStmt = db.raw.prepare("SELECT honker_stream_read_since(?, ?, ?)").pluck();
      this.saveStmt =
        this.consumer === null
          ? null
          : db.raw.prepare("SELECT honker_stream_save_offset(?, ?, ?)").pluck();
      // Start point: read after subscribing to the watcher (done by super).
      const saved =
        this.consumer === null
          ? undefined
          : (db.raw
              .prepare("SELECT offset FROM _honker_stream_consumers WHERE name = ? AND topic = ?")
              .pluck()
              .get(this.consumer, this.topic) as number | undefined);
      if (saved !== undefined) this.cursor = saved;
      else if (from === "beginning") this.cursor = 0;
      else if (from === "latest") {
        this.cursor = db.raw
          .prepare("SELECT COALESCE(MAX(offset), 0) FROM _honker_stream WHERE topic = ?")
          .pluck()
          .get(this.topic) as number;
      } else this.cursor = from;
    } catch (err) {
      void this.close();
      throw fromSqlite(err, what);
    }
  }

  /** Offset of the last event read from the database (the replay/live position). */
  get position(): number {
    return this.cursor;
  }

  /**
   * Saves the offset of the event just handed out now (with a consumer),
   * e.g. right before `break`. No-op without a consumer.
   */
  commit(): void {
    const event = this.lastYielded;
    if (event === null) return;
    this.acknowledge(event);
  }

  protected override fetch(limit: number): StreamEvent<P>[] {
    const text = this.db.read(
      `stream('${this.topic}').subscribe`,
      () => this.readStmt.get(this.topic, this.cursor, limit) as string,
    );
    const rows = JSON.parse(text) as RawEvent[];
    const last = rows[rows.length - 1];
    if (last) this.cursor = last.offset;
    return rows.map(toEvent<P>);
  }

  protected override acknowledge(event: StreamEvent<P>): void {
    if (this.saveStmt === null || this.consumer === null || !this.db.raw.open) return;
    // Straight on the connection (not db.write): during db.close() the
    // connection stays open until every subscription has stopped, and a
    // handled event's offset should still be saved then.
    try {
      this.saveStmt.get(this.consumer, this.topic, event.offset);
    } catch (err) {
      throw fromSqlite(err, `stream('${this.topic}') consumer '${this.consumer}': save offset`);
    }
  }
}

function toEvent<P>(row: RawEvent): StreamEvent<P> {
  return {
    offset: row.offset,
    key: row.key,
    payload: fromJsonText<P>(row.payload),
    createdAt: row.created_at,
    topic: row.topic,
  };
}

export class Stream<P> {
  readonly name: string;
  private readonly db: Host;
  private readonly publishStmt: Database.Statement;
  private readonly readStmt: Database.Statement;
  private readonly offsetStmt: Database.Statement;
  private readonly pruneStmt: Database.Statement;

  constructor(db: Host, name: string) {
    checkName(name, "stream(name): name");
    db.assertOpen(`stream('${name}')`);
    this.db = db;
    this.name = name;
    try {
      this.publishStmt = db.raw.prepare("SELECT honker_stream_publish(?, ?, ?)").pluck();
      this.readStmt = db.raw.prepare("SELECT honker_stream_read_since(?, ?, ?)").pluck();
      this.offsetStmt = db.raw.prepare("SELECT honker_stream_get_offset(?, ?)").pluck();
      this.pruneStmt = db.raw.prepare("SELECT honker_prune_stream(?, ?, ?, ?)").pluck();
    } catch (err) {
      throw fromSqlite(err, `stream('${name}')`);
    }
  }

  /**
   * Appends an event and returns its offset. Inside `db.transaction()` it
   * commits (and wakes subscribers) with the caller's writes, or not at all.
   */
  publish(payload: P, options: { key?: string } = {}): number {
    const what = `stream('${this.name}').publish`;
    const key = options.key ?? null;
    if (key !== null && typeof key !== "string") throw invalid(`${what}: key must be a string`);
    const text = toJsonText(payload, `${what} payload`);
    return this.db.write(what, () => this.publishStmt.get(this.name, key, text) as number);
  }

  /** Events with offset > `from`, oldest first, at most `limit` (max 10000). */
  read(from = 0, limit = 100): StreamEvent<P>[] {
    const what = `stream('${this.name}').read`;
    checkOffset(from, `${what}: from`);
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_BATCH) {
      throw invalid(`${what}: limit must be an integer from 0 to ${MAX_BATCH} (got ${limit})`);
    }
    const text = this.db.read(what, () => this.readStmt.get(this.name, from, limit) as string);
    return (JSON.parse(text) as RawEvent[]).map(toEvent<P>);
  }

  /** The saved offset of `consumer` on this topic (0 if none). */
  savedOffset(consumer: string): number {
    checkName(consumer, `stream('${this.name}').savedOffset: consumer`);
    return this.db.read(
      `stream('${this.name}').savedOffset`,
      () => this.offsetStmt.get(consumer, this.name) as number,
    );
  }

  /**
   * Replays from the start point, then follows new events:
   *
   * ```ts
   * for await (const e of db.stream("activity").subscribe({ consumer: "feed" })) {
   *   await render(e.payload); // saved once the loop asks for the next event
   * }
   * ```
   */
  subscribe(options: SubscribeOptions = {}): StreamSubscription<P> {
    return new StreamSubscription<P>(this, this.db, options);
  }

  /**
   * The callback form: awaits `handler` for each event in order, saving a
   * consumer's offset after each handler resolves. A throwing handler stops
   * the subscription (see `onError`).
   */
  on(
    handler: (event: StreamEvent<P>) => void | Promise<void>,
    options: StreamHandlerOptions = {},
  ): StreamHandle {
    const { onError, ...subscribeOptions } = options;
    const sub = this.subscribe(subscribeOptions);
    return runHandler(this.db, sub, handler, onError, true);
  }

  /** Prunes this topic by age and/or count; returns the number of events deleted. */
  retention(options: RetentionOptions): number {
    return prunePasses(
      this.db,
      `stream('${this.name}').retention`,
      options,
      (age, keep, batch) => this.pruneStmt.get(this.name, age, keep, batch) as number,
    );
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
  const report =
    onError ??
    ((err: unknown) => {
      console.error("honker-electron: subscription handler failed:", err);
    });
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
        report(err);
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
    report(err);
  });
  return handle;
}
