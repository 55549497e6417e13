/**
 * The one way tests wait (outside test/bridge): for a condition, for the
 * next event of an emitter or async iterator, for a promise within a
 * deadline, or for a fixed time when time itself is what is tested.
 *
 * - `waitFor(predicate, { timeoutMs, what, db })`: resolves once
 *   `predicate()` is true. With `db`, it re-checks on every watcher wake
 *   (commits from any connection or process) and at least every
 *   `intervalMs`; without, every `intervalMs` (default 5 ms).
 * - `nextEvent(source, { event, match, timeoutMs, what })`: the next value
 *   (that passes `match`) emitted as `event` by an EventEmitter, passed to a
 *   listener by a subscribe function (`(fn) => unsubscribe`, e.g.
 *   `scheduler.onFire`), or the next value of an async iterator.
 * - `within(promise, ms, what)`: the promise's outcome, or a rejection
 *   naming `what` after `ms`.
 * - `sleep(ms)`: only where the passage of time is the point (TTLs,
 *   backoff, "nothing arrives in N ms" AFTER a positive control has shown
 *   that delivery works).
 */
import type { EventEmitter } from "node:events";

/** Anything with a watcher to wake on (a HonkerDatabase). */
interface HasWatcher {
  watcher: { wait(options: { timeoutMs?: number }): Promise<unknown> };
}

export interface WaitOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** What is awaited, for the timeout message. */
  what?: string;
  /** Re-check at least this often (default 5 ms; with `db`, 100 ms). */
  intervalMs?: number;
  /** Also re-check on every wake of this database's watcher. */
  db?: HasWatcher;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once `predicate()` is truthy; rejects with `what` after `timeoutMs`. */
export async function waitFor(
  predicate: () => unknown | Promise<unknown>,
  options: WaitOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const what = options.what ?? "condition";
  const interval = options.intervalMs ?? (options.db ? 100 : 5);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    if (options.db) {
      try {
        await options.db.watcher.wait({ timeoutMs: Math.min(left, interval) });
      } catch (err) {
        if ((err as { code?: string }).code !== "HONKER_TIMEOUT") throw err;
      }
    } else {
      await sleep(Math.min(left, interval));
    }
  }
}

/** Rejects naming `what` if `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (no result within ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface NextEventOptions<T> {
  /** The event name, for an EventEmitter (default "message"). */
  event?: string;
  /** Only a value that passes this counts (emitters and subscribe functions). */
  match?: (value: T) => boolean;
  timeoutMs?: number;
  what?: string;
}

/** A subscribe function: registers a listener, returns what unregisters it. */
export type Subscribe<T> = (listener: (value: T) => void) => () => unknown;

/**
 * The next value (passing `match`) of an emitter's `event` (its first
 * argument), of a subscribe function, or of an async iterator/iterable;
 * rejects after `timeoutMs`, or when the iterator ends first.
 */
export async function nextEvent<T = unknown>(
  source: EventEmitter | Subscribe<T> | AsyncIterator<T> | AsyncIterable<T>,
  options: NextEventOptions<T> = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const what = options.what ?? "the next event";
  const match = options.match ?? (() => true);
  let subscribe: Subscribe<T> | null = null;
  if (typeof source === "function") {
    subscribe = source;
  } else if (typeof (source as EventEmitter).on === "function" && "off" in source) {
    const emitter = source as EventEmitter;
    const event = options.event ?? "message";
    subscribe = (fn) => {
      emitter.on(event, fn);
      return () => emitter.off(event, fn);
    };
  }
  if (subscribe) {
    let unsubscribe: (() => unknown) | null = null;
    const got = new Promise<T>((resolve) => {
      unsubscribe = (subscribe as Subscribe<T>)((value) => {
        if (match(value)) resolve(value);
      });
    });
    try {
      return await within(got, timeoutMs, `waiting for ${what}`);
    } finally {
      (unsubscribe as (() => unknown) | null)?.();
    }
  }
  const iterator =
    typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] === "function"
      ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (source as AsyncIterator<T>);
  const result = await within(iterator.next(), timeoutMs, `waiting for ${what}`);
  if (result.done) throw new Error(`the iterator ended while waiting for ${what}`);
  return result.value;
}
