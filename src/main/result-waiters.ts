/**
 * Waiting for job results: one registry per database handle, attached
 * lazily. Waiters are kept by job id; the registry holds ONE watcher
 * subscription while any waiter exists (none at all when idle) and, on each
 * wake, checks every waiting id in ONE statement, settling only the waiters
 * whose job reached an outcome. So a commit costs one indexed statement,
 * however many waits are pending (before: one subscription, one result read
 * and one dead-letter read per waiter, per commit).
 */
import type Database from "better-sqlite3";
import { id as checkJobId, longTimeout, MAX_SECONDS, options, optSignal, refuse } from "./args.ts";

/** The longest finite wait: ten years, in ms. */
const MAX_WAIT_MS = MAX_SECONDS * 1000;

import { fromSqlite, HonkerError } from "./errors.ts";
import type { Host } from "./host.ts";
import { fromJsonText } from "./values.ts";

/** What a waiter learns about its job. */
export type JobOutcome =
  | { state: "completed"; resultText: string | null }
  | { state: "dead"; error: string | null }
  | { state: "cancelled" }
  | { state: "waiting" };

/** One row of the check: only ids whose job reached an outcome are returned. */
interface CheckRow {
  id: number;
  has_result: 0 | 1;
  result: string | null;
  dead: 0 | 1;
  last_error: string | null;
  live: 0 | 1;
  allocated: 0 | 1;
  /** The completed-job history's state: completed, cancelled or dead; null if none. */
  finished: string | null;
}

/**
 * Every waiting id, checked in one statement (ids as a JSON array). Rows
 * come back only for decided ids, so an unrelated commit returns none.
 * `allocated`: the id was handed out by _honker_live's AUTOINCREMENT, so a
 * missing live row means the job is gone, not "not enqueued yet".
 */
const CHECK_SQL = `
  SELECT w.value AS id,
         r.job_id IS NOT NULL AS has_result,
         r.value AS result,
         d.id IS NOT NULL AS dead,
         d.last_error AS last_error,
         l.id IS NOT NULL AS live,
         h.state AS finished,
         w.value <= COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '_honker_live'), 0)
           AS allocated
    FROM json_each(?) AS w
    LEFT JOIN _honker_results AS r
      ON r.job_id = w.value AND (r.expires_at IS NULL OR r.expires_at > unixepoch())
    LEFT JOIN _honker_dead AS d ON d.id = w.value
    LEFT JOIN _honker_live AS l ON l.id = w.value
    LEFT JOIN _honker_x_history AS h ON h.id = w.value
   WHERE r.job_id IS NOT NULL OR d.id IS NOT NULL OR l.id IS NULL`;

/**
 * THE decision "what is this job's outcome", kept in one place so it can be
 * switched to the extension's `honker_x_get_job(id)` (a JSON view whose
 * `state` is pending|processing|completed|dead|cancelled) in one edit.
 */
export function outcomeOf(row: CheckRow): JobOutcome {
  if (row.has_result) return { state: "completed", resultText: row.result ?? "null" };
  if (row.dead) return { state: "dead", error: row.last_error };
  // The completed-job history (written by the extension as a job leaves
  // _honker_live) tells a completed job without a saved result (undefined)
  // from a cancelled one.
  if (row.finished === "completed") return { state: "completed", resultText: null };
  if (row.finished === "cancelled") return { state: "cancelled" };
  // Gone without a trace (history pruned, or deleted by another client): as
  // good as cancelled for a waiter, which would otherwise wait forever.
  if (!row.live && row.allocated) return { state: "cancelled" };
  return { state: "waiting" };
}

interface Waiter {
  id: number;
  doing: string;
  /** Epoch ms of the timeout, or Infinity. */
  due: number;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  settled: boolean;
  resolve(text: string | null): void;
  reject(err: unknown): void;
}

/**
 * The registry of one database handle. However many waits are pending it
 * holds one watcher subscription, one timer (the earliest deadline) and one
 * abort listener per distinct signal: a burst of waits costs no timer and no
 * listener list each (Node's EventTarget walks its list on every add).
 */
export class ResultWaiters {
  private readonly db: Host;
  private readonly byId = new Map<number, Set<Waiter>>();
  private count = 0;
  private stmt: Database.Statement | null = null;
  private idsJson: string | null = null;
  private unsubscribe: (() => void) | null = null;
  private undead: (() => void) | null = null;
  private untrack: (() => void) | null = null;
  /** Waiters added since the last check: their first look, batched into one statement. */
  private unchecked: Waiter[] = [];
  private firstLook: NodeJS.Immediate | null = null;
  /** A min-heap of deadlines (settled waiters are dropped lazily). */
  private heap: Waiter[] = [];
  private timer: { clear(): void } | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly bySignal = new Map<AbortSignal, { waiters: Set<Waiter>; onAbort: () => void }>();
  /** Counters for tests and diagnostics: wakes handled, statements run, last check's duration. */
  readonly stats = { wakes: 0, statements: 0, lastCheckMs: 0 };

