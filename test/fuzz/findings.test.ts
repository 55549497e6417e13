/**
 * One deterministic regression test per finding of the host API fuzz
 * (test/fuzz/FINDINGS.md), each asserting what the rule says should
 * happen. Cases still failing are listed in findings-list.ts and run as
 * `todo`; remove a case's id from there once the host is fixed.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { type HonkerDatabase, open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { RetryAfter } from "../../src/main/worker.ts";
import { tempDir } from "../helpers/db.ts";
import { withCleanups } from "../helpers/host.ts";
import { waitFor, within } from "../helpers/wait.ts";
import { OPEN_CASES } from "./findings-list.ts";
import { fingerprint, recordProcessErrors, sleep } from "./program.ts";

const { tempDb, cleanups } = withCleanups();

/** `it` for finding case `id`: todo while the case is listed as open. */
function finding(id: string, title: string, fn: () => Promise<void> | void): void {
  const open = OPEN_CASES.has(id);
  it(`${id}: ${title}`, open ? { todo: `open finding ${id} (test/fuzz/FINDINGS.md)` } : {}, fn);
}

/** An assert.throws/rejects matcher: HONKER_INVALID_ARGUMENT naming the function and argument. */
function invalidArgument(fnName: string, argName?: string) {
  return (err: unknown) => {
    assert.ok(
      isHonkerError(err, "HONKER_INVALID_ARGUMENT"),
      `expected HONKER_INVALID_ARGUMENT, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`,
    );
    assert.match(err.message, new RegExp(escapeRegExp(fnName)), "the message names the function");
    if (argName) {
      assert.match(
        err.message,
        new RegExp(escapeRegExp(argName), "i"),
        "the message names the argument",
      );
    }
    return true;
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A refused call: HONKER_INVALID_ARGUMENT, and the _honker tables are as they were. */
function refusesSync(db: HonkerDatabase, call: () => unknown, fnName: string, argName?: string) {
  const before = fingerprint(db);
  assert.throws(call, invalidArgument(fnName, argName));
  assert.equal(fingerprint(db), before, "a refused call writes nothing");
}

async function refusesAsync(
  db: HonkerDatabase,
  call: () => Promise<unknown>,
  fnName: string,
  argName?: string,
) {
  const before = fingerprint(db);
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (err) {
    invalidArgument(fnName, argName)(err);
    assert.equal(fingerprint(db), before, "a refused call writes nothing");
    return;
  }
  const afterCall = fingerprint(db);
  await assert.rejects(
    within(promise, 2000, `${fnName} settles`),
    invalidArgument(fnName, argName),
  );
  assert.equal(afterCall, before, "a refused call writes nothing");
}

/** An existing app database in rollback-journal mode, not opened by the kit yet. */
function legacyFile(): { path: string; header: () => Buffer } {
  const { dir, cleanup } = tempDir("honker-finding-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const pre = new Database(path);
  pre.pragma("journal_mode = DELETE");
  pre.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
  pre.close();
  return { path, header: () => readFileSync(path).subarray(0, 100) };
}

function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** A refused open() leaves the file (journal mode), its directory and the fd count as they were. */
function assertOpenLeftNothing(path: string, headerBefore: Buffer, fdsBefore: number): void {
  const header = readFileSync(path).subarray(0, 100);
  assert.deepEqual(
    [header[18], header[19]],
    [headerBefore[18], headerBefore[19]],
    "journal mode unchanged (header bytes 18-19: 1,1 = rollback journal, 2,2 = WAL)",
  );
  assert.ok(!existsSync(`${path}-wal`), "no -wal file left beside it");
  assert.equal(fdCount(), fdsBefore, "no file descriptor left open");
}

/** A job of queue `name` that is claimed by worker "w". */
function claimed(db: HonkerDatabase, name = "q"): number {
  const id = db.queue(name).enqueue({});
  const [job] = db.queue(name).claim("w");
  assert.equal(job?.id, id);
  return id;
}

describe("F1 a refused open() leaves the file and the process as they were", () => {
  finding("F1.extension", "a failing extension load does not switch the file to WAL", () => {
    const { path, header } = legacyFile();
    const before = header();
    const fds = fdCount();
    assert.throws(
      () => open(path, { extensionPath: "/nonexistent/honker.so" }),
      (err) => isHonkerError(err, "HONKER_EXTENSION"),
    );
    assertOpenLeftNothing(path, before, fds);
  });

  finding(
    "F1.busyTimeout",
    "busyTimeoutMs out of range is refused before the file is touched",
    () => {
      const { path, header } = legacyFile();
      const before = header();
      const fds = fdCount();
      assert.throws(
        () => open(path, { busyTimeoutMs: 2 ** 31 - 1 }),
        invalidArgument("open", "busyTimeoutMs"),
      );
      assertOpenLeftNothing(path, before, fds);
    },
  );

  finding(
    "F1.retention",
    "bad retention options leave no connection, watcher or -wal behind",
    () => {
      const { path, header } = legacyFile();
      const before = header();
      const fds = fdCount();
      assert.throws(
        () => open(path, { retention: true as never }),
        invalidArgument("open", "retention"),
      );
      assertOpenLeftNothing(path, before, fds);
    },
  );
});

describe("F2 open() checks every option", () => {
  const cases: [string, unknown, string][] = [
    ["F2.null", null, "options"],
    ["F2.busyTimeoutMs-NaN", { busyTimeoutMs: Number.NaN }, "busyTimeoutMs"],
    ["F2.busyTimeoutMs-negative", { busyTimeoutMs: -1 }, "busyTimeoutMs"],
    ["F2.busyTimeoutMs-boolean", { busyTimeoutMs: true }, "busyTimeoutMs"],
    ["F2.checkpoints", { checkpoints: "sometimes" }, "checkpoints"],
    ["F2.checkpointAfterWalBytes", { checkpointAfterWalBytes: -1 }, "checkpointAfterWalBytes"],
    ["F2.retention-null", { retention: null }, "retention"],
    ["F2.scheduler-null", { scheduler: null }, "scheduler"],
    ["F2.scheduler-lockTtl", { scheduler: { lockTtl: 1 } }, "lockTtl"],
    ["F2.watcher-bigint", { watcher: { pollMinMs: 5n } }, "pollMinMs"],
    ["F2.watcher-string", { watcher: { pollMaxMs: "5" } }, "pollMaxMs"],
    ["F2.extensionPath", { extensionPath: 5 }, "extensionPath"],
    ["F2.scheduler-lockTtl-huge", { scheduler: { lockTtl: 2 ** 53 } }, "lockTtl"],
    [
      "F2.checkpointAfterWalBytes-bigint",
      { checkpointAfterWalBytes: 5n },
      "checkpointAfterWalBytes",
    ],
  ];
  for (const [id, options, argName] of cases) {
    finding(id, `open(path, ${describeValue(options)}) is refused`, async () => {
      const { path, header } = legacyFile();
      const before = header();
      const fds = fdCount();
      let db: HonkerDatabase | null = null;
      try {
        assert.throws(
          () => {
            db = open(path, options as never);
          },
          invalidArgument("open", argName),
        );
        assertOpenLeftNothing(path, before, fds);
      } finally {
        await (db as HonkerDatabase | null)?.close();
      }
    });
  }
});

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v !== "object") return String(v);
  return `{ ${Object.entries(v as object)
    .map(([k, x]) => `${k}: ${describeValue(x)}`)
    .join(", ")} }`;
}

describe("F3 options that are not plain objects are refused", () => {
  finding("F3.enqueue-null", "enqueue({}, null)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").enqueue({}, null as never), "enqueue", "options");
  });
  finding("F3.claim-null", "claim('w', null)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").claim("w", null as never), "claim", "options");
  });
  finding("F3.waitResult-null", "waitResult(id, null)", async () => {
    const { db } = tempDb();
    const id = db.queue("q").enqueue({});
    await refusesAsync(
      db,
      () => db.queue("q").waitResult(id, null as never),
      "waitResult",
      "options",
    );
  });
  finding(
    "F3.waitResult-number",
    "waitResult(id, 7) is refused instead of waiting forever",
    async () => {
      const { db } = tempDb();
      const id = db.queue("q").enqueue({});
      await refusesAsync(
        db,
        () => db.queue("q").waitResult(id, 7 as never),
        "waitResult",
        "options",
      );
    },
  );
  finding("F3.work-null", "work(handler, null)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").work(async () => {}, null as never), "work", "options");
  });
  finding("F3.publish-null", "publish(payload, null)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.stream("s").publish({}, null as never), "publish", "options");
  });
  finding("F3.listen-null", "listen(channel, null)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.listen("c", null as never), "listen", "options");
  });
  finding("F3.listen-callback-null", "listen(channel, callback, null)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.listen("c", () => {}, null as never), "listen", "options");
  });
  finding("F3.withLock-array", "withLock(name, fn, []) does not run fn", async () => {
    const { db } = tempDb();
    let ran = false;
    await refusesAsync(
      db,
      () =>
        db.withLock(
          "l",
          () => {
            ran = true;
          },
          [] as never,
        ),
      "withLock",
      "options",
    );
    assert.equal(ran, false, "fn did not run");
  });
  finding("F3.subscribe-array", "stream.subscribe([])", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.stream("s").subscribe([] as never), "subscribe", "options");
  });
  finding("F3.on-array", "stream.on(handler, [])", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.stream("s").on(async () => {}, [] as never), "on", "options");
  });
  finding("F3.purgeDead-Map", "purgeDead(new Map())", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").purgeDead(new Map() as never), "purgeDead", "options");
  });
});

