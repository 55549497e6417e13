/**
 * `db.outbox(name, options)`: messages committed with the app's own writes
 * and relayed to a server when the network allows, nothing lost and
 * nothing applied twice (the server dedups on each message's idempotency
 * key). The SQL contract (key order, attempts, dead letters) is the
 * extension's `honker_x_outbox_*`; this adds waking, the transport,
 * backoff, connectivity and status.
 */
import * as args from "../args.ts";
import { HonkerError } from "../errors.ts";
import type { Host } from "../host.ts";
import { isTerminal, report } from "../report.ts";
import { plucked, prepared } from "../statements.ts";
import { fromJsonText, toJsonText } from "../values.ts";
import { type BackoffOptions, backoffSeconds } from "../worker.ts";
import { linkedAbort } from "./signals.ts";
import {
  type DeliveryOutcome,
  type OutboxMessage,
  type Transport,
  TransportError,
} from "./transport.ts";

/** An app's own view of the network (Electron's `net.isOnline()`, a ping...). */
export interface Connectivity {
  readonly online: boolean;
  /** Calls `listener` on every change; returns an unsubscribe function. */
  subscribe(listener: (online: boolean) => void): () => void;
}

export interface OutboxOptions<P = unknown> {
  /** Where messages go. Without one this handle only adds and inspects (another process relays). */
  transport?: Transport<P>;
  /** Attempts before a message is dead (kept, visible, redrivable). Default 20. */
  maxAttempts?: number;
  /** Retry delays: full jitter over an exponential cap, as workers do. */
  backoff?: BackoffOptions;
  /** The app's view of the network; without it a network error marks the outbox offline and the transport's probe decides when it is back. */
  connectivity?: Connectivity;
  /** Seconds a claimed batch is ours before another relay may take it (default 60; keep it above the transport's timeout). */
  visibilityTimeout?: number;
  /**
   * Batches in flight at once (default 8 with batchSize 1, else 1). Key order holds at any
   * concurrency: a key's next message is claimed only once its predecessor
   * settled. Batches that come back in the same event-loop turn settle in
   * one commit.
   */
  concurrency?: number;
  /** Messages per batch (default: the transport's batchSize, else 1). */
  batchSize?: number;
  /** First and longest wait between reachability probes while offline (default 250 ms, 10 s). */
  probeMinMs?: number;
  probeMaxMs?: number;
  /** Failures of the relay's own work (a claim under a held lock, a transport error). Default: logged once per cause. */
  onError?: (err: unknown) => void;
}

export interface OutboxStatus {
  /** Messages waiting (including those in backoff and those whose claim lapsed). */
  pending: number;
  /** Messages claimed by a relay (in any process) right now. */
  inFlight: number;
  dead: number;
  /** Messages delivered since the file was created. */
  delivered: number;
  online: boolean;
  /**
   * Paused in the file (by pause() here, another process or the
   * inspector: no relay anywhere sends), or this relay paused itself
   * because the transport asked to (`TransportError` with `pause: true`,
   * e.g. credentials refused). resume() clears both.
   */
  paused: boolean;
  /** The last failure this handle saw (cleared by the next delivery). */
  lastError: string | null;
  /** Unix seconds of the last delivery (any process), or null. */
  lastDeliveredAt: number | null;
  /** Unix seconds when the oldest waiting message is due (past: now), or null (none waiting, or paused). */
  nextAttemptAt: number | null;
}

export interface DeadMessage<P = unknown> {
  id: number;
  key: string | null;
  payload: P;
  attempts: number;
  error: string | null;
  createdAt: number;
  diedAt: number;
}

interface ClaimRow {
  attempts: number;
  created_at: number;
  id: number;
  idempotency_key: string;
  key: string | null;
  payload: string;
}

interface StatsRow {
  dead: number;
  delivered: number;
  inflight: number;
  last_delivered_at: number | null;
  next_attempt_at: number | null;
  paused: boolean;
  pending: number;
}

/** What the file says of an outbox (counts, the stored pause): status() less this relay's own view. */
export type StoredOutboxStatus = Omit<OutboxStatus, "online" | "lastError">;