  constructor(db: Host) {
    this.db = db;
  }

  /** Pending waits (all job ids). */
  get size(): number {
    return this.count;
  }

  /** True while the registry listens to the watcher. */
  get subscribed(): boolean {
    return this.unsubscribe !== null;
  }

  /**
   * Resolves with the job's result (JSON text); rejects with HONKER_TIMEOUT
   * after `timeoutMs`, the signal's reason on abort, HONKER_JOB_DEAD when the
   * job died and HONKER_CANCELLED when it was cancelled.
   */
  wait(
    jobId: number,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
    doing: string,
  ): Promise<string | null> {
    return new Promise<string | null>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const waiter: Waiter = {
        id: jobId,
        doing,
        due: timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs,
        timeoutMs,
        signal,
        settled: false,
        resolve: (text) => {
          if (this.settle(waiter)) resolve(text);
        },
        reject: (err) => {
          if (this.settle(waiter)) reject(err);
        },
      };
      try {
        // Subscribe before reading, so a result saved in between wakes us.
        this.add(waiter);
      } catch (err) {
        waiter.reject(fromSqlite(err, doing));
      }
    });
  }

  private add(w: Waiter): void {
    if (this.count === 0) this.activate();
    let set = this.byId.get(w.id);
    if (!set) {
      set = new Set();
      this.byId.set(w.id, set);
      this.idsJson = null;
    }
    set.add(w);
    this.count++;
    if (w.signal) {
      let entry = this.bySignal.get(w.signal);
      if (!entry) {
        const s = w.signal;
        const waiters = new Set<Waiter>();
        const onAbort = () => {
          for (const x of [...waiters]) x.reject(s.reason);
        };
        entry = { waiters, onAbort };
        this.bySignal.set(s, entry);
        s.addEventListener("abort", onAbort, { once: true });
      }
      entry.waiters.add(w);
    }
    if (Number.isFinite(w.due)) {
      this.push(w);
      if (w.due < this.timerAt) this.armTimer(w.due);
    }
    // The first look (a result may already be saved): one statement for every
    // wait added in this turn of the event loop, unless a wake checks first.
    this.unchecked.push(w);
    this.firstLook ??= setImmediate(() => this.lookFirst());
  }

  /** Takes `w` out of every structure; false if it was already settled. */
  private settle(w: Waiter): boolean {
    if (w.settled) return false;
    w.settled = true;
    const set = this.byId.get(w.id);
    if (set?.delete(w)) {
      this.count--;
      if (set.size === 0) {
        this.byId.delete(w.id);
        this.idsJson = null;
      }
    }
    if (w.signal) {
      const entry = this.bySignal.get(w.signal);
      if (entry?.waiters.delete(w) && entry.waiters.size === 0) {
        w.signal.removeEventListener("abort", entry.onAbort);
        this.bySignal.delete(w.signal);
      }
    }
    // Deadlines are dropped lazily; rebuild the heap once it is mostly settled ones.
    if (this.heap.length > 64 && this.heap.length > 2 * this.count) this.rebuildHeap();
    if (this.count === 0) this.deactivate();
    return true;
  }

  private lookFirst(): void {
    this.firstLook = null;
    const fresh = this.unchecked.filter((w) => !w.settled);
    this.unchecked = [];
    if (fresh.length === 0) return;
    let rows: CheckRow[];
    try {
      rows = this.check(JSON.stringify([...new Set(fresh.map((w) => w.id))]));
    } catch (err) {
      for (const w of fresh) w.reject(fromSqlite(err, w.doing));
      return;
    }
    for (const row of rows) {
      const set = this.byId.get(row.id);
      if (set) for (const w of [...set]) this.deliver(row, w);
    }
  }

  // ---- deadlines: one timer at the earliest, a binary min-heap by `due` ----

  private push(w: Waiter): void {
    const h = this.heap;
    h.push(w);
    let i = h.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if ((h[up] as Waiter).due <= w.due) break;
      h[i] = h[up] as Waiter;
      i = up;
    }
    h[i] = w;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Waiter;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && (h[r] as Waiter).due < (h[l] as Waiter).due ? r : l;
      if ((h[c] as Waiter).due >= last.due) break;
      h[i] = h[c] as Waiter;
      i = c;
    }
    h[i] = last;
  }

  private rebuildHeap(): void {
    const live = this.heap.filter((w) => !w.settled);
    this.heap = [];
    for (const w of live) this.push(w);
  }

  private armTimer(at: number): void {
    this.timer?.clear();
    this.timerAt = at;
    // longTimeout: deadlines beyond setTimeout's 2^31-1 ms ceiling re-arm on the way.
    this.timer = longTimeout(() => this.onTimer(), Math.max(0, at - Date.now()));
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.heap.length > 0) {
      const w = this.heap[0] as Waiter;
      if (w.settled) {
        this.pop();
        continue;
      }
      if (w.due > now) {
        this.armTimer(w.due);
        return;
      }
      this.pop();
      w.reject(
        new HonkerError(
          "HONKER_TIMEOUT",
          `${w.doing}: no result for job ${w.id} within ${w.timeoutMs} ms`,
        ),
      );
    }
  }

  private activate(): void {
    this.db.assertOpen("waitResult");
    this.unsubscribe = this.db.watcher.subscribe(() => this.onWake());
    this.undead = this.db.watcher.onDead((err) => this.failAll(err));
    this.untrack = this.db.track({
      close: () =>
        this.failAll(
          new HonkerError("HONKER_CLOSED", "waitResult: the database was closed while waiting"),
        ),
    });
  }

  /** No waiter left: no watcher subscription, timer or listener; no cost at all on commits. */
  private deactivate(): void {
    this.unsubscribe?.();
    this.undead?.();
    this.untrack?.();
    this.unsubscribe = this.undead = this.untrack = null;
    this.timer?.clear();
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.heap = [];
    this.unchecked = [];
    if (this.firstLook) clearImmediate(this.firstLook);
    this.firstLook = null;
  }

  private failAll(err: unknown): void {
    for (const set of [...this.byId.values()]) for (const w of [...set]) w.reject(err);
  }

  /** One statement for every waiting id; only decided ids come back. */
  private check(idsJson: string): CheckRow[] {
    if (!this.db.open) {
      throw new HonkerError("HONKER_CLOSED", "waitResult: the database was closed");
    }
    this.stmt ??= this.db.raw.prepare(CHECK_SQL);
    this.stats.statements++;
    return this.stmt.all(idsJson) as CheckRow[];
  }

  private onWake(): void {
    if (this.count === 0) return;
    // On the writer connection mid-transaction a read would show uncommitted
    // rows; the commit wakes us again.
    if (this.db.raw.inTransaction) return;
    this.stats.wakes++;
    // This check covers every waiting id, so also the first looks still due.
    this.unchecked = [];
    this.idsJson ??= JSON.stringify([...this.byId.keys()]);
    const t0 = performance.now();
    let rows: CheckRow[];
    try {
      rows = this.check(this.idsJson);
    } catch (err) {
      // Closed: everyone ends. Anything else (busy, I/O) is retried on the next wake.
      if (!this.db.open) this.failAll(fromSqlite(err, "waitResult"));
      return;
    } finally {
      this.stats.lastCheckMs = performance.now() - t0;
    }
    for (const row of rows) {
      const set = this.byId.get(row.id);
      if (set) for (const w of [...set]) this.deliver(row, w);
    }
  }

  private deliver(row: CheckRow, w: Waiter): void {
    const o = outcomeOf(row);
    switch (o.state) {
      case "completed":
        w.resolve(o.resultText);
        return;
      case "dead":
        w.reject(
          new HonkerError(
            "HONKER_JOB_DEAD",
            `${w.doing}: job ${w.id} died: ${o.error ?? "no error"} (see deadLetters(); redrive() retries it)`,
          ),
        );
        return;
      case "cancelled":
        w.reject(
          new HonkerError(
            "HONKER_CANCELLED",
            `${w.doing}: job ${w.id} was cancelled (or is gone without a result); it will never have one`,
          ),
        );
        return;
      case "waiting":
        return;
    }
  }
}

