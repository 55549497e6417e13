/**
 * WAL checkpoints off the main thread.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses the
 * threshold, on the committing thread: at 2,000 jobs/s that is a copy of
 * thousands of pages every second, stalling an Electron main process for
 * tens to hundreds of milliseconds. Instead the host's connection turns
 * automatic checkpoints off and a worker thread with its own connection
 * runs PASSIVE checkpoints (which never block writers) shortly after
 * commits, once the -wal file has grown past a threshold. Nothing runs
 * while the database is idle, and no thread exists until the WAL is big
 * enough to need one.
 */
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

// Plain CommonJS so the worker needs no loader; better-sqlite3 is N-API and
// loads in worker threads (and in Electron's main process) as-is.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma("busy_timeout = 1000");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", (m) => {
  if (m === "checkpoint") {
    try {
      const r = checkpoint.get();
      parentPort.postMessage({ t: "done", log: r.log, checkpointed: r.checkpointed });
    } catch (err) {
      parentPort.postMessage({ t: "error", message: String(err && err.message) });
    }
  } else if (m === "close") {
    db.close();
    parentPort.postMessage({ t: "closed" });
    parentPort.close();
  }
});
`;

export interface CheckpointStats {
  requested: number;
  /** Timer runs that found the -wal file below the threshold. */
  skipped: number;
  completed: number;
  failed: number;
  lastLog: number;
  lastCheckpointed: number;
}

export class Checkpointer {
  private readonly path: string;
  private readonly delayMs: number;
  private worker: Worker | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private again = false;
  private closed = false;
  readonly stats: CheckpointStats = {
    requested: 0,
    skipped: 0,
    completed: 0,
    failed: 0,
    lastLog: 0,
    lastCheckpointed: 0,
  };

  private readonly minWalBytes: number;

  constructor(path: string, options: { delayMs?: number; minWalBytes?: number } = {}) {
    this.path = path;
    this.delayMs = options.delayMs ?? 100;
    this.minWalBytes = Math.max(0, options.minWalBytes ?? 4 * 1024 * 1024);
  }

  /** A local commit happened: checkpoint within delayMs (coalesced). */
  noteCommit(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.request();
    }, this.delayMs);
    this.timer.unref();
  }

  private request(): void {
    if (this.closed) return;
    // stat() opens nothing, so SQLite's POSIX locks on -wal are safe. The
    // file keeps its size after a checkpoint resets it, so once past the
    // threshold every burst of commits is checkpointed, as before.
    let walBytes = 0;
    try {
      walBytes = statSync(`${this.path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    } catch {
      // Unreadable: checkpoint anyway, SQLite will say what is wrong.
      walBytes = Number.POSITIVE_INFINITY;
    }
    if (walBytes < this.minWalBytes) {
      this.stats.skipped++;
      return;
    }
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.stats.requested++;
    this.ensureWorker().postMessage("checkpoint");
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path: this.path } });
    w.unref();
    w.on("message", (m: { t: string; log?: number; checkpointed?: number }) => {
      if (m.t === "done") {
        this.stats.completed++;
        this.stats.lastLog = m.log ?? 0;
        this.stats.lastCheckpointed = m.checkpointed ?? 0;
      } else if (m.t === "error") {
        this.stats.failed++;
      }
      if (m.t === "done" || m.t === "error") {
        this.busy = false;
        if (this.again) {
          this.again = false;
          this.noteCommit();
        }
      }
    });
    // A worker that dies (out of memory, a broken driver) only costs us
    // background checkpoints: SQLite still checkpoints when the last
    // connection closes.
    w.on("error", () => {
      this.stats.failed++;
      this.worker = null;
      this.busy = false;
    });
    this.worker = w;
    return w;
  }

  /** Stops the worker (after a running checkpoint finishes). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      w.once("exit", done);
      w.on("message", (m: { t: string }) => {
        if (m.t === "closed") void w.terminate().then(done, done);
      });
      w.postMessage("close");
      setTimeout(() => void w.terminate().then(done, done), 2000).unref();
    });
  }
}