describe("F4 names must be well-formed, NUL-free and at most 256 characters", () => {
  finding("F4.queue-lone-surrogate", "queue('\\uD800').enqueue", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("\uD800").enqueue({}), "queue", "name");
  });
  finding("F4.queue-collision", "queue('\\uD800') and queue('\\uDBFF') are not one queue", () => {
    const { db } = tempDb();
    try {
      db.queue("\uD800").enqueue({ secret: 1 });
    } catch {
      return; // refused: fine
    }
    // Accepted: the other lone surrogate must not see it (both become U+FFFD).
    assert.equal(db.queue("\uDBFF").claim("w").length, 0, "a different queue name got the job");
  });
  finding("F4.stream", "stream('x\\uDC00').publish", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.stream("x\uDC00").publish({}), "stream", "name");
  });
  finding("F4.channel-NUL", "notify('a\\0b', …)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.notify("a\0b", {}), "notify", "channel");
  });
  finding("F4.channel-listen", "listen('\\uD800')", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.listen("\uD800"), "listen", "channel");
  });
  finding("F4.consumer", "subscribe({ consumer: '\\uD800' })", () => {
    const { db } = tempDb();
    refusesSync(
      db,
      () => db.stream("s").subscribe({ consumer: "\uD800" }),
      "subscribe",
      "consumer",
    );
  });
  finding("F4.lock-long", "tryLock('n' x 257)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.tryLock("n".repeat(257)), "tryLock", "name");
  });
  finding("F4.schedule", "scheduler.register('\\uD800', …)", () => {
    const { db } = tempDb();
    refusesSync(
      db,
      () => db.scheduler.register("\uD800", { queue: "q", cron: "* * * * *", payload: null }),
      "register",
      "name",
    );
  });
  finding(
    "F4.schedule-pause",
    "scheduler.pause('\\uD800') is refused, not HONKER_NOT_FOUND",
    () => {
      const { db } = tempDb();
      refusesSync(db, () => db.scheduler.pause("\uD800"), "pause", "name");
    },
  );
  finding("F4.workerId", "claim('\\uD800')", () => {
    const { db } = tempDb();
    db.queue("q").enqueue({});
    refusesSync(db, () => db.queue("q").claim("\uD800"), "claim", "workerId");
  });
});

