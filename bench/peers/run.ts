/**
 * honker-electron next to its peers, the same workloads in one command:
 *
 *   npm ci --prefix bench/peers                  # the peers, once (not kit dependencies)
 *   apt-get install -y redis-server              # for BullMQ (Debian's; the bench starts its own)
 *   node bench/peers/run.ts                      # 3 interleaved rounds (15 minutes on a loaded 2-core machine)
 *   node bench/peers/run.ts --rounds=5 --n=10000 --only=enqueue,drain,tuned,e2e,sweep
 *   node bench/peers/run.ts --markdown=out.md    # also writes the README table
 *   node bench/peers/run.ts --verbose            # each figure as it is measured
 *   node bench/peers/run.ts --only=drain,sweep --sweep=results --rounds=7   # default drain, result-row cost
 *   node bench/peers/run.ts --libs=ours,bullmq   # a subset (ours,plainjob,bullmq,honker,raw)
 *
 * Libraries: honker-electron (src/main through type stripping), plainjob
 * (SQLite, better-sqlite3), BullMQ (Redis: Debian's redis-server, started on
 * a free 127.0.0.1 port and stopped by pid here), honker's upstream Node
 * binary, and "raw": the same SQL through better-sqlite3 with our extension
 * (the floor). Every figure is a fresh process (bench/peers/child.ts); each
 * round runs every library once per workload, in an order that rotates, and
 * the table shows medians, so a loaded machine slows all of them alike.
 *
 * Workloads (n jobs, default 10,000):
 *   enqueue  n jobs, one per call (one write transaction each), jobs/s
 *   drain    n no-op jobs already queued, each library's default worker options
 *   tuned    the same drain, tuned (ours: concurrency 16, batchSize 16; BullMQ:
 *            concurrency 16; honker: claim/ack batches of 16; plainjob: no
 *            concurrency option, poll 10 ms)
 *   e2e      a producer process enqueues n (one per call) while a worker process
 *            with default options drains them: the worker's rate (first enqueue
 *            to last completion), and its ratio to the producer's own rate
 *   sweep    ours only: drain with concurrency = batchSize = 1, 4, 8, 16, 32, 64, and
 *            16 without result rows (resultTtl: false), next to the default
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, "child.ts");

const argv = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v = "true"] = a.replace(/^--/, "").split("=");
    return [k as string, v];
  }),
);
const N = Number(argv.get("n") ?? 10_000);
const ROUNDS = Number(argv.get("rounds") ?? 3);
const ONLY = new Set((argv.get("only") ?? "enqueue,drain,tuned,e2e,sweep").split(","));
const LIBS = (argv.get("libs") ?? "ours,plainjob,bullmq,honker,raw").split(",");
const MARKDOWN = argv.get("markdown");
/** --verbose: print each figure as it is measured. */
const VERBOSE = argv.has("verbose");

const PEERS = ["plainjob", "bullmq", "honker"];
const LABEL: Record<string, string> = {
  ours: "honker-electron",
  plainjob: "plainjob",
  bullmq: "BullMQ",
  honker: "honker (upstream)",
  raw: "raw SQL (floor)",
};

// ---- processes ------------------------------------------------------------------

type Message = Record<string, unknown> & { type: string };

interface Child {
  proc: ChildProcess;
  next(type: string): Promise<Message>;
}

const TIMEOUT_MS = 180_000;

/** Children still running: a failed measurement ends its own (by pid) before its files go. */
const live = new Set<ChildProcess>();

async function endLive(): Promise<void> {
  await Promise.all(
    [...live].map(
      (p) =>
        new Promise((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve(null);
          p.once("exit", resolve);
          p.kill();
        }),
    ),
  );
  live.clear();
}

function child(lib: string, role: string, args: Record<string, unknown>): Child {
  const proc = spawn(
    process.execPath,
    [
      "--experimental-strip-types",
      "--disable-warning=ExperimentalWarning",
      CHILD,
      lib,
      role,
      JSON.stringify(args),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const inbox: Message[] = [];
  let wake: (() => void) | null = null;
  let exited = false;
  let buf = "";
  proc.stdout?.setEncoding("utf8");
  proc.stdout?.on("data", (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        inbox.push(JSON.parse(line) as Message);
      } catch {
        process.stdout.write(`[${lib} ${role}] ${line}\n`);
      }
      wake?.();
    }
  });
  live.add(proc);
  proc.on("exit", () => {
    live.delete(proc);
    exited = true;
    wake?.();
  });
  return {
    proc,
    async next(type) {
      const deadline = Date.now() + TIMEOUT_MS;
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0] as Message;
        if (exited) throw new Error(`${lib} ${role} exited before '${type}'`);
        if (Date.now() > deadline) {
          proc.kill();
          throw new Error(`${lib} ${role}: no '${type}' within ${TIMEOUT_MS} ms`);
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, 1000);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        wake = null;
      }
    },
  };
}

async function once(lib: string, role: string, args: Record<string, unknown>): Promise<Message> {
  const c = child(lib, role, args);
  const r = await c.next("result");
  await new Promise((resolve) =>
    c.proc.exitCode === null ? c.proc.once("exit", resolve) : resolve(null),
  );
  return r;
}