/** Reads an outbox's counts and stored pause from the file (honker_x_outbox_stats). */
export function storedStatus(db: Host, name: string): StoredOutboxStatus {
  const row = JSON.parse(
    db.read(
      `outbox('${name}').status`,
      () => plucked(db.raw, "SELECT honker_x_outbox_stats(?)").get(name) as string,
    ),
  ) as StatsRow;
  return {
    pending: row.pending,
    inFlight: row.inflight,
    dead: row.dead,
    delivered: row.delivered,
    paused: row.paused,
    lastDeliveredAt: row.last_delivered_at,
    // Paused: nothing is attempted until a resume.
    nextAttemptAt: row.paused ? null : row.next_attempt_at,
  };
}

/** A batch's outcomes waiting for the turn's settle transaction. */
interface PendingSettle<P> {
  batch: readonly OutboxMessage<P>[];
  outcomes: readonly (DeliveryOutcome | "release" | undefined)[];
  /** The error recorded with released messages. */
  releaseError: string | null;
  /** Claim the slot's next batch in the same transaction. */
  claimNext: boolean;
  resolve: (next: OutboxMessage<P>[]) => void;
}

let relayCounter = 0;

/**
 * Most messages settled in one transaction (whole batches; one batch may be
 * bigger). Settling costs ~20 µs a message: this keeps a turn short.
 */
const SETTLE_MAX_MESSAGES = 100;

/** Most turns of the event loop a settle waits for the other batches in flight (flushWhenGathered). */
const SETTLE_WAIT_TURNS = 3;

/** Least time between two status computations for onStatus listeners. */
const STATUS_MIN_GAP_MS = 50;

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message.slice(0, 4000);
  return String(err).slice(0, 4000);
}

export class Outbox<P = unknown> {
  readonly name: string;
  readonly relayId: string;
  private readonly db: Host;
  private readonly transport: Transport<P> | undefined;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffOptions;
  private readonly visibility: number;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly probeMinMs: number;
  private readonly probeMaxMs: number;
  private readonly onError: ((err: unknown) => void) | undefined;
  private readonly connectivity: Connectivity | undefined;
  private online: boolean;
  /** The transport asked this relay to pause (in memory; the stored pause is the file's). */
  private autoPaused = false;
  private stopped = false;
  private lastError: string | null = null;
  private active = 0;
  private readonly sends = new Set<Promise<void>>();
  private readonly settleQueue: PendingSettle<P>[] = [];
  private settleScheduled = false;
  /** Turns flushWhenGathered has waited for the rest of the batches in flight. */
  private settleWaits = 0;
  private readonly controller = new AbortController();
  private pumpScheduled = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private probeDelay: number;
  private probing = false;
  /** setOnline(false) was the app's word (no probing until setOnline(true)). */
  private offlineByApp = false;
  private readonly listeners = new Set<(s: OutboxStatus) => void>();
  private lastStatusJson = "";
  private statusScheduled = false;
  private readonly cleanups: (() => void)[] = [];
  private stopping: Promise<void> | null = null;
  /** Counters for tests and dashboards (this handle only). */
  readonly stats = { batches: 0, delivered: 0, retried: 0, rejected: 0, released: 0, probes: 0 };

