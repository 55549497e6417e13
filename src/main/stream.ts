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
import * as args from "./args.ts";
import { fromSqlite } from "./errors.ts";
import type { Host } from "./host.ts";
import { LiveIterator, runHandler, type StreamHandle } from "./live-tail.ts";
import { prunePasses, type RetentionOptions } from "./prune.ts";
import { plucked } from "./statements.ts";
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

export type { StreamHandle } from "./live-tail.ts";
export type { RetentionOptions } from "./prune.ts";

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

const DEFAULT_BATCH = 100;

/** Checks subscribe() options where they enter. */
export function checkSubscribeOptions(what: string, options: unknown): SubscribeOptions {
  const o = args.options<SubscribeOptions>(what, options);
  args.optInt(what, "options.batchSize", o.batchSize, 1, args.MAX_BATCH, DEFAULT_BATCH);
  if (o.consumer !== undefined) args.name(what, "options.consumer", o.consumer);
  if (o.from !== undefined && o.from !== "beginning" && o.from !== "latest") {
    if (typeof o.from !== "number" || !Number.isSafeInteger(o.from) || o.from < 0) {
      throw args.refuse(what, "options.from", "'beginning', 'latest' or an offset >= 0", o.from);
    }
  }
  args.optSignal(what, "options.signal", o.signal);
  return o;
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
    options = checkSubscribeOptions(what, options);
    const batchSize = options.batchSize ?? DEFAULT_BATCH;
    const from = options.from ?? "beginning";
    db.assertOpen(what);
    super(db, batchSize, options.signal);
    this.topic = stream.name;
    this.consumer = options.consumer ?? null;
    try {
      this.readStmt = plucked(db.raw, "SELECT honker_stream_read_since(?, ?, ?)");
      this.saveStmt =
        this.consumer === null
          ? null
          : plucked(db.raw, "SELECT honker_stream_save_offset(?, ?, ?)");
      // Start point: read after subscribing to the watcher (done by super).
      const saved =
        this.consumer === null
          ? undefined
          : (plucked(
              db.raw,
              "SELECT offset FROM _honker_stream_consumers WHERE name = ? AND topic = ?",
            ).get(this.consumer, this.topic) as number | undefined);
      if (saved !== undefined) this.cursor = saved;
      else if (from === "beginning") this.cursor = 0;
      else if (from === "latest") {
        this.cursor = plucked(
          db.raw,
          "SELECT COALESCE(MAX(offset), 0) FROM _honker_stream WHERE topic = ?",
        ).get(this.topic) as number;
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
    args.name("stream(name)", "name", name);
    db.assertOpen(`stream('${name}')`);
    this.db = db;
    this.name = name;
    try {
      this.publishStmt = plucked(db.raw, "SELECT honker_stream_publish(?, ?, ?)");
      this.readStmt = plucked(db.raw, "SELECT honker_stream_read_since(?, ?, ?)");
      this.offsetStmt = plucked(db.raw, "SELECT honker_stream_get_offset(?, ?)");
      this.pruneStmt = plucked(db.raw, "SELECT honker_prune_stream(?, ?, ?, ?)");
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
    const o = args.options<{ key?: string }>(what, options);
    const key =
      o.key === undefined || o.key === null ? null : args.text(what, "options.key", o.key);
    const text = toJsonText(payload, `${what}: payload`);
    return this.db.write(what, () => this.publishStmt.get(this.name, key, text) as number);
  }

  /** Events with offset > `from`, oldest first, at most `limit` (max 10000). */
  read(from = 0, limit = 100): StreamEvent<P>[] {
    const what = `stream('${this.name}').read`;
    args.int(what, "from", from, 0, Number.MAX_SAFE_INTEGER);
    args.int(what, "limit", limit, 0, args.MAX_BATCH);
    const text = this.db.read(what, () => this.readStmt.get(this.name, from, limit) as string);
    return (JSON.parse(text) as RawEvent[]).map(toEvent<P>);
  }

  /** The saved offset of `consumer` on this topic (0 if none). */
  savedOffset(consumer: string): number {
    args.name(`stream('${this.name}').savedOffset`, "consumer", consumer);
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
    const what = `stream('${this.name}').on`;
    args.func(what, "handler", handler);
    const { onError, ...subscribeOptions } = args.options<StreamHandlerOptions>(what, options);
    args.optFunc(what, "options.onError", onError);
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
