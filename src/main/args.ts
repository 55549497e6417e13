/**
 * Argument checks for every public entry point of the host: the TypeScript
 * twin of `native/args.c`. Each check either returns the value (narrowed)
 * or throws HONKER_INVALID_ARGUMENT with a message that names the function,
 * the argument, what it must be and what it got, e.g.
 * `queue('mail').enqueue: options.delay must be a finite number of seconds, got NaN`.
 *
 * Checks run where a value enters, before anything is written, so a refused
 * call has no side effect.
 */
import { HonkerError } from "./errors.ts";

/** setTimeout's ceiling: longer delays fire at once (Node clamps them to 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Ten years: bounds any duration in seconds (the extension's HK_MAX_SECONDS). */
export const MAX_SECONDS = 315_360_000;
/** 9999-12-31: bounds any unix-seconds timestamp (the extension's HK_MAX_UNIX). */
export const MAX_UNIX = 253_402_300_799;
/** The extension's bound on one batch. */
export const MAX_BATCH = 10_000;
/** Longest queue, stream, channel, consumer, lock or schedule name, in UTF-16 units. */
export const MAX_NAME = 256;

/** A short, safe description of a bad value for an error message. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (typeof v === "string") {
    const shown = v.length > 40 ? `${v.slice(0, 40)}…` : v;
    return JSON.stringify(shown);
  }
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "boolean") return String(v);
  if (typeof v === "function") return "a function";
  if (typeof v === "symbol") return "a symbol";
  if (Array.isArray(v)) return "an array";
  const proto = Object.getPrototypeOf(v);
  const ctor = proto?.constructor?.name;
  return ctor && ctor !== "Object" ? `a ${ctor}` : "an object";
}

/** The error every check throws: `${fn}: ${arg} must be ${must}, got ${describe(got)}`. */
export function refuse(fn: string, arg: string, must: string, got: unknown): HonkerError {
  return new HonkerError(
    "HONKER_INVALID_ARGUMENT",
    `${fn}: ${arg} must be ${must}, got ${describe(got)}`,
  );
}

/** String.prototype.isWellFormed (Node 20+; typed in lib ES2024, newer than our lib). */
type WellFormed = string & { isWellFormed(): boolean };

/** A name: a non-empty, well-formed Unicode string of at most 256 UTF-16 units, without NUL. */
export function name(fn: string, arg: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_NAME) {
    throw refuse(fn, arg, `a non-empty string of at most ${MAX_NAME} characters`, v);
  }
  if (!(v as WellFormed).isWellFormed()) {
    // Lone surrogates would be stored as U+FFFD, so two names would collide.
    throw refuse(fn, arg, "well-formed Unicode (it has a lone surrogate)", v);
  }
  if (v.includes("\0")) throw refuse(fn, arg, "free of NUL characters", v);
  return v;
}

/** Any string (possibly empty) of at most `max` characters. */
export function text(fn: string, arg: string, v: unknown, max = 65_536): string {
  if (typeof v !== "string" || v.length > max) {
    throw refuse(fn, arg, `a string of at most ${max} characters`, v);
  }
  return v;
}

/** A whole number in [min, max]. */
export function int(fn: string, arg: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw refuse(fn, arg, `a whole number from ${min} to ${max}`, v);
  }
  return v;
}

/** A whole number in [min, max], or `fallback` when undefined. */
export function optInt(
  fn: string,
  arg: string,
  v: unknown,
  min: number,
  max: number,
  fallback: number,
): number {
  return v === undefined ? fallback : int(fn, arg, v, min, max);
}

/** A finite number in [min, max]. */
export function num(fn: string, arg: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw refuse(fn, arg, `a finite number from ${min} to ${max}`, v);
  }
  return v;
}

/** A finite number in [min, max], or `fallback` when undefined. */
export function optNum(
  fn: string,
  arg: string,
  v: unknown,
  min: number,
  max: number,
  fallback: number,
): number {
  return v === undefined ? fallback : num(fn, arg, v, min, max);
}

/** A positive safe integer: a job id, an offset > 0. */
export function id(fn: string, arg: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw refuse(fn, arg, "a positive whole number", v);
  }
  return v;
}

/** An array of ids, at most `max` long. */
export function ids(fn: string, arg: string, v: unknown, max = MAX_BATCH): number[] {
  if (!Array.isArray(v) || v.length > max) {
    throw refuse(fn, arg, `an array of at most ${max} job ids`, v);
  }
  for (let i = 0; i < v.length; i++) id(fn, `${arg}[${i}]`, v[i]);
  return v as number[];
}

/** A boolean, or `fallback` when undefined. */
export function optBool(fn: string, arg: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw refuse(fn, arg, "true or false", v);
  return v;
}

/** A function. */
export function func<F extends (...args: never[]) => unknown>(
  fn: string,
  arg: string,
  v: unknown,
): F {
  if (typeof v !== "function") throw refuse(fn, arg, "a function", v);
  return v as F;
}

/** A function or undefined. */
export function optFunc<F extends (...args: never[]) => unknown>(
  fn: string,
  arg: string,
  v: unknown,
): F | undefined {
  return v === undefined ? undefined : func<F>(fn, arg, v);
}

/** An AbortSignal or undefined. */
export function optSignal(fn: string, arg: string, v: unknown): AbortSignal | undefined {
  if (v === undefined) return undefined;
  if (!(v instanceof AbortSignal)) throw refuse(fn, arg, "an AbortSignal", v);
  return v;
}

/** An options object (a plain object, or undefined meaning {}). */
export function options<T extends object>(fn: string, v: unknown, arg = "options"): Partial<T> {
  if (v === undefined) return {};
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw refuse(fn, arg, "an object (or omitted)", v);
  }
  return v as Partial<T>;
}

/** One of `choices`, or `fallback` when undefined. */
export function oneOf<T extends string>(
  fn: string,
  arg: string,
  v: unknown,
  choices: readonly T[],
  fallback: T,
): T {
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
    throw refuse(fn, arg, `one of ${choices.map((c) => `'${c}'`).join(", ")}`, v);
  }
  return v as T;
}

/** A duration in ms for a timer: whole, >= min, and at most `max` (default: no ceiling). */
export function ms(
  fn: string,
  arg: string,
  v: unknown,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof v !== "number" || Number.isNaN(v) || v < min || v > max) {
    throw refuse(fn, arg, `a number of milliseconds from ${min} to ${max}`, v);
  }
  return Math.ceil(v);
}

/**
 * setTimeout that honours delays beyond the 2^31-1 ms ceiling (which Node
 * would clamp to 1 ms) by re-arming. `clear()` cancels it.
 */
export function longTimeout(
  callback: () => void,
  delayMs: number,
  unref = false,
): { clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const due = Date.now() + delayMs;
  const arm = () => {
    const left = due - Date.now();
    timer = setTimeout(
      left > MAX_TIMER_MS ? arm : callback,
      Math.min(Math.max(0, left), MAX_TIMER_MS),
    );
    if (unref) timer.unref();
  };
  arm();
  return { clear: () => clearTimeout(timer) };
}

/** A delay safe to pass to setTimeout/setInterval (clamped to the timer ceiling). */
export function timerMs(delayMs: number): number {
  return Math.min(Math.max(0, delayMs), MAX_TIMER_MS);
}