describe("F5 worker ids and error texts are type-checked before they reach SQLite", () => {
  finding("F5.claim-array", "claim(['a'])", () => {
    const { db } = tempDb();
    db.queue("q").enqueue({});
    refusesSync(db, () => db.queue("q").claim(["a"] as never), "claim", "workerId");
  });
  finding("F5.fail-object-error", "fail(id, 'w', { message })", () => {
    const { db } = tempDb();
    const id = claimed(db);
    refusesSync(db, () => db.queue("q").fail(id, "w", { message: "x" } as never), "fail", "error");
  });
  finding("F5.fail-bigint-worker", "fail(id, 1n, 'x')", () => {
    const { db } = tempDb();
    const id = claimed(db);
    refusesSync(db, () => db.queue("q").fail(id, 1n as never, "x"), "fail", "workerId");
  });
  finding("F5.retry-undefined-worker", "retry(id, undefined, 4)", () => {
    const { db } = tempDb();
    const id = claimed(db);
    refusesSync(db, () => db.queue("q").retry(id, undefined as never, 4), "retry", "workerId");
  });
  finding("F5.ack-number-worker", "ack(id, 42)", () => {
    const { db } = tempDb();
    const id = claimed(db);
    refusesSync(db, () => db.queue("q").ack(id, 42 as never), "ack", "workerId");
  });
});

