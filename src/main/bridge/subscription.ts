/**
 * Main-side subscriptions: each pushes to its own port, at most as many
 * messages as the page has granted credits for (capped per subscription and
 * per window), and only while the window's in-flight byte budget allows
 * (see budget.ts). Sources are pulled, never pushed into a queue, so a page
 * that stops reading costs main a bounded amount of memory: its in-flight
 * budget, plus one read-ahead batch and one held event per subscription.
 */
import type {
  SubscriptionControl,
  SubscriptionMessage,
  WireJob,
  WireStats,
} from "../../protocol/index.ts";
import type { HonkerDatabase } from "../database.ts";
import { isHonkerError } from "../errors.ts";
import type { Listener } from "../listen.ts";
import type { JobInfo } from "../queue.ts";
import type { StreamSubscription } from "../stream.ts";
import { TURN_BUDGET_MS, turnAgeMs } from "../turn-clock.ts";
import { MESSAGE_OVERHEAD_BYTES, type WindowBudget } from "./budget.ts";
import type { SubPort } from "./endpoint.ts";

// biome-ignore lint/suspicious/noExplicitAny: subscriptions serve any schema
type AnyDb = HonkerDatabase<any>;

export function toWireJob(queue: string, info: JobInfo<unknown> | null): WireJob | null {
  if (!info) return null;
  return {
    id: info.id,
    queue,
    state: info.state,
    payload: info.payload,
    attempts: info.attempts,
    maxAttempts: info.maxAttempts,
    runAt: info.runAt,
    createdAt: info.createdAt,
    progress: info.progress === undefined ? null : info.progress,
    result: info.result === undefined ? null : info.result,
    error: info.error,
  };
}

/** One sent, unacknowledged message: its receipt token's sequence and its charged bytes. */
interface InFlight {
  seq: number;
  bytes: number;
}

/** What a message is charged against the window's in-flight budget. */
export function chargedBytes(json: string): number {
  return json.length + MESSAGE_OVERHEAD_BYTES;
}

export abstract class Pusher {
  protected credits = 0;
  protected closed = false;
  private readonly port: SubPort;
  private readonly onClosed: () => void;
  protected readonly budget: WindowBudget;
  /** Sent, not yet acknowledged (oldest first), and their receipt tokens. */
  private readonly inFlight: InFlight[] = [];
  private inFlightAt = 0;
  private readonly tokenSeq = new Map<number, number>();
  private nextSeq = 1;
  private inFlightBytes = 0;
  private askedForAck = false;
  /** Data messages sent (for tests and diagnostics). */
  sent = 0;
  protected readonly retry = () => this.resume();

