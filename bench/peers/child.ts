/**
 * One measurement of bench/peers/run.ts, in a fresh process:
 *
 *   node bench/peers/child.ts <lib> <role> '<json args>'
 *
 * lib:  ours | raw | plainjob | bullmq | honker (upstream's Node binary)
 * role: fill | enqueue | drain | produce | consume
 *
 * Prints JSON lines: {"type":"ready"} where the parent must wait (consume,
 * produce), then one {"type":"result", ...}. Cross-process times use wall():
 * performance.timeOrigin + performance.now(), in milliseconds.
 *
 * The peers are loaded from bench/peers/node_modules by a computed import,
 * so the kit's typecheck needs none of them installed; each is driven
 * through the few calls below, typed here.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const wall = (): number => performance.timeOrigin + performance.now();
const send = (msg: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
};

export const PAYLOAD = { user: 42, action: "sync", items: [1, 2, 3] };
const QUEUE = "bench";

/** What every library is driven through. */
interface Lib {
  /** Bulk prefill (not measured). */
  fill(n: number): Promise<void>;
  /** One job per call (per transaction for the SQLite ones). */
  enqueueOne(): Promise<void> | void;
  /** Starts a worker on a no-op handler; resolves with wall() when `n` jobs have completed. */
  work(n: number, options: WorkMode): Promise<number>;
  close(): Promise<void>;
}

/** "default": the library's own worker defaults; "tuned": see run.ts; else our work() options. */
export type WorkMode = "default" | "tuned" | Record<string, unknown>;

/** A module from bench/peers/node_modules, untyped to the checker. */
async function peer(name: string): Promise<unknown> {
  const require = createRequire(join(here, "package.json"));
  const spec = require.resolve(name);
  return import(spec);
}

const silent = { error() {}, warn() {}, info() {}, debug() {} };

// ---- honker-electron ----------------------------------------------------------

async function ours(path: string): Promise<Lib> {
  const { open } = await import("../../src/main/index.ts");
  const db = open(path);
  const q = db.queue(QUEUE);
  return {
    async fill(n) {
      for (let i = 0; i < n; i += 1000) {
        q.enqueueMany(Array.from({ length: Math.min(1000, n - i) }, () => PAYLOAD));
      }
    },
    enqueueOne() {
      q.enqueue(PAYLOAD);
    },
    work(n, mode) {
      const options =
        mode === "default" ? {} : mode === "tuned" ? { concurrency: 16, batchSize: 16 } : mode;
      return new Promise((resolve) => {
        let doneAt = 0;
        const w = q.work(() => undefined, options);
        const check = () => {
          if (doneAt === 0 && w.stats.completed >= n) {
            doneAt = wall();
            unsubscribe();
            clearInterval(timer);
            void w.stop().then(() => resolve(doneAt));
          }
        };
        // Every ack commits through db.transaction(), which queues a local
        // watcher check: the completed counter is up to date by then.
        const unsubscribe = db.watcher.subscribe(check);
        const timer = setInterval(check, 20);
      });
    },
    close: () => db.close(),
  };
}

// ---- raw better-sqlite3 + the extension: the floor ----------------------------

async function raw(path: string): Promise<Lib> {
  const h = await import("../harness.ts");
  const Database = (await import("better-sqlite3")).default;
  const { getLoadablePath } = await import("../../src/extension/index.ts");
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.loadExtension(getLoadablePath());
  db.prepare("SELECT honker_bootstrap()").get();
  const ins = db.prepare(h.RAW_INSERT);
  const claim = db.prepare(h.RAW_CLAIM);
  const acks = h.rawAcker(db);
  const nowS = () => Math.floor(Date.now() / 1000);
  const insertOne = () => ins.run(QUEUE, JSON.stringify(PAYLOAD), nowS(), 0, 3, null);
  const one = db.transaction(insertOne);
  return {
    async fill(n) {
      db.transaction(() => {
        for (let i = 0; i < n; i++) insertOne();
      })();
    },
    enqueueOne() {
      one();
    },
    async work(n, mode) {
      // The floor's "worker": a synchronous claim/ack loop, 1 at a time or 16.
      const batch = mode === "default" ? 1 : 16;
      let done = 0;
      while (done < n) {
        const t = nowS();
        const rows = claim.all("w", t, QUEUE, t, t, batch) as { id: number; payload: string }[];
        if (rows.length === 0) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        for (const r of rows) JSON.parse(r.payload);
        if (batch === 1) acks.one((rows[0] as { id: number }).id, "w", nowS());
        else acks.many(JSON.stringify(rows.map((r) => r.id)), "w", nowS());
        done += rows.length;
      }
      return wall();
    },
    async close() {
      db.close();
    },
  };
}

// ---- plainjob --------------------------------------------------------------------