describe("F6 numbers are checked for type, finiteness and range", () => {
  finding("F6.enqueue-delay-NaN", "enqueue({}, { delay: NaN })", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").enqueue({}, { delay: Number.NaN }), "enqueue", "delay");
  });
  finding("F6.enqueue-delay-object", "enqueue({}, { delay: {} })", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").enqueue({}, { delay: {} as never }), "enqueue", "delay");
  });
  finding("F6.enqueue-maxAttempts-false", "enqueue({}, { maxAttempts: false })", () => {
    const { db } = tempDb();
    refusesSync(
      db,
      () => db.queue("q").enqueue({}, { maxAttempts: false as never }),
      "enqueue",
      "maxAttempts",
    );
  });
  finding("F6.retry-bigint", "retry(id, 'w', 5n)", () => {
    const { db } = tempDb();
    const id = claimed(db);
    refusesSync(db, () => db.queue("q").retry(id, "w", 5n as never), "retry", "delaySeconds");
  });
  finding("F6.setProgress-NaN-id", "setProgress(NaN, {})", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").setProgress(Number.NaN, {}), "setProgress", "id");
  });
  finding("F6.setProgress-negative-id", "setProgress(-1, {})", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").setProgress(-1, {}), "setProgress", "id");
  });
  finding("F6.setProgress-NaN-value", "setProgress(id, NaN)", () => {
    const { db } = tempDb();
    const id = claimed(db);
    refusesSync(db, () => db.queue("q").setProgress(id, Number.NaN), "setProgress", "progress");
  });
  finding("F6.saveResult-ttl-boolean", "saveResult(id, 1, true)", () => {
    const { db } = tempDb();
    const id = claimed(db);
    refusesSync(
      db,
      () => db.queue("q").saveResult(id, 1, true as never),
      "saveResult",
      "ttlSeconds",
    );
  });
  finding(
    "F6.setProgress-fraction-id",
    "setProgress(1.5, {}) is HONKER_INVALID_ARGUMENT, not HONKER_SQLITE",
    () => {
      const { db } = tempDb();
      refusesSync(db, () => db.queue("q").setProgress(1.5, {}), "setProgress", "id");
    },
  );
  finding(
    "F6.deadLetters-huge-limit",
    "deadLetters({ limit: 1e300 }) is HONKER_INVALID_ARGUMENT, not HONKER_SQLITE",
    () => {
      const { db } = tempDb();
      refusesSync(db, () => db.queue("q").deadLetters({ limit: 1e300 }), "deadLetters", "limit");
    },
  );
  finding("F6.heartbeat-bigint", "heartbeat(id, 'w', 5n)", () => {
    const { db } = tempDb();
    const id = claimed(db);
    refusesSync(
      db,
      () => db.queue("q").heartbeat(id, "w", 5n as never),
      "heartbeat",
      "extendSeconds",
    );
  });
  finding("F6.purgeDead-beyond-ten-years", "purgeDead({ olderThanS: 2^31 })", () => {
    const { db } = tempDb();
    refusesSync(
      db,
      () => db.queue("q").purgeDead({ olderThanS: 2 ** 31 }),
      "purgeDead",
      "olderThanS",
    );
  });
});