  constructor(port: SubPort, onClosed: () => void, budget: WindowBudget) {
    this.port = port;
    this.onClosed = onClosed;
    this.budget = budget;
    port.onMessage((data) => this.onControl(data));
    port.onClose(() => this.close());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes this subscription has in flight (sent, unacknowledged). */
  get bytesInFlight(): number {
    return this.inFlightBytes;
  }

  protected send(message: SubscriptionMessage): void {
    if (this.closed) return;
    try {
      this.port.send(message);
    } catch {
      this.close();
    }
  }

  /**
   * Sends a data message that spends one credit and `bytes` of the window's
   * in-flight budget. False (nothing sent) when the budget is full: `resume()`
   * runs once bytes are released.
   */
  protected sendCharged(message: SubscriptionMessage & { k?: number }, bytes: number): boolean {
    if (this.closed || this.credits <= 0) return false;
    if (!this.budget.reserve(bytes, this.retry)) {
      this.onBlocked();
      return false;
    }
    this.askedForAck = false;
    const k = this.budget.token();
    const seq = this.nextSeq++;
    this.inFlight.push({ seq, bytes });
    this.tokenSeq.set(k, seq);
    this.inFlightBytes += bytes;
    this.credits--;
    this.budget.returnCredits(1);
    this.sent++;
    message.k = k;
    this.send(message);
    return true;
  }

  /** Held back by the window's budget: ask the page to acknowledge what it has handled. */
  protected onBlocked(): void {
    if (this.askedForAck || this.inFlightBytes === 0) return;
    this.askedForAck = true;
    this.send({ t: "ack-request" });
  }

  /** Releases every message up to and including the one that carried token `k`. */
  private acknowledge(k: number): void {
    const seq = this.tokenSeq.get(k);
    if (seq === undefined) return; // never sent, or already acknowledged: a guess
    let freed = 0;
    while (this.inFlightAt < this.inFlight.length) {
      const m = this.inFlight[this.inFlightAt] as InFlight;
      if (m.seq > seq) break;
      freed += m.bytes;
      this.inFlightAt++;
    }
    for (const [token, s] of this.tokenSeq) {
      if (s > seq) break;
      this.tokenSeq.delete(token);
    }
    if (this.inFlightAt > 1024 && this.inFlightAt * 2 > this.inFlight.length) {
      this.inFlight.splice(0, this.inFlightAt);
      this.inFlightAt = 0;
    } else if (this.inFlightAt === this.inFlight.length) {
      this.inFlight.length = 0;
      this.inFlightAt = 0;
    }
    this.inFlightBytes -= freed;
    this.budget.release(freed);
  }

  protected onControl(data: unknown): void {
    const c = data as (SubscriptionControl & { seen?: unknown; ack?: unknown }) | null;
    if (!c || typeof c !== "object" || this.closed) return;
    if (c.t === "credit" && typeof c.n === "number" && Number.isInteger(c.n) && c.n > 0) {
      if (typeof c.seen === "number") this.acknowledge(c.seen);
      this.credits += this.budget.grantCredits(this.credits, c.n);
      this.onCredit(c);
    } else if (c.t === "close") {
      this.close();
    }
  }

  protected abstract onCredit(control: { ack?: unknown }): void;

  /** Bytes were released in the window: try sending again. */
  protected abstract resume(): void;

  /** Releases the source and the port. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    // Whatever this subscription held goes back to the window.
    this.budget.cancelRetry(this.retry);
    this.budget.returnCredits(this.credits);
    this.credits = 0;
    const held = this.inFlightBytes;
    this.inFlight.length = 0;
    this.inFlightAt = 0;
    this.tokenSeq.clear();
    this.inFlightBytes = 0;
    try {
      this.port.close();
    } catch {
      // already closed by the other side
    }
    this.budget.release(held);
    this.onClosed();
  }

  protected abstract release(): void;

  protected fail(err: unknown): void {
    const code = isHonkerError(err) ? err.code : "HONKER_SQLITE";
    this.send({
      t: "error",
      error: { code, message: err instanceof Error ? err.message : String(err) },
    });
    this.close();
  }
}

/** Streams and channels: an async iterator pulled one event per credit. */
export class IteratorPusher extends Pusher {
  private readonly iterator: StreamSubscription<unknown> | Listener<unknown>;
  private pumping = false;
  private lastOffset: number;
  private lastSaved = 0;
  /** An event read from the iterator that the window's budget did not let out yet. */
  private held: { message: SubscriptionMessage; bytes: number; offset: number } | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private lastControlAt = Date.now();
  private readonly stallMs: number;
  private readonly saveOffset: ((offset: number) => void) | null;
  private readonly resumable: boolean;

  constructor(
    port: SubPort,
    onClosed: () => void,
    budget: WindowBudget,
    iterator: StreamSubscription<unknown> | Listener<unknown>,
    options: {
      startOffset: number;
      stallMs: number;
      saveOffset: ((offset: number) => void) | null;
      resumable: boolean;
    },
  ) {
    super(port, onClosed, budget);
    this.iterator = iterator;
    this.lastOffset = options.startOffset;
    this.stallMs = options.stallMs;
    this.saveOffset = options.saveOffset;
    this.resumable = options.resumable;
    this.send({ t: "status", status: "live" });
    this.armStall();
  }

  protected onCredit(control: { ack?: unknown }): void {
    this.lastControlAt = Date.now();
    if (
      this.saveOffset &&
      typeof control.ack === "number" &&
      Number.isSafeInteger(control.ack) &&
      control.ack > this.lastSaved &&
      // Only offsets this subscription actually delivered can be acknowledged.
      control.ack <= this.lastOffset
    ) {
      try {
        this.saveOffset(control.ack);
        this.lastSaved = control.ack;
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    this.armStall();
    void this.pump();
  }

  protected resume(): void {
    void this.pump();
  }

  protected override onBlocked(): void {
    super.onBlocked();
    this.armStall();
  }

  /** True while the page is not letting main send: no credit, or the window's budget is full. */
  private get stuck(): boolean {
    return this.credits === 0 || this.held !== null;
  }

  /** The stall clock runs from the page's last credit while the subscription is stuck. */
  private armStall(): void {
    if (!this.resumable || this.closed || this.stallTimer) return;
    const left = Math.max(0, this.lastControlAt + this.stallMs - Date.now());
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      if (this.closed) return;
      if (!this.stuck) return; // re-armed when it gets stuck again
      if (Date.now() - this.lastControlAt < this.stallMs) {
        this.armStall();
        return;
      }
      // The page stopped reading: free main's resources, let it come back later.
      // (A held event was never sent: resuming from the last offset sent includes it.)
      this.send({
        t: "resume",
        from: this.lastOffset,
        reason: "the page granted no credit, or acknowledged nothing, for too long",
      });
      this.close();
    }, left);
    this.stallTimer.unref();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.credits > 0) {
        if (turnAgeMs() > TURN_BUDGET_MS) {
          // Many subscriptions with a backlog: give the loop back, then go on.
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        if (this.held === null) {
          const r = await this.iterator.next();
          if (r.done || this.closed) break;
          const ev = r.value as { offset?: number; id?: number };
          const message: SubscriptionMessage = { t: "event", event: r.value as never };
          this.held = {
            message,
            bytes: chargedBytes(JSON.stringify(r.value)),
            offset: ev.offset ?? ev.id ?? this.lastOffset,
          };
        }
        const h = this.held;
        if (!this.sendCharged(h.message, h.bytes)) break; // resume() runs when bytes free up
        this.held = null;
        this.lastOffset = h.offset;
      }
      if (this.credits === 0 || this.held !== null) this.armStall();
    } catch (err) {
      this.fail(err);
    } finally {
      this.pumping = false;
    }
  }

  protected release(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.held = null;
    void this.iterator.return?.();
  }
}

/** Calls `onChange` whenever the watched value may have changed; returns an unsubscribe function. */
export type ChangeSource = (onChange: () => void) => () => void;

/** Every commit to the database file (ours or another process's). */
export function commitsOf(db: AnyDb): ChangeSource {
  return (onChange) => db.watcher.subscribe(onChange);
}

/**
 * Job status, queue stats, outbox status: the latest value only. A change
 * while the page has no credit replaces the pending value instead of
 * queueing.
 */
export class SnapshotPusher<T> extends Pusher {
  private readonly read: () => T;
  private readonly wrap: (value: T) => SubscriptionMessage;
  private readonly unsubscribe: () => void;
  private lastSent: string | null = null;
  private pending: { value: T; text: string } | undefined;
  private timer: NodeJS.Timeout | null = null;
  private readonly minIntervalMs: number;
  private lastAt = 0;

