/**
 * One window's side of the bridge: the API it may call (checked against its
 * grants, with every argument validated), its subscriptions, and cleanup.
 * Transport-agnostic: Electron's MessagePortMain and Node's MessagePort both
 * arrive here as a Comlink endpoint plus a factory for subscription ports.
 */
import * as Comlink from "comlink";
import {
  type BridgeApi,
  type PortHandoff,
  PROTOCOL_VERSION,
  type Reply,
  type SubscriptionSpec,
  type WireDeadMessage,
  type WireEnqueueOptions,
  type WireJob,
  type WireOutboxStatus,
  type WireStats,
} from "../../protocol/index.ts";
import type { HonkerDatabase } from "../database.ts";
import { HonkerError, isHonkerError } from "../errors.ts";
import type { EnqueueOptions } from "../queue.ts";
import { READ_AHEAD_EVENTS, WindowBudget } from "./budget.ts";
import {
  type BridgeEndpoint,
  type GuardedEndpoint,
  guardEndpoint,
  type SubPort,
} from "./endpoint.ts";
import {
  channelGrant,
  checkServe,
  connectivityGrant,
  DEFAULT_MAX_PAYLOAD,
  describeGrants,
  type Grants,
  outboxGrant,
  queueGrant,
  type ServeOptions,
  streamGrant,
} from "./grants.ts";
import { deadMessages, openedOutbox, outboxStatus, watchOutbox } from "./outbox.ts";
import {
  commitsOf,
  IteratorPusher,
  type Pusher,
  SnapshotPusher,
  toWireJob,
} from "./subscription.ts";
import {
  checkId,
  checkJsonData,
  checkName,
  checkOptionalInt,
  invalidArg,
  runValidator,
} from "./validate.ts";

// biome-ignore lint/suspicious/noExplicitAny: a session serves any schema
type AnyDb = HonkerDatabase<any>;

/** How a session makes a subscription port pair in its runtime. */
export interface PortFactory {
  /** Returns our end (as a SubPort) and the end to transfer to the page. */
  create(): { local: SubPort; remote: unknown };
}

export interface SessionOptions extends ServeOptions {
  /** Called once when the session ends, whatever the cause. */
  onClose?: () => void;
  /** The window's budget, shared by all its sessions (default: one of this session's own). */
  budget?: WindowBudget;
}

const MAX_BATCH = 1000;
const MAX_WAIT_MS = 5 * 60_000;
/** Least time between two outbox status messages on one subscription. */
const OUTBOX_STATUS_MIN_MS = 100;

/** redrive()'s ids from a page: absent (all), or at most MAX_BATCH positive ids. */
function redriveIds(raw: unknown, what: string): number[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.length > MAX_BATCH) {
    throw invalidArg(`${what}: ids must be an array of at most ${MAX_BATCH} ids`);
  }
  return raw.map((id) => checkId(id, what));
}

function ok<T>(value: T): Reply<T> {
  return { ok: true, value };
}

function failure(err: unknown): Reply<never> {
  if (isHonkerError(err)) return { ok: false, error: { code: err.code, message: err.message } };
  return {
    ok: false,
    error: { code: "HONKER_SQLITE", message: err instanceof Error ? err.message : String(err) },
  };
}

function enqueueOptions(o: unknown): EnqueueOptions {
  if (o === undefined || o === null) return {};
  if (typeof o !== "object" || Array.isArray(o))
    throw invalidArg("enqueue options must be an object");
  const w = o as WireEnqueueOptions;
  const out: EnqueueOptions = {};
  const delay = checkOptionalInt(w.delay, "options.delay", 0, 315_360_000);
  const runAt = checkOptionalInt(w.runAt, "options.runAt", 0, 253_402_300_799);
  const priority = checkOptionalInt(w.priority, "options.priority", -1_000_000, 1_000_000);
  const maxAttempts = checkOptionalInt(w.maxAttempts, "options.maxAttempts", 1, 1000);
  const expires = checkOptionalInt(w.expires, "options.expires", 0, 315_360_000);
  if (delay !== undefined) out.delay = delay;
  if (runAt !== undefined) out.runAt = runAt;
  if (priority !== undefined) out.priority = priority;
  if (maxAttempts !== undefined) out.maxAttempts = maxAttempts;
  if (expires !== undefined) out.expires = expires;
  if (w.key !== undefined) {
    if (typeof w.key !== "string" || w.key.length === 0 || w.key.length > 512) {
      throw invalidArg("options.key must be a string of 1 to 512 characters");
    }
    out.key = w.key;
  }
  return out;
}