const registries = new WeakMap<Host, ResultWaiters>();

/** The registry of `db`, created on first use. */
export function resultWaiters(db: Host): ResultWaiters {
  let r = registries.get(db);
  if (!r) {
    r = new ResultWaiters(db);
    registries.set(db, r);
  }
  return r;
}

/**
 * `Queue.waitResult`: validates, then waits through the database's registry.
 * `timeoutMs`: finite and >= 0 (beyond setTimeout's 2^31-1 ms ceiling is fine).
 */
export async function waitForResult<R>(
  db: Host,
  jobId: unknown,
  opts: unknown,
  doing: string,
): Promise<R> {
  checkJobId(doing, "id", jobId);
  const o = options<{ timeoutMs: number; signal: AbortSignal }>(doing, opts);
  const t = o.timeoutMs;
  if (
    t !== undefined &&
    (typeof t !== "number" || !Number.isFinite(t) || t < 0 || t > MAX_WAIT_MS)
  ) {
    throw refuse(
      doing,
      "options.timeoutMs",
      `a number of milliseconds from 0 to ${MAX_WAIT_MS}`,
      t,
    );
  }
  const signal = optSignal(doing, "options.signal", o.signal);
  db.assertOpen(doing);
  const text = await resultWaiters(db).wait(jobId as number, t, signal, doing);
  // null: completed without a saved result (the handler returned undefined).
  return (text === null ? undefined : fromJsonText<R>(text)) as R;
}