  constructor(db: Host, name: string, options: OutboxOptions<P> = {}) {
    const fn = `outbox('${name}')`;
    args.name("outbox(name, options)", "name", name);
    const o = args.options<OutboxOptions<P>>(fn, options);
    args.optFunc(fn, "options.transport", o.transport);
    this.maxAttempts = args.optInt(fn, "options.maxAttempts", o.maxAttempts, 1, 1_000_000, 20);
    const b = args.options<BackoffOptions>(fn, o.backoff, "options.backoff");
    const base = args.optNum(
      fn,
      "options.backoff.baseSeconds",
      b.baseSeconds,
      0,
      args.MAX_SECONDS,
      1,
    );
    const max = args.optNum(
      fn,
      "options.backoff.maxSeconds",
      b.maxSeconds,
      0,
      args.MAX_SECONDS,
      300,
    );
    if (max < base)
      throw args.refuse(fn, "options.backoff.maxSeconds", `at least baseSeconds (${base})`, max);
    this.backoff = { baseSeconds: base, maxSeconds: max };
    if (o.connectivity !== undefined) {
      const c = o.connectivity as Partial<Connectivity> | null;
      if (
        !c ||
        typeof c !== "object" ||
        typeof c.subscribe !== "function" ||
        typeof c.online !== "boolean"
      ) {
        throw args.refuse(
          fn,
          "options.connectivity",
          "an object with `online` (boolean) and `subscribe(listener)`",
          o.connectivity,
        );
      }
    }
    this.visibility = args.optInt(
      fn,
      "options.visibilityTimeout",
      o.visibilityTimeout,
      1,
      args.MAX_SECONDS,
      60,
    );
    const tb = o.transport?.batchSize;
    const defaultBatch =
      typeof tb === "number" && Number.isInteger(tb) && tb >= 1 && tb <= args.MAX_BATCH ? tb : 1;
    this.batchSize = args.optInt(
      fn,
      "options.batchSize",
      o.batchSize,
      1,
      args.MAX_BATCH,
      defaultBatch,
    );
    // One message per request: the round trip dominates, so eight in flight
    // (about what a browser opens to one host; measured on a local server:
    // 4 in flight 0.75x a one-at-a-time fetch loop, 8 about 1x).
    // Batches: one in flight keeps them full (slots split the heads of busy
    // keys into small batches; measured slower at batch 50).
    this.concurrency = args.optInt(
      fn,
      "options.concurrency",
      o.concurrency,
      1,
      100,
      this.batchSize === 1 ? 8 : 1,
    );
    this.probeMinMs = args.optInt(
      fn,
      "options.probeMinMs",
      o.probeMinMs,
      1,
      args.MAX_TIMER_MS,
      250,
    );
    this.probeMaxMs = args.optInt(
      fn,
      "options.probeMaxMs",
      o.probeMaxMs,
      this.probeMinMs,
      args.MAX_TIMER_MS,
      10_000,
    );
    this.onError = args.optFunc(fn, "options.onError", o.onError);
    this.db = db;
    this.name = name;
    this.transport = o.transport;
    this.connectivity = o.connectivity;
    this.online = o.connectivity?.online ?? true;
    this.probeDelay = this.probeMinMs;
    this.relayId = `${db.ownerId}:outbox${++relayCounter}`;
    db.assertOpen(fn);
    this.cleanups.push(db.watcher.onDead(() => void this.stop()));
    this.cleanups.push(db.track({ close: () => this.stop() }));
    // A handle that only adds keeps no subscription (nothing keeps the
    // process alive for it); a relay subscribes before its first read.
    if (this.transport) this.subscribe();
    if (this.connectivity) {
      this.cleanups.push(this.connectivity.subscribe((on) => this.setOnline(on === true)));
    }
    this.wake();
  }

  private unsubscribe: (() => void) | null = null;

  /** Wakes on every commit (ours or another process's) from now on. */
  private subscribe(): void {
    if (this.unsubscribe || this.stopped) return;
    const off = this.db.watcher.subscribe(() => this.wake());
    this.unsubscribe = off;
    this.cleanups.push(() => {
      off();
      this.unsubscribe = null;
    });
  }

  // ---- adding and inspecting ------------------------------------------------

  /**
   * Adds a message; returns its id. Inside `db.transaction()` it commits
   * with the app's own writes, or not at all. Messages with the same `key`
   * are delivered strictly in commit order.
   */
  add(payload: P, options: { key?: string } = {}): number {
    const doing = `outbox('${this.name}').add`;
    const text = toJsonText(payload, `${doing}: payload`);
    const o = args.options<{ key?: string }>(doing, options);
    const key = o.key === undefined ? null : args.name(doing, "options.key", o.key);
    return this.db.write(
      doing,
      () =>
        plucked(this.db.raw, "SELECT honker_x_outbox_add(?, ?, ?, ?)").get(
          this.name,
          text,
          key,
          this.maxAttempts,
        ) as number,
    );
  }

