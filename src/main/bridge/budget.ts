/**
 * A window's budget: everything main holds on behalf of one window is
 * bounded here, whatever the page sends. One budget is shared by all the
 * sessions (ports) of a window, so reconnecting does not multiply it.
 *
 * - Subscription messages in flight (sent, not yet acknowledged with their
 *   receipt token): at most `maxInFlightBytes` (one message may exceed it
 *   only when nothing else is in flight, so a large event cannot wedge a
 *   subscription).
 * - Credits: at most MAX_CREDITS_PER_SUBSCRIPTION per subscription and
 *   `maxSubscriptions` x DEFAULT_CREDITS per window, whatever is granted.
 * - Subscriptions, pending waitResult calls, other pending calls, and the
 *   request rate: counted per window.
 */
import { getRandomValues } from "node:crypto";
import { DEFAULT_CREDITS, type WireError } from "../../protocol/index.ts";
import { HonkerError } from "../errors.ts";
import type { ServeOptions } from "./grants.ts";

/** Default ServeOptions.maxInFlightBytes: 8 MiB. */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
/** Default ServeOptions.maxPendingWaits. */
export const DEFAULT_MAX_PENDING_WAITS = 1024;
/** Default ServeOptions.maxPendingCalls (calls other than waitResult still running). */
export const DEFAULT_MAX_PENDING_CALLS = 256;
/** Default ServeOptions.maxSubscriptions. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 256;
/** Default ServeOptions.requestsPerSecond. */
export const DEFAULT_REQUESTS_PER_SECOND = 500;
/** Most credits one subscription may hold (the page client keeps at most DEFAULT_CREDITS). */
export const MAX_CREDITS_PER_SUBSCRIPTION = 4 * DEFAULT_CREDITS;
/**
 * Events a bridge subscription reads from the database ahead of what it
 * sends (its iterator's batch). With the one event a subscription may hold
 * back when the budget is full, what a window holds in main is at most
 * maxInFlightBytes + maxSubscriptions x (READ_AHEAD_EVENTS + 1) events.
 */
export const READ_AHEAD_EVENTS = DEFAULT_CREDITS / 4;
/** What each message is charged on top of its JSON length (envelope, clone headers). */
export const MESSAGE_OVERHEAD_BYTES = 64;

export class WindowBudget {
  readonly maxInFlightBytes: number;
  readonly maxPendingWaits: number;
  readonly maxPendingCalls: number;
  readonly maxSubscriptions: number;
  readonly maxCredits: number;
  readonly rate: number;
  inFlightBytes = 0;
  credits = 0;
  subscriptions = 0;
  pendingWaits = 0;
  pendingCalls = 0;
  /** High-water marks and counters, for tests and diagnostics. */
  readonly stats = { peakInFlightBytes: 0, peakCredits: 0, blocked: 0, rateLimited: 0 };
  private tokens: number;
  private lastRefill = Date.now();
  private readonly waiting = new Set<() => void>();
  private readonly pool = new Uint32Array(256);
  private poolAt = 256;

  constructor(options: ServeOptions = {}) {
    this.maxInFlightBytes = positive(
      options.maxInFlightBytes,
      DEFAULT_MAX_IN_FLIGHT_BYTES,
      "maxInFlightBytes",
    );
    this.maxPendingWaits = positive(
      options.maxPendingWaits,
      DEFAULT_MAX_PENDING_WAITS,
      "maxPendingWaits",
    );
    this.maxPendingCalls = positive(
      options.maxPendingCalls,
      DEFAULT_MAX_PENDING_CALLS,
      "maxPendingCalls",
    );
    this.maxSubscriptions = positive(
      options.maxSubscriptions,
      DEFAULT_MAX_SUBSCRIPTIONS,
      "maxSubscriptions",
    );
    this.rate = positive(
      options.requestsPerSecond,
      DEFAULT_REQUESTS_PER_SECOND,
      "requestsPerSecond",
    );
    // Enough for every subscription of a well-behaved page (DEFAULT_CREDITS each).
    this.maxCredits = this.maxSubscriptions * DEFAULT_CREDITS;
    this.tokens = this.rate * 2;
  }

