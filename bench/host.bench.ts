/**
 * The TypeScript host (src/main) against the raw better-sqlite3 floor, and
 * the cross-process figures only the host has: end-to-end throughput, wake
 * latency, idle cost and event-loop delay. Prints figures, never asserts.
 *
 *   node bench/host.bench.ts                 # everything (about a minute)
 *   node bench/host.bench.ts --only=latency  # one section: api, e2e, latency, idle, eld
 *
 * Child processes live in bench/fixtures/host-child.ts.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { getLoadablePath } from "../src/extension/index.ts";
import { open } from "../src/main/database.ts";
import {
  benchDb,
  comparePair,
  type Db,
  type PairResult,
  printResults,
  RAW_CLAIM,
  RAW_INSERT,
  rawAcker,
  repeat,
} from "./harness.ts";

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, "fixtures", "host-child.ts");

const PAYLOAD = { user: 42, action: "sync", items: [1, 2, 3] };
const PAYLOAD_TEXT = JSON.stringify(PAYLOAD);

const nowS = () => Math.floor(Date.now() / 1000);

// ---- summary ------------------------------------------------------------------

interface Figure {
  section: string;
  name: string;
  value: number;
  unit: string;
  goal: number;
  /** "min": value must be at least goal; "max": at most; "info": no goal. */
  sense: "min" | "max" | "info";
  note?: string;
}

const figures: Figure[] = [];

function record(f: Figure): void {
  figures.push(f);
}

function verdict(f: Figure): string {
  if (f.sense === "info") return "info";
  return (f.sense === "min" ? f.value >= f.goal : f.value <= f.goal) ? "ok" : "BELOW";
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function printSummary(): void {
  console.log("\nSUMMARY");
  const head = `${"section".padEnd(8)} ${"figure".padEnd(52)} ${"value".padStart(10)} ${"goal".padStart(12)}  verdict`;
  console.log(head);
  console.log("-".repeat(head.length));
  for (const f of figures) {
    const goal =
      f.sense === "info"
        ? `(${f.unit})`
        : `${f.sense === "min" ? ">=" : "<="} ${fmt(f.goal)} ${f.unit}`;
    console.log(
      `${f.section.padEnd(8)} ${f.name.padEnd(52)} ${fmt(f.value).padStart(10)} ${goal.padStart(12)}  ${verdict(f)}${f.note ? `  (${f.note})` : ""}`,
    );
  }
}

// ---- helpers ------------------------------------------------------------------

function tempPath(prefix: string): { path: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    path: join(dir, "bench.db"),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i] as number;
}

const median = (xs: readonly number[]) => percentile(xs, 50);

type Message = Record<string, unknown> & { type: string };

interface Child {
  proc: ChildProcess;
  next(type: string, timeoutMs?: number): Promise<Message>;
  send(line: string): void;
  exited: Promise<number | null>;
}

/** Extra node flags for the children, for profiling: HONKER_BENCH_CHILD_FLAGS="--cpu-prof". */
const childFlags = (process.env.HONKER_BENCH_CHILD_FLAGS ?? "").split(" ").filter((f) => f !== "");

