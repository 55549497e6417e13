/**
 * Hostile and well-formed arguments for the host API fuzz, each with what
 * the rules say about it: "ok" (must be accepted), "bad" (must be refused
 * with HONKER_INVALID_ARGUMENT) or "any" (either is fine; only the general
 * invariants apply). Values are built fresh for every call (`make()`), so
 * one call cannot mutate what another gets, and `show()` prints any of
 * them as source-like text for reports.
 */
import fc from "fast-check";

export type Verdict = "ok" | "bad" | "any";

/** One argument: how to build it, what the rules say, and a short tag for classifying findings. */
export interface Arg {
  make: () => unknown;
  verdict: Verdict;
  /** What kind of value it is ("NaN", "lone surrogate", "Map in payload"...). */
  tag: string;
}

/** Ten years in seconds and 9999-12-31 in unix seconds (the extension's bounds). */
export const MAX_SECONDS = 315_360_000;
export const MAX_UNIX = 253_402_300_799;
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const THIRTY_DAYS_MS = 30 * 86_400_000;

const arg = (make: () => unknown, verdict: Verdict, tag: string): Arg => ({ make, verdict, tag });
const constArg = (v: unknown, verdict: Verdict, tag: string): Arg => arg(() => v, verdict, tag);

/** Combines verdicts: any "bad" makes the call bad; otherwise any "any" makes it "any". */
export function combine(verdicts: Verdict[]): Verdict {
  if (verdicts.includes("bad")) return "bad";
  if (verdicts.includes("any")) return "any";
  return "ok";
}

// ---- printing -------------------------------------------------------------

/** Source-like text for any value (NaN, -0, 5n, lone surrogates, Map, cycles, getters...). */
export function show(v: unknown, seen = new Set<object>()): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  switch (typeof v) {
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "string": {
      const s = v.length > 40 ? `${v.slice(0, 12)}…(${v.length} chars)` : v;
      // JSON.stringify escapes lone surrogates as \udXXX; NUL as \u0000.
      return JSON.stringify(s);
    }
    case "boolean":
      return String(v);
    case "symbol":
      return `Symbol(${JSON.stringify(v.description ?? "")})`;
    case "function":
      return v.name ? `function ${v.name}` : "() => {…}";
  }
  const o = v as object;
  if (seen.has(o)) return "<cycle>";
  if (seen.size > 6) return "…";
  seen.add(o);
  try {
    if (o instanceof Map) return `new Map(${o.size} entries)`;
    if (o instanceof Set) return `new Set(${o.size} entries)`;
    if (o instanceof Date) return `new Date(${Number.isNaN(o.getTime()) ? "NaN" : o.getTime()})`;
    if (typeof AbortSignal !== "undefined" && o instanceof AbortSignal) {
      return o.aborted ? "AbortSignal.abort()" : "new AbortController().signal";
    }
    if (Array.isArray(o)) {
      if (o.length > 8) return `[…${o.length} items]`;
      const items: string[] = [];
      for (let i = 0; i < o.length; i++) items.push(i in o ? show(o[i], seen) : "<hole>");
      return `[${items.join(", ")}]`;
    }
    const proto = Object.getPrototypeOf(o);
    const prefix =
      proto === null
        ? "Object.create(null) "
        : proto === Object.prototype
          ? ""
          : `new ${proto?.constructor?.name ?? "?"} `;
    const parts: string[] = [];
    const descriptors = Object.getOwnPropertyDescriptors(o);
    for (const [k, d] of Object.entries(descriptors).slice(0, 8)) {
      const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k);
      if (d.get) parts.push(`get ${key}() {…}`);
      else parts.push(`${key}: ${show(d.value, seen)}`);
    }
    return `${prefix}{ ${parts.join(", ")} }`.replace("{  }", "{}");
  } finally {
    seen.delete(o);
  }
}

// ---- JSON values (payloads, results, progress) ------------------------------