  constructor(
    port: SubPort,
    onClosed: () => void,
    budget: WindowBudget,
    changes: ChangeSource,
    read: () => T,
    wrap: (value: T) => SubscriptionMessage,
    minIntervalMs: number,
  ) {
    super(port, onClosed, budget);
    this.read = read;
    this.wrap = wrap;
    this.minIntervalMs = minIntervalMs;
    // Subscribe before the first read, so no change is missed in between.
    this.unsubscribe = changes(() => this.refresh());
    this.refresh();
  }

  private refresh(): void {
    if (this.closed) return;
    const wait = this.lastAt + this.minIntervalMs - Date.now();
    if (wait > 0) {
      if (!this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.refresh();
        }, wait);
        this.timer.unref();
      }
      return;
    }
    this.lastAt = Date.now();
    let value: T;
    try {
      value = this.read();
    } catch (err) {
      this.fail(err);
      return;
    }
    const text = JSON.stringify(value);
    if (text === this.lastSent) return;
    this.pending = { value, text };
    this.flush();
  }

  private flush(): void {
    const p = this.pending;
    if (p === undefined || this.credits <= 0 || this.closed) return;
    if (!this.sendCharged(this.wrap(p.value), chargedBytes(p.text))) return;
    this.pending = undefined;
    this.lastSent = p.text;
  }

  protected onCredit(): void {
    this.flush();
  }

  protected resume(): void {
    this.flush();
  }

  protected release(): void {
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

export type { WireJob, WireStats };