// ---- Redis, for BullMQ -----------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: "127.0.0.1", port });
    c.setTimeout(500, () => {
      c.destroy();
      resolve(false);
    });
    c.once("error", () => resolve(false));
    c.once("connect", () => c.write("PING\r\n"));
    c.once("data", (d) => {
      c.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
  });
}

interface Redis {
  port: number;
  version: string;
  stop(): Promise<void>;
}

/**
 * redis-server on a free loopback port, in a temp folder, with append-only
 * fsync every second (as durable as SQLite's WAL with synchronous=NORMAL:
 * a power cut may lose the last second, a crash of the process nothing).
 */
async function startRedis(): Promise<Redis> {
  const version =
    spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
  if (version === "") {
    throw new Error(
      "redis-server not found: apt-get install -y --no-install-recommends redis-server",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "honker-peers-redis-"));
  const port = await freePort();
  const proc = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "everysec",
      "--daemonize",
      "no",
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  for (let i = 0; i < 100 && !(await ping(port)); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await ping(port))) {
    proc.kill();
    throw new Error(`redis-server did not answer on 127.0.0.1:${port}`);
  }
  return {
    port,
    version: /v=(\S+)/.exec(version)?.[1] ?? version,
    async stop() {
      if (proc.pid !== undefined && proc.exitCode === null) process.kill(proc.pid, "SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- workloads ------------------------------------------------------------------------

let redis: Redis | null = null;
let bullCounter = 0;

/** A fresh database file (or, for BullMQ, a fresh queue name) for one measurement. */
function place(lib: string): { args: Record<string, unknown>; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "honker-peers-"));
  const args: Record<string, unknown> = { path: join(dir, "bench.db"), n: N };
  if (lib === "bullmq") {
    args.port = redis?.port;
    args.name = `bench-${process.pid}-${++bullCounter}`;
  }
  return { args, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

async function enqueueRate(lib: string): Promise<number> {
  const p = place(lib);
  try {
    return (await once(lib, "enqueue", p.args)).rate as number;
  } finally {
    await endLive();
    p.dispose();
  }
}

async function drainRate(lib: string, mode: unknown): Promise<number> {
  const p = place(lib);
  try {
    await once(lib, "fill", p.args);
    return (await once(lib, "drain", { ...p.args, mode })).rate as number;
  } finally {
    await endLive();
    p.dispose();
  }
}

async function e2e(lib: string): Promise<{ worker: number; producer: number }> {
  const p = place(lib);
  try {
    // The file (schema, WAL) exists before both processes open it.
    if (lib !== "bullmq") await once(lib, "fill", { ...p.args, n: 0 });
    const w = child(lib, "consume", { ...p.args, mode: "default" });
    await w.next("ready");
    const pr = child(lib, "produce", p.args);
    await pr.next("ready");
    pr.proc.stdin?.write("go\n");
    const pres = await pr.next("result");
    const wres = await w.next("result");
    for (const c of [pr, w]) {
      if (c.proc.exitCode === null) await new Promise((r) => c.proc.once("exit", r));
    }
    const first = pres.first as number;
    return {
      worker: (N * 1000) / ((wres.last as number) - first),
      producer: (N * 1000) / ((pres.last as number) - first),
    };
  } finally {
    await endLive();
    p.dispose();
  }
}

/** One measurement; a failure is reported and leaves no sample (and no process behind). */
async function attempt(key: string, fn: () => Promise<number>): Promise<number> {
  try {
    const v = await fn();
    add(key, v);
    if (VERBOSE) console.log(`   ${key} ${fmt(v)}`);
    return v;
  } catch (err) {
    console.log(`   ${key}: failed: ${err instanceof Error ? err.message : String(err)}`);
    failures.push(key);
    await endLive();
    return Number.NaN;
  }
}

const failures: string[] = [];

// ---- table -----------------------------------------------------------------------------

const samples = new Map<string, number[]>();
const add = (key: string, v: number) => {
  const xs = samples.get(key) ?? [];
  xs.push(v);
  samples.set(key, xs);
};
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor(s.length / 2)] as number);
};
const med = (key: string) => median(samples.get(key) ?? []);
const fmt = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "-");

function rotate<T>(xs: readonly T[], k: number): T[] {
  const i = k % xs.length;
  return [...xs.slice(i), ...xs.slice(0, i)];
}

const WORKLOADS: { key: string; title: string }[] = [
  { key: "enqueue", title: `enqueue ${N.toLocaleString("en-US")}, 1 per call (jobs/s)` },
  { key: "drain", title: "drain, default worker options (jobs/s)" },
  { key: "tuned", title: "drain, tuned (jobs/s)" },
  { key: "e2e", title: "producer -> worker process, defaults (worker jobs/s)" },
];