function cycle(): unknown {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

function deep(n: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

class Point {
  x = 1;
}

/** Values that are not plain JSON data, with where they sit. */
const BAD_JSON: [string, () => unknown][] = [
  ["NaN", () => Number.NaN],
  ["Infinity", () => Number.POSITIVE_INFINITY],
  ["-Infinity", () => Number.NEGATIVE_INFINITY],
  ["BigInt", () => 5n],
  ["Map", () => new Map([["a", 1]])],
  ["Set", () => new Set([1])],
  ["Date", () => new Date(0)],
  ["class instance", () => new Point()],
  ["cycle", cycle],
  ["function", () => () => 1],
  ["symbol", () => Symbol("s")],
  ["undefined", () => undefined],
  ["array with undefined", () => [1, undefined]],
  [
    "sparse array",
    () => {
      const a = [1];
      a[2] = 3;
      return a;
    },
  ],
  ["nested NaN", () => ({ a: { b: [1, Number.NaN] } })],
  ["nested Map", () => ({ items: [new Map()] })],
  ["nested BigInt", () => ({ n: 1n })],
  ["nested Date", () => ({ at: new Date(0) })],
  [
    "throwing getter",
    () =>
      Object.defineProperty({}, "boom", {
        enumerable: true,
        get() {
          throw new TypeError("getter exploded");
        },
      }),
  ],
  ["toJSON function", () => ({ toJSON: () => "x" })],
  ["deeper than 512", () => deep(600)],
  ["Uint8Array", () => new Uint8Array(2)],
  ["boxed String", () => new String("s")],
];

const GOOD_JSON_EXTRA: [string, () => unknown][] = [
  ["null", () => null],
  ["object with undefined field", () => ({ a: 1, b: undefined })],
  ["Object.create(null)", () => Object.assign(Object.create(null), { a: 1 })],
  ["-0", () => -0],
  ["lone surrogate inside a string", () => ({ s: "\uD800" })],
  ["NUL inside a string", () => ({ s: "a\0b" })],
  ["empty string", () => ""],
  ["MAX_VALUE", () => Number.MAX_VALUE],
  ["deep 100", () => deep(100)],
];

/** A stored value: mostly plain JSON, sometimes anything that is not. */
export function jsonArg(opts: { undefinedOk?: boolean } = {}): fc.Arbitrary<Arg> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => constArg(v, "ok", "json")) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...GOOD_JSON_EXTRA).map(([tag, make]) => arg(make, "ok", tag)),
    },
    {
      weight: 3,
      arbitrary: fc
        .constantFrom(...BAD_JSON)
        .map(([tag, make]) =>
          arg(make, tag === "undefined" && opts.undefinedOk ? "ok" : "bad", tag),
        ),
    },
  );
}

// ---- names ------------------------------------------------------------------

const GOOD_NAMES = ["a", "b", "jobs", "ünï", "名前", "😀x"];

const BAD_NAMES: [string, unknown][] = [
  ["empty string", ""],
  ["lone high surrogate", "\uD800"],
  ["lone low surrogate", "x\uDC00"],
  ["other lone surrogate", "\uDBFF"],
  ["NUL", "a\0b"],
  ["257 chars", "n".repeat(257)],
  ["number", 42],
  ["null", null],
  ["object", { name: "a" }],
  ["array", ["a"]],
  ["boxed String", new String("a")],
  ["symbol", Symbol("a")],
  ["bigint", 1n],
];

/**
 * A queue/stream/channel/consumer/lock/schedule/worker name. With
 * `lenient` (dedup and event keys: data, not names in the rule's list), a
 * string that breaks only the name rules (lone surrogate, NUL, length) may
 * go either way; other types are still bad.
 */
export function nameArg(opts: { optional?: boolean; lenient?: boolean } = {}): fc.Arbitrary<Arg> {
  const bad = BAD_NAMES.map(([tag, v]) =>
    constArg(v, opts.lenient && typeof v === "string" && v !== "" ? "any" : "bad", `name: ${tag}`),
  );
  if (opts.optional) bad.push(constArg(undefined, "ok", "omitted"));
  else bad.push(constArg(undefined, "bad", "name: undefined"));
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...GOOD_NAMES).map((n) => constArg(n, "ok", "name")) },
    { weight: 1, arbitrary: fc.constantFrom(...bad) },
  );
}

// ---- numbers ----------------------------------------------------------------

export interface NumSpec {
  /** Accepted range. */
  min: number;
  max: number;
  /** Values in [softMin, softMax] outside [min, max] may go either way. */
  softMin?: number;
  softMax?: number;
  /** Fractions: "strict" refuses them, "loose" lets them go either way, "ok" accepts. */
  int?: "strict" | "loose" | "ok";
  /** undefined (omitted) is accepted (an option with a default). */
  optional?: boolean;
  /** Extra accepted non-number values (e.g. false for resultTtl). */
  alsoOk?: unknown[];
}

const SPECIAL_NUMBERS: [string, unknown][] = [
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
  ["-1", -1],
  ["0", 0],
  ["-0", -0],
  ["0.5", 0.5],
  ["1.5", 1.5],
  ["2^31-1", MAX_TIMER_MS],
  ["2^31", 2 ** 31],
  ["30 days in ms", THIRTY_DAYS_MS],
  ["2^53", 2 ** 53],
  ["-2^53", -(2 ** 53)],
  ["1e300", 1e300],
  ["ten years + 1", MAX_SECONDS + 1],
  ["string number", "5"],
  ["null", null],
  ["true", true],
  ["false", false],
  ["bigint", 5n],
  ["object", {}],
  ["array", [1]],
  ["Date", new Date(5000)],
  ["undefined", undefined],
];