describe("F7 arrays of ids are checked", () => {
  finding("F7.redrive-number", "redrive(5)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").redrive(5 as never), "redrive", "ids");
  });
  finding("F7.redrive-null", "redrive(null)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").redrive(null as never), "redrive", "ids");
  });
  finding("F7.ackMany-number", "ackMany(5, 'w')", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.queue("q").ackMany(5 as never, "w"), "ackMany", "ids");
  });
});

describe("F8/F9 transaction(fn)", () => {
  finding("F8.not-a-function", "transaction(5) is refused", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.transaction(5 as never), "transaction", "fn");
  });
  finding(
    "F9.async",
    "transaction(async fn): nothing of it commits, before or after its await",
    async () => {
      const { db } = tempDb();
      const before = fingerprint(db);
      assert.throws(
        () =>
          db.transaction((async () => {
            db.queue("q").enqueue({ before: 1 });
            await null;
            db.queue("q").enqueue({ after: 1 });
          }) as never),
        invalidArgument("transaction"),
      );
      await sleep(10);
      assert.equal(db.queue("q").stats().pending, 0, "no job of the async fn was committed");
      assert.equal(fingerprint(db), before);
    },
  );
});

describe("F10 waits beyond the 2^31-1 ms timer ceiling do not end at once", () => {
  for (const timeoutMs of [2 ** 31 + 1000, 30 * 86_400_000]) {
    finding(
      `F10.waitResult-${timeoutMs}`,
      `waitResult(id, { timeoutMs: ${timeoutMs} })`,
      async () => {
        const { db } = tempDb();
        const id = db.queue("q").enqueue({}, { delay: 3600 });
        const stop = new AbortController();
        const p = db.queue("q").waitResult(id, { timeoutMs, signal: stop.signal });
        p.catch(() => {});
        const early = await Promise.race([
          p.then(
            () => "resolved",
            (e) => e,
          ),
          sleep(200).then(() => null),
        ]);
        stop.abort();
        assert.equal(early, null, `settled at once: ${String(early)}`);
      },
    );
  }
  finding("F10.withLock-wait", "withLock(name, fn, { wait: 30 days }) on a held lock", async () => {
    const { db } = tempDb();
    const held = db.tryLock("l", 30);
    assert.ok(held);
    const stop = new AbortController();
    const p = db.withLock("l", async () => 1, { wait: 30 * 86_400_000, signal: stop.signal });
    p.catch(() => {});
    const early = await Promise.race([
      p.then(
        () => "resolved",
        (e) => e,
      ),
      sleep(200).then(() => null),
    ]);
    stop.abort();
    held.release();
    assert.equal(early, null, `settled at once: ${String(early)}`);
  });
});

describe("F11 waitResult on a job that will never have a result", () => {
  finding("F11.cancelled", "a cancelled job rejects with HONKER_CANCELLED", async () => {
    const { db } = tempDb();
    const id = db.queue("q").enqueue({}, { delay: 3600 });
    assert.equal(db.queue("q").cancel(id), true);
    await assert.rejects(
      db.queue("q").waitResult(id, { timeoutMs: 1000 }),
      (err) => isHonkerError(err) && (err.code as string) === "HONKER_CANCELLED",
    );
  });
  finding("F11.dead", "a dead job rejects with HONKER_JOB_DEAD", async () => {
    const { db } = tempDb();
    const id = claimed(db);
    assert.equal(db.queue("q").fail(id, "w", "broken"), true);
    await assert.rejects(
      db.queue("q").waitResult(id, { timeoutMs: 1000 }),
      (err) => isHonkerError(err) && (err.code as string) === "HONKER_JOB_DEAD",
    );
  });
});

