/**
 * The host API fuzz: random programs of public API calls (well-formed and
 * hostile) against a real database file, with the invariants checked after
 * every call. See host-api.test.ts for how it is run and FINDINGS.md for
 * what it found.
 *
 * Invariants, per call:
 * - every error is a HonkerError with a code (a user's own error or abort
 *   reason passed through untouched is fine);
 * - a call the rules say is bad is refused with HONKER_INVALID_ARGUMENT,
 *   whose message names the function; a call they say is fine is not;
 * - a refused call wrote nothing (fingerprint of every `_honker*` table);
 * - no awaited call hangs; no unhandled rejection or uncaught exception;
 * - behavioural rules: timers beyond 2^31-1 ms do not fire at once,
 *   `transaction(async fn)` commits nothing, waitResult on a cancelled/dead
 *   job rejects with HONKER_CANCELLED/HONKER_JOB_DEAD, stop({ graceMs }) and
 *   close() resolve with a stuck handler.
 * Per program: a refused open() leaves the file and the fd count as they
 * were, close() resolves within a few seconds, integrity_check is ok.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { type HonkerDatabase, open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import type { Lock } from "../../src/main/lock.ts";
import { DoNotRetry, RetryAfter, type Worker } from "../../src/main/worker.ts";
import { tempDir } from "../helpers/db.ts";
import {
  type Arg,
  arg,
  combine,
  constArg,
  type IdArg,
  idArg,
  jsonArg,
  MAX_SECONDS,
  MAX_UNIX,
  nameArg,
  numArg,
  optionsArg,
  pick,
  show,
  signalArg,
  THIRTY_DAYS_MS,
  type Verdict,
} from "./values.ts";

// ---- violations --------------------------------------------------------------

export type ViolationKind =
  | "raw-error"
  | "accepted-bad"
  | "wrong-code"
  | "refused-ok"
  | "refused-but-wrote"
  | "message-unclear"
  | "hang"
  | "unhandled"
  | "behaviour"
  | "open-left-traces"
  | "close-hang"
  | "integrity";

export interface Violation {
  kind: ViolationKind;
  /** Groups violations into one finding. */
  key: string;
  /** The call, as source. */
  call: string;
  /** What happened. */
  what: string;
}

// ---- the run context -----------------------------------------------------------

type Db = HonkerDatabase;

export interface Ctx {
  db: Db;
  path: string;
  ids: number[];
  workers: Worker<unknown, unknown>[];
  handles: { close(): Promise<void> | void }[];
  locks: Lock[];
  /** Aborted at the end of the program: frees long waits started on purpose. */
  end: AbortController;
  closed: boolean;
  counter: number;
}

/** Stuck handlers wait on this; released once the program's checks are done. */
let releaseStuck: () => void = () => {};
let stuck = new Promise<void>((r) => {
  releaseStuck = r;
});
function resetStuck(): void {
  releaseStuck();
  stuck = new Promise<void>((r) => {
    releaseStuck = r;
  });
}

/** Returned by a step that found nothing to act on (no worker, no lock): no checks apply. */
const SKIP = Symbol("skip");

/** A user's own error: passing it through untouched is right. */
class UserError extends Error {
  override name = "UserError";
}

// ---- steps ----------------------------------------------------------------------

type Outcome = { kind: "ok"; value: unknown } | { kind: "threw"; err: unknown } | { kind: "hang" };

export interface Step {
  /** Method name, as it should appear in refusal messages (e.g. "enqueue"). */
  fn: string;
  /** Labels of the arguments, for reports (first: the receiver's name, if any). */
  labels: string[];
  args: (Arg | IdArg)[];
  /** Renders the call. */
  text(values: unknown[]): string;
  run(ctx: Ctx, values: unknown[]): unknown;
  /** Awaited results are raced against this (default 3000 ms). */
  timeoutMs?: number;
  /** Extra behavioural check; returns a violation description or null. */
  check?(ctx: Ctx, outcome: Outcome, values: unknown[]): Promise<string | null> | string | null;
}

function step(
  fn: string,
  labels: string[],
  arbs: fc.Arbitrary<Arg | IdArg>[],
  text: (v: unknown[]) => string,
  run: (ctx: Ctx, v: unknown[]) => unknown,
  extra: Partial<Step> = {},
): fc.Arbitrary<Step> {
  return fc.tuple(...arbs).map((args) => ({ fn, labels, args, text, run, ...extra }));
}

const s = show;
const list = (v: unknown[]) => v.map((x) => s(x)).join(", ");
const q = (ctx: Ctx, name: unknown) => ctx.db.queue(name as string);
const st = (ctx: Ctx, name: unknown) => ctx.db.stream(name as string);

// Options of each API, with the ranges the rules give them.
const enqueueOptions = optionsArg({
  delay: numArg({ min: 0, max: MAX_SECONDS, optional: true }),
  runAt: fc.oneof(
    numArg({ min: 0, max: MAX_UNIX, optional: true }),
    pick(
      ["Date", new Date(Date.now() + 3_600_000), "ok"],
      ["invalid Date", new Date(Number.NaN), "bad"],
    ),
  ),
  priority: numArg({ min: -1e9, max: 1e9, softMin: -(2 ** 53), softMax: 2 ** 53, optional: true }),
  maxAttempts: numArg({ min: 1, max: 1_000_000, softMax: 2 ** 31, optional: true }),
  expires: numArg({ min: 1, max: MAX_SECONDS, softMin: 0, optional: true }),
  key: nameArg({ optional: true, lenient: true }),
});

const claimOptions = optionsArg({
  batchSize: numArg({ min: 1, max: 10_000, softMin: 0, int: "strict", optional: true }),
  visibilityTimeout: numArg({ min: 1, max: MAX_SECONDS, softMin: 0, optional: true }),
});

const errorText = pick(
  ["string", "boom", "ok"],
  ["null", null, "ok"],
  ["undefined", undefined, "ok"],
  ["empty", "", "ok"],
  ["number", 5, "bad"],
  ["object", { message: "x" }, "bad"],
  ["Error", new Error("e"), "bad"],
  ["lone surrogate", "\uD800", "any"],
);