/** Starts a role of host-child.ts and reads its JSON lines. */
function child(role: string, args: Record<string, unknown>): Child {
  const proc = spawn(
    process.execPath,
    [
      ...childFlags,
      "--experimental-strip-types",
      "--disable-warning=ExperimentalWarning",
      CHILD,
      role,
      JSON.stringify(args),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const inbox: Message[] = [];
  const waiters: (() => void)[] = [];
  let buf = "";
  proc.stdout?.setEncoding("utf8");
  proc.stdout?.on("data", (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() === "") continue;
      try {
        inbox.push(JSON.parse(line) as Message);
      } catch {
        process.stdout.write(`[${role}] ${line}\n`);
        continue;
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.on("exit", (code) => {
      for (const w of waiters.splice(0)) w();
      resolve(code);
    });
  });
  let exitCode: number | null | undefined;
  void exited.then((c) => {
    exitCode = c;
  });
  return {
    proc,
    exited,
    send: (line) => {
      proc.stdin?.write(`${line}\n`);
    },
    async next(type, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0] as Message;
        if (exitCode !== undefined) {
          throw new Error(`child ${role} exited (${exitCode}) before sending '${type}'`);
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`child ${role}: no '${type}' within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
  };
}

async function endChildren(children: Child[]): Promise<void> {
  for (const c of children) c.proc.stdin?.end();
  await Promise.all(
    children.map(async (c) => {
      const t = setTimeout(() => c.proc.kill(), 5000);
      await c.exited;
      clearTimeout(t);
    }),
  );
}

/** Creates the database (schema and WAL) before children race to open it. */
async function createDb(path: string): Promise<void> {
  const db = open(path, { retention: false });
  await db.close();
}

// ---- 1. host API vs raw ---------------------------------------------------------

function fill(db: Db, queue: string, n: number): void {
  const ins = db.prepare("SELECT honker_enqueue(?, ?, NULL, NULL, 0, 3, NULL)");
  db.transaction(() => {
    for (let i = 0; i < n; i++) ins.get(queue, PAYLOAD_TEXT);
  })();
}

/** Like comparePair, for loops that yield a microtask turn after every op. */
async function compareAsyncPair(p: {
  name: string;
  ops: number;
  goal: number;
  setup: () => void;
  floor: () => void;
  ours: () => void;
  rounds?: number;
}): Promise<PairResult> {
  const loop = async (fn: () => void, n: number) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      fn();
      await null;
    }
    return (n * 1e9) / Number(process.hrtime.bigint() - t0);
  };
  p.setup();
  await loop(p.floor, p.ops / 5);
  await loop(p.ours, p.ops / 5);
  const f: number[] = [];
  const o: number[] = [];
  for (let r = 0; r < (p.rounds ?? 7); r++) {
    p.setup();
    f.push(await loop(p.floor, p.ops));
    p.setup();
    o.push(await loop(p.ours, p.ops));
  }
  const floorRate = median(f);
  const oursRate = median(o);
  return { name: p.name, floorRate, oursRate, ratio: oursRate / floorRate, goal: p.goal };
}

async function sectionApi(): Promise<void> {
  const t = tempPath("honker-host-bench-");
  // Retention off: its timer would write in the middle of a round.
  const host = open(t.path, { retention: false });
  // The floor runs on a plain connection to a file of its own, with SQLite's
  // automatic checkpoint at its default (1,000 pages, a ~4 MB WAL): each side
  // pays for the checkpoints of its own writes. (On one shared file, either
  // side's checkpoints copy the other's frames, and the ratio says more
  // about who checkpoints when than about the host.)
  const tf = tempPath("honker-host-bench-floor-");
  const raw = new Database(tf.path);
  raw.pragma("journal_mode = WAL");
  raw.pragma("busy_timeout = 5000");
  raw.pragma("synchronous = NORMAL");
  raw.pragma("temp_store = MEMORY");
  raw.pragma("wal_autocheckpoint = 1000");
  raw.loadExtension(getLoadablePath());
  raw.prepare("SELECT honker_bootstrap()").get();
  try {
    const q = host.queue("c");
    const eq = host.queue("e");
    const ins = raw.prepare(RAW_INSERT);
    const rawClaim = raw.prepare(RAW_CLAIM);
    // The floor writes what an ack writes: history row, progress and key clean-up.
    const rawAcks = rawAcker(raw);
    // Each timed run starts from an empty WAL on both sides: the clean-up's
    // own frames would otherwise be checkpointed inside the next timed run
    // on one side (the host's, whose automatic checkpoint is off outside a
    // burst) and inside the clean-up on the other (SQLite's default hook).
    const clear = () => {
      for (const d of [raw, host.raw]) {
        d.exec("DELETE FROM _honker_live");
        d.pragma("wal_checkpoint(TRUNCATE)");
      }
    };
    const refill = (n: number) => () => {
      clear();
      for (const d of [raw, host.raw]) fill(d, "c", n);
    };
    // The floor stringifies the payload too: a raw caller would have to.
    const hundred = Array.from({ length: 100 }, (_, i) => ({ ...PAYLOAD, i }));
    const rawOne = raw.transaction(() => ins.run("e", JSON.stringify(PAYLOAD), nowS(), 0, 3, null));
    // The issue's floor: the extension SQL the host runs (honker_x_enqueue,
    // with its argument checks in C), called directly on a raw connection.
    const sqlEnqueue = raw.prepare("SELECT honker_x_enqueue(?, ?, ?, ?, ?, ?, ?, ?)").pluck();
    const sqlOne = raw.transaction(() =>
      sqlEnqueue.get("e", JSON.stringify(PAYLOAD), null, null, 0, 3, null, null),
    );
    const sqlMany = raw.transaction(() => {
      for (const p of hundred) sqlEnqueue.get("e", JSON.stringify(p), null, null, 0, 3, null, null);
    });
    const oursOne = () => host.transaction(() => eq.enqueue(PAYLOAD));
    const rawMany = raw.transaction(() => {
      const t0 = nowS();
      for (const p of hundred) ins.run("e", JSON.stringify(p), t0, 0, 3, null);
    });
    const oursMany = () => eq.enqueueMany(hundred);
    const rawClaimAck = () => {
      const t0 = nowS();
      const rows = rawClaim.all("w", t0, "c", t0, t0, 1) as { id: number; payload: string }[];
      for (const r of rows) {
        JSON.parse(r.payload);
        rawAcks.one(r.id, "w", nowS());
      }
    };
    const oursClaimAck = () => {
      for (const j of q.claim("w")) q.ack(j.id, "w");
    };
    const rawBatch = () => {
      const t0 = nowS();
      const rows = rawClaim.all("w", t0, "c", t0, t0, 32) as { id: number; payload: string }[];
      for (const r of rows) JSON.parse(r.payload);
      rawAcks.many(JSON.stringify(rows.map((r) => r.id)), "w", nowS());
    };
    const oursBatch = () => {
      const jobs = q.claim("w", { batchSize: 32 });
      q.ackMany(
        jobs.map((j) => j.id),
        "w",
      );
    };
    const results: PairResult[] = [
      comparePair({
        name: "enqueue, 1 job per db.transaction, vs the same extension SQL on a raw connection",
        ops: 5000,
        goal: 0.9,
        setup: clear,
        floor: repeat(sqlOne),
        ours: repeat(oursOne),
      }),
      comparePair({
        name: "enqueueMany of 100, one transaction (jobs/s), vs the same extension SQL",
        ops: 5000,
        goal: 0.9,
        setup: clear,
        floor: repeat(sqlMany, 100),
        ours: repeat(oursMany, 100),
      }),
      comparePair({
        name: "claim + ack, one job at a time",
        ops: 3000,
        goal: 0.8,
        setup: refill(4000),
        floor: repeat(rawClaimAck),
        ours: repeat(oursClaimAck),
      }),
      comparePair({
        name: "claim + ackMany, batches of 32 (jobs/s)",
        ops: 3200,
        goal: 0.8,
        setup: refill(4000),
        floor: repeat(rawBatch, 32),
        ours: repeat(oursBatch, 32),
      }),
    ];
    // Info rows: a stricter floor (a bare INSERT, no extension call), then
    // loops that yield. In a synchronous loop the watcher's post-commit check (a microtask)
    // runs once at the end; an app's writes come from separate callbacks,
    // so each pays one check. These rows yield a microtask turn per op.
    const info: PairResult[] = [
      comparePair({
        name: "info: enqueue 1/tx vs a bare INSERT (no extension call)",
        ops: 5000,
        goal: 0.8,
        setup: clear,
        floor: repeat(rawOne),
        ours: repeat(oursOne),
      }),
      comparePair({
        name: "info: enqueueMany of 100 vs bare INSERTs",
        ops: 5000,
        goal: 0.8,
        setup: clear,
        floor: repeat(rawMany, 100),
        ours: repeat(oursMany, 100),
      }),
      await compareAsyncPair({
        name: "info: enqueue 1/tx, microtask turn per op",
        ops: 3000,
        goal: 0.9,
        setup: clear,
        floor: rawOne,
        ours: oursOne,
      }),
      await compareAsyncPair({
        name: "info: claim + ack 1, microtask turn per op",
        ops: 2000,
        goal: 0.8,
        setup: refill(3000),
        floor: rawClaimAck,
        ours: oursClaimAck,
      }),
    ];
    printResults("1. host API vs raw better-sqlite3 (median of 7 interleaved rounds)", [
      ...results,
      ...info,
    ]);
    console.log(
      "   (raw enqueue uses a deferred transaction with JSON.stringify; ours uses BEGIN IMMEDIATE; the\n" +
        "    'info' rows include the watcher's post-commit data_version check on every op)",
    );
    for (const r of results) {
      record({
        section: "api",
        name: `${r.name} (ratio vs raw)`,
        value: r.ratio,
        unit: "x",
        goal: r.goal,
        sense: "min",
        note: `${fmt(r.oursRate)} vs ${fmt(r.floorRate)} ops/s`,
      });
    }
  } finally {
    raw.close();
    await host.close();
    t.dispose();
    tf.dispose();
  }
}

// ---- 2. end to end --------------------------------------------------------------

function rawFloorE2e(n: number, perTx: number): number {
  const b = benchDb();
  try {
    const db = b.db;
    const ins = db.prepare(RAW_INSERT);
    const claim = db.prepare(RAW_CLAIM);
    const acks = rawAcker(db);
    const tx = db.transaction((k: number) => {
      const t = nowS();
      for (let i = 0; i < k; i++) ins.run("e2e", JSON.stringify(PAYLOAD), t, 0, 3, null);
    });
    const t0 = process.hrtime.bigint();
    for (let sent = 0; sent < n; sent += perTx) tx(Math.min(perTx, n - sent));
    let done = 0;
    for (;;) {
      const t = nowS();
      const rows = claim.all("w", t, "e2e", t, t, 32) as { id: number; payload: string }[];
      if (rows.length === 0) break;
      for (const r of rows) JSON.parse(r.payload);
      acks.many(JSON.stringify(rows.map((r) => r.id)), "w", nowS());
      done += rows.length;
    }
    const ns = Number(process.hrtime.bigint() - t0);
    if (done !== n) throw new Error(`raw e2e floor: processed ${done} of ${n}`);
    return (n * 1e9) / ns;
  } finally {
    b.dispose();
  }
}

async function e2eRun(
  n: number,
  perTx: number,
  resultTtl: number | false | undefined,
): Promise<{ jobsPerS: number; produceS: number; workerCpuMs: number }> {
  const t = tempPath("honker-host-e2e-");
  await createDb(t.path);
  const worker = child("e2e-worker", {
    path: t.path,
    n,
    concurrency: 32,
    batchSize: 32,
    ...(resultTtl === undefined ? {} : { resultTtl }),
  });
  const producer = child("e2e-producer", { path: t.path, n, perTx });
  try {
    await worker.next("ready");
    await producer.next("ready");
    producer.send("go");
    const p = await producer.next("result");
    const w = await worker.next("result", 120_000);
    const first = p.firstEnqueue as number;
    const last = w.lastAck as number;
    const cpu = w.cpu as { user: number; system: number };
    if ((w.errors as number) > 0) {
      console.log(`   worker reported ${w.errors} errors; first: ${w.firstError}`);
    }
    return {
      jobsPerS: (n * 1000) / (last - first),
      produceS: ((p.lastCommit as number) - first) / 1000,
      workerCpuMs: (cpu.user + cpu.system) / 1000,
    };
  } finally {
    await endChildren([worker, producer]);
    t.dispose();
  }
}

async function sectionE2e(): Promise<void> {
  const n = 20_000;
  const perTx = 100;
  console.log(
    `\n2. end to end: producer process enqueues ${n} jobs (transactions of ${perTx}); worker process runs queue.work(no-op, concurrency 32, batchSize 32)`,
  );
  const floors: number[] = [];
  const ours: number[] = [];
  const noResults: number[] = [];
  for (let r = 0; r < 3; r++) {
    floors.push(rawFloorE2e(n, perTx));
    const run = await e2eRun(n, perTx, undefined);
    ours.push(run.jobsPerS);
    console.log(
      `   round ${r + 1}: raw floor ${fmt(floors[r] as number)} jobs/s, ours ${fmt(run.jobsPerS)} jobs/s ` +
        `(producer done after ${run.produceS.toFixed(2)} s, worker cpu ${fmt(run.workerCpuMs)} ms)`,
    );
  }
  const noResult = await e2eRun(n, perTx, false);
  noResults.push(noResult.jobsPerS);
  const floor = median(floors);
  const mine = median(ours);
  console.log(
    `   median: raw floor (insert + claim/ackMany loop, one process) ${fmt(floor)} jobs/s; ours ${fmt(mine)} jobs/s; ratio ${(mine / floor).toFixed(2)}`,
  );
  console.log(
    `   info: with resultTtl: false (no saved result per job) ours ${fmt(median(noResults))} jobs/s`,
  );
  record({
    section: "e2e",
    name: "two processes, first enqueue to last ack (jobs/s)",
    value: mine,
    unit: "jobs/s",
    goal: 0,
    sense: "info",
    note: `raw floor ${fmt(floor)} jobs/s, ratio ${(mine / floor).toFixed(2)}`,
  });
}

// ---- 3. wake latency ------------------------------------------------------------

async function latencyRun(
  mode: "notify" | "worker",
  warmup: number,
  samples: number,
  gapMs: number,
) {
  const t = tempPath("honker-host-lat-");
  await createDb(t.path);
  const b = child("pong", { path: t.path, mode });
  const a = child("ping", { path: t.path, mode, warmup, samples, gapMs });
  try {
    await b.next("ready");
    await a.next("ready");
    a.send("go");
    const res = await a.next("result", 120_000);
    b.send("stop");
    const bres = await b.next("result");
    return {
      rtt: res.rtt as number[],
      traces: res.traces as Record<string, number | string>[],
      aWatcher: res.watcher as Record<string, number>,
      bWatcher: bres.watcher as Record<string, number>,
    };
  } finally {
    await endChildren([a, b]);
    t.dispose();
  }
}

async function sectionLatency(): Promise<void> {
  const warmup = 200;
  const samples = 1000;
  console.log(
    `\n3. cross-process wake latency: ping/pong round trips, ${samples} samples after ${warmup} warm-up; one-way ~= RTT/2`,
  );
  // The goal's case is a process waiting for work: A pauses 2 ms after each
  // pong so B has committed its ack and sleeps again. Back to back (info),
  // the next job arrives while B is still committing the previous one.
  const runs = [
    { gapMs: 2, mode: "notify" },
    { gapMs: 2, mode: "worker" },
    { gapMs: 0, mode: "notify" },
    { gapMs: 0, mode: "worker" },
  ] as const;
  for (const { gapMs, mode } of runs) {
    const r = await latencyRun(mode, warmup, samples, gapMs);
    const oneWay = r.rtt.map((x) => x / 2);
    const p50 = percentile(oneWay, 50);
    const p99 = percentile(oneWay, 99);
    const what =
      mode === "notify"
        ? "notify ping -> listener -> notify pong"
        : "enqueue -> worker handler start -> notify pong";
    console.log(
      `   ${what}${gapMs > 0 ? `, ${gapMs} ms pause between samples` : ", back to back"}`,
    );
    console.log(
      `     RTT p50 ${fmt(percentile(r.rtt, 50))} ms, p90 ${fmt(percentile(r.rtt, 90))} ms, p99 ${fmt(percentile(r.rtt, 99))} ms, max ${fmt(Math.max(...r.rtt))} ms; ` +
        `one-way p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms`,
    );
    // Breakdown of B's side, on the shared wall clock (sub-ms, same machine).
    const tr = r.traces;
    const num = (k: string) => tr.map((x) => x[k] as number);
    const diff = (a: string, b: string) => {
      const xs = num(a);
      const ys = num(b);
      return xs.map((x, i) => (ys[i] as number) - x);
    };
    const kinds = new Map<string, number>();
    const backKinds = new Map<string, number>();
    for (const x of tr) {
      kinds.set(String(x.kind), (kinds.get(String(x.kind)) ?? 0) + 1);
      backKinds.set(String(x.backKind), (backKinds.get(String(x.backKind)) ?? 0) + 1);
    }
    const stage = (label: string, xs: number[]) =>
      `${label} p50 ${fmt(median(xs))} / p99 ${fmt(percentile(xs, 99))} ms`;
    console.log(
      `     B side: ${stage("A send -> B trigger", diff("sent", "trigger"))}; ${stage("trigger -> data_version moved", diff("trigger", "emit"))}`,
    );
    console.log(
      `             ${stage("wake -> handler", diff("emit", "handler"))}; ${stage("return: pong commit -> A callback", diff("pongStart", "received"))}`,
    );
    console.log(
      `     what woke B: ${[...kinds].map(([k, v]) => `${k} ${v}`).join(", ")}; what woke A: ${[...backKinds].map(([k, v]) => `${k} ${v}`).join(", ")}`,
    );
    console.log(
      `     watcher stats A ${JSON.stringify(r.aWatcher)}, B ${JSON.stringify(r.bWatcher)}`,
    );
    const label =
      (mode === "notify" ? "notify wake" : "enqueue -> handler wake") +
      (gapMs > 0 ? "" : ", back to back");
    // One way on the shared wall clock (same machine): from A's commit
    // returning to B's handler start. From before A's call (info) adds A's
    // own statement; RTT/2 also counts B's reply commit.
    const commitToHandler = diff("committed", "handler");
    const callToHandler = diff("sent", "handler");
    console.log(
      `     ${stage("A commit returned -> B handler", commitToHandler)}; ${stage("A call started -> B handler", callToHandler)}`,
    );
    // The issue's measure: from just before the writer's call (its
    // statement and commit) to the handler's start in the other process.
    // Goals: listener p50 0.35 / p99 1.5 ms, worker p50 0.5 / p99 2 ms.
    const goalP50 = mode === "notify" ? 0.35 : 0.5;
    const goalP99 = mode === "notify" ? 1.5 : 2;
    record({
      section: "latency",
      name: `${label}, writer's call -> handler p50`,
      value: median(callToHandler),
      unit: "ms",
      goal: goalP50,
      sense: gapMs > 0 ? "max" : "info",
    });
    record({
      section: "latency",
      name: `${label}, writer's call -> handler p99`,
      value: percentile(callToHandler, 99),
      unit: "ms",
      goal: goalP99,
      sense: gapMs > 0 ? "max" : "info",
    });
    record({
      section: "latency",
      name: `${label}, commit returned -> handler p50 / p99 (info)`,
      value: median(commitToHandler),
      unit: "ms",
      goal: 0,
      sense: "info",
      note: `p99 ${fmt(percentile(commitToHandler, 99))} ms; without the writer's own statement`,
    });
    console.log(`     RTT/2 (includes B's reply commit): p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms`);
  }
}

// ---- 4. idle cost -----------------------------------------------------------------

async function sectionIdle(): Promise<void> {
  // Node's own start-up tail (lazy compilation, then V8's memory reducer
  // collecting a few times as allocation stops) runs for up to a minute
  // after start; an idle laptop's cost is the steady state after it.
  const windows = [
    { startMs: 2000, lengthMs: 10_000 },
    { startMs: 30_000, lengthMs: 60_000 },
  ];
  console.log(
    "\n4. idle cost: a process with 3 listeners, a worker and a stream subscriber, no traffic; " +
      "CPU of every thread, 2-12 s after start and in the steady state 30-90 s after start",
  );
  const t = tempPath("honker-host-idle-");
  await createDb(t.path);
  // The floor, side by side: the same child with only a keep-alive timer.
  const c = child("idle", { path: t.path, windows });
  const floor = child("idle", { path: t.path, windows, bare: true });
  try {
    await c.next("ready");
    await floor.next("ready");
    const r = (await c.next("result", 150_000)).windows as Record<string, unknown>[];
    const f = (await floor.next("result", 150_000)).windows as Record<string, unknown>[];
    const labels = ["2-12 s after start", "steady state, 30-90 s"];
    r.forEach((w, i) => {
      console.log(
        `   ${labels[i]}: CPU ${fmt(w.cpuMsPerS as number)} ms/s (user ${fmt(w.userMsPerS as number)}, system ${fmt(w.systemMsPerS as number)}); ` +
          `watcher ${JSON.stringify(w.watcher)}; floor (the same node child, no database) ${fmt(f[i]?.cpuMsPerS as number)} ms/s`,
      );
    });
    const early = r[0] as Record<string, number>;
    const steady = r[1] as Record<string, number>;
    record({
      section: "idle",
      name: "idle CPU, steady state (3 listeners + worker + subscriber)",
      value: steady.cpuMsPerS as number,
      unit: "ms/s",
      goal: 0.5,
      sense: "max",
      note: `bare node floor ${fmt(f[1]?.cpuMsPerS as number)} ms/s`,
    });
    record({
      section: "idle",
      name: "idle CPU, 2-12 s after start",
      value: early.cpuMsPerS as number,
      unit: "ms/s",
      goal: 0,
      sense: "info",
      note: `bare node floor ${fmt(f[0]?.cpuMsPerS as number)} ms/s`,
    });
  } finally {
    await endChildren([c, floor]);
    t.dispose();
  }
}

// ---- 5. event-loop delay ----------------------------------------------------------

async function sectionEld(): Promise<void> {
  const rate = 2000;
  const perTx = 5;
  const warmupMs = 1000;
  const measureMs = 5000;
  console.log(
    `\n5. event-loop delay in the host while it serves ~${rate} jobs/s (producer process: transactions of ${perTx} on a 1 ms timer; host: queue.work(no-op, concurrency 32))`,
  );
  const t = tempPath("honker-host-eld-");
  await createDb(t.path);
  const host = child("eld-host", { path: t.path, baselineMs: 1000, warmupMs, measureMs });
  const producer = child("paced-producer", {
    path: t.path,
    rate,
    perTx,
    durationMs: warmupMs + measureMs + 500,
  });
  try {
    await host.next("ready");
    await producer.next("ready");
    host.send("go");
    producer.send("go");
    const r = await host.next("result", 30_000);
    const p = await producer.next("result", 30_000);
    host.send("stop");
    const idle = r.idle as Record<string, number>;
    const busy = r.busy as Record<string, number>;
    // monitorEventLoopDelay records the whole 1 ms timer period, so the
    // delay is the excess over 1 ms.
    const excess = (v: number) => Math.max(0, v - 1);
    console.log(
      `   idle baseline (histogram, includes the 1 ms period): p50 ${fmt(idle.p50 as number)} ms, p99 ${fmt(idle.p99 as number)} ms, max ${fmt(idle.max as number)} ms`,
    );
    console.log(
      `   under load: p50 ${fmt(busy.p50 as number)} ms, p99 ${fmt(busy.p99 as number)} ms, max ${fmt(busy.max as number)} ms ` +
        `-> delay p50 ${fmt(excess(busy.p50 as number))} ms, p99 ${fmt(excess(busy.p99 as number))} ms`,
    );
    console.log(
      `   achieved ${fmt(r.jobsPerS as number)} jobs/s (producer ${fmt(p.rate as number)} jobs/s in ${p.transactions} transactions); ` +
        `host CPU ${fmt(r.cpuMsPerS as number)} ms/s; watcher wakes ${fmt(r.wakesPerS as number)}/s, checks ${fmt(r.checksPerS as number)}/s, file events ${fmt(r.fileEventsPerS as number)}/s`,
    );
    record({
      section: "eld",
      name: `event-loop delay p50 at ~${rate} jobs/s`,
      value: excess(busy.p50 as number),
      unit: "ms",
      goal: 0,
      sense: "info",
      note: "the goal is on p99",
    });
    record({
      section: "eld",
      name: `event-loop delay p99 at ~${rate} jobs/s`,
      value: excess(busy.p99 as number),
      unit: "ms",
      goal: 2,
      sense: "max",
      note: `raw histogram p99 ${fmt(busy.p99 as number)} ms incl. 1 ms period`,
    });
    record({
      section: "eld",
      name: "same, idle host before the load (timer noise floor)",
      value: excess(idle.p99 as number),
      unit: "ms",
      goal: 0,
      sense: "info",
      note: "what this machine's timer wake-ups add with no work at all",
    });
    record({
      section: "eld",
      name: "jobs/s achieved during the delay measurement",
      value: r.jobsPerS as number,
      unit: "jobs/s",
      goal: rate * 0.95,
      sense: "min",
    });
  } finally {
    await endChildren([host, producer]);
    t.dispose();
  }
}

// ---- main -------------------------------------------------------------------------

const sections: Record<string, () => Promise<void>> = {
  api: sectionApi,
  e2e: sectionE2e,
  latency: sectionLatency,
  idle: sectionIdle,
  eld: sectionEld,
};

const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
if (only !== undefined && !(only in sections)) {
  console.error(`--only=${only}: choose one of ${Object.keys(sections).join(", ")}`);
  process.exit(2);
}

const started = Date.now();
const probe = benchDb();
console.log(
  `host bench: SQLite ${probe.db.prepare("SELECT sqlite_version()").pluck().get()}, node ${process.version}, ${process.platform}-${process.arch}`,
);
probe.dispose();
for (const [name, run] of Object.entries(sections)) {
  if (only !== undefined && name !== only) continue;
  await run();
}
printSummary();
console.log(`\n(total ${((Date.now() - started) / 1000).toFixed(1)} s)`);