  /** Counts, connectivity and the last failure, as of now. */
  status(): OutboxStatus {
    const stored = storedStatus(this.db, this.name);
    return {
      ...stored,
      online: this.online,
      paused: stored.paused || this.autoPaused,
      lastError: this.lastError,
      nextAttemptAt: this.autoPaused ? null : stored.nextAttemptAt,
    };
  }

  /** True when this handle sends (it has a transport), false when it only adds and inspects. */
  get relays(): boolean {
    return this.transport !== undefined;
  }

  /** Calls `listener` with the status whenever it changes (not on a timer). Returns an unsubscribe function. */
  onStatus(listener: (status: OutboxStatus) => void): () => void {
    args.func(`outbox('${this.name}').onStatus`, "listener", listener);
    this.subscribe();
    this.listeners.add(listener);
    if (this.lastStatusJson === "") this.statusChanged();
    return () => this.listeners.delete(listener);
  }

  /** Dead messages, newest first. */
  dead(options: { limit?: number } = {}): DeadMessage<P>[] {
    const doing = `outbox('${this.name}').dead`;
    const o = args.options<{ limit?: number }>(doing, options);
    const limit = args.optInt(doing, "options.limit", o.limit, 0, args.MAX_BATCH, 100);
    const rows = this.db.read(
      doing,
      () =>
        prepared(
          this.db.raw,
          "SELECT id, key, payload, attempts, error, created_at, died_at FROM _honker_x_outbox_dead WHERE outbox = ? ORDER BY id DESC LIMIT ?",
        ).all(this.name, limit) as {
          id: number;
          key: string | null;
          payload: string;
          attempts: number;
          error: string | null;
          created_at: number;
          died_at: number;
        }[],
    );
    return rows.map((r) => ({
      id: r.id,
      key: r.key,
      payload: fromJsonText<P>(r.payload),
      attempts: r.attempts,
      error: r.error,
      createdAt: r.created_at,
      diedAt: r.died_at,
    }));
  }

  /** Dead messages (all, up to 10,000, or the given ids) back to pending with fresh attempts, same ids and keys. */
  redrive(ids?: readonly number[]): number {
    return this.deadOp("redrive", "honker_x_outbox_dead_redrive", ids);
  }

  /** Deletes dead messages (all, up to 10,000, or the given ids). */
  purgeDead(ids?: readonly number[]): number {
    return this.deadOp("purgeDead", "honker_x_outbox_dead_purge", ids);
  }

  private deadOp(what: string, sqlFn: string, ids: readonly number[] | undefined): number {
    const doing = `outbox('${this.name}').${what}`;
    const list = ids === undefined ? null : JSON.stringify(args.ids(doing, "ids", ids));
    const n = this.db.write(
      doing,
      () =>
        plucked(this.db.raw, `SELECT ${sqlFn}(?, ?, ?)`).get(
          this.name,
          list,
          args.MAX_BATCH,
        ) as number,
    );
    this.statusChanged();
    return n;
  }

  // ---- control --------------------------------------------------------------