describe("F12 a stuck handler cannot hold stop({ graceMs }) or close()", () => {
  finding("F12.stop-grace", "worker.stop({ graceMs: 50 }) resolves", async () => {
    const { db } = tempDb();
    let release = () => {};
    const stuck = new Promise<void>((r) => {
      release = r;
    });
    cleanups.push(() => release());
    const w = db.queue("q").work(async () => {
      await stuck; // ignores its signal
    });
    db.queue("q").enqueue({});
    await waitFor(() => w.activeJobs.length === 1, { what: "the handler to start" });
    await within(w.stop({ graceMs: 50 }), 2000, "stop({ graceMs: 50 }) with a stuck handler");
  });
  finding("F12.close", "db.close() resolves with a stuck handler", async () => {
    const { db } = tempDb();
    let release = () => {};
    const stuck = new Promise<void>((r) => {
      release = r;
    });
    cleanups.push(() => release());
    const w = db.queue("q").work(async () => {
      await stuck;
    });
    db.queue("q").enqueue({});
    await waitFor(() => w.activeJobs.length === 1, { what: "the handler to start" });
    await within(db.close(), 5000, "db.close() with a stuck handler");
  });
});

describe("F13 signals that are not AbortSignals are refused", () => {
  finding(
    "F13.waitResult",
    "waitResult(id, { signal: { aborted: false } }) and nothing escapes later",
    async () => {
      const { db } = tempDb();
      const id = db.queue("q").enqueue({});
      const recorder = recordProcessErrors();
      try {
        await refusesAsync(
          db,
          () =>
            db.queue("q").waitResult(id, { timeoutMs: 20, signal: { aborted: false } as never }),
          "waitResult",
          "signal",
        );
        await sleep(60);
      } finally {
        recorder.restore();
      }
      assert.deepEqual(recorder.events, [], "no uncaught exception from the wait's timer");
    },
  );
  finding("F13.work", "work(fn, { signal: 'x' }) is refused and starts no worker", () => {
    const { db } = tempDb();
    refusesSync(
      db,
      () => db.queue("q").work(async () => {}, { signal: "x" as never }),
      "work",
      "signal",
    );
  });
  finding("F13.on-null", "stream.on(fn, { signal: null })", () => {
    const { db } = tempDb();
    refusesSync(
      db,
      () => db.stream("s").on(async () => {}, { signal: null as never }),
      "on",
      "signal",
    );
  });
});

describe("F14 callbacks are checked where they enter", () => {
  finding("F14.listen-onError", "listen(channel, cb, { onError: 5 })", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.listen("c", () => {}, { onError: 5 } as never), "listen", "onError");
  });
  finding("F14.on-handler", "stream.on(undefined)", () => {
    const { db } = tempDb();
    refusesSync(db, () => db.stream("s").on(undefined as never), "on", "handler");
  });
  finding("F14.work-onError", "work(fn, { onError: 5 })", () => {
    const { db } = tempDb();
    refusesSync(
      db,
      () => db.queue("q").work(async () => {}, { onError: 5 as never }),
      "work",
      "onError",
    );
  });
});