/** Handlers for work(): each a behaviour a real app might have. */
const handlerArg = fc.constantFrom<[string, () => unknown]>(
  ["ok", () => async () => ({ done: true })],
  ["returns undefined", () => async () => undefined],
  ["returns a Map", () => async () => new Map()],
  ["returns NaN", () => () => Number.NaN],
  [
    "throws",
    () => async () => {
      throw new Error("boom");
    },
  ],
  [
    "throws a string",
    () => () => {
      throw "str";
    },
  ],
  [
    "throws null",
    () => async () => {
      throw null;
    },
  ],
  [
    "RetryAfter(NaN)",
    () => async () => {
      throw new RetryAfter(Number.NaN);
    },
  ],
  [
    "RetryAfter(1e300)",
    () => async () => {
      throw new RetryAfter(1e300);
    },
  ],
  [
    "RetryAfter(-5)",
    () => async () => {
      throw new RetryAfter(-5);
    },
  ],
  [
    "retryAfterSeconds: Infinity",
    () => async () => {
      throw Object.assign(new Error("x"), { retryAfterSeconds: Number.POSITIVE_INFINITY });
    },
  ],
  [
    "DoNotRetry",
    () => async () => {
      throw new DoNotRetry("no");
    },
  ],
  [
    "progress(NaN)",
    () => async (job: { progress(v: unknown): void }) => {
      job.progress(Number.NaN);
      return 1;
    },
  ],
  [
    "progress ok",
    () => async (job: { progress(v: unknown): void }) => {
      job.progress({ pct: 50 });
      return 1;
    },
  ],
  [
    "stuck (ignores its signal)",
    () => async () => {
      await stuck;
      return 1;
    },
  ],
  [
    "slow",
    () => async () => {
      await new Promise((r) => setTimeout(r, 30));
      return 2;
    },
  ],
);

const onErrorArg = pick(
  ["omitted", undefined, "ok"],
  ["recorder", () => {}, "ok"],
  [
    "throws",
    () => {
      throw new UserError("onError threw");
    },
    "ok",
  ],
  ["not a function", 5, "bad"],
);

const workOptions = optionsArg({
  concurrency: numArg({ min: 1, max: 1000, int: "strict", optional: true }),
  batchSize: numArg({ min: 1, max: 10_000, int: "strict", optional: true }),
  visibilityTimeout: numArg({ min: 1, max: MAX_SECONDS, optional: true }),
  backoff: optionsArg({
    baseSeconds: numArg({ min: 0, max: MAX_SECONDS, int: "ok", optional: true }),
    maxSeconds: numArg({ min: 0, max: MAX_SECONDS, int: "ok", optional: true }),
  }),
  workerId: nameArg({ optional: true }),
  resultTtl: numArg({ min: 0, max: MAX_SECONDS, optional: true, alsoOk: [false] }),
  onError: onErrorArg,
  signal: signalArg(),
});

const subscribeFields = {
  consumer: nameArg({ optional: true }),
  from: fc.oneof(
    numArg({ min: 0, max: Number.MAX_SAFE_INTEGER, int: "strict", optional: true }),
    pick(["beginning", "beginning", "ok"], ["latest", "latest", "ok"], ["'end'", "end", "bad"]),
  ),
  batchSize: numArg({ min: 1, max: 10_000, int: "strict", optional: true }),
  signal: signalArg(),
};

const cronArg = pick(
  ["every minute", "* * * * *", "ok"],
  ["every second", "@every 1s", "ok"],
  ["nightly", "0 2 * * *", "ok"],
  ["hourly", "@hourly", "ok"],
  ["six fields", "*/5 * * * * *", "ok"],
  ["empty", "", "bad"],
  ["garbage", "nope", "bad"],
  ["minute 61", "61 * * * *", "bad"],
  ["@every 0s", "@every 0s", "bad"],
  ["@every NaNs", "@every NaNs", "bad"],
  ["number", 5, "bad"],
  ["null", null, "bad"],
);

const scheduleFields = {
  queue: nameArg(),
  cron: cronArg,
  payload: jsonArg(),
  priority: numArg({ min: -1e9, max: 1e9, int: "strict", optional: true }),
  expires: fc.oneof(
    numArg({ min: 1, max: MAX_SECONDS, int: "strict", optional: true }),
    pick(["null", null, "ok"]),
  ),
  maxAttempts: numArg({ min: 1, max: 1_000_000, int: "strict", optional: true }),
};

const lockTtl = (optional: boolean) =>
  numArg({ min: 1, max: MAX_SECONDS, int: "strict", optional });

const lockFnArg = fc.constantFrom<[string, () => unknown]>(
  ["quick", () => async () => 1],
  [
    "throws",
    () => async () => {
      throw new UserError("fn threw");
    },
  ],
  ["sync", () => () => 2],
);

const fnArg = (arb: fc.Arbitrary<[string, () => unknown]>, bad = true): fc.Arbitrary<Arg> =>
  fc.oneof(
    { weight: 6, arbitrary: arb.map(([tag, make]) => arg(make, "ok", tag)) },
    {
      weight: bad ? 1 : 0,
      arbitrary: pick(["not a function", "fn", "bad"], ["undefined", undefined, "bad"]),
    },
  );