function table(): string {
  const libs = LIBS;
  const head = ["workload", ...libs.map((l) => LABEL[l] ?? l), "ours / best peer"];
  const rows: string[][] = [];
  for (const w of WORKLOADS) {
    if (!ONLY.has(w.key)) continue;
    const peers = PEERS.filter((p) => libs.includes(p)).map((p) => med(`${w.key}:${p}`));
    const best = Math.max(...peers.filter(Number.isFinite));
    const ours = med(`${w.key}:ours`);
    const cells = libs.map((l) => {
      const v = fmt(med(`${w.key}:${l}`));
      if (w.key !== "e2e") return v;
      // The worker's rate, and its share of the producer's own enqueue rate.
      const share = med(`e2e-share:${l}`);
      return Number.isFinite(share) ? `${v} (${share.toFixed(2)}x producer)` : v;
    });
    rows.push([w.title, ...cells, Number.isFinite(best) ? `${(ours / best).toFixed(2)}x` : "-"]);
  }
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function sweepTable(): string {
  const lines = ["| our drain, options | jobs/s | vs default |", "| --- | ---: | ---: |"];
  const base = med("sweep:default");
  for (const [key, xs] of samples) {
    if (!key.startsWith("sweep:")) continue;
    const v = median(xs);
    lines.push(`| ${key.slice(6)} | ${fmt(v)} | ${(v / base).toFixed(2)}x |`);
  }
  return lines.join("\n");
}

const SWEEP: [string, Record<string, unknown> | "default"][] = [
  ["default", "default"],
  ["concurrency 1, batchSize 1", { concurrency: 1, batchSize: 1 }],
  ["concurrency 4, batchSize 4", { concurrency: 4, batchSize: 4 }],
  ["concurrency 8, batchSize 8", { concurrency: 8, batchSize: 8 }],
  ["concurrency 16, batchSize 16", { concurrency: 16, batchSize: 16 }],
  ["concurrency 32, batchSize 32", { concurrency: 32, batchSize: 32 }],
  ["concurrency 64, batchSize 64", { concurrency: 64, batchSize: 64 }],
  [
    "concurrency 16, batchSize 16, resultTtl: false (no result rows)",
    { concurrency: 16, batchSize: 16, resultTtl: false },
  ],
  ["default, resultTtl: false (no result rows)", { resultTtl: false }],
];

/** --sweep=results: only the default with and without result rows (the cost of a null result row per job). */
const sweepRows = () =>
  argv.get("sweep") === "results"
    ? SWEEP.filter(([label]) => label === "default" || label.startsWith("default, resultTtl"))
    : SWEEP;

function loadNote(): string {
  const [l1, l5, l15] = loadavg().map((x) => x.toFixed(1));
  return `load average ${l1}, ${l5}, ${l15} on ${cpus().length} cores`;
}

async function main(): Promise<void> {
  const started = new Date();
  console.log(`peers bench: n ${N}, ${ROUNDS} rounds, ${LIBS.join(", ")}; ${loadNote()}`);
  if (LIBS.includes("bullmq")) {
    redis = await startRedis();
    console.log(`redis-server ${redis.version} on 127.0.0.1:${redis.port}`);
  }
  const loads: number[] = [loadavg()[0] as number];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = rotate(LIBS, r);
      const line: string[] = [];
      if (ONLY.has("enqueue")) {
        for (const l of order) await attempt(`enqueue:${l}`, () => enqueueRate(l));
      }
      if (ONLY.has("drain")) {
        for (const l of order) await attempt(`drain:${l}`, () => drainRate(l, "default"));
      }
      if (ONLY.has("tuned")) {
        for (const l of order) await attempt(`tuned:${l}`, () => drainRate(l, "tuned"));
      }
      if (ONLY.has("e2e")) {
        for (const l of order.filter((x) => x !== "raw")) {
          await attempt(`e2e:${l}`, async () => {
            const e = await e2e(l);
            add(`e2e-share:${l}`, e.worker / e.producer);
            return e.worker;
          });
        }
      }
      if (ONLY.has("sweep")) {
        for (const [label, mode] of rotate(sweepRows(), r)) {
          await attempt(`sweep:${label}`, () => drainRate("ours", mode));
        }
      }
      loads.push(loadavg()[0] as number);
      for (const [k, xs] of samples) line.push(`${k} ${fmt(xs[xs.length - 1] as number)}`);
      console.log(`round ${r + 1}/${ROUNDS} (${loadNote()}): ${line.join("; ")}`);
    }
  } finally {
    await redis?.stop();
  }
  const note =
    `${started.toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? "?"} x${cpus().length}, ` +
    `Node ${process.version}, n ${N.toLocaleString("en-US")}, median of ${ROUNDS} interleaved rounds, ` +
    `1-minute load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} during the run` +
    (redis ? `, redis-server ${redis.version} (appendonly, fsync every second)` : "");
  const out = [table(), "", note];
  if (failures.length > 0) out.push("", `failed measurements (no sample): ${failures.join(", ")}`);
  if (ONLY.has("sweep")) out.push("", sweepTable());
  console.log(`\n${out.join("\n")}`);
  if (MARKDOWN !== undefined) writeFileSync(MARKDOWN, `${out.join("\n")}\n`);
}

main().catch(async (err: unknown) => {
  console.error(err);
  await redis?.stop();
  process.exit(1);
});
