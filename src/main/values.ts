/**
 * The one check for values the kit stores (payloads, results, progress,
 * notifications), shared by the host and the bridge: plain JSON data all
 * the way down, so what is read back is what was written.
 *
 * Accepted: null, booleans, finite numbers, strings, arrays, and objects
 * whose prototype is Object.prototype or null. An object property whose
 * value is `undefined` is omitted, as JSON.stringify does (an optional
 * field). Refused, with the path of the bad value: NaN and ±Infinity (JSON
 * would store null), BigInt, functions, symbols, `undefined` at the top or
 * in an array (stored as null), array holes, Map/Set/Date/class instances
 * (stored as {} or a string), cycles, and nesting deeper than the
 * extension's JSON parser accepts.
 *
 * The walk allocates nothing on the happy path; the path in an error
 * message is rebuilt by a second, slow walk only when a value is refused.
 */
import { HonkerError } from "./errors.ts";

/** The extension's JSON nesting limit (native/json.c HK_JSON_MAX_DEPTH). */
export const MAX_JSON_DEPTH = 512;

export interface JsonCheckOptions {
  /** Refuse these own keys anywhere (the bridge refuses prototype-polluting keys). */
  forbiddenKeys?: ReadonlySet<string>;
  /** Refuse more than this many nodes (the bridge's budget against shared references). */
  maxNodes?: number;
  /** Nesting limit (default MAX_JSON_DEPTH). */
  maxDepth?: number;
}

type Problem = string | null;

/** Returns null if `v` is plain JSON data, else a description of the first problem at its top. */
function problemOf(v: unknown): Problem {
  switch (typeof v) {
    case "string":
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(v)
        ? null
        : `${v}, which JSON cannot hold (it would be stored as null)`;
    case "object": {
      if (v === null || Array.isArray(v)) return null;
      const proto = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null) return null;
      const ctor = proto?.constructor?.name ?? "non-plain";
      return `a ${ctor} object, not plain JSON data (convert it first, e.g. to an array or string)`;
    }
    case "undefined":
      return "undefined, which JSON cannot hold (use null)";
    case "bigint":
      return "a BigInt, which JSON cannot hold (convert it to a string or number)";
    default:
      return `a ${typeof v}, which is not JSON data`;
  }
}

class Refused {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

/**
 * Throws HONKER_INVALID_ARGUMENT if `value` is not plain JSON data; the
 * message starts with `what` and names the path (e.g. `payload.items[3].at`).
 */
export function checkJson(value: unknown, what: string, options?: JsonCheckOptions): void {
  // Without options (every payload the host stores) the walk shares one
  // frozen set of limits: nothing is allocated on the happy path.
  const limits: WalkLimits =
    options === undefined
      ? PLAIN
      : {
          maxDepth: options.maxDepth ?? MAX_JSON_DEPTH,
          forbidden: options.forbiddenKeys,
          budget:
            options.maxNodes === undefined
              ? null
              : { left: options.maxNodes, max: options.maxNodes },
        };
  try {
    walk(value, 0, limits);
  } catch (err) {
    throw refusal(err, value, what, limits.maxDepth, limits.forbidden);
  }
}

interface WalkLimits {
  readonly maxDepth: number;
  readonly forbidden: ReadonlySet<string> | undefined;
  /** Values still allowed of `max` (the bridge's budget); null: no budget. */
  readonly budget: { left: number; readonly max: number } | null;
}

const PLAIN: WalkLimits = Object.freeze({
  maxDepth: MAX_JSON_DEPTH,
  forbidden: undefined,
  budget: null,
});

/** checkJson's walk: throws Refused at the first value that is not plain JSON data. */
function walk(v: unknown, depth: number, l: WalkLimits): void {
  if (l.budget !== null && --l.budget.left < 0)
    throw new Refused(`more than ${l.budget.max} values`);
  if (typeof v !== "object" || v === null) {
    if (typeof v === "string" || typeof v === "boolean" || v === null) return;
    if (typeof v === "number" && Number.isFinite(v)) return;
    throw new Refused("bad");
  }
  if (depth >= l.maxDepth) throw new Refused("deep");
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) throw new Refused("bad");
      walk(v[i], depth + 1, l);
    }
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) throw new Refused("bad");
  for (const key in v) {
    if (l.forbidden?.has(key)) throw new Refused("bad");
    const child = (v as Record<string, unknown>)[key];
    if (child !== undefined) walk(child, depth + 1, l);
  }
}

/** The error for a value a walk refused (or could not read: a throwing getter, a revoked proxy). */
function refusal(
  err: unknown,
  value: unknown,
  what: string,
  maxDepth: number,
  forbidden: ReadonlySet<string> | undefined,
): HonkerError {
  if (!(err instanceof Refused)) {
    return new HonkerError(
      "HONKER_INVALID_ARGUMENT",
      `${what} could not be read: ${(err as Error)?.message ?? String(err)}`,
    );
  }
  if (err.reason !== "bad" && err.reason !== "deep") {
    return new HonkerError("HONKER_INVALID_ARGUMENT", `${what} has ${err.reason}`);
  }
  return explain(value, what, maxDepth, forbidden);
}

/** The slow walk: finds the first bad value again and says where it is. */
function explain(
  value: unknown,
  what: string,
  maxDepth: number,
  forbidden: ReadonlySet<string> | undefined,
): HonkerError {
  const path: (string | number)[] = [];
  const seen = new Set<object>();
  const at = () =>
    `${what}${path
      .map((k) =>
        typeof k === "number"
          ? `[${k}]`
          : /^[A-Za-z_$][\w$]*$/.test(k)
            ? `.${k}`
            : `[${JSON.stringify(k)}]`,
      )
      .join("")}`;
  const fail = (msg: string) => new HonkerError("HONKER_INVALID_ARGUMENT", msg);
  const walk = (v: unknown, depth: number): HonkerError | null => {
    const problem = problemOf(v);
    if (problem) return fail(`${at()} is ${problem}`);
    if (typeof v !== "object" || v === null) return null;
    if (seen.has(v)) return fail(`${at()} refers back to itself (a cycle), which JSON cannot hold`);
    if (depth >= maxDepth) {
      return fail(`${at()} is nested deeper than ${maxDepth} levels, the most the kit stores`);
    }
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        const e = i in v ? walk(v[i], depth + 1) : fail(`${at()} is a hole in a sparse array`);
        if (e) return e;
        path.pop();
      }
    } else {
      for (const key in v) {
        path.push(key);
        if (forbidden?.has(key)) return fail(`${at()}: the key '${key}' is not allowed`);
        const child = (v as Record<string, unknown>)[key];
        const e = child === undefined ? null : walk(child, depth + 1);
        if (e) return e;
        path.pop();
      }
    }
    seen.delete(v);
    return null;
  };
  return walk(value, 0) ?? fail(`${what} is not plain JSON data`);
}

/**
 * Checks `value` (see checkJson) and returns its JSON text. Use for every
 * value the kit stores.
 */
export function toJsonText(value: unknown, what: string): string {
  checkJson(value, what);
  return JSON.stringify(value);
}

/** Parses JSON written by us or by honker; non-JSON text (old honker rows) comes back as-is. */
export function fromJsonText<T>(text: string | null): T {
  if (text === null) return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}