interface PlainJob {
  better(db: unknown): unknown;
  defineQueue(o: Record<string, unknown>): {
    add(type: string, data: unknown): { id: number };
    addMany(type: string, data: unknown[]): { ids: number[] };
    close(): void;
  };
  defineWorker(
    type: string,
    fn: (job: unknown) => Promise<void>,
    o: Record<string, unknown>,
  ): { start(): Promise<void>; stop(): Promise<void> };
}

async function plainjob(path: string): Promise<Lib> {
  const pj = (await peer("plainjob")) as PlainJob;
  const Database = (await import("better-sqlite3")).default;
  const db = new Database(path);
  // Its default logger is the console, with three debug lines per job: silenced.
  const queue = pj.defineQueue({ connection: pj.better(db), logger: silent });
  return {
    async fill(n) {
      for (let i = 0; i < n; i += 1000) {
        queue.addMany(
          QUEUE,
          Array.from({ length: Math.min(1000, n - i) }, () => PAYLOAD),
        );
      }
    },
    enqueueOne() {
      queue.add(QUEUE, PAYLOAD);
    },
    work(n, mode) {
      return new Promise((resolve) => {
        let done = 0;
        // No concurrency option (one job at a time); tuned: poll every 10 ms, not 1 s.
        const worker = pj.defineWorker(QUEUE, async () => {}, {
          queue,
          logger: silent,
          ...(mode === "tuned" ? { pollIntervall: 10 } : {}),
          onCompleted: () => {
            if (++done === n) {
              const at = wall();
              void worker.stop().then(() => resolve(at));
            }
          },
        });
        void worker.start();
      });
    },
    async close() {
      queue.close();
      db.close();
    },
  };
}

// ---- BullMQ ------------------------------------------------------------------------

interface BullMq {
  Queue: new (
    name: string,
    o: Record<string, unknown>,
  ) => {
    add(name: string, data: unknown): Promise<unknown>;
    addBulk(jobs: { name: string; data: unknown }[]): Promise<unknown>;
    close(): Promise<void>;
  };
  Worker: new (
    name: string,
    fn: () => Promise<void>,
    o: Record<string, unknown>,
  ) => {
    on(event: "completed" | "error", fn: (...a: unknown[]) => void): void;
    close(): Promise<void>;
  };
}

async function bullmq(port: number, name: string): Promise<Lib> {
  const b = (await peer("bullmq")) as BullMq;
  const connection = { host: "127.0.0.1", port };
  const queue = new b.Queue(name, { connection });
  return {
    async fill(n) {
      for (let i = 0; i < n; i += 1000) {
        await queue.addBulk(
          Array.from({ length: Math.min(1000, n - i) }, () => ({ name: QUEUE, data: PAYLOAD })),
        );
      }
    },
    async enqueueOne() {
      await queue.add(QUEUE, PAYLOAD);
    },
    work(n, mode) {
      return new Promise((resolve) => {
        let done = 0;
        const worker = new b.Worker(name, async () => {}, {
          connection,
          ...(mode === "tuned" ? { concurrency: 16 } : {}),
        });
        worker.on("error", (err) => console.error("bullmq worker:", err));
        worker.on("completed", () => {
          if (++done === n) {
            const at = wall();
            void worker.close().then(() => resolve(at));
          }
        });
      });
    },
    close: () => queue.close(),
  };
}

// ---- honker upstream (Node binary) --------------------------------------------------

type Row = Record<string, unknown>;
interface HonkerTx {
  query(sql: string, params?: unknown[]): Row[];
  commit(): void;
  rollback(): void;
}
interface HonkerDb {
  transaction(): HonkerTx;
  updateEvents(): { next(): Promise<unknown>; close(): void };
  close(): void;
}

/**
 * Upstream's binary has no worker of its own (its JavaScript wrapper is not
 * published): this drives it with the calls that wrapper makes. Default:
 * claim one job, run it, ack it, each in its own write transaction, waking
 * on the binary's update events (idle poll 5 s); tuned: claim 16, run them
 * together, ack them in one honker_ack_batch.
 */
