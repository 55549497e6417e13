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
 *
 * Bounded on disk: after a PASSIVE pass that copied every frame, the next
 * writer rewinds the WAL to the front of the file (SQLite does this by
 * itself), so in steady state the file is reused at about the threshold's
 * size, never truncated: truncating it made the next commit re-grow the
 * file and pay a new file's fsync on the app's thread (1-4 ms, once per
 * threshold's worth of writes). The size the checkpointer watches is the
 * WAL's live content, which the extension's WAL hook reports after each
 * commit (honker_x_wal_watch; the file's size no longer says it).
 * Under sustained writes a PASSIVE pass never catches up (writers append
 * while it copies), so once the live WAL or the file is past twice the
 * threshold (journal_size_limit), the thread also runs a TRUNCATE
 * checkpoint that waits at most 10 ms for the write lock and for readers:
 * it only has the frames written meanwhile left to copy, resets the WAL
 * to 0 bytes, or gives up (to try again next time).
 * Writes can outpace checkpoints (several processes writing flat out on a
 * slow disk, or a burst that never yields to the event loop): past a hard
 * bound (8 x the threshold) the writer checkpoints itself before going on,
 * which is back-pressure, the only thing that bounds the file then.
 * When a reader in another process pins an old snapshot, no checkpoint can
 * finish: the checkpointer reports that (with the WAL size) instead of
 * letting the file grow silently.
 */
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { HonkerError } from "./errors.ts";
import { currentTurn } from "./turn-clock.ts";

// Plain CommonJS so the worker needs no loader; better-sqlite3 is N-API and
// loads in worker threads (and in Electron's main process) as-is.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma("busy_timeout = 1000");
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const pause = new Int32Array(new SharedArrayBuffer(4));
// Another connection holding the checkpoint lock makes a checkpoint give up
// at once (log -1): that other checkpoint is usually short, so try again soon.
function checkpointSoon(stmt) {
  let r = stmt.get();
  for (let i = 0; i < 20 && r.log < 0; i++) {
    Atomics.wait(pause, 0, 0, 2);
    r = stmt.get();
  }
  return r;
}
const truncate = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)");
parentPort.on("message", (m) => {
  if (m && m.t === "checkpoint") {
    try {
      let r = checkpointSoon(passive);
      // Writers append while a pass copies: copy those frames too, until a
      // pass finds nothing new (the next writer then rewinds the WAL in
      // place) or a reader is in the way. A pass with nothing to copy costs
      // next to nothing; one with frames costs a copy and an fsync here,
      // never on a writer's thread.
      let caughtUp = false;
      for (let i = 0; i < 8 && r.log >= 0 && r.checkpointed === r.log; i++) {
        const again = passive.get();
        // Another connection's checkpoint holds the lock: keep what we got.
        if (again.log < 0) break;
        if (again.log === r.log && again.checkpointed === again.log) {
          caughtUp = true;
          break;
        }
        r = again;
      }
      let reset = false;
      // Asked to cut the file back (it is past twice the threshold) and
      // PASSIVE got (nearly) everything: TRUNCATE takes the write lock,
      // copies what is left and truncates the file. It waits only briefly
      // for the lock and for readers (other processes' reads are short);
      // writers wait meanwhile.
      if (m.reset && r.log >= 0 && r.log - r.checkpointed <= workerData.resetMaxFrames) {
        db.pragma("busy_timeout = " + workerData.resetWaitMs);
        try {
          const t = checkpointSoon(truncate);
          reset = t.busy === 0;
        } catch {
          // SQLITE_BUSY: a writer or reader was in the way; next time.
        }
        db.pragma("busy_timeout = 1000");
      }
      parentPort.postMessage({ t: "done", log: r.log, checkpointed: r.checkpointed, reset, caughtUp });
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
  /** Timer runs that found the WAL below the threshold (and the file within journal_size_limit). */
  skipped: number;
  completed: number;
  failed: number;
  lastLog: number;
  lastCheckpointed: number;
  /** Checkpoints that reset (truncated) the WAL. */
  resets: number;
  /** Checkpoints that copied every frame (the next writer rewinds the WAL in place). */
  caughtUp: number;
  /** Largest -wal size seen, in bytes. */
  maxWalBytes: number;
  /** Checkpoints the writer ran itself because the -wal passed the hard bound. */
  forced: number;
  /** Synchronous bursts (the timer overdue) during which SQLite's own automatic checkpoint ran. */
  inline: number;
}

/** The checkpoints a writer can run on its own connection. */
export interface WriterCheckpoints {
  /** RESTART: copies everything and waits for readers (the back-pressure past the hard bound). */
  force(): CheckpointResult;
  /** Sets the writer's automatic checkpoint (in pages; 0: off): SQLite's own, through the extension's WAL hook. */
  autocheckpoint(pages: number): void;
  /** The WAL's live size after the writer's last commit, in bytes (-1: unknown). */
  walBytes(): number;
}

/** Bytes of a WAL holding `frames` frames of `pageSize` (32-byte header, 24 bytes per frame). */
export function walBytesOf(frames: number, pageSize: number): number {
  return frames > 0 ? 32 + frames * (pageSize + 24) : 0;
}

/**
 * journal_size_limit, and the size past which checkpoints cut the file
 * back (TRUNCATE): twice checkpointAfterWalBytes, at least 1 MiB. Below
 * it a checkpointed WAL is rewound in place by the next writer.
 */
export function walLimitBytes(minWalBytes: number): number {
  return Math.max(2 * minWalBytes, 1024 * 1024);
}

export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/** Checkpointer options; see OpenOptions.checkpointAfterWalBytes. */
export interface CheckpointerOptions {
  delayMs?: number;
  minWalBytes?: number;
  /** Called when the WAL keeps growing because a reader pins an old snapshot. */
  onWarning?: (err: HonkerError) => void;
}

/**
 * Past this -wal size the writer itself checkpoints (TRUNCATE) before going
 * on: writes that outpace the disk get back-pressure instead of a WAL that
 * grows without end. 8 x checkpointAfterWalBytes (32 MiB by default).
 */
export function walHardBytes(minWalBytes: number): number {
  return Math.max(8 * minWalBytes, 2 * 1024 * 1024);
}

/** The writer checks the -wal size once per this many commits (a stat costs ~2 µs). */
const HARD_CHECK_EVERY = 32;
/**
 * The background timer this late (or BURST_COMMITS commits without a turn of
 * the event loop) means the writes come in one synchronous burst: the thread cannot be asked to
 * checkpoint, and nothing else can use the loop meanwhile, so the writer
 * checkpoints itself: SQLite's own automatic checkpoint (PASSIVE, at the
 * threshold's page count) is switched on until the timer finally runs,
 * instead of letting the WAL grow to the hard bound and the expensive
 * RESTART there.
 */
const TIMER_OVERDUE_MS = 50;
/** This many commits without a turn of the event loop also make a burst. */
const BURST_COMMITS = 64;
/** How long a writer past the hard bound keeps trying to get the checkpoint lock. */
const FORCED_WAIT_MS = 500;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** How long without a WAL reset (and the file past the warning size) means "starved". */
const STARVED_AFTER_MS = 5000;

/** The -wal size past which a checkpoint that cannot finish is reported. */
export function walWarnBytes(minWalBytes: number): number {
  return Math.max(4 * minWalBytes, 1024 * 1024);
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
    resets: 0,
    caughtUp: 0,
    maxWalBytes: 0,
    forced: 0,
    inline: 0,
  };

  private readonly minWalBytes: number;
  private readonly warnBytes: number;
  private readonly hardBytes: number;
  private readonly limitBytes: number;
  /** The writer that committed last (its WAL hook knows the WAL's live size). */
  private writer: WriterCheckpoints | null = null;
  private commitsSinceCheck = 0;
  private readonly onWarning: ((err: HonkerError) => void) | undefined;
  private lastWarnedAt = 0;
  /** When a checkpoint last reset the WAL (or when this started). */
  private lastResetAt = Date.now();
  private walBytes = 0;
  private timerArmedAt = 0;
  /** Commits in the current turn of the event loop (`commitTurn`). */
  private commitsThisTurn = 0;
  private commitTurn = -1;
  /** The writer whose automatic checkpoint is on for a burst, or null. */
  private burstWriter: WriterCheckpoints | null = null;

  constructor(path: string, options: CheckpointerOptions = {}) {
    this.path = path;
    this.delayMs = options.delayMs ?? 100;
    this.minWalBytes = Math.max(0, options.minWalBytes ?? 4 * 1024 * 1024);
    this.warnBytes = walWarnBytes(this.minWalBytes);
    this.hardBytes = walHardBytes(this.minWalBytes);
    this.limitBytes = walLimitBytes(this.minWalBytes);
    this.onWarning = options.onWarning;
  }

  /**
   * Called by the writer after each local commit. Every HARD_CHECK_EVERY
   * commits: in a synchronous burst, SQLite's automatic checkpoint goes on
   * for the writer's connection until the loop turns; past the hard bound,
   * the writer checkpoints right here (RESTART: it waits, the back-pressure).
   */
  afterCommit(writer: WriterCheckpoints): void {
    this.writer = writer;
    this.noteCommit();
    const turn = currentTurn();
    if (turn !== this.commitTurn) {
      this.commitTurn = turn;
      this.commitsThisTurn = 0;
    }
    this.commitsThisTurn++;
    if (++this.commitsSinceCheck < HARD_CHECK_EVERY) return;
    this.commitsSinceCheck = 0;
    let bytes = 0;
    try {
      // The file, not the live WAL: the file holds every live frame, so it
      // is never smaller, and it does not depend on the extension's hook
      // (which the app's PRAGMA wal_autocheckpoint replaces).
      bytes = statSync(`${this.path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    } catch {
      return;
    }
    this.stats.maxWalBytes = Math.max(this.stats.maxWalBytes, bytes);
    const burst =
      this.commitsThisTurn >= BURST_COMMITS ||
      (this.timer !== null && Date.now() - this.timerArmedAt > this.delayMs + TIMER_OVERDUE_MS);
    if (burst && this.burstWriter === null) {
      try {
        writer.autocheckpoint(Math.max(16, Math.ceil(this.minWalBytes / 4096)));
        this.burstWriter = writer;
        this.stats.inline++;
      } catch {
        // the next check tries again
      }
    }
    if (bytes < this.hardBytes) return;
    this.walBytes = bytes;
    this.stats.forced++;
    const checkpoint = () => writer.force();
    try {
      // Another connection's checkpoint (a PASSIVE pass over a big WAL, in
      // this process's thread or another process) holds the checkpoint lock,
      // and a checkpoint does not wait for that lock: retry for a while.
      // The writer waits here on purpose: this is the back-pressure.
      let r = checkpoint();
      const giveUpAt = Date.now() + FORCED_WAIT_MS;
      while (r.log < 0 && Date.now() < giveUpAt) {
        Atomics.wait(pause, 0, 0, 2);
        r = checkpoint();
      }
      if (r.busy === 0) {
        this.stats.resets++;
        this.lastResetAt = Date.now();
      } else if (r.checkpointed < r.log) this.starved();
    } catch {
      // Busy past busyTimeoutMs: the next check tries again.
    }
  }

  /** A local commit happened: checkpoint within delayMs (coalesced). */
  noteCommit(): void {
    if (this.closed || this.timer) return;
    this.timerArmedAt = Date.now();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.endBurst();
      this.request();
    }, this.delayMs);
    this.timer.unref();
  }

  /** The loop turns again: checkpoints go back to the thread. */
  private endBurst(): void {
    const writer = this.burstWriter;
    if (!writer) return;
    this.burstWriter = null;
    try {
      writer.autocheckpoint(0);
    } catch {
      // closed meanwhile
    }
  }

  private request(): void {
    if (this.closed) return;
    // stat() opens nothing, so SQLite's POSIX locks on -wal are safe.
    let fileBytes = 0;
    try {
      fileBytes = statSync(`${this.path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    } catch {
      // Unreadable: checkpoint anyway, SQLite will say what is wrong.
      fileBytes = Number.POSITIVE_INFINITY;
    }
    // The live WAL (the file is reused after a rewind, so its size says
    // only how big the WAL once was); the file's size without the hook
    // (never installed, or replaced by the app's PRAGMA wal_autocheckpoint).
    let liveBytes = -1;
    try {
      liveBytes = this.writer?.walBytes() ?? -1;
    } catch {
      // closed meanwhile
    }
    if (liveBytes < 0) liveBytes = fileBytes;
    this.walBytes = fileBytes;
    if (Number.isFinite(fileBytes))
      this.stats.maxWalBytes = Math.max(this.stats.maxWalBytes, fileBytes);
    if (liveBytes < this.minWalBytes && fileBytes <= this.limitBytes) {
      this.stats.skipped++;
      return;
    }
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.stats.requested++;
    // Cut the file back only when it (or the WAL in it) is past the limit:
    // a rewind in place costs the next writer nothing.
    const reset = liveBytes >= this.limitBytes || fileBytes > this.limitBytes;
    this.ensureWorker().postMessage({ t: "checkpoint", reset });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver,
        path: this.path,
        resetWaitMs: 10,
        resetMaxFrames: 2048,
      },
    });
    w.unref();
    w.on(
      "message",
      (m: {
        t: string;
        log?: number;
        checkpointed?: number;
        reset?: boolean;
        caughtUp?: boolean;
      }) => {
        if (m.t === "done") {
          this.stats.completed++;
          this.stats.lastLog = m.log ?? 0;
          this.stats.lastCheckpointed = m.checkpointed ?? 0;
          if (m.reset) {
            this.stats.resets++;
            this.lastResetAt = Date.now();
          } else if (m.caughtUp) {
            // Every frame copied: the next writer rewinds the WAL.
            this.stats.caughtUp++;
            this.lastResetAt = Date.now();
          } else if ((m.checkpointed ?? 0) < (m.log ?? 0)) this.starved();
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
      },
    );
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

  /**
   * A checkpoint could not copy every frame: a reader (in this or another
   * process) holds an old snapshot. Past the warning size, say so, at most
   * once a minute, with the WAL's size.
   */
  private starved(): void {
    if (this.walBytes < this.warnBytes || !this.onWarning) return;
    const now = Date.now();
    // Other processes' short reads also leave frames behind now and then;
    // a pinned snapshot shows as no reset for a while, with the file big.
    if (now - this.lastResetAt < STARVED_AFTER_MS) return;
    if (now - this.lastWarnedAt < 60_000) return;
    this.lastWarnedAt = now;
    const mib = (this.walBytes / 1048576).toFixed(1);
    this.onWarning(
      new HonkerError(
        "HONKER_WAL_GROWING",
        `The -wal file of ${this.path} is ${mib} MiB and checkpoints cannot finish: a reader ` +
          "holds an old snapshot (a long read transaction, in this or another process, or an " +
          "iterator left open). The file grows until that reader ends.",
      ),
    );
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