  /**
   * Pauses the outbox in the file: from the commit on, no relay in any
   * process claims its messages (batches in flight finish); `add()` goes
   * on. Returns false when it was paused already.
   */
  pause(): boolean {
    const doing = `outbox('${this.name}').pause`;
    const changed = this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_x_outbox_pause(?)").get(this.name) === 1,
    );
    this.statusChanged();
    return changed;
  }

  /**
   * Sends again: clears the pause in the file (every relay wakes on the
   * commit) and this relay's own pause after a transport asked for one.
   * Returns false when neither was set.
   */
  resume(): boolean {
    const doing = `outbox('${this.name}').resume`;
    const stored = this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_x_outbox_resume(?)").get(this.name) === 1,
    );
    const changed = stored || this.autoPaused;
    this.autoPaused = false;
    this.statusChanged();
    this.wake();
    return changed;
  }

  /** Tries every waiting message now, ignoring its backoff; returns how many were waiting on one. */
  flush(): number {
    const doing = `outbox('${this.name}').flush`;
    const n = this.db.write(
      doing,
      () => plucked(this.db.raw, "SELECT honker_x_outbox_flush(?)").get(this.name) as number,
    );
    if (!this.online && !this.connectivity && !this.offlineByApp) this.probeNow();
    this.wake();
    return n;
  }

  /**
   * The app says whether the network is there. Offline: nothing is sent and
   * no probe runs until setOnline(true). Back online: delivery starts at
   * once, not after the backoff.
   */
  setOnline(online: boolean): void {
    if (typeof online !== "boolean") {
      throw args.refuse(`outbox('${this.name}').setOnline`, "online", "true or false", online);
    }
    this.offlineByApp = !online;
    if (online === this.online) {
      if (!online) this.clearProbe(); // the app's word wins over the probe
      return;
    }
    this.online = online;
    if (online) {
      this.clearProbe();
      this.probeDelay = this.probeMinMs;
      if (!this.stopped && this.db.open) {
        try {
          this.db.write(`outbox('${this.name}').setOnline`, () =>
            plucked(this.db.raw, "SELECT honker_x_outbox_flush(?)").get(this.name),
          );
        } catch (err) {
          if (!isTerminal(err)) report(`outbox('${this.name}')`, this.onError, err);
        }
      }
      this.wake();
    } else {
      // The app said so: no probe second-guesses it until setOnline(true).
      this.clearProbe();
    }
    this.statusChanged();
  }

  /** True once stop() was called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Stops relaying: a batch in flight is aborted and its messages put back (no attempt consumed). */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopped = true;
    this.stopping = (async () => {
      for (const c of this.cleanups.splice(0)) c();
      this.clearProbe();
      try {
        this.db.watcher.setDeadline(this, null);
      } catch {
        // the watcher is gone already
      }
      this.controller.abort(new HonkerError("HONKER_CANCELLED", `outbox('${this.name}') stopped`));
      // A batch claimed by a settle just before stop() goes out (aborted,
      // released) in its slot: wait for those too.
      while (this.sends.size > 0) await Promise.allSettled([...this.sends]);
      this.listeners.clear();
      if (this.statusTimer) clearTimeout(this.statusTimer);
      this.statusTimer = null;
    })();
    return this.stopping;
  }

  // ---- the relay ------------------------------------------------------------

  private wake(): void {
    this.statusChanged();
    if (this.pumpScheduled || this.stopped || !this.transport) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.sending) return;
    try {
      while (this.active < this.concurrency) {
        const ready = plucked(this.db.raw, "SELECT honker_x_outbox_ready_at(?)").get(
          this.name,
        ) as number;
        if (ready === 0 || ready * 1000 > Date.now()) {
          this.db.watcher.setDeadline(this, ready > 0 ? ready * 1000 : null);
          return;
        }
        const batch = this.claimBatch();
        if (batch.length === 0) return;
        this.launch(batch);
      }
    } catch (err) {
      if (isTerminal(err)) return;
      this.fail(err);
      try {
        this.db.watcher.setDeadline(this, Date.now() + 1000);
      } catch {
        // the watcher died: the dead listener stops us
      }
    }
  }

  /** Claims the next batch (in the caller's transaction, if any); `n` messages, default batchSize. */
  private claimBatch(n = this.batchSize): OutboxMessage<P>[] {
    const text = this.db.write(
      `outbox('${this.name}') claim`,
      () =>
        plucked(this.db.raw, "SELECT honker_x_outbox_claim(?, ?, ?, ?)").get(
          this.name,
          this.relayId,
          n,
          this.visibility,
        ) as string,
    );
    return (JSON.parse(text) as ClaimRow[])
      .sort((a, b) => a.id - b.id)
      .map((r) => ({
        id: r.id,
        key: r.key,
        payload: fromJsonText<P>(r.payload),
        idempotencyKey: r.idempotency_key,
        attempts: r.attempts,
        createdAt: r.created_at,
      }));
  }

  /**
   * Sends a claimed batch in a slot; when it settles, the next batch (claimed
   * in the settle's own transaction: one commit instead of two) goes in the
   * same slot.
   */
  private launch(batch: OutboxMessage<P>[]): void {
    this.active++;
    const p: Promise<void> = this.send(batch).then(
      (next) => {
        this.active--;
        this.sends.delete(p);
        if (next.length > 0) this.launch(next);
        else this.wake();
      },
      () => {
        this.active--;
        this.sends.delete(p);
        this.wake();
      },
    );
    this.sends.add(p);
  }

  /**
   * May this relay claim more right now? (A pause stored in the file is
   * the extension's business: its claim returns nothing.)
   */
  private get sending(): boolean {
    return (
      !this.stopped &&
      !this.autoPaused &&
      this.online &&
      this.transport !== undefined &&
      this.db.open
    );
  }

  private async send(batch: OutboxMessage<P>[]): Promise<OutboxMessage<P>[]> {
    const transport = this.transport as Transport<P>;
    this.stats.batches++;
    let outcomes: readonly DeliveryOutcome[];
    try {
      const attempt = Math.max(...batch.map((m) => m.attempts));
      // A transport that outlives our claim is given up on (a second before
      // the claim lapses): its signal is aborted and the batch retried, even
      // if it never settles, so a stuck call cannot hold the slot forever.
      const link = linkedAbort(this.controller.signal);
      let timer: { clear(): void } | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = args.longTimeout(
          () => {
            const err = new TransportError(
              `the transport did not settle within the claim (visibilityTimeout ${this.visibility} s)`,
            );
            link.abort(err);
            reject(err);
          },
          Math.max(500, this.visibility * 1000 - 1000),
          true,
        );
      });
      expired.catch(() => {});
      try {
        outcomes = await Promise.race([
          transport(batch, { signal: link.signal, attempt }),
          expired,
        ]);
      } finally {
        timer?.clear();
        link.dispose();
      }
      if (!Array.isArray(outcomes)) {
        throw new TypeError("the transport must resolve to an array of outcomes, one per message");
      }
    } catch (err) {
      if (this.stopped) {
        await this.settleAll(batch, "release", "the outbox stopped", 0);
        return [];
      }
      const e = err as { offline?: unknown; pause?: unknown; retryAfterSeconds?: unknown } | null;
      this.fail(err);
      if (e?.offline === true) {
        this.goOffline();
        await this.settleAll(batch, "release", errorText(err), 0);
        return [];
      }
      if (e?.pause === true) {
        // This relay only, in memory: the credentials are this process's
        // (another may hold good ones), and a restart with new ones sends.
        this.autoPaused = true;
        this.statusChanged();
        await this.settleAll(batch, "release", errorText(err), 0);
        return [];
      }
      const after =
        typeof e?.retryAfterSeconds === "number" &&
        Number.isFinite(e.retryAfterSeconds) &&
        e.retryAfterSeconds >= 0
          ? Math.ceil(e.retryAfterSeconds)
          : undefined;
      return this.settleAll(batch, "retry", errorText(err), after);
    }
    return this.settle({ batch, outcomes, releaseError: null, claimNext: true });
  }

  private settleAll(
    batch: readonly OutboxMessage<P>[],
    outcome: "release" | "retry",
    error: string,
    afterSeconds: number | undefined,
  ): Promise<OutboxMessage<P>[]> {
    return this.settle({
      batch,
      outcomes: batch.map((): DeliveryOutcome | "release" =>
        outcome === "release"
          ? "release"
          : { status: "retry", error, ...(afterSeconds === undefined ? {} : { afterSeconds }) },
      ),
      releaseError: error,
      claimNext: false,
    });
  }

  /**
   * Queues a batch's outcomes; resolves with the batch to send next in its
   * slot (claimed in the same transaction), or [] when there is none. All
   * the batches that came back in one event-loop turn settle in one write
   * transaction: one commit for them all instead of one each.
   */
  private settle(item: Omit<PendingSettle<P>, "resolve">): Promise<OutboxMessage<P>[]> {
    return new Promise((resolve) => {
      this.settleQueue.push({ ...item, resolve });
      if (this.settleScheduled) return;
      this.settleScheduled = true;
      this.settleWaits = 0;
      setImmediate(() => this.flushWhenGathered());
    });
  }

  /**
   * Batches sent together come back a few turns of the event loop apart:
   * while some of those in flight have not come back, wait up to
   * SETTLE_WAIT_TURNS more turns (tens of microseconds each), so that they
   * settle, and the slots are refilled, in one commit. Without it the slots
   * drift apart and every batch pays a commit of its own (measured: 2.7
   * batches per commit at 8 in flight, against 8 with it, and up to 1.7x
   * the throughput).
   */
  private flushWhenGathered(): void {
    if (
      this.settleQueue.length < this.active &&
      this.settleWaits < SETTLE_WAIT_TURNS &&
      !this.stopped
    ) {
      this.settleWaits++;
      setImmediate(() => this.flushWhenGathered());
      return;
    }
    this.flushSettles();
  }

  private flushSettles(): void {
    this.settleScheduled = false;
    // At most SETTLE_MAX_MESSAGES per transaction (whole batches): the rest
    // settle in the next turn, so one turn never holds the event loop long.
    let take = 0;
    for (let n = 0; take < this.settleQueue.length; take++) {
      n += (this.settleQueue[take] as PendingSettle<P>).batch.length;
      if (take > 0 && n > SETTLE_MAX_MESSAGES) break;
    }
    const items = this.settleQueue.splice(0, take);
    if (this.settleQueue.length > 0) {
      this.settleScheduled = true;
      setImmediate(() => this.flushSettles());
    }
    const next: OutboxMessage<P>[][] = items.map(() => []);
    // Closed: the claims lapse by themselves and the messages go again.
    if (!this.db.open) {
      for (const it of items) it.resolve([]);
      return;
    }
    const delivered: number[] = [];
    try {
      this.db.transaction(() =>
        this.db.write(`outbox('${this.name}') settle`, () => {
          for (const it of items) delivered.push(this.settleRows(it));
          // Settled first: a key's next message is claimable in the same
          // transaction that delivered its predecessor. One claim for every
          // slot that goes on (the claim never returns two messages of one
          // key, as separate claims would not), split into batches in order.
          const slots: number[] = [];
          for (const [i, it] of items.entries()) if (it.claimNext) slots.push(i);
          if (slots.length > 0 && this.sending) {
            const claimed = this.claimBatch(
              Math.min(slots.length * this.batchSize, args.MAX_BATCH),
            );
            for (let k = 0; k < slots.length; k++) {
              const part = claimed.slice(k * this.batchSize, (k + 1) * this.batchSize);
              if (part.length === 0) break;
              next[slots[k] as number] = part;
            }
          }
        }),
      );
    } catch (err) {
      // The claims lapse after visibilityTimeout and the messages go again
      // (the server dedups them).
      if (!isTerminal(err)) this.fail(err);
      for (const it of items) it.resolve([]);
      return;
    }
    for (const [i, it] of items.entries()) {
      const n = delivered[i] as number;
      if (n === 0) continue;
      this.stats.delivered += n;
      if (it.outcomes.every((o) => o !== "release" && o?.status === "delivered")) {
        this.lastError = null;
      }
    }
    this.statusChanged();
    for (const [i, it] of items.entries()) it.resolve(next[i] as OutboxMessage<P>[]);
  }

  /** One batch's settle statements (inside flushSettles' transaction); returns how many were delivered. */
  private settleRows(item: PendingSettle<P>): number {
    const { batch, outcomes, releaseError } = item;
    const stmt = plucked(this.db.raw, "SELECT honker_x_outbox_settle(?, ?, ?, ?, ?)");
    let delivered = 0;
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i] as OutboxMessage<P>;
      const o = outcomes[i];
      if (o === "release") {
        stmt.get(m.id, this.relayId, "release", 0, releaseError);
        this.stats.released++;
      } else if (o && o.status === "delivered") {
        if (stmt.get(m.id, this.relayId, "delivered", 0, null) === 1) delivered++;
      } else if (o && o.status === "rejected") {
        stmt.get(m.id, this.relayId, "rejected", 0, String(o.reason ?? "rejected").slice(0, 4000));
        this.stats.rejected++;
        this.lastError = `message ${m.id} rejected: ${String(o.reason ?? "").slice(0, 200)}`;
      } else {
        const after = o?.status === "retry" ? o.afterSeconds : undefined;
        const delay =
          typeof after === "number" && Number.isFinite(after) && after >= 0
            ? Math.min(Math.ceil(after), args.MAX_SECONDS)
            : backoffSeconds(m.attempts, this.backoff);
        const error =
          o?.status === "retry"
            ? (o.error ?? "retry")
            : "the transport returned no outcome for this message";
        stmt.get(m.id, this.relayId, "retry", delay, error.slice(0, 4000));
        this.stats.retried++;
        this.lastError = `message ${m.id}: ${error.slice(0, 200)}`;
      }
    }
    return delivered;
  }

  private fail(err: unknown): void {
    this.lastError = errorText(err);
    report(`outbox('${this.name}')`, this.onError, err);
    this.statusChanged();
  }

  // ---- connectivity ---------------------------------------------------------

  private goOffline(): void {
    if (!this.online) return;
    this.online = false;
    this.offlineByApp = false;
    this.statusChanged();
    // With the app's connectivity, the app says when we are back.
    if (!this.connectivity) this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.stopped) return;
    const delay = Math.min(this.probeDelay, this.probeMaxMs);
    this.probeDelay = Math.min(this.probeDelay * 2, this.probeMaxMs);
    this.probeTimer = setTimeout(
      () => {
        this.probeTimer = null;
        this.probeNow();
      },
      Math.ceil(delay * (0.5 + Math.random() / 2)),
    );
  }

  private clearProbe(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  private probeNow(): void {
    if (this.probing || this.stopped || this.online) return;
    this.clearProbe();
    this.probing = true;
    this.stats.probes++;
    const probe = this.transport?.probe;
    const attempt = probe ? probe(this.controller.signal) : Promise.resolve(true);
    attempt
      .then(
        (ok) => ok === true,
        () => false,
      )
      .then((ok) => {
        this.probing = false;
        if (this.stopped || this.online || this.offlineByApp) return;
        if (ok) this.setOnline(true);
        else this.scheduleProbe();
      });
  }

  // ---- status ---------------------------------------------------------------

  /** When the status was last computed for listeners (ms), for the throttle. */
  private statusAt = 0;
  private statusTimer: NodeJS.Timeout | null = null;

  /**
   * Recomputes the status for listeners and tells them if it changed. At
   * most once per STATUS_MIN_GAP_MS: counting a deep backlog is a scan of
   * its index, and a busy relay changes the status after every batch.
   */
  private statusChanged(): void {
    if (this.listeners.size === 0 || this.statusScheduled) return;
    this.statusScheduled = true;
    const wait = this.statusAt + STATUS_MIN_GAP_MS - Date.now();
    if (wait > 0) {
      this.statusTimer = setTimeout(() => this.emitStatus(), wait);
      this.statusTimer.unref();
    } else {
      setImmediate(() => this.emitStatus());
    }
  }

  private emitStatus(): void {
    this.statusScheduled = false;
    this.statusTimer = null;
    if (this.listeners.size === 0 || !this.db.open) return;
    this.statusAt = Date.now();
    let s: OutboxStatus;
    try {
      s = this.status();
    } catch {
      return;
    }
    const json = JSON.stringify(s);
    if (json === this.lastStatusJson) return;
    this.lastStatusJson = json;
    for (const l of [...this.listeners]) {
      try {
        l(s);
      } catch (err) {
        report(`outbox('${this.name}').onStatus listener`, this.onError, err);
      }
    }
  }
}