export class BridgeSession {
  private readonly db: AnyDb;
  private readonly grants: Grants;
  private readonly options: SessionOptions;
  private readonly rawEndpoint: BridgeEndpoint & { close?: () => void };
  private readonly ports: PortFactory;
  private readonly subs = new Map<number, Pusher>();
  private nextSubId = 1;
  /** Data messages sent by subscriptions that have ended. */
  private sentByClosed = 0;
  private closed = false;
  /** Aborts in-flight waits (waitResult) when the session ends. */
  private readonly lifetime = new AbortController();
  private readonly untrack: () => void;
  private readonly guarded: GuardedEndpoint;
  private queueOfJob: { get(...ids: number[]): unknown } | null = null;
  private readonly maxPayload: number;
  /** What this window may hold in main (shared by the window's sessions). */
  readonly budget: WindowBudget;
  /** Counters for tests and diagnostics. */
  readonly stats = { calls: 0, refused: 0, rateLimited: 0 };

  constructor(
    db: AnyDb,
    endpoint: BridgeEndpoint & { close?: () => void },
    grants: Grants,
    ports: PortFactory,
    options: SessionOptions = {},
  ) {
    checkServe(grants, options);
    this.db = db;
    this.grants = grants;
    this.options = options;
    this.rawEndpoint = endpoint;
    this.ports = ports;
    this.maxPayload = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    this.budget = options.budget ?? new WindowBudget(options);
    this.untrack = db.track({ close: () => this.close() });
    this.guarded = guardEndpoint(
      endpoint,
      () => this.close(),
      () => {
        this.stats.refused++;
      },
      {
        admit: (method) => {
          if (this.closed) return null; // answered HONKER_CLOSED by the method's guard
          this.stats.calls++;
          const refusal = this.budget.admit(method);
          if (refusal) this.stats.rateLimited++;
          return refusal;
        },
        done: (method) => this.budget.done(method),
      },
    );
    Comlink.expose(this.api(), this.guarded);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Live subscriptions (for tests and leak checks). */
  get subscriptionCount(): number {
    return this.subs.size;
  }

  /** Ends every subscription and stops answering. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lifetime.abort(new HonkerError("HONKER_CLOSED", "this window's bridge session has ended"));
    for (const sub of [...this.subs.values()]) sub.close();
    this.subs.clear();
    this.untrack();
    // Calls still pending give their slots back to the window now; a late reply finds none.
    this.guarded.dispose();
    try {
      this.rawEndpoint.close?.();
    } catch {
      // already closed
    }
    this.options.onClose?.();
  }

  /** Data messages sent on this session's subscriptions (ever), and bytes of them in flight now. */
  get pushed(): { sent: number; bytesInFlight: number } {
    let sent = this.sentByClosed;
    let bytesInFlight = 0;
    for (const p of this.subs.values()) {
      sent += p.sent;
      bytesInFlight += p.bytesInFlight;
    }
    return { sent, bytesInFlight };
  }

  /**
   * Wraps a method: closed check, and errors turned into replies. (The rate
   * and the caps on pending calls are checked before Comlink, in admit.)
   */
  private guard<A extends unknown[], T>(
    fn: (...args: A) => T | Promise<T>,
  ): (...args: A) => Promise<Reply<T>> {
    return async (...args: A) => {
      try {
        if (this.closed)
          throw new HonkerError(
            "HONKER_CLOSED",
            "this window's bridge session has ended; reconnect",
          );
        return ok(await fn(...args));
      } catch (err) {
        return failure(err);
      }
    };
  }

  private api(): BridgeApi {
    const db = this.db;
    const api: BridgeApi = {
      hello: this.guard(() => ({
        protocol: PROTOCOL_VERSION,
        capabilities: describeGrants(this.grants, this.maxPayload),
      })),
      enqueue: this.guard(async (queue: unknown, payload: unknown, options?: unknown) => {
        const name = checkName(queue, "enqueue");
        const g = queueGrant(this.grants, name, "enqueue");
        checkJsonData(payload, `enqueue('${name}')`, this.maxPayload);
        const opts = enqueueOptions(options);
        const value = await runValidator(g.validate, payload, `enqueue('${name}')`);
        return db.queue(name).enqueue(value, opts);
      }),
      enqueueMany: this.guard(async (queue: unknown, payloads: unknown, options?: unknown) => {
        const name = checkName(queue, "enqueueMany");
        const g = queueGrant(this.grants, name, "enqueue");
        if (!Array.isArray(payloads) || payloads.length > MAX_BATCH) {
          throw invalidArg(
            `enqueueMany('${name}'): payloads must be an array of at most ${MAX_BATCH}`,
          );
        }
        checkJsonData(payloads, `enqueueMany('${name}')`, this.maxPayload);
        const opts = enqueueOptions(options);
        const values: unknown[] = [];
        for (const p of payloads)
          values.push(await runValidator(g.validate, p, `enqueueMany('${name}')`));
        return db.queue(name).enqueueMany(values, opts);
      }),
      job: this.guard((queue: unknown, id: unknown): WireJob | null => {
        const name = checkName(queue, "job");
        queueGrant(this.grants, name, "read");
        return toWireJob(name, db.queue(name).getJob(checkId(id, "job")));
      }),
      stats: this.guard((queue: unknown): WireStats => {
        const name = checkName(queue, "stats");
        queueGrant(this.grants, name, "stats");
        return db.queue(name).stats();
      }),
      cancel: this.guard((queue: unknown, id: unknown) => {
        const name = checkName(queue, "cancel");
        queueGrant(this.grants, name, "cancel");
        return db.queue(name).cancel(checkId(id, "cancel"));
      }),
      waitResult: this.guard(async (queue: unknown, id: unknown, timeoutMs: unknown) => {
        const name = checkName(queue, "waitResult");
        queueGrant(this.grants, name, "read");
        const ms =
          checkOptionalInt(timeoutMs, "waitResult: timeoutMs", 0, MAX_WAIT_MS) ?? MAX_WAIT_MS;
        const jobId = checkId(id, "waitResult");
        // A grant on one queue must not reach another queue's jobs (job() answers
        // null for them too). Job ids are global: check where a live or dead job is.
        this.queueOfJob ??= db.raw
          .prepare(
            "SELECT queue FROM _honker_live WHERE id = ? UNION ALL SELECT queue FROM _honker_dead WHERE id = ?",
          )
          .pluck();
        const at = this.queueOfJob.get(jobId, jobId) as string | undefined;
        if (at !== undefined && at !== name) {
          throw new HonkerError(
            "HONKER_NOT_FOUND",
            `waitResult: queue '${name}' has no job ${jobId}`,
          );
        }
        return db.queue(name).waitResult(jobId, { timeoutMs: ms, signal: this.lifetime.signal });
      }),
      publish: this.guard(async (stream: unknown, payload: unknown, key?: unknown) => {
        const name = checkName(stream, "publish");
        const g = streamGrant(this.grants, name, "publish");
        checkJsonData(payload, `publish('${name}')`, this.maxPayload);
        if (key !== undefined && key !== null && (typeof key !== "string" || key.length > 512)) {
          throw invalidArg("publish: key must be a string of at most 512 characters");
        }
        const value = await runValidator(g.validate, payload, `publish('${name}')`);
        return db.stream(name).publish(value, typeof key === "string" ? { key } : {});
      }),
      notify: this.guard(async (channel: unknown, payload: unknown) => {
        const name = checkName(channel, "notify");
        const g = channelGrant(this.grants, name, "notify");
        checkJsonData(payload, `notify('${name}')`, this.maxPayload);
        const value = await runValidator(g.validate, payload, `notify('${name}')`);
        return db.notify(name, value);
      }),
      subscribe: this.guard((spec: unknown) => ({ subId: this.subscribe(spec) })),
      unsubscribe: this.guard((subId: unknown) => {
        const sub = typeof subId === "number" ? this.subs.get(subId) : undefined;
        if (!sub) return false;
        sub.close();
        return true;
      }),
      outboxStatus: this.guard((outbox: unknown): WireOutboxStatus => {
        const name = checkName(outbox, "outboxStatus");
        outboxGrant(this.grants, name, "status");
        return outboxStatus(db, name);
      }),
      outboxPause: this.guard((outbox: unknown) => {
        const name = checkName(outbox, "outboxPause");
        outboxGrant(this.grants, name, "control");
        return openedOutbox(db, name, `outbox('${name}').pause`).pause();
      }),
      outboxResume: this.guard((outbox: unknown) => {
        const name = checkName(outbox, "outboxResume");
        outboxGrant(this.grants, name, "control");
        return openedOutbox(db, name, `outbox('${name}').resume`).resume();
      }),
      outboxFlush: this.guard((outbox: unknown) => {
        const name = checkName(outbox, "outboxFlush");
        outboxGrant(this.grants, name, "control");
        return openedOutbox(db, name, `outbox('${name}').flush`).flush();
      }),
      outboxRedrive: this.guard((outbox: unknown, ids?: unknown) => {
        const name = checkName(outbox, "outboxRedrive");
        outboxGrant(this.grants, name, "control");
        const list = redriveIds(ids, `outbox('${name}').redrive`);
        return openedOutbox(db, name, `outbox('${name}').redrive`).redrive(list);
      }),
      outboxDead: this.guard((outbox: unknown, limit?: unknown): WireDeadMessage[] => {
        const name = checkName(outbox, "outboxDead");
        outboxGrant(this.grants, name, "control");
        const n = checkOptionalInt(limit, `outbox('${name}').dead: limit`, 0, MAX_BATCH) ?? 100;
        return deadMessages(openedOutbox(db, name, `outbox('${name}').dead`), n);
      }),
      online: this.guard((online: unknown) => {
        connectivityGrant(this.grants);
        if (typeof online !== "boolean") throw invalidArg("online: must be true or false");
        this.options.connectivity?.hint(online);
        return true;
      }),
    };
    return Object.freeze(Object.assign(Object.create(null), api)) as BridgeApi;
  }

  private subscribe(raw: unknown): number {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw invalidArg("subscribe: spec must be an object");
    }
    const spec = raw as SubscriptionSpec;
    const budget = this.budget;
    if (budget.subscriptions >= budget.maxSubscriptions) {
      throw new HonkerError(
        "HONKER_RATE_LIMITED",
        `this window already holds ${budget.maxSubscriptions} subscriptions; close some first`,
      );
    }
    const subId = this.nextSubId++;
    const { local, remote } = this.ports.create();
    const onClosed = () => {
      const p = this.subs.get(subId);
      if (!p) return;
      this.subs.delete(subId);
      this.sentByClosed += p.sent;
      budget.subscriptions--;
    };
    let pusher: Pusher;
    try {
      pusher = this.makePusher(spec, local, onClosed);
    } catch (err) {
      local.close();
      throw err;
    }
    // (A source that failed at once has already said so on its port, and closed.)
    if (!pusher.isClosed) {
      this.subs.set(subId, pusher);
      budget.subscriptions++;
    }
    // The port goes in the transfer list of its own message, before the reply.
    const handoff: PortHandoff = { honker: "subscription-port", subId };
    this.rawEndpoint.postMessage(handoff, [remote as Transferable]);
    return subId;
  }

