import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type HonkerDatabase, open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { SCHEDULER_LOCK, type ScheduleFire, Scheduler } from "../../src/main/scheduler.ts";
import { openDb, TS_FLAGS, tempDir } from "../helpers/db.ts";
import { nextEvent as waitForEvent } from "../helpers/wait.ts";

const fixture = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "scheduler-leader.ts",
);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A database file in a fresh temp folder, closed and removed after the test. */
function fresh(): { path: string; db: HonkerDatabase } {
  const { dir, cleanup } = tempDir();
  const path = join(dir, "app.db");
  const db = open(path);
  cleanups.push(cleanup, () => db.close());
  return { path, db };
}

/** The first value `subscribe` delivers that passes `pred`; rejects after `ms`. */
function nextEvent<T>(
  subscribe: (fn: (value: T) => void) => () => void,
  pred: (value: T) => boolean,
  ms: number,
  what: string,
): Promise<T> {
  return waitForEvent(subscribe, { match: pred, timeoutMs: ms, what });
}

type Line =
  | { tag: string; event: "started" | "leader"; leader: boolean }
  | { tag: string; event: "fires"; fires: ScheduleFire[] }
  | { tag: string; event: "error"; code: string | null; message: string }
  | { tag: string; event: "stopped" };

/** A scheduler child process; every stdout line is parsed and kept. */
function startProcess(path: string, lockTtl: number, tag: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [...TS_FLAGS, fixture, path, String(lockTtl), tag],
    { stdio: ["pipe", "pipe", "pipe"], signal: AbortSignal.timeout(30_000) },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const lines: Line[] = [];
  const listeners = new Set<(line: Line) => void>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    const line = JSON.parse(text) as Line;
    lines.push(line);
    for (const fn of [...listeners]) fn(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  const subscribe = (fn: (line: Line) => void) => {
    listeners.add(fn);
    return () => listeners.delete(fn);
  };
  /** The first line (already printed or still to come) that passes `pred`. */
  const waitFor = (pred: (line: Line) => boolean, ms: number, what: string): Promise<Line> => {
    const seen = lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return nextEvent(subscribe, pred, ms, `${tag}: ${what} (stderr: ${stderr || "empty"})`);
  };
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return { child, lines, waitFor, exited, stderr: () => stderr };
}

function fireLines(lines: Line[]): ScheduleFire[] {
  return lines.flatMap((l) => (l.event === "fires" ? l.fires : []));
}

it("fires every boundary exactly once when the leader process is killed and the standby takes over", {
  timeout: 20_000,
}, async () => {
  const { path, db } = fresh();
  const admin = new Scheduler(db);
  admin.register("tick-a", { queue: "qa", cron: "@every 1s", payload: { n: "a" } });
  admin.register("tick-b", { queue: "qb", cron: "@every 1s", payload: { n: "b" } });
  const lockTtl = 2;

  const a = startProcess(path, lockTtl, "A");
  await a.waitFor((l) => l.event === "leader" && l.leader, 5000, "A to become leader");
  const b = startProcess(path, lockTtl, "B");
  const bStarted = await b.waitFor((l) => l.event === "started", 5000, "B to start");
  assert.deepEqual(bStarted, { tag: "B", event: "started", leader: false }, "B starts as standby");

  // Kill A right after one of its ticks, so no tick is half reported.
  let aTicks = 0;
  await a.waitFor((l) => l.event === "fires" && ++aTicks === 2, 5000, "two ticks from A");
  a.child.kill("SIGKILL");
  const killedAt = Date.now();
  assert.equal((await a.exited).signal, "SIGKILL");

  await b.waitFor((l) => l.event === "leader" && l.leader, (lockTtl + 3) * 1000, "B to take over");
  const takeoverMs = Date.now() - killedAt;
  assert.ok(takeoverMs <= lockTtl * 1000 + 1500, `B took over ${takeoverMs} ms after A died`);
  let bTicks = 0;
  await b.waitFor((l) => l.event === "fires" && ++bTicks === 2, 5000, "two ticks from B");
  b.child.stdin?.end("stop\n");
  await b.waitFor((l) => l.event === "stopped", 5000, "B to stop");
  assert.deepEqual(await b.exited, { code: 0, signal: null });

  assert.deepEqual(
    [...a.lines, ...b.lines].filter((l) => l.event === "error"),
    [],
    "no errors in either process",
  );
  const fromA = fireLines(a.lines);
  const fromB = fireLines(b.lines);
  assert.ok(fromA.length >= 4, `A fired ${fromA.length} jobs`);
  assert.ok(fromB.length >= 4, `B fired ${fromB.length} jobs`);
  const all = [...fromA, ...fromB];
  for (const [name, queue] of [
    ["tick-a", "qa"],
    ["tick-b", "qb"],
  ] as const) {
    const fires = all.filter((f) => f.name === name);
    // Each process ticked at least twice, and a tick fires every due schedule
    // (registering across a second boundary can put one a second behind):
    // without this, a schedule that never fired would pass every check below.
    assert.ok(fires.length >= 3, `${name} fired ${fires.length} times`);
    assert.ok(
      fromA.some((f) => f.name === name) && fromB.some((f) => f.name === name),
      `${name} fired from both processes`,
    );
    const at = fires.map((f) => f.fireAt).sort((x, y) => x - y);
    assert.equal(new Set(at).size, at.length, `${name}: no boundary fired twice (${at.join(",")})`);
    const first = at[0] as number;
    assert.deepEqual(
      at,
      at.map((_, i) => first + i),
      `${name}: every second from the first fire to the last fired, none skipped`,
    );
    assert.ok(
      fires.every((f) => f.queue === queue),
      `${name}: every job went to ${queue}`,
    );
    const jobs = db.raw
      .prepare("SELECT COUNT(*) FROM _honker_live WHERE queue = ?")
      .pluck()
      .get(queue);
    assert.equal(jobs, fires.length, `${queue}: one job per reported fire`);
  }
  assert.equal(new Set(all.map((f) => f.jobId)).size, all.length, "job ids are unique");
  const lock = db.raw
    .prepare("SELECT COUNT(*) FROM _honker_locks WHERE name = ?")
    .pluck()
    .get(SCHEDULER_LOCK);
  assert.equal(lock, 0, "B released the leader lock when it stopped");
});

it("enqueues a job with the schedule's payload when an @every 1s schedule comes due", {
  timeout: 10_000,
}, async () => {
  const { db } = fresh();
  const scheduler = new Scheduler(db, { lockTtl: 2 });
  scheduler.register("heartbeat", {
    queue: "beats",
    cron: "@every 1s",
    payload: { kind: "beat" },
    priority: 5,
    maxAttempts: 2,
  });
  const fired = nextEvent<ScheduleFire[]>(
    (fn) => scheduler.onFire(fn),
    () => true,
    3000,
    "the first fire",
  );
  scheduler.start();
  assert.equal(scheduler.isLeader, true, "a lone scheduler leads at once");
  const fires = await fired;
  await scheduler.stop();

  assert.equal(fires.length, 1);
  const fire = fires[0] as ScheduleFire;
  assert.equal(fire.name, "heartbeat");
  assert.equal(fire.queue, "beats");
  const row = db.raw
    .prepare(
      "SELECT queue, payload, priority, max_attempts AS maxAttempts FROM _honker_live WHERE id = ?",
    )
    .get(fire.jobId);
  assert.deepEqual(row, {
    queue: "beats",
    payload: '{"kind":"beat"}',
    priority: 5,
    maxAttempts: 2,
  });
});

it("lets exactly one of two schedulers lead, and hands over when the leader stops", {
  timeout: 10_000,
}, async () => {
  const { path, db } = fresh();
  const db2 = open(path);
  cleanups.push(() => db2.close());
  const first = new Scheduler(db, { lockTtl: 2 });
  const second = new Scheduler(db2, { lockTtl: 2 });
  first.start();
  second.start();
  assert.equal(first.isLeader, true, "the first to start leads");
  assert.equal(second.isLeader, false, "the second waits as standby");

  const takeover = nextEvent<boolean>(
    (fn) => second.onLeaderChange(fn),
    (v) => v,
    1500,
    "second to lead",
  );
  const started = Date.now();
  await first.stop();
  await takeover;
  assert.ok(Date.now() - started < 1000, "the release woke the standby, no TTL wait");
  assert.equal(first.isLeader, false);
  assert.equal(second.isLeader, true);
  await second.stop();
});

it("stops ticking at once when another owner takes the leader lock", {
  timeout: 10_000,
}, async () => {
  const { path, db } = fresh();
  const scheduler = new Scheduler(db, { lockTtl: 3 });
  scheduler.register("job", { queue: "stolen", cron: "0 0 1 1 *", payload: null });
  const fires: ScheduleFire[] = [];
  scheduler.onFire((f) => fires.push(...f));
  scheduler.start();
  assert.equal(scheduler.isLeader, true);

  const lost = nextEvent<boolean>(
    (fn) => scheduler.onLeaderChange(fn),
    (v) => !v,
    3000,
    "leadership lost",
  );
  const other = openDb(path);
  cleanups.push(() => {
    other.close();
  });
  // Another process takes the lock and makes the schedule due in one commit.
  other.transaction(() => {
    other
      .prepare(
        "UPDATE _honker_locks SET owner = 'thief', expires_at = unixepoch() + 60 WHERE name = ?",
      )
      .run(SCHEDULER_LOCK);
    other.prepare("UPDATE _honker_scheduler_tasks SET next_fire_at = unixepoch() - 5").run();
  })();
  assert.equal(await lost, false);
  assert.equal(scheduler.isLeader, false);
  assert.deepEqual(fires, [], "nothing fired without the lock");
  assert.equal(db.raw.prepare("SELECT COUNT(*) FROM _honker_live").pluck().get(), 0);
  await scheduler.stop();
});

it("lists schedules with camelCase fields and applies update, pause, resume and remove", () => {
  const { db } = fresh();
  const scheduler = new Scheduler(db);
  scheduler.register("report", {
    queue: "reports",
    cron: "0 3 * * *",
    payload: { full: true },
    expires: 600,
  });
  const [info] = scheduler.list();
  assert.ok(info);
  assert.equal(typeof info.nextFireAt, "number");
  assert.ok(info.nextFireAt > Math.floor(Date.now() / 1000), "next fire is in the future");
  assert.deepEqual(
    { ...info, nextFireAt: 0 },
    {
      name: "report",
      queue: "reports",
      cron: "0 3 * * *",
      payload: { full: true },
      priority: 0,
      expires: 600,
      maxAttempts: 3,
      nextFireAt: 0,
      enabled: true,
    },
  );

  scheduler.update("report", {
    cron: "30 4 * * *",
    payload: "short",
    priority: 7,
    expires: null,
    maxAttempts: 9,
  });
  assert.deepEqual(
    { ...scheduler.list()[0], nextFireAt: 0 },
    {
      name: "report",
      queue: "reports",
      cron: "30 4 * * *",
      payload: "short",
      priority: 7,
      expires: null,
      maxAttempts: 9,
      nextFireAt: 0,
      enabled: true,
    },
  );

  assert.equal(scheduler.pause("report"), true);
  assert.equal(scheduler.pause("report"), false, "already paused");
  assert.equal(scheduler.list()[0]?.enabled, false);
  assert.equal(scheduler.resume("report"), true);
  assert.equal(scheduler.list()[0]?.enabled, true);
  assert.equal(scheduler.remove("report"), true);
  assert.equal(scheduler.remove("report"), false, "already gone");
  assert.deepEqual(scheduler.list(), []);
});

it("names the schedule when its cron expression is invalid", () => {
  const { db } = fresh();
  const scheduler = new Scheduler(db);
  assert.throws(
    () => scheduler.register("nightly", { queue: "q", cron: "61 * * * *", payload: null }),
    (err: unknown) =>
      isHonkerError(err, "HONKER_INVALID_ARGUMENT") &&
      err.message.includes("'nightly'") &&
      err.message.includes("cron_expr"),
  );
  assert.deepEqual(scheduler.list(), [], "nothing was registered");
});

it("refuses bad arguments and unknown names with clear errors", () => {
  const { db } = fresh();
  const scheduler = new Scheduler(db);
  const bad = (fn: () => unknown, code: string, text: string) =>
    assert.throws(
      fn,
      (err: unknown) => isHonkerError(err) && err.code === code && err.message.includes(text),
    );
  bad(
    () => scheduler.register("", { queue: "q", cron: "@hourly", payload: 1 }),
    "HONKER_INVALID_ARGUMENT",
    "name",
  );
  bad(
    () => scheduler.register("x", { queue: "", cron: "@hourly", payload: 1 }),
    "HONKER_INVALID_ARGUMENT",
    "queue",
  );
  bad(
    () => scheduler.register("x", { queue: "q", cron: "@hourly", payload: 1, priority: 1.5 }),
    "HONKER_INVALID_ARGUMENT",
    "priority",
  );
  bad(
    () => scheduler.register("x", { queue: "q", cron: "@hourly", payload: () => 1 }),
    "HONKER_INVALID_ARGUMENT",
    "payload",
  );
  bad(() => scheduler.update("ghost", { priority: 1 }), "HONKER_NOT_FOUND", "'ghost'");
  bad(() => scheduler.pause("ghost"), "HONKER_NOT_FOUND", "'ghost'");
  bad(() => new Scheduler(db, { lockTtl: 1 }), "HONKER_INVALID_ARGUMENT", "lockTtl");
});

it("stops the scheduler and releases the leader lock when the database closes", async () => {
  const { path } = fresh();
  const db = open(path);
  const scheduler = new Scheduler(db, { lockTtl: 2 });
  scheduler.start();
  assert.equal(scheduler.isLeader, true);
  await db.close();
  assert.equal(scheduler.started, false);
  assert.equal(scheduler.isLeader, false);
  const other = openDb(path);
  cleanups.push(() => {
    other.close();
  });
  assert.equal(other.prepare("SELECT COUNT(*) FROM _honker_locks").pluck().get(), 0);
});
