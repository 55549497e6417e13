/**
 * Trust, classes 2 and 7: every public argument is checked where it
 * enters and refused with HONKER_INVALID_ARGUMENT naming the function and
 * the argument; nothing is written by a refused call; timers never
 * overflow the 2^31-1 ms ceiling.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { tempDir } from "../helpers/db.ts";
import { withCleanups } from "../helpers/host.ts";

const { tempDb, cleanups } = withCleanups();

/** Asserts `fn` throws HONKER_INVALID_ARGUMENT whose message matches every pattern. */
function refused(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err) => {
    assert.ok(isHonkerError(err, "HONKER_INVALID_ARGUMENT"), `got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

/** Row counts of every honker table: a refused call must leave them as they were. */
function counts(db: ReturnType<typeof tempDb>["db"]): Record<string, number> {
  const out: Record<string, number> = {};
  const tables = db.raw
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '_honker%'")
    .pluck()
    .all() as string[];
  for (const t of tables) {
    out[t] = db.raw.prepare(`SELECT count(*) FROM "${t}"`).pluck().get() as number;
  }
  return out;
}

describe("worker options", () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["batchSize NaN", { batchSize: Number.NaN }, /options\.batchSize/],
    [
      "batchSize above concurrency (never clamped silently)",
      { concurrency: 4, batchSize: 8 },
      /options\.batchSize.*from 1 to 4/,
    ],
    ["concurrency 0", { concurrency: 0 }, /options\.concurrency/],
    ["workerId ''", { workerId: "" }, /options\.workerId/],
    ["workerId with a lone surrogate", { workerId: "w\uD800" }, /options\.workerId.*surrogate/],
    ["visibilityTimeout 'x'", { visibilityTimeout: "x" }, /options\.visibilityTimeout/],
    [
      "visibilityTimeout Infinity",
      { visibilityTimeout: Number.POSITIVE_INFINITY },
      /options\.visibilityTimeout/,
    ],
    ["resultTtl -1", { resultTtl: -1 }, /options\.resultTtl/],
    ["timeoutMs NaN", { timeoutMs: Number.NaN }, /options\.timeoutMs/],
    ["onError 'log'", { onError: "log" }, /options\.onError/],
    ["signal {}", { signal: {} }, /options\.signal/],
  ];
  for (const [what, options, pattern] of bad) {
    it(`refuses ${what}`, () => {
      const { db } = tempDb();
      refused(() => db.queue("q").work(() => {}, options), /queue\('q'\)\.work/, pattern);
    });
  }

  it("refuses a handler that is not a function", () => {
    const { db } = tempDb();
    refused(() => db.queue("q").work("x" as never), /work: handler must be a function/);
  });

  it("arms heartbeats within the timer ceiling for a 100-day visibility timeout (not every millisecond)", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    q.enqueue(1);
    const intervals: number[] = [];
    const real = globalThis.setInterval;
    globalThis.setInterval = ((fn: () => void, ms: number) => {
      intervals.push(ms);
      return real(fn, ms);
    }) as typeof setInterval;
    let release!: () => void;
    const running = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const startedP = new Promise<void>((r) => {
      started = r;
    });
    try {
      const w = q.work(
        async () => {
          started();
          await running;
        },
        { visibilityTimeout: 100 * 86_400 },
      );
      await startedP;
      release();
      await w.stop();
    } finally {
      globalThis.setInterval = real;
    }
    // Half the visibility timeout (4.3e9 ms) would overflow to 1 ms; it is clamped to the ceiling.
    assert.ok(intervals.includes(2 ** 31 - 1), `intervals armed: ${intervals.join(", ")}`);
    for (const ms of intervals) assert.ok(ms >= 1000 && ms <= 2 ** 31 - 1, `interval ${ms} ms`);
  });
});

describe("queue arguments", () => {
  it("refuses delay NaN, runAt Infinity, an invalid Date and priority 1.5, writing nothing", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const before = counts(db);
    refused(() => q.enqueue(1, { delay: Number.NaN }), /enqueue: options\.delay/);
    refused(() => q.enqueue(1, { runAt: Number.POSITIVE_INFINITY }), /options\.runAt/);
    refused(() => q.enqueue(1, { runAt: new Date("nope") }), /options\.runAt must be a valid Date/);
    refused(() => q.enqueue(1, { priority: 1.5 }), /options\.priority/);
    refused(() => q.enqueue(1, null as never), /enqueue: options must be an object/);
    refused(() => q.enqueueMany([1, 2, Number.NaN]), /enqueueMany: payloads\[2\] is NaN/);
    assert.deepEqual(counts(db), before);
  });

  it("refuses ackMany(123), claim with a NaN batch and setProgress(NaN, …)", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const before = counts(db);
    refused(() => q.ackMany(123 as never, "w"), /ackMany: ids must be an array/);
    refused(() => q.claim("w", { batchSize: Number.NaN }), /claim: options\.batchSize/);
    refused(
      () => q.setProgress(Number.NaN, { p: 1 }),
      /setProgress: id must be a positive whole number, got NaN/,
    );
    refused(() => q.retry(1, "w", Number.NaN), /retry: delaySeconds/);
    assert.deepEqual(counts(db), before);
  });
});

describe("unclear errors made clear", () => {
  for (const [what, path] of [
    ["open(123)", 123],
    ["open(undefined)", undefined],
    ["open({})", {}],
  ] as const) {
    it(`refuses ${what} with HONKER_INVALID_ARGUMENT naming path`, () => {
      refused(() => open(path as never), /open\(path, options\): path must be a non-empty string/);
    });
  }

  it("refuses a path with NUL and creates no file", () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    refused(() => open(join(dir, "a\0b.db")), /path must be free of NUL/);
    assert.equal(existsSync(join(dir, "a")), false);
  });

  it("refuses transaction('x')", () => {
    const { db } = tempDb();
    refused(() => db.transaction("x" as never), /transaction\(fn\): fn must be a function/);
  });

  it("refuses stream.on('x') at once instead of failing later in console.error", () => {
    const { db } = tempDb();
    refused(() => db.stream("s").on("x" as never), /stream\('s'\)\.on: handler must be a function/);
  });

  it("names the depth limit for a 600-deep payload", () => {
    const { db } = tempDb();
    let deep: unknown = 1;
    for (let i = 0; i < 600; i++) deep = [deep];
    refused(() => db.queue("q").enqueue(deep), /nested deeper than 512 levels/);
  });
});