export function numVerdict(v: unknown, spec: NumSpec): Verdict {
  if (v === undefined) return spec.optional ? "ok" : "bad";
  if (spec.alsoOk?.includes(v)) return "ok";
  if (typeof v !== "number" || !Number.isFinite(v)) return "bad";
  const inRange = v >= spec.min && v <= spec.max;
  const inSoft =
    v >= (spec.softMin ?? spec.min) && v <= (spec.softMax ?? spec.max) && !Number.isNaN(v);
  let verdict: Verdict = inRange ? "ok" : inSoft ? "any" : "bad";
  if (verdict !== "bad" && !Number.isInteger(v)) {
    const int = spec.int ?? "loose";
    if (int === "strict") verdict = "bad";
    else if (int === "loose") verdict = "any";
  }
  return verdict;
}

/** A number argument or option: small in-range values most of the time, then everything hostile. */
export function numArg(spec: NumSpec): fc.Arbitrary<Arg> {
  const lo = Math.max(spec.min, -5);
  const hi = Math.min(spec.max, Math.max(lo, 5));
  const withVerdict = (tag: string, v: unknown) => constArg(v, numVerdict(v, spec), tag);
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: lo, max: hi }).map((n) => withVerdict("small", n)) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...SPECIAL_NUMBERS).map(([tag, v]) => withVerdict(tag, v)),
    },
  );
}

/** Any of a fixed set of (tag, value, verdict). */
export function pick(...choices: [string, unknown, Verdict][]): fc.Arbitrary<Arg> {
  return fc.constantFrom(...choices).map(([tag, v, verdict]) => constArg(v, verdict, tag));
}

/** An AbortSignal option. */
export function signalArg(): fc.Arbitrary<Arg> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(constArg(undefined, "ok", "omitted")) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        arg(() => new AbortController().signal, "ok", "live signal"),
        arg(() => AbortSignal.abort(), "ok", "aborted signal"),
        arg(() => ({ aborted: false }), "bad", "signal: fake object"),
        arg(() => "signal", "bad", "signal: string"),
        arg(() => null, "bad", "signal: null"),
      ),
    },
  );
}

/**
 * An options object built from field arbitraries: omitted, a random subset
 * of fields, or something that is not an options object at all.
 */
export function optionsArg(
  fields: Record<string, fc.Arbitrary<Arg>>,
  opts: { required?: boolean; requiredKeys?: string[] } = {},
): fc.Arbitrary<Arg> {
  const keys = Object.keys(fields);
  const requiredKeys = opts.requiredKeys ?? [];
  const obj = fc.record(fields, { requiredKeys: [] }).map((rec): Arg => {
    const entries = keys
      .filter((k) => k in rec)
      .map((k) => [k, rec[k] as Arg] as const)
      // `undefined` fields mean "omitted", like a missing key.
      .filter(([, a]) => a.tag !== "omitted" || a.verdict !== "ok");
    const bad = entries.filter(([, a]) => a.verdict !== "ok");
    const missing = requiredKeys.filter((k) => !entries.some(([key]) => key === k));
    const tags = [...missing.map((k) => `${k}=missing`), ...bad.map(([k, a]) => `${k}=${a.tag}`)];
    return {
      make: () => Object.fromEntries(entries.map(([k, a]) => [k, a.make()])),
      verdict: missing.length > 0 ? "bad" : combine(entries.map(([, a]) => a.verdict)),
      tag: tags.length === 0 ? "options" : tags.join(", "),
    };
  });
  const notObjects = pick(
    ["options: null", null, "bad"],
    ["options: array", [], "bad"],
    ["options: string", "opts", "bad"],
    ["options: number", 7, "bad"],
    ["options: Map", new Map(), "bad"],
  );
  return fc.oneof(
    {
      weight: 1,
      arbitrary: fc.constant(
        constArg(
          undefined,
          opts.required ? "bad" : "ok",
          opts.required ? "options: missing" : "omitted",
        ),
      ),
    },
    { weight: 6, arbitrary: obj },
    { weight: 1, arbitrary: notObjects },
  );
}

/** A job id: mostly one that exists (resolved at run time), else hostile numbers. */
export type IdArg = { ref: number } | { index: number } | { ids: IdArg[] } | Arg;

export function idArg(): fc.Arbitrary<IdArg> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.nat(20).map((ref) => ({ ref })) },
    {
      weight: 2,
      arbitrary: numArg({ min: 1, max: Number.MAX_SAFE_INTEGER, int: "strict" }),
    },
  );
}

export { arg, constArg };
