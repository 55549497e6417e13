/**
 * Where failures of work the kit runs on its own go (workers, heartbeats,
 * subscriptions, retention, the scheduler, checkpoints): to the app's
 * `onError` when it gave one, else to a default that logs once per cause.
 * Never to an unhandled rejection or an uncaught exception, even when the
 * app's own `onError` throws.
 */
import { HonkerError } from "./errors.ts";

const logged = new Set<string>();
const MAX_LOGGED = 1000;

/** The default: one console.warn per distinct (where, code, message) cause. */
export function logOnce(where: string, err: unknown): void {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : typeof e?.name === "string" ? e.name : "";
  const message = typeof e?.message === "string" ? e.message : String(err);
  const key = `${where}\u0000${code}\u0000${message.slice(0, 200)}`;
  if (logged.has(key)) return;
  if (logged.size >= MAX_LOGGED) logged.clear();
  logged.add(key);
  console.warn(`honker-electron: ${where}: ${code ? `${code}: ` : ""}${message}`);
}

/**
 * Hands `err` to `handler` (or logs it once); a throwing handler is itself
 * logged once, never rethrown.
 */
export function report<A extends unknown[]>(
  where: string,
  handler: ((err: unknown, ...rest: A) => void) | undefined,
  err: unknown,
  ...rest: A
): void {
  if (!handler) {
    logOnce(where, err);
    return;
  }
  try {
    handler(err, ...rest);
  } catch (thrown) {
    logOnce(`${where} (onError itself threw)`, thrown);
  }
}

/** Runs fn; any throw goes to report() instead of up the stack. */
export function guarded(
  where: string,
  handler: ((err: unknown) => void) | undefined,
  fn: () => void,
): void {
  try {
    fn();
  } catch (err) {
    report(where, handler, err);
  }
}

/** True for the errors that mean "this handle is gone": nothing to retry. */
export function isTerminal(err: unknown): boolean {
  return (
    err instanceof HonkerError &&
    (err.code === "HONKER_CLOSED" || err.code === "HONKER_WATCHER_DEAD")
  );
}