describe("F15 nothing the kit runs on its own escapes as an unhandled rejection", () => {
  finding("F15.RetryAfter-huge", "a handler throwing RetryAfter(1e300)", async () => {
    const { db } = tempDb();
    const recorder = recordProcessErrors();
    const errors: unknown[] = [];
    try {
      let runs = 0;
      db.queue("q").work(
        async () => {
          runs++;
          throw new RetryAfter(1e300);
        },
        { onError: (err) => errors.push(err) },
      );
      db.queue("q").enqueue({});
      await waitFor(() => runs > 0, { what: "the handler to run" });
      await sleep(50);
    } finally {
      recorder.restore();
    }
    assert.deepEqual(
      recorder.events.map((e) => String(e.err)),
      [],
      "no unhandled rejection (the refused retry went to onError)",
    );
  });
  finding(
    "F15.stream-onError-not-a-function",
    "stream.on(throwing handler, { onError: 5 })",
    async () => {
      const { db } = tempDb();
      const recorder = recordProcessErrors();
      let accepted = false;
      try {
        db.stream("s").publish({});
        try {
          db.stream("s").on(
            () => {
              throw new Error("handler failed");
            },
            { onError: 5 as never },
          );
          accepted = true;
        } catch (err) {
          invalidArgument("on", "onError")(err);
        }
        await sleep(50);
      } finally {
        recorder.restore();
      }
      assert.equal(accepted, false, "onError: 5 was accepted");
      assert.deepEqual(
        recorder.events.map((e) => String(e.err)),
        [],
      );
    },
  );
  finding("F15.onError-throws", "a worker whose onError throws", async () => {
    const { db } = tempDb();
    const recorder = recordProcessErrors();
    try {
      let calls = 0;
      db.queue("q").work(
        async () => {
          throw new Error("handler failed");
        },
        {
          onError: () => {
            calls++;
            throw new Error("onError failed too");
          },
        },
      );
      db.queue("q").enqueue({}, { maxAttempts: 1 });
      await waitFor(() => calls > 0, { what: "onError to be called" });
      await sleep(50);
    } finally {
      recorder.restore();
    }
    assert.deepEqual(
      recorder.events.map((e) => String(e.err)),
      [],
      "no unhandled rejection or uncaught exception",
    );
  });
});

describe("F16 calls after close() throw HONKER_CLOSED, never a raw TypeError", () => {
  for (const [id, call] of [
    ["F16.rateLimit", (db: HonkerDatabase) => db.rateLimit("r", { limit: 1, perSeconds: 1 })],
    ["F16.tryLock", (db: HonkerDatabase) => db.tryLock("l")],
    ["F16.withLock", (db: HonkerDatabase) => db.withLock("l", () => 1)],
    ["F16.scheduler", (db: HonkerDatabase) => db.scheduler.list()],
  ] as const) {
    finding(id, `${id.slice(4)} after close()`, async () => {
      const { db } = tempDb();
      await db.close();
      let outcome: unknown;
      try {
        await call(db);
        outcome = "no error";
      } catch (err) {
        outcome = err;
      }
      assert.ok(
        isHonkerError(outcome, "HONKER_CLOSED"),
        `expected HONKER_CLOSED, got ${outcome instanceof Error ? `${outcome.constructor.name}: ${outcome.message}` : String(outcome)}`,
      );
    });
  }
});

describe("F18 results and progress belong to an existing job of the queue", () => {
  finding(
    "F18.stale-result",
    "a new job does not inherit a result saved under its id before it existed",
    async () => {
      const { db } = tempDb();
      try {
        db.queue("a").saveResult(3, "stale");
      } catch {
        // Refusing a result for a job that does not exist is fine too.
      }
      const ids = db.queue("b").enqueueMany([1, 2, 3]);
      assert.deepEqual(ids, [1, 2, 3]);
      assert.equal(db.queue("b").getResult(3), undefined, "job 3 has a result before it ran");
      await assert.rejects(
        db.queue("b").waitResult(3, { timeoutMs: 50 }),
        (err) => isHonkerError(err, "HONKER_TIMEOUT"),
        "waitResult resolved with the stale result",
      );
    },
  );
  finding(
    "F18.stale-progress",
    "a new job does not inherit progress saved under its id before it existed",
    () => {
      const { db } = tempDb();
      try {
        db.queue("a").setProgress(3, { pct: 99 });
      } catch {
        // Refusing progress for a job that does not exist is fine too.
      }
      db.queue("b").enqueueMany([1, 2, 3]);
      assert.equal(db.queue("b").getJob(3)?.progress, undefined);
    },
  );
});