/** Every call the fuzz makes. */
function stepArb(): fc.Arbitrary<Step> {
  const id = idArg();
  const worker = nameArg();
  const queueSteps = [
    step(
      "enqueue",
      ["queue", "payload", "options"],
      [nameArg(), jsonArg(), enqueueOptions],
      (v) => `db.queue(${s(v[0])}).enqueue(${list(v.slice(1))})`,
      (ctx, v) => {
        const out = q(ctx, v[0]).enqueue(v[1], v[2] as never);
        if (typeof out === "number") ctx.ids.push(out);
        return out;
      },
    ),
    step(
      "enqueueMany",
      ["queue", "payloads", "options"],
      [
        nameArg(),
        fc.oneof(
          fc.array(jsonArg(), { maxLength: 4 }).map(
            (items): Arg => ({
              make: () => items.map((a) => a.make()),
              verdict: combine(items.map((a) => a.verdict)),
              tag: items.find((a) => a.verdict !== "ok")?.tag ?? "array",
            }),
          ),
          pick(["not an array", { 0: 1 }, "bad"], ["null", null, "bad"], ["string", "ab", "bad"]),
        ),
        enqueueOptions,
      ],
      (v) => `db.queue(${s(v[0])}).enqueueMany(${list(v.slice(1))})`,
      (ctx, v) => {
        const out = q(ctx, v[0]).enqueueMany(v[1] as never[], v[2] as never);
        if (Array.isArray(out)) ctx.ids.push(...out);
        return out;
      },
    ),
    step(
      "claim",
      ["queue", "workerId", "options"],
      [nameArg(), worker, claimOptions],
      (v) => `db.queue(${s(v[0])}).claim(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).claim(v[1] as string, v[2] as never),
    ),
    step(
      "ack",
      ["queue", "id", "workerId"],
      [nameArg(), id, worker],
      (v) => `db.queue(${s(v[0])}).ack(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).ack(v[1] as number, v[2] as string),
    ),
    step(
      "ackMany",
      ["queue", "ids", "workerId"],
      [
        nameArg(),
        fc.oneof(
          fc.array(id, { maxLength: 3 }).map((ids) => ({ ids })),
          pick(["not an array", 5, "bad"], ["null", null, "bad"], ["string", "1,2", "bad"]),
        ),
        worker,
      ],
      (v) => `db.queue(${s(v[0])}).ackMany(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).ackMany(v[1] as number[], v[2] as string),
    ),
    step(
      "retry",
      ["queue", "id", "workerId", "delaySeconds", "error"],
      [nameArg(), id, worker, numArg({ min: 0, max: MAX_SECONDS }), errorText],
      (v) => `db.queue(${s(v[0])}).retry(${list(v.slice(1))})`,
      (ctx, v) =>
        q(ctx, v[0]).retry(v[1] as number, v[2] as string, v[3] as number, v[4] as string),
    ),
    step(
      "fail",
      ["queue", "id", "workerId", "error"],
      [nameArg(), id, worker, errorText],
      (v) => `db.queue(${s(v[0])}).fail(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).fail(v[1] as number, v[2] as string, v[3] as string),
    ),
    step(
      "heartbeat",
      ["queue", "id", "workerId", "extendSeconds"],
      [nameArg(), id, worker, numArg({ min: 1, max: MAX_SECONDS, softMin: 0 })],
      (v) => `db.queue(${s(v[0])}).heartbeat(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).heartbeat(v[1] as number, v[2] as string, v[3] as number),
    ),
    step(
      "cancel",
      ["queue", "id"],
      [nameArg(), id],
      (v) => `db.queue(${s(v[0])}).cancel(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).cancel(v[1] as number),
    ),
    step(
      "setProgress",
      ["queue", "id", "progress"],
      [nameArg(), id, jsonArg()],
      (v) => `db.queue(${s(v[0])}).setProgress(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).setProgress(v[1] as number, v[2]),
    ),
    step(
      "getJob",
      ["queue", "id"],
      [nameArg(), id],
      (v) => `db.queue(${s(v[0])}).getJob(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).getJob(v[1] as number),
    ),
    step(
      "stats",
      ["queue"],
      [nameArg()],
      (v) => `db.queue(${s(v[0])}).stats()`,
      (ctx, v) => q(ctx, v[0]).stats(),
    ),
    step(
      "deadLetters",
      ["queue", "options"],
      [
        nameArg(),
        optionsArg({
          limit: numArg({ min: 0, max: 10_000, int: "strict", optional: true }),
          offset: numArg({ min: 0, max: Number.MAX_SAFE_INTEGER, int: "strict", optional: true }),
        }),
      ],
      (v) => `db.queue(${s(v[0])}).deadLetters(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).deadLetters(v[1] as never),
    ),
    step(
      "redrive",
      ["queue", "ids"],
      [
        nameArg(),
        fc.oneof(
          fc.array(id, { maxLength: 3 }).map((ids) => ({ ids })),
          pick(
            ["omitted", undefined, "ok"],
            ["not an array", 5, "bad"],
            ["null", null, "bad"],
            ["string", "12", "bad"],
          ),
        ),
      ],
      (v) => `db.queue(${s(v[0])}).redrive(${list(v.slice(1))})`,
      (ctx, v) => {
        const out = q(ctx, v[0]).redrive(v[1] as number[]);
        if (Array.isArray(out)) ctx.ids.push(...out);
        return out;
      },
    ),
    step(
      "purgeDead",
      ["queue", "options"],
      [nameArg(), optionsArg({ olderThanS: numArg({ min: 0, max: MAX_SECONDS, optional: true }) })],
      (v) => `db.queue(${s(v[0])}).purgeDead(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).purgeDead(v[1] as never),
    ),
    step(
      "saveResult",
      ["queue", "id", "value", "ttlSeconds"],
      [
        nameArg(),
        id,
        jsonArg({ undefinedOk: true }),
        numArg({ min: 0, max: MAX_SECONDS, optional: true }),
      ],
      (v) => `db.queue(${s(v[0])}).saveResult(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).saveResult(v[1] as number, v[2], v[3] as number),
    ),
    step(
      "getResult",
      ["queue", "id"],
      [nameArg(), id],
      (v) => `db.queue(${s(v[0])}).getResult(${list(v.slice(1))})`,
      (ctx, v) => q(ctx, v[0]).getResult(v[1] as number),
    ),
    step(
      "waitResult",
      ["queue", "id", "options"],
      [
        nameArg(),
        id,
        optionsArg({
          // Hostile timeouts go through the number generator; good ones stay short.
          timeoutMs: fc.oneof(
            {
              weight: 3,
              arbitrary: fc.integer({ min: 0, max: 40 }).map((n) => constArg(n, "ok", "short")),
            },
            {
              weight: 1,
              arbitrary: numArg({
                min: 0,
                max: 40,
                softMax: Number.MAX_SAFE_INTEGER,
                optional: true,
              }),
            },
          ),
          signal: signalArg(),
        }),
      ],
      (v) => `await db.queue(${s(v[0])}).waitResult(${list(v.slice(1))})`,
      (ctx, v) => {
        // A long or missing timeout: bounded by the end of the program.
        const o = (v[2] ?? {}) as { timeoutMs?: unknown; signal?: AbortSignal };
        const long = !(typeof o.timeoutMs === "number" && o.timeoutMs <= 40);
        const p = q(ctx, v[0]).waitResult(v[1] as number, v[2] as never);
        if (long && typeof o === "object" && o !== null) {
          // Keep it from holding the program: give up waiting after 150 ms.
          return Promise.race([p, sleep(150).then(() => "still waiting")]);
        }
        return p;
      },
    ),
    step(
      "work",
      ["queue", "handler", "options"],
      [nameArg(), fnArg(handlerArg), workOptions],
      (v) => `db.queue(${s(v[0])}).work(${list(v.slice(1))})`,
      (ctx, v) => {
        // batchSize above concurrency is refused by a rule of its own (tested in
        // test/trust/arguments.test.ts); the model here treats the two apart.
        const o = v[2] as { batchSize?: unknown; concurrency?: unknown } | undefined;
        if (o && typeof o === "object" && !Array.isArray(o) && typeof o.batchSize === "number") {
          const c = typeof o.concurrency === "number" ? o.concurrency : 1;
          if (o.batchSize > c) o.batchSize = c;
        }
        const w = q(ctx, v[0]).work(v[1] as never, v[2] as never);
        ctx.workers.push(w as Worker<unknown, unknown>);
        return "worker";
      },
    ),
    step(
      "stop",
      ["worker", "options"],
      [
        fc.nat(5).map((index) => ({ index })),
        optionsArg({
          graceMs: numArg({ min: 0, max: 50, softMax: Number.MAX_SAFE_INTEGER, optional: true }),
        }),
      ],
      (v) => `await worker[${s(v[0])}].stop(${list(v.slice(1))})`,
      async (ctx, v) => {
        const w = ctx.workers[(v[0] as number) % Math.max(1, ctx.workers.length)];
        if (!w) return SKIP;
        const o = v[1] as { graceMs?: unknown } | undefined;
        const grace = o && typeof o === "object" ? o.graceMs : undefined;
        const bounded = typeof grace === "number" && grace <= 50;
        if (!bounded && w.activeJobs.length > 0) {
          // Documented: without a grace period stop() waits for running handlers.
          return SKIP;
        }
        return w.stop(v[1] as never);
      },
    ),
  ];

  const streamSteps = [
    step(
      "publish",
      ["stream", "payload", "options"],
      [
        nameArg(),
        jsonArg(),
        optionsArg({
          key: fc.oneof(
            nameArg({ optional: true, lenient: true }),
            pick(["null", null, "ok"], ["empty", "", "any"]),
          ),
        }),
      ],
      (v) => `db.stream(${s(v[0])}).publish(${list(v.slice(1))})`,
      (ctx, v) => st(ctx, v[0]).publish(v[1], v[2] as never),
    ),
    step(
      "read",
      ["stream", "from", "limit"],
      [
        nameArg(),
        numArg({ min: 0, max: Number.MAX_SAFE_INTEGER, int: "strict", optional: true }),
        numArg({ min: 0, max: 10_000, int: "strict", optional: true }),
      ],
      (v) => `db.stream(${s(v[0])}).read(${list(v.slice(1))})`,
      (ctx, v) => st(ctx, v[0]).read(v[1] as number, v[2] as number),
    ),
    step(
      "savedOffset",
      ["stream", "consumer"],
      [nameArg(), nameArg()],
      (v) => `db.stream(${s(v[0])}).savedOffset(${list(v.slice(1))})`,
      (ctx, v) => st(ctx, v[0]).savedOffset(v[1] as string),
    ),
    step(
      "subscribe",
      ["stream", "options"],
      [nameArg(), optionsArg(subscribeFields)],
      (v) => `for await (const e of db.stream(${s(v[0])}).subscribe(${list(v.slice(1))})) …`,
      async (ctx, v) => {
        const sub = st(ctx, v[0]).subscribe(v[1] as never);
        ctx.handles.push(sub);
        // Take what is there (at most 3), then leave the loop.
        let n = 0;
        for (; n < 3; n++) {
          const r = await Promise.race([sub.next(), sleep(20).then(() => null)]);
          if (r === null || r.done) break;
        }
        await sub.return();
        return n;
      },
    ),
    step(
      "on",
      ["stream", "handler", "options"],
      [
        nameArg(),
        fnArg(
          fc.constantFrom<[string, () => unknown]>(
            ["ok", () => async () => {}],
            [
              "throws",
              () => () => {
                throw new UserError("handler threw");
              },
            ],
          ),
        ),
        optionsArg({ ...subscribeFields, onError: onErrorArg }),
      ],
      (v) => `db.stream(${s(v[0])}).on(${list(v.slice(1))})`,
      (ctx, v) => {
        const h = st(ctx, v[0]).on(v[1] as never, v[2] as never);
        ctx.handles.push(h);
        return "handle";
      },
    ),
  ];

  const notifySteps = [
    step(
      "notify",
      ["channel", "payload"],
      [nameArg(), jsonArg()],
      (v) => `db.notify(${list(v)})`,
      (ctx, v) => ctx.db.notify(v[0] as string, v[1] as never),
    ),
    step(
      "listen",
      ["channel", "options"],
      [nameArg(), optionsArg({ signal: signalArg(), batchSize: subscribeFields.batchSize })],
      (v) => `for await (const n of db.listen(${list(v)})) …`,
      async (ctx, v) => {
        const l = ctx.db.listen(v[0] as string, v[1] as never);
        ctx.handles.push(l);
        const r = await Promise.race([l.next(), sleep(15).then(() => null)]);
        await l.return();
        return r === null ? "nothing" : "got one";
      },
    ),
    step(
      "listen",
      ["channel", "callback", "options"],
      [
        nameArg(),
        fnArg(
          fc.constantFrom<[string, () => unknown]>(
            ["ok", () => () => {}],
            [
              "throws",
              () => () => {
                throw new UserError("callback threw");
              },
            ],
          ),
          false,
        ),
        optionsArg({ signal: signalArg(), onError: onErrorArg }),
      ],
      (v) => `db.listen(${list(v)})`,
      (ctx, v) => {
        const stop = ctx.db.listen(v[0] as string, v[1] as never, v[2] as never);
        if (typeof stop === "function") ctx.handles.push({ close: stop });
        return "stop function";
      },
    ),
  ];

  const lockSteps = [
    step(
      "tryLock",
      ["name", "ttl"],
      [nameArg(), lockTtl(true)],
      (v) => `db.tryLock(${list(v)})`,
      (ctx, v) => {
        const l = ctx.db.tryLock(v[0] as string, v[1] as number);
        if (l) ctx.locks.push(l);
        return l ? "lock" : null;
      },
    ),
    step(
      "renew",
      ["lock", "ttl"],
      [fc.nat(4).map((index) => ({ index })), lockTtl(true)],
      (v) => `lock[${s(v[0])}].renew(${list(v.slice(1))})`,
      (ctx, v) => {
        const l = ctx.locks[(v[0] as number) % Math.max(1, ctx.locks.length)];
        return l ? l.renew(v[1] as number) : SKIP;
      },
    ),
    step(
      "release",
      ["lock"],
      [fc.nat(4).map((index) => ({ index }))],
      (v) => `lock[${s(v[0])}].release()`,
      (ctx, v) => ctx.locks[(v[0] as number) % Math.max(1, ctx.locks.length)]?.release() ?? SKIP,
    ),
    step(
      "withLock",
      ["name", "fn", "options"],
      [
        nameArg(),
        fnArg(lockFnArg),
        optionsArg({
          ttl: lockTtl(true),
          wait: fc.oneof(
            pick(["true", true, "ok"], ["false", false, "ok"], ["string", "yes", "bad"]),
            numArg({ min: 0, max: 50, softMax: Number.MAX_SAFE_INTEGER, optional: true }),
          ),
          signal: signalArg(),
        }),
      ],
      (v) => `await db.withLock(${list(v)})`,
      (ctx, v) => {
        const p = ctx.db.withLock(v[0] as string, v[1] as never, v[2] as never);
        // A long wait for a held lock is legitimate: stop watching after 150 ms.
        return Promise.race([p, sleep(150).then(() => "still waiting")]);
      },
    ),
    step(
      "rateLimit",
      ["name", "options"],
      [
        nameArg(),
        optionsArg(
          {
            limit: numArg({ min: 1, max: 2 ** 31 - 1, int: "strict" }),
            perSeconds: numArg({ min: 1, max: MAX_SECONDS, int: "strict" }),
          },
          { required: true, requiredKeys: ["limit", "perSeconds"] },
        ),
      ],
      (v) => `db.rateLimit(${list(v)})`,
      (ctx, v) => ctx.db.rateLimit(v[0] as string, v[1] as never),
    ),
  ];

  const schedulerSteps = [
    step(
      "register",
      ["name", "options"],
      [
        nameArg(),
        optionsArg(scheduleFields, { required: true, requiredKeys: ["queue", "cron", "payload"] }),
      ],
      (v) => `db.scheduler.register(${list(v)})`,
      (ctx, v) => ctx.db.scheduler.register(v[0] as string, v[1] as never),
    ),
    step(
      "update",
      ["name", "changes"],
      [
        nameArg(),
        optionsArg(
          {
            cron: cronArg,
            payload: jsonArg(),
            priority: scheduleFields.priority,
            expires: scheduleFields.expires,
            maxAttempts: scheduleFields.maxAttempts,
          },
          { required: true },
        ),
      ],
      (v) => `db.scheduler.update(${list(v)})`,
      (ctx, v) => ctx.db.scheduler.update(v[0] as string, v[1] as never),
    ),
    ...(["pause", "resume", "remove"] as const).map((m) =>
      step(
        m,
        ["name"],
        [nameArg()],
        (v) => `db.scheduler.${m}(${list(v)})`,
        (ctx, v) => ctx.db.scheduler[m](v[0] as string),
      ),
    ),
    step(
      "list",
      [],
      [],
      () => "db.scheduler.list()",
      (ctx) => ctx.db.scheduler.list(),
    ),
    step(
      "start",
      [],
      [],
      () => "db.scheduler.start()",
      (ctx) => ctx.db.scheduler.start(),
    ),
  ];

  const txFnArg = fc.constantFrom<[string, () => unknown]>(
    [
      "sync writes",
      () => (ctx: Ctx) => () => {
        ctx.db.queue("a").enqueue({ tx: 1 });
        ctx.db.stream("a").publish({ tx: 1 });
        ctx.db.notify("a", { tx: 1 });
        return 1;
      },
    ],
    [
      "sync throws after writing",
      () => (ctx: Ctx) => () => {
        ctx.db.queue("a").enqueue({ tx: 2 });
        throw new UserError("rolled back");
      },
    ],
    [
      "nested",
      () => (ctx: Ctx) => () =>
        ctx.db.transaction(() => ctx.db.queue("b").enqueue({ nested: true })),
    ],
  );
  const transactionSteps = [
    step(
      "transaction",
      ["fn"],
      [
        fc.oneof(
          txFnArg.map(([tag, make]) => arg(make, "ok", tag)),
          pick(["not a function", 5, "bad"], ["null", null, "bad"]),
        ),
      ],
      (v) => `db.transaction(${typeof v[0] === "function" ? "(fn)" : list(v)})`,
      (ctx, v) => ctx.db.transaction(typeof v[0] === "function" ? v[0](ctx) : (v[0] as never)),
    ),
    // transaction(async fn): nothing of it may commit, before or after its await.
    step(
      "transaction",
      ["fn"],
      [pick(["async fn", "async", "bad"])],
      () =>
        'db.transaction(async () => { db.queue("a").enqueue({ before: 1 }); await null; db.queue("a").enqueue({ after: 1 }); })',
      (ctx) => {
        const out = ctx.db.transaction((async () => {
          ctx.db.queue("a").enqueue({ before: 1 });
          await null;
          ctx.db.queue("a").enqueue({ after: 1 });
        }) as never);
        return out;
      },
      {
        async check(ctx, outcome) {
          const before = ctxFingerprintBefore;
          await sleep(5);
          if (ctx.closed || !ctx.db.raw.open) return null;
          const after = fingerprint(ctx.db);
          if (before !== after) {
            return `writes of the async fn were committed (outcome: ${describeOutcome(outcome)})`;
          }
          return null;
        },
      },
    ),
  ];

  // Behaviour probes: fixed sequences whose outcome the rules state.
  const probes = [
    step(
      "waitResult",
      ["timeoutMs"],
      [
        pick(
          ["2^31", 2 ** 31, "ok"],
          ["30 days", THIRTY_DAYS_MS, "ok"],
          ["2^31+1000", 2 ** 31 + 1000, "ok"],
        ),
      ],
      (v) =>
        `const id = db.queue("probe").enqueue({}, { delay: 3600 }); await db.queue("probe").waitResult(id, { timeoutMs: ${s(v[0])} })`,
      async (ctx, v) => {
        const id = ctx.db.queue("probe").enqueue({}, { delay: 3600 });
        const p = ctx.db
          .queue("probe")
          .waitResult(id, { timeoutMs: v[0] as number, signal: ctx.end.signal });
        return Promise.race([p, sleep(150).then(() => "still waiting")]);
      },
      {
        check: (_ctx, outcome) =>
          outcome.kind === "ok" && outcome.value === "still waiting"
            ? null
            : `a timeout beyond the 2^31-1 ms timer ceiling fired at once: ${describeOutcome(outcome)}`,
      },
    ),
    step(
      "withLock",
      ["wait"],
      [pick(["2^31", 2 ** 31, "ok"], ["30 days", THIRTY_DAYS_MS, "ok"])],
      (v) => `db.tryLock("held", 30); await db.withLock("held", fn, { wait: ${s(v[0])} })`,
      async (ctx, v) => {
        const held = ctx.db.tryLock("held", 30);
        if (held) ctx.locks.push(held);
        const p = ctx.db.withLock("held", async () => 1, {
          wait: v[0] as number,
          signal: ctx.end.signal,
        });
        return Promise.race([p, sleep(150).then(() => "still waiting")]);
      },
      {
        check: (_ctx, outcome) =>
          outcome.kind === "ok" && outcome.value === "still waiting"
            ? null
            : `a wait beyond the 2^31-1 ms timer ceiling ended at once: ${describeOutcome(outcome)}`,
      },
    ),
    step(
      "waitResult",
      [],
      [],
      () =>
        'const id = db.queue("c").enqueue({}, { delay: 3600 }); db.queue("c").cancel(id); await db.queue("c").waitResult(id, { timeoutMs: 300 })',
      async (ctx) => {
        const id = ctx.db.queue("c").enqueue({}, { delay: 3600 });
        ctx.db.queue("c").cancel(id);
        return ctx.db.queue("c").waitResult(id, { timeoutMs: 300 });
      },
      {
        check: (_ctx, outcome) =>
          outcome.kind === "threw" &&
          isHonkerError(outcome.err) &&
          (outcome.err.code as string) === "HONKER_CANCELLED"
            ? null
            : `waitResult on a cancelled job must reject with HONKER_CANCELLED; got ${describeOutcome(outcome)}`,
      },
    ),
    step(
      "waitResult",
      [],
      [],
      () =>
        'const id = db.queue(q).enqueue({}); db.queue(q).claim("w"); db.queue(q).fail(id, "w", "x"); await db.queue(q).waitResult(id, { timeoutMs: 300 })',
      async (ctx) => {
        const name = `dead-${ctx.counter++}`;
        const id = ctx.db.queue(name).enqueue({});
        ctx.db.queue(name).claim("w");
        ctx.db.queue(name).fail(id, "w", "x");
        return ctx.db.queue(name).waitResult(id, { timeoutMs: 300 });
      },
      {
        check: (_ctx, outcome) =>
          outcome.kind === "threw" &&
          isHonkerError(outcome.err) &&
          (outcome.err.code as string) === "HONKER_JOB_DEAD"
            ? null
            : `waitResult on a dead job must reject with HONKER_JOB_DEAD; got ${describeOutcome(outcome)}`,
      },
    ),
    step(
      "stop",
      ["graceMs"],
      [pick(["0", 0, "ok"], ["20", 20, "ok"])],
      (v) =>
        `db.queue(q).work(stuckHandler); db.queue(q).enqueue({}); await worker.stop({ graceMs: ${s(v[0])} })`,
      async (ctx, v) => {
        const name = `stuck-${ctx.counter++}`;
        const w = ctx.db.queue(name).work(async () => {
          await stuck;
        });
        ctx.workers.push(w as Worker<unknown, unknown>);
        ctx.db.queue(name).enqueue({});
        const t0 = Date.now();
        while (w.activeJobs.length === 0 && Date.now() - t0 < 1000) await sleep(2);
        return w.stop({ graceMs: v[0] as number });
      },
      { timeoutMs: 2000 },
    ),
  ];

  return fc.oneof(
    { weight: 50, arbitrary: fc.oneof(...queueSteps) },
    { weight: 20, arbitrary: fc.oneof(...streamSteps) },
    { weight: 15, arbitrary: fc.oneof(...notifySteps) },
    { weight: 15, arbitrary: fc.oneof(...lockSteps) },
    { weight: 15, arbitrary: fc.oneof(...schedulerSteps) },
    { weight: 10, arbitrary: fc.oneof(...transactionSteps) },
    { weight: 5, arbitrary: fc.oneof(...probes) },
    {
      weight: 1,
      arbitrary: fc.constant<Step>({
        fn: "close",
        labels: [],
        args: [],
        text: () => "await db.close()",
        run: async (ctx) => {
          ctx.closed = true;
          await ctx.db.close();
        },
      }),
    },
  );
}

// ---- open() ----------------------------------------------------------------------

const openOptions = optionsArg({
  // The extension's honker_busy_timeout takes at most an hour.
  busyTimeoutMs: numArg({
    min: 0,
    max: 3_600_000,
    softMax: 2 ** 31 - 1,
    int: "loose",
    optional: true,
  }),
  checkpoints: pick(
    ["background", "background", "ok"],
    ["inline", "inline", "ok"],
    ["other", "sometimes", "bad"],
    ["number", 1, "bad"],
  ),
  checkpointAfterWalBytes: numArg({
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    int: "strict",
    optional: true,
  }),
  retention: fc.oneof(
    pick(["false", false, "ok"], ["true", true, "bad"], ["null", null, "bad"]),
    optionsArg({
      intervalMs: numArg({
        min: 1,
        max: 2 ** 31 - 1,
        softMax: Number.MAX_SAFE_INTEGER,
        int: "loose",
        optional: true,
      }),
      batch: numArg({ min: 1, max: 10_000, int: "strict", optional: true }),
      passes: numArg({ min: 1, max: 1000, int: "strict", optional: true }),
      notificationsMaxAgeS: numArg({ min: 0, max: MAX_SECONDS, optional: true }),
    }),
  ),
  scheduler: optionsArg({ lockTtl: numArg({ min: 2, max: 3600, int: "strict", optional: true }) }),
  watcher: optionsArg({
    pollMinMs: numArg({ min: 1, max: 2 ** 31 - 1, softMin: 0, optional: true }),
    pollMaxMs: numArg({ min: 1, max: 2 ** 31 - 1, softMin: 0, optional: true }),
  }),
});

/** A failing extension load, alone: the other options are fine, so only the file's state is checked. */
const openBadExtension = optionsArg({
  extensionPath: pick(["missing file", "/nonexistent/honker.so", "any"], ["number", 5, "bad"]),
});

export interface Program {
  open: Arg;
  steps: Step[];
}

export function programArb(maxSteps = 25): fc.Arbitrary<Program> {
  return fc.record({
    open: fc.oneof(
      { weight: 6, arbitrary: fc.constant(constArg(undefined, "ok", "omitted")) },
      { weight: 4, arbitrary: openOptions },
      { weight: 1, arbitrary: openBadExtension },
    ),
    steps: fc.array(stepArb(), { minLength: 1, maxLength: maxSteps }),
  });
}

// ---- fingerprints and helpers ----------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Row counts plus a hash of the contents of every `_honker*` table. */
export function fingerprint(db: Db): string {
  const raw = db.raw;
  const tables = raw
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_honker%' ESCAPE '\\' ORDER BY name",
    )
    .pluck()
    .all() as string[];
  const h = createHash("sha256");
  const counts: string[] = [];
  for (const t of tables) {
    const rows = raw.prepare(`SELECT * FROM "${t}"`).raw().all() as unknown[][];
    counts.push(`${t}:${rows.length}`);
    const lines = rows.map((r) =>
      JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)),
    );
    lines.sort();
    h.update(`${t}\n${lines.join("\n")}\n`);
  }
  return `${counts.join(" ")} #${h.digest("hex").slice(0, 16)}`;
}

let ctxFingerprintBefore = "";

function fdCount(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return -1;
  }
}

function describeOutcome(o: Outcome): string {
  if (o.kind === "ok") return `returned ${s(o.value)}`;
  if (o.kind === "hang") return "did not settle";
  return `threw ${describeError(o.err)}`;
}

export function describeError(err: unknown): string {
  if (isHonkerError(err)) return `${err.code}: ${err.message.slice(0, 200)}`;
  if (err instanceof Error) return `${err.constructor.name}: ${err.message.slice(0, 200)}`;
  return s(err);
}

/** A stable class name for an error (digits and quoted values dropped). */
function errorClass(err: unknown): string {
  const text = isHonkerError(err)
    ? err.code
    : err instanceof Error
      ? `${err.constructor.name}: ${err.message}`
      : typeof err;
  return text
    .replace(/'[^']*'/g, "'…'")
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+/g, "N")
    .slice(0, 120);
}

