/**
 * Main-side subscriptions: each pushes to its own port, at most as many
 * messages as the page has granted credits for. Sources are pulled, never
 * pushed into a queue, so a page that stops reading costs main a bounded
 * amount of memory (one batch of the underlying subscription).
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
import type { SubPort } from "./endpoint.ts";

// biome-ignore lint/suspicious/noExplicitAny: subscriptions serve any schema
type AnyDb = HonkerDatabase<any>;

const MAX_CREDITS = 10_000;

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

export abstract class Pusher {
  protected credits = 0;
  protected closed = false;
  private readonly port: SubPort;
  private readonly onClosed: () => void;

  constructor(port: SubPort, onClosed: () => void) {
    this.port = port;
    this.onClosed = onClosed;
    port.onMessage((data) => this.onControl(data));
    port.onClose(() => this.close());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  protected send(message: SubscriptionMessage): void {
    if (this.closed) return;
    try {
      this.port.send(message);
    } catch {
      this.close();
    }
  }

  protected onControl(data: unknown): void {
    const c = data as SubscriptionControl | null;
    if (!c || typeof c !== "object") return;
    if (c.t === "credit" && typeof c.n === "number" && Number.isInteger(c.n) && c.n > 0) {
      this.credits = Math.min(MAX_CREDITS, this.credits + c.n);
      this.onCredit(c as SubscriptionControl & { ack?: unknown });
    } else if (c.t === "close") {
      this.close();
    }
  }

  protected abstract onCredit(control: { ack?: unknown }): void;

  /** Releases the source and the port. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    try {
      this.port.close();
    } catch {
      // already closed by the other side
    }
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
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly stallMs: number;
  private readonly saveOffset: ((offset: number) => void) | null;
  private readonly resumable: boolean;

  constructor(
    port: SubPort,
    onClosed: () => void,
    iterator: StreamSubscription<unknown> | Listener<unknown>,
    options: {
      startOffset: number;
      stallMs: number;
      saveOffset: ((offset: number) => void) | null;
      resumable: boolean;
    },
  ) {
    super(port, onClosed);
    this.iterator = iterator;
    this.lastOffset = options.startOffset;
    this.stallMs = options.stallMs;
    this.saveOffset = options.saveOffset;
    this.resumable = options.resumable;
    this.send({ t: "status", status: "live" });
    this.armStall();
  }

  protected onCredit(control: { ack?: unknown }): void {
    if (
      this.saveOffset &&
      typeof control.ack === "number" &&
      Number.isSafeInteger(control.ack) &&
      control.ack > 0 &&
      // Only offsets this subscription actually delivered can be acknowledged.
      control.ack <= this.lastOffset
    ) {
      try {
        this.saveOffset(control.ack);
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    this.armStall();
    void this.pump();
  }

  private armStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (!this.resumable || this.closed) return;
    this.stallTimer = setTimeout(() => {
      if (this.credits === 0 && !this.closed) {
        // The page stopped reading: free main's resources, let it come back later.
        this.send({ t: "resume", from: this.lastOffset, reason: "no credit for too long" });
        this.close();
      }
    }, this.stallMs);
    this.stallTimer.unref();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.credits > 0) {
        const r = await this.iterator.next();
        if (r.done || this.closed) break;
        const ev = r.value as { offset?: number; id?: number };
        this.lastOffset = ev.offset ?? ev.id ?? this.lastOffset;
        this.credits--;
        this.send({ t: "event", event: r.value as never });
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.pumping = false;
    }
  }

  protected release(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    void this.iterator.return?.();
  }
}

/**
 * Job status and queue stats: the latest value only. A change while the page
 * has no credit replaces the pending value instead of queueing.
 */
export class SnapshotPusher<T> extends Pusher {
  private readonly read: () => T;
  private readonly wrap: (value: T) => SubscriptionMessage;
  private readonly unsubscribe: () => void;
  private lastSent: string | null = null;
  private pending: T | undefined;
  private timer: NodeJS.Timeout | null = null;
  private readonly minIntervalMs: number;
  private lastAt = 0;

  constructor(
    port: SubPort,
    onClosed: () => void,
    db: AnyDb,
    read: () => T,
    wrap: (value: T) => SubscriptionMessage,
    minIntervalMs: number,
  ) {
    super(port, onClosed);
    this.read = read;
    this.wrap = wrap;
    this.minIntervalMs = minIntervalMs;
    // Subscribe before the first read, so no change is missed in between.
    this.unsubscribe = db.watcher.subscribe(() => this.refresh());
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
    this.pending = value;
    this.flush();
  }

  private flush(): void {
    if (this.pending === undefined || this.credits <= 0 || this.closed) return;
    const value = this.pending;
    this.pending = undefined;
    this.lastSent = JSON.stringify(value);
    this.credits--;
    this.send(this.wrap(value));
  }

  protected onCredit(): void {
    this.flush();
  }

  protected release(): void {
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

export type { WireJob, WireStats };
