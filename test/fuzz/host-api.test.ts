/**
 * Property-based fuzz of the host's public API (see program.ts for the
 * calls and the invariants). Runs random programs for HONKER_FUZZ_SECONDS
 * (default 20) and fails listing every distinct violation class with its
 * smallest example and how to replay it.
 *
 *   node scripts/run-tests.mjs test/fuzz/host-api.test.ts
 *   HONKER_FUZZ_SECONDS=300 node --experimental-strip-types --disable-warning=ExperimentalWarning \
 *     --test test/fuzz/host-api.test.ts      (run-tests.mjs caps a file at 120 s: up to ~90 s there)
 *   FUZZ_SEED=123 FUZZ_RUNS=1 node scripts/run-tests.mjs test/fuzz/host-api.test.ts   (one program)
 *   HONKER_FUZZ_REPORT=/tmp/fuzz.json ...   (also writes the classes as JSON)
 *
 * Program i of seed S is generated from seed S+i alone, so FUZZ_SEED=S+i
 * FUZZ_RUNS=1 replays it (timing-dependent outcomes, e.g. a worker racing a
 * claim, may differ between runs; argument checks never do).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";
import { waitFor } from "../helpers/wait.ts";
import { OPEN_FINDINGS } from "./findings-list.ts";
import {
  fingerprint,
  type Program,
  programArb,
  recordProcessErrors,
  runProgram,
  type Violation,
} from "./program.ts";

const SECONDS = Number(process.env.HONKER_FUZZ_SECONDS ?? 20);
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : Number.POSITIVE_INFINITY;
// npm test runs a fixed seed (the same programs on every run, so a failure
// is the code's, not the draw's); HONKER_FUZZ_RANDOM=1 draws a new one.
const SEED = process.env.FUZZ_SEED
  ? Number(process.env.FUZZ_SEED)
  : process.env.HONKER_FUZZ_RANDOM
    ? Math.floor(Math.random() * 2 ** 31)
    : 20_261_202;

interface Finding {
  kind: string;
  key: string;
  count: number;
  example: Violation;
  seed: number;
}

/** Program `i` of the run: generated from seed SEED+i alone. */
const programs = programArb();
function programAt(i: number): Program {
  const [program] = fc.sample(programs, { seed: SEED + i, numRuns: 1 });
  if (!program) throw new Error("fast-check generated no program");
  return program;
}

describe("host API fuzz", () => {
  it("its recorder catches unhandled rejections and uncaught exceptions, then restores the runner's", async () => {
    const listeners = process.listeners("unhandledRejection").length;
    const recorder = recordProcessErrors();
    try {
      void Promise.reject(new Error("nobody catches this"));
      setTimeout(() => {
        throw new Error("thrown from a timer");
      }, 1);
      await waitFor(() => recorder.events.length >= 2, { timeoutMs: 2000, what: "both events" });
    } finally {
      recorder.restore();
    }
    assert.deepEqual(recorder.events.map((e) => `${e.kind}: ${(e.err as Error).message}`).sort(), [
      "uncaughtException: thrown from a timer",
      "unhandledRejection: nobody catches this",
    ]);
    assert.equal(process.listeners("unhandledRejection").length, listeners);
  });

  it("its fingerprint sees a write to any _honker table, and no read", async () => {
    const { dir, cleanup } = tempDir("honker-fuzz-");
    const db = open(join(dir, "app.db"), { retention: false });
    try {
      let last = fingerprint(db);
      const wrote = (what: string, write: () => unknown) => {
        write();
        const now = fingerprint(db);
        assert.notEqual(now, last, `${what} changed no fingerprint`);
        last = now;
      };
      const id = db.queue("q").enqueue({ a: 1 });
      assert.notEqual(fingerprint(db), last);
      last = fingerprint(db);
      db.queue("q").stats();
      db.queue("q").getJob(id);
      db.stream("s").read();
      assert.equal(fingerprint(db), last, "reads changed the fingerprint");
      wrote("setProgress", () => db.queue("q").setProgress(id, { p: 1 }));
      wrote("claim", () => db.queue("q").claim("w"));
      wrote("heartbeat", () => db.queue("q").heartbeat(id, "w", 60));
      wrote("publish", () => db.stream("s").publish({ e: 1 }));
      wrote("notify", () => db.notify("c", { n: 1 }));
      wrote("tryLock", () => db.tryLock("l", 30));
      wrote("rateLimit", () => db.rateLimit("r", { limit: 5, perSeconds: 60 }));
      wrote("saveResult", () => db.queue("q").saveResult(id, "done"));
      wrote("register", () =>
        db.scheduler.register("s", { queue: "q", cron: "@hourly", payload: null }),
      );
    } finally {
      await db.close();
      cleanup();
    }
  });

  it("random call sequences keep every invariant", {
    timeout: (SECONDS + 120) * 1000,
    todo:
      OPEN_FINDINGS.length > 0
        ? `${OPEN_FINDINGS.length} open findings (test/fuzz/FINDINGS.md): ${OPEN_FINDINGS.join(", ")}`
        : undefined,
  }, async () => {
    const findings = new Map<string, Finding>();
    const recorder = recordProcessErrors();
    const quiet = { error: console.error, warn: console.warn };
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    // The kit's default reporters (console.error, process warnings) are expected noise here.
    console.error = () => {};
    console.warn = () => {};
    const savedWarningListeners = process.listeners("warning");
    process.removeAllListeners("warning");
    process.on("warning", onWarning);
    const deadline = Date.now() + SECONDS * 1000;
    let runs = 0;
    let steps = 0;
    try {
      for (let i = 0; i < RUNS && Date.now() < deadline; i++) {
        const program = programAt(i);
        steps += program.steps.length;
        const violations = await runProgram(program, recorder);
        runs++;
        for (const v of violations) {
          const f = findings.get(v.key);
          if (!f)
            findings.set(v.key, { kind: v.kind, key: v.key, count: 1, example: v, seed: SEED + i });
          else {
            f.count++;
            if (v.call.length < f.example.call.length) {
              f.example = v;
              f.seed = SEED + i;
            }
          }
        }
      }
      // Late rejections (timers armed by the last program) still count.
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      recorder.restore();
      console.error = quiet.error;
      console.warn = quiet.warn;
      process.off("warning", onWarning);
      for (const l of savedWarningListeners) process.on("warning", l);
    }
    const sorted = [...findings.values()].sort((a, b) => a.key.localeCompare(b.key));
    if (process.env.HONKER_FUZZ_REPORT) {
      writeFileSync(
        process.env.HONKER_FUZZ_REPORT,
        JSON.stringify({ seed: SEED, runs, steps, findings: sorted }, null, 2),
      );
    }
    const summary = sorted
      .map(
        (f) =>
          `- [${f.count}x] ${f.key}\n    call: ${f.example.call}\n    what: ${f.example.what}\n    replay: FUZZ_SEED=${f.seed} FUZZ_RUNS=1`,
      )
      .join("\n");
    console.log(
      `# host API fuzz: seed ${SEED}, ${runs} programs, ${steps} calls, ${sorted.length} violation classes, ${warnings.length} process warnings`,
    );
    assert.equal(
      sorted.length,
      0,
      `host API fuzz (seed ${SEED}; replay with FUZZ_SEED=${SEED}) found ${sorted.length} violation classes:\n${summary}`,
    );
  });
});