/** Other fair ways a message may name an argument. */
const ARG_ALIASES: Record<string, string[]> = {
  callback: ["callback", "handler", "fn", "function"],
  handler: ["handler", "callback", "fn", "function"],
  fn: ["fn", "function", "callback"],
  payloads: ["payloads", "payload"],
  options: ["options", "option"],
  changes: ["changes", "options"],
  progress: ["progress", "value"],
  value: ["value", "result"],
  id: ["id"],
  ids: ["ids", "id"],
};

/** Abort signals in the values (the user's own abort reason may pass through). */
function signalsIn(values: unknown[]): AbortSignal[] {
  const out: AbortSignal[] = [];
  for (const v of values) {
    if (v instanceof AbortSignal) out.push(v);
    else if (v && typeof v === "object" && !Array.isArray(v)) {
      try {
        const sig = (v as { signal?: unknown }).signal;
        if (sig instanceof AbortSignal) out.push(sig);
      } catch {}
    }
  }
  return out;
}

function race<T>(p: Promise<T>, ms: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      (value): Outcome => ({ kind: "ok", value }),
      (err): Outcome => ({ kind: "threw", err }),
    ),
    new Promise<Outcome>((r) => {
      timer = setTimeout(() => r({ kind: "hang" }), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---- process-level recorders ---------------------------------------------------------

export interface Recorder {
  events: { kind: "unhandledRejection" | "uncaughtException"; err: unknown }[];
  restore(): void;
}

/**
 * Replaces the process's unhandledRejection/uncaughtException listeners
 * (the test runner's too) with recorders until restore().
 */
export function recordProcessErrors(): Recorder {
  const saved = {
    unhandledRejection: process.listeners("unhandledRejection"),
    uncaughtException: process.listeners("uncaughtException"),
  };
  const events: Recorder["events"] = [];
  const onRejection = (err: unknown) => events.push({ kind: "unhandledRejection", err });
  const onException = (err: unknown) => events.push({ kind: "uncaughtException", err });
  process.removeAllListeners("unhandledRejection");
  process.removeAllListeners("uncaughtException");
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return {
    events,
    restore() {
      process.off("unhandledRejection", onRejection);
      process.off("uncaughtException", onException);
      for (const l of saved.unhandledRejection) process.on("unhandledRejection", l);
      for (const l of saved.uncaughtException) process.on("uncaughtException", l);
    },
  };
}

// ---- running a program ------------------------------------------------------------------

function resolveArg(
  ctx: Ctx | null,
  a: Arg | IdArg,
): { value: unknown; verdict: Verdict; tag: string; make: () => unknown } {
  if ("ref" in a) {
    const ref = a.ref;
    const make = () => (ctx && ctx.ids.length > 0 ? ctx.ids[ref % ctx.ids.length] : 1);
    return { value: make(), verdict: "ok", tag: "known id", make };
  }
  if ("index" in a) {
    const index = a.index;
    return { value: index, verdict: "ok", tag: "index", make: () => index };
  }
  if ("ids" in a) {
    const ids = a.ids.map((x) => resolveArg(ctx, x));
    const make = () => ids.map((x) => x.make());
    return {
      value: make(),
      verdict: combine(ids.map((x) => x.verdict)),
      tag: ids.find((x) => x.verdict !== "ok")?.tag ?? "ids",
      make,
    };
  }
  return { value: a.make(), verdict: a.verdict, tag: a.tag, make: a.make };
}

/** Runs one program; returns the invariant violations it hit. */
export async function runProgram(program: Program, recorder: Recorder): Promise<Violation[]> {
  const violations: Violation[] = [];
  const add = (kind: ViolationKind, key: string, call: string, what: string) =>
    violations.push({ kind, key: `${kind} | ${key}`, call, what });
  const { dir, cleanup } = tempDir("honker-fuzz-");
  const path = join(dir, "app.db");
  resetStuck();
  // An existing app database in rollback-journal mode: a refused open() must leave it so.
  {
    const pre = new Database(path);
    pre.pragma("journal_mode = DELETE");
    pre.exec(
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('x')",
    );
    pre.close();
  }
  let db: Db;
  const openOpts = program.open.make();
  const openCall = `open(path, ${s(openOpts)})`;
  const fdsBefore = fdCount();
  const headerBefore = readFileSync(path).subarray(0, 100);
  try {
    db = open(path, openOpts as never);
    if (program.open.verdict === "bad") {
      add("accepted-bad", `open | ${program.open.tag}`, openCall, "open() accepted it");
    }
  } catch (err) {
    if (!isHonkerError(err)) {
      add("raw-error", `open | ${errorClass(err)}`, openCall, `threw ${describeError(err)}`);
    } else if (program.open.verdict === "bad" && err.code !== "HONKER_INVALID_ARGUMENT") {
      add(
        "wrong-code",
        `open | ${program.open.tag} | ${err.code}`,
        openCall,
        `threw ${describeError(err)}`,
      );
    } else if (program.open.verdict === "ok" && err.code === "HONKER_INVALID_ARGUMENT") {
      add("refused-ok", `open | ${program.open.tag}`, openCall, `threw ${describeError(err)}`);
    }
    const headerAfter = readFileSync(path).subarray(0, 100);
    const fdsAfter = fdCount();
    const traces: string[] = [];
    if (!headerAfter.equals(headerBefore)) {
      traces.push(
        `the file header changed (journal mode bytes 18-19: ${headerBefore[18]},${headerBefore[19]} -> ${headerAfter[18]},${headerAfter[19]})`,
      );
    }
    if (existsSync(`${path}-wal`)) traces.push("a -wal file was left beside it");
    if (fdsAfter !== fdsBefore) traces.push(`fd count ${fdsBefore} -> ${fdsAfter}`);
    if (traces.length > 0) {
      add(
        "open-left-traces",
        `${isHonkerError(err) ? err.code : "raw"} | ${traces.map((t) => t.replace(/\d+/g, "N")).join("; ")}`,
        openCall,
        `open() threw ${describeError(err)} and ${traces.join("; ")}`,
      );
    }
    db = open(path, { retention: false });
  }

  const ctx: Ctx = {
    db,
    path,
    ids: [],
    workers: [],
    handles: [],
    locks: [],
    end: new AbortController(),
    closed: false,
    counter: 0,
  };
  let seenEvents = recorder.events.length;
  const history: string[] = [];

  for (const stepDef of program.steps) {
    const resolved = stepDef.args.map((a) => resolveArg(ctx, a));
    const values = resolved.map((r) => r.value);
    const verdict = combine(resolved.map((r) => r.verdict));
    let call: string;
    try {
      call = stepDef.text(values);
    } catch {
      call = `${stepDef.fn}(…)`;
    }
    history.push(call);
    const badArgs = resolved
      .map((r, i) => ({ r, label: stepDef.labels[i] ?? `arg${i}` }))
      .filter((x) => x.r.verdict === "bad");
    const badKey = badArgs.map((x) => `${x.label}: ${x.r.tag}`).join("; ");
    const canFingerprint = !ctx.closed && ctx.db.raw.open;
    const before = canFingerprint ? fingerprint(ctx.db) : "";
    ctxFingerprintBefore = before;
    let outcome: Outcome;
    let afterSync = before;
    try {
      const ret = stepDef.run(ctx, values);
      afterSync = canFingerprint && ctx.db.raw.open ? fingerprint(ctx.db) : before;
      if (ret instanceof Promise) {
        outcome = await race(ret, stepDef.timeoutMs ?? 3000);
      } else {
        outcome = { kind: "ok", value: ret };
      }
    } catch (err) {
      afterSync = canFingerprint && ctx.db.raw.open ? fingerprint(ctx.db) : before;
      outcome = { kind: "threw", err };
    }

    if (outcome.kind === "ok" && outcome.value === SKIP) continue;
    // 1. Every error is a HonkerError with a code (or the user's own error / abort reason).
    if (outcome.kind === "threw") {
      const err = outcome.err;
      const passthrough =
        err instanceof UserError ||
        signalsIn(values).some((sig) => sig.aborted && sig.reason === err);
      if (!passthrough && !(isHonkerError(err) && typeof err.code === "string")) {
        add("raw-error", `${stepDef.fn} | ${errorClass(err)}`, call, `threw ${describeError(err)}`);
      }
      const code = isHonkerError(err) ? err.code : null;
      const refused = code === "HONKER_INVALID_ARGUMENT";
      // 2. A refused call wrote nothing.
      if (refused && canFingerprint && afterSync !== before) {
        add(
          "refused-but-wrote",
          `${stepDef.fn} | ${badKey || "?"}`,
          call,
          `refused (${describeError(err)}) but the _honker tables changed: ${before} -> ${afterSync}`,
        );
      }
      // 3. Refusals name the function (and, for one bad argument, the argument).
      if (refused && verdict === "bad") {
        const msg = (err as Error).message;
        const only = badArgs.length === 1 ? badArgs[0] : undefined;
        // A tag "key=kind" names the argument; a bare tag ("bigint") only names the kind.
        const argName = only?.r.tag.includes("=")
          ? (only.r.tag.split("=")[0]?.split(",")[0] ?? "")
          : "";
        const names = only && /^\w+$/.test(argName) && argName !== "name" ? argName : only?.label;
        const missing: string[] = [];
        // A bad receiver name (db.queue(x)) is refused by queue()/stream(): that is the function.
        const receiver = only && ["queue", "stream"].includes(only.label) ? only.label : null;
        const fnName = receiver ?? stepDef.fn;
        if (!msg.includes(fnName)) missing.push(`the function (${fnName})`);
        const spellings = names ? (ARG_ALIASES[names] ?? [names]) : [];
        const lower = msg.toLowerCase();
        // Another option of the same call may be refused first (the model may
        // think it fine where the host's rule is stricter, e.g. batchSize above
        // concurrency): naming any option the call passed is naming an argument.
        const other = /(?:options|changes)\.(?:\w+\.)*(\w+)/.exec(msg)?.[1];
        const namesOther = other !== undefined && call.includes(`${other}:`);
        if (
          names &&
          !receiver &&
          !namesOther &&
          !spellings.some((n) => lower.includes(n.toLowerCase()))
        ) {
          missing.push(`the argument (${names})`);
        }
        if (only && missing.length > 0) {
          add(
            "message-unclear",
            `${stepDef.fn} | ${only.label} | ${missing.map((m) => m.replace(/ \(.*\)/, "")).join(", ")}`,
            call,
            `message does not name ${missing.join(" or ")}: ${JSON.stringify(msg)}`,
          );
        }
      }
      if (verdict === "bad" && code !== null && !refused && code !== "HONKER_CLOSED") {
        add(
          "wrong-code",
          `${stepDef.fn} | ${badKey} | ${code}`,
          call,
          `threw ${describeError(err)} instead of HONKER_INVALID_ARGUMENT`,
        );
      }
      if (verdict === "bad" && !isHonkerError(err) && passthrough) {
        // A bad argument that let the user's function run: it was accepted.
        add(
          "accepted-bad",
          `${stepDef.fn} | ${badKey}`,
          call,
          `accepted (ran, then ${describeError(err)})`,
        );
      }
      if (verdict === "ok" && refused) {
        add(
          "refused-ok",
          `${stepDef.fn} | ${resolved.map((r) => r.tag).join("; ")}`,
          call,
          `threw ${describeError(err)}`,
        );
      }
    } else if (outcome.kind === "ok") {
      if (verdict === "bad" && !ctx.closed) {
        add(
          "accepted-bad",
          `${stepDef.fn} | ${badKey}`,
          call,
          `accepted: ${describeOutcome(outcome)}`,
        );
      }
    } else {
      add("hang", stepDef.fn, call, `did not settle within ${stepDef.timeoutMs ?? 3000} ms`);
    }
    // 4. Behavioural rules of this step.
    if (stepDef.check && !(ctx.closed && outcome.kind === "threw")) {
      const problem = await stepDef.check(ctx, outcome, values);
      if (problem)
        add(
          "behaviour",
          `${stepDef.fn} | ${problem.replace(/\d+/g, "N").slice(0, 90)}`,
          call,
          problem,
        );
    }
    // 5. Nothing escaped as an unhandled rejection or uncaught exception.
    await new Promise((r) => setImmediate(r));
    for (const e of recorder.events.slice(seenEvents)) {
      add(
        "unhandled",
        `${e.kind} | ${errorClass(e.err)}`,
        history.slice(-3).join("; "),
        `${e.kind}: ${describeError(e.err)} (after these calls)`,
      );
    }
    seenEvents = recorder.events.length;
  }

  // End of program: stop long waits, close (with whatever is still running), check the file.
  ctx.end.abort();
  await sleep(20);
  const closing = race(ctx.db.close(), 5000);
  const closed = await closing;
  if (closed.kind === "hang") {
    const running = ctx.workers.filter((w) => w.activeJobs.length > 0).length;
    add(
      "close-hang",
      running > 0 ? "with a stuck handler" : "other",
      history.slice(-3).join("; "),
      `db.close() did not resolve within 5 s (${running} workers with running handlers)`,
    );
    releaseStuck();
    await race(ctx.db.close(), 5000);
  } else if (closed.kind === "threw") {
    add(
      "raw-error",
      `close | ${errorClass(closed.err)}`,
      "await db.close()",
      `threw ${describeError(closed.err)}`,
    );
  }
  releaseStuck();
  await sleep(10);
  for (const e of recorder.events.slice(seenEvents)) {
    add(
      "unhandled",
      `${e.kind} | ${errorClass(e.err)}`,
      `${history.slice(-3).join("; ")}; await db.close()`,
      `${e.kind}: ${describeError(e.err)} (around close)`,
    );
  }
  try {
    const check = new Database(path, { readonly: true });
    const result = check.pragma("integrity_check", { simple: true });
    check.close();
    if (result !== "ok")
      add("integrity", "not ok", history.join("; "), `integrity_check: ${String(result)}`);
  } catch (err) {
    add(
      "integrity",
      errorClass(err),
      history.join("; "),
      `integrity_check failed: ${describeError(err)}`,
    );
  }
  cleanup();
  return violations;
}