  /**
   * Admits one call of `method`: a request token, and a slot among the
   * pending waits (waitResult) or the other pending calls. Returns null, or
   * the HONKER_RATE_LIMITED error to answer with (a plain object: refusing
   * a flood must cost next to nothing). `done(method)` gives the slot back.
   */
  admit(method: string): WireError | null {
    const now = Date.now();
    this.tokens = Math.min(
      this.rate * 2,
      this.tokens + ((now - this.lastRefill) / 1000) * this.rate,
    );
    this.lastRefill = now;
    let message: string | null = null;
    if (this.tokens < 1) {
      message = `too many requests from this window (limit ${this.rate}/s); slow down`;
    } else if (method === "waitResult" && this.pendingWaits >= this.maxPendingWaits) {
      message = `this window already has ${this.maxPendingWaits} waitResult calls pending; await some first`;
    } else if (method !== "waitResult" && this.pendingCalls >= this.maxPendingCalls) {
      message = `this window already has ${this.maxPendingCalls} calls pending; await some first`;
    }
    if (message !== null) {
      this.stats.rateLimited++;
      return { code: "HONKER_RATE_LIMITED", message };
    }
    this.tokens -= 1;
    if (method === "waitResult") this.pendingWaits++;
    else this.pendingCalls++;
    return null;
  }

  /** An admitted call was answered (or abandoned with its session). */
  done(method: string): void {
    if (method === "waitResult") this.pendingWaits--;
    else this.pendingCalls--;
  }

  /** How many of `requested` credits a subscription holding `held` may add. */
  grantCredits(held: number, requested: number): number {
    const n = Math.max(
      0,
      Math.min(requested, MAX_CREDITS_PER_SUBSCRIPTION - held, this.maxCredits - this.credits),
    );
    this.credits += n;
    if (this.credits > this.stats.peakCredits) this.stats.peakCredits = this.credits;
    return n;
  }

  /** Credits spent (a message sent) or given back (a subscription closed). */
  returnCredits(n: number): void {
    this.credits -= n;
  }

  /**
   * Reserves `bytes` of in-flight budget. False when the window is full;
   * `retry` then runs once bytes are released.
   */
  reserve(bytes: number, retry: () => void): boolean {
    if (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.maxInFlightBytes) {
      this.stats.blocked++;
      this.waiting.add(retry);
      return false;
    }
    this.inFlightBytes += bytes;
    if (this.inFlightBytes > this.stats.peakInFlightBytes) {
      this.stats.peakInFlightBytes = this.inFlightBytes;
    }
    return true;
  }

  /** Forgets a pending retry (its subscription closed). */
  cancelRetry(retry: () => void): void {
    this.waiting.delete(retry);
  }

  /** Releases acknowledged (or abandoned) bytes and lets waiting subscriptions try again. */
  release(bytes: number): void {
    if (bytes <= 0) return;
    this.inFlightBytes -= bytes;
    if (this.waiting.size === 0) return;
    const retries = [...this.waiting];
    this.waiting.clear();
    for (const fn of retries) fn();
  }

  /** A fresh receipt token: 53 random bits, so a page cannot guess one it was not sent. */
  token(): number {
    if (this.poolAt + 2 > this.pool.length) {
      getRandomValues(this.pool);
      this.poolAt = 0;
    }
    const hi = (this.pool[this.poolAt++] as number) >>> 11; // 21 bits
    const lo = this.pool[this.poolAt++] as number; // 32 bits
    return hi * 2 ** 32 + lo;
  }
}

function positive(v: number | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    throw new HonkerError(
      "HONKER_INVALID_ARGUMENT",
      `serve: options.${what} must be a whole number >= 1, got ${String(v)}`,
    );
  }
  return v;
}