async function honker(path: string): Promise<Lib> {
  const require = createRequire(join(here, "package.json"));
  const pkg = "@russellthehippo/honker-node-linux-x64-gnu";
  const pkgJson = require.resolve(`${pkg}/package.json`);
  const { main } = require(pkgJson) as { main: string };
  const mod = require(join(dirname(pkgJson), main)) as { open(path: string): HonkerDb };
  const hdb = mod.open(path);
  /** Write transactions refused with "database is locked" (seen with a second process on a loaded machine), retried. */
  let busyRetries = 0;
  const call = (sql: string, params: unknown[]): unknown => {
    for (let attempt = 0; ; attempt++) {
      let tx: HonkerTx | null = null;
      try {
        tx = hdb.transaction();
        const rows = tx.query(sql, params);
        tx.commit();
        const row = rows[0];
        return row === undefined ? null : Object.values(row)[0];
      } catch (err) {
        try {
          tx?.rollback();
        } catch {}
        if (attempt < 50 && /locked|busy/i.test(String((err as Error)?.message))) {
          busyRetries++;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
          continue;
        }
        throw err;
      }
    }
  };
  const ENQ = "SELECT honker_enqueue(?, ?, NULL, NULL, 0, 3, NULL) AS id";
  const claim = (k: number): { id: number; worker_id: string; payload: string }[] =>
    JSON.parse(call("SELECT honker_claim_batch(?, ?, ?, ?)", [QUEUE, "w", k, 300]) as string);
  let updates: { next(): Promise<unknown>; close(): void } | null = null;
  let pending: Promise<unknown> | null = null;
  const waitForUpdate = async (ms: number) => {
    updates ??= hdb.updateEvents();
    pending ??= updates.next().finally(() => {
      pending = null;
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  };
  return {
    async fill(n) {
      for (let i = 0; i < n; i += 1000) {
        const tx = hdb.transaction();
        for (let k = i; k < Math.min(n, i + 1000); k++)
          tx.query(ENQ, [QUEUE, JSON.stringify(PAYLOAD)]);
        tx.commit();
      }
    },
    enqueueOne() {
      call(ENQ, [QUEUE, JSON.stringify(PAYLOAD)]);
    },
    async work(n, mode) {
      const handler = async (_payload: unknown) => {};
      const batch = mode === "default" ? 1 : 16;
      let done = 0;
      while (done < n) {
        const jobs = claim(batch);
        if (jobs.length === 0) {
          const next = call("SELECT honker_queue_next_claim_at(?)", [QUEUE]) as number;
          await waitForUpdate(next > 0 ? Math.max(0, next * 1000 - Date.now()) : 5000);
          continue;
        }
        if (batch === 1) {
          const job = jobs[0] as { id: number; payload: string };
          await handler(JSON.parse(job.payload));
          call("SELECT honker_ack(?, ?)", [job.id, "w"]);
        } else {
          await Promise.all(jobs.map((j) => handler(JSON.parse(j.payload))));
          call("SELECT honker_ack_batch(?, ?)", [JSON.stringify(jobs.map((j) => j.id)), "w"]);
        }
        done += jobs.length;
      }
      return wall();
    },
    async close() {
      if (busyRetries > 0)
        console.error(`honker: ${busyRetries} write transactions retried (database is locked)`);
      updates?.close();
      hdb.close();
    },
  };
}

// ---- roles ------------------------------------------------------------------------

interface Args {
  path: string;
  n: number;
  /** BullMQ: Redis port and queue name. */
  port?: number;
  name?: string;
  mode?: WorkMode;
}

async function lib(name: string, a: Args): Promise<Lib> {
  switch (name) {
    case "ours":
      return ours(a.path);
    case "raw":
      return raw(a.path);
    case "plainjob":
      return plainjob(a.path);
    case "bullmq":
      return bullmq(a.port ?? 0, a.name ?? QUEUE);
    case "honker":
      return honker(a.path);
    default:
      throw new Error(`unknown lib '${name}'`);
  }
}

function nextLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin });
  return new Promise((resolve) => {
    rl.once("line", (line) => {
      rl.close();
      resolve(line.trim());
    });
  });
}

async function main(): Promise<void> {
  const [name = "", role = "", json = "{}"] = process.argv.slice(2);
  const a = JSON.parse(json) as Args;
  const l = await lib(name, a);
  switch (role) {
    case "fill": {
      await l.fill(a.n);
      send({ type: "result" });
      break;
    }
    case "enqueue": {
      const t0 = wall();
      for (let i = 0; i < a.n; i++) await l.enqueueOne();
      const t1 = wall();
      send({ type: "result", rate: (a.n * 1000) / (t1 - t0) });
      break;
    }
    case "drain": {
      const t0 = wall();
      const t1 = await l.work(a.n, a.mode ?? "default");
      send({ type: "result", rate: (a.n * 1000) / (t1 - t0) });
      break;
    }
    case "consume": {
      const done = l.work(a.n, a.mode ?? "default");
      send({ type: "ready" });
      send({ type: "result", last: await done });
      break;
    }
    case "produce": {
      send({ type: "ready" });
      await nextLine();
      const first = wall();
      for (let i = 0; i < a.n; i++) await l.enqueueOne();
      send({ type: "result", first, last: wall() });
      break;
    }
    default:
      throw new Error(`unknown role '${role}'`);
  }
  await l.close();
  process.stdout.write("", () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