  private makePusher(spec: SubscriptionSpec, port: SubPort, onClosed: () => void): Pusher {
    const db = this.db;
    const stallMs = this.options.stallMs ?? 30_000;
    switch (spec.kind) {
      case "stream": {
        const name = checkName(spec.name, "subscribe(stream)");
        const g = streamGrant(this.grants, name, "subscribe");
        const stream = db.stream(name);
        let consumer: string | null = null;
        // Page consumers live in their own namespace: a page can never move main's consumers.
        if (spec.consumer !== undefined) {
          consumer = `renderer:${checkName(spec.consumer, "subscribe(stream): consumer")}`;
        }
        let from: number | "latest" | "beginning" = spec.from ?? "latest";
        if (typeof from === "number" && (!Number.isSafeInteger(from) || from < 0)) {
          throw invalidArg(
            "subscribe(stream): from must be an offset >= 0, 'latest' or 'beginning'",
          );
        }
        if (from !== "latest" && from !== "beginning" && typeof from !== "number") {
          throw invalidArg(
            "subscribe(stream): from must be an offset >= 0, 'latest' or 'beginning'",
          );
        }
        if (typeof g.subscribe === "object" && g.subscribe.from === "latest" && from !== "latest") {
          throw new HonkerError(
            "HONKER_FORBIDDEN",
            `stream '${name}' may only be read from 'latest' by this window`,
          );
        }
        if (consumer !== null) {
          const saved = stream.savedOffset(consumer);
          if (saved > 0) from = saved;
        }
        const iterator = stream.subscribe({ from, batchSize: READ_AHEAD_EVENTS });
        const startOffset = typeof from === "number" ? from : iterator.position;
        const save =
          consumer === null
            ? null
            : (offset: number) => {
                db.raw
                  .prepare("SELECT honker_stream_save_offset(?, ?, ?)")
                  .get(consumer, name, offset);
              };
        return new IteratorPusher(port, onClosed, this.budget, iterator, {
          startOffset,
          stallMs,
          saveOffset: save,
          resumable: true,
        });
      }
      case "channel": {
        const name = checkName(spec.name, "subscribe(channel)");
        channelGrant(this.grants, name, "listen");
        const listener = db.listen(name, { batchSize: READ_AHEAD_EVENTS });
        return new IteratorPusher(port, onClosed, this.budget, listener, {
          startOffset: listener.position,
          stallMs,
          saveOffset: null,
          resumable: false,
        });
      }
      case "job": {
        const queue = checkName(spec.queue, "subscribe(job)");
        queueGrant(this.grants, queue, "read");
        const id = checkId(spec.id, "subscribe(job)");
        const q = db.queue(queue);
        return new SnapshotPusher(
          port,
          onClosed,
          this.budget,
          commitsOf(db),
          () => toWireJob(queue, q.getJob(id)),
          (job) => ({ t: "job", job }),
          0,
        );
      }
      case "stats": {
        const queue = checkName(spec.queue, "subscribe(stats)");
        queueGrant(this.grants, queue, "stats");
        const q = db.queue(queue);
        return new SnapshotPusher(
          port,
          onClosed,
          this.budget,
          commitsOf(db),
          () => q.stats(),
          (stats) => ({ t: "stats", stats }),
          250,
        );
      }
      case "outbox": {
        const name = checkName(spec.name, "subscribe(outbox)");
        outboxGrant(this.grants, name, "status");
        return new SnapshotPusher(
          port,
          onClosed,
          this.budget,
          (onChange) => watchOutbox(db, name, onChange),
          () => outboxStatus(db, name),
          (status) => ({ t: "outbox", status }),
          OUTBOX_STATUS_MIN_MS,
        );
      }
      default:
        throw invalidArg(
          `subscribe: unknown kind '${String((spec as { kind?: unknown }).kind).slice(0, 32)}'`,
        );
    }
  }
}
