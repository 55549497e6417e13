/**
 * The page side of the bridge: `connect()` gets a port from the preload
 * (or takes one you pass), talks to main through Comlink, and turns
 * subscription ports into async iterables and callbacks with credit-based
 * flow control.
 */
import * as Comlink from "comlink";
import {
  type BridgeApi,
  CONNECT_PORT,
  CONNECT_REQUEST,
  DEFAULT_CREDITS,
  type PortHandoff,
  type Reply,
  type SubscriptionControl,
  type SubscriptionMessage,
  type SubscriptionSpec,
  type WireCapabilities,
  type WireEnqueueOptions,
  type WireJob,
  type WireOutboxStatus,
  type WireStats,
} from "../protocol/index.ts";
import { HonkerError } from "./errors.ts";
import type {
  AllGranted,
  ClientSchema,
  ClientSubscription,
  HonkerClient,
  StreamSubscribeOptions,
} from "./types.ts";

/** A MessagePort as both the DOM and Node's worker_threads have it. */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(
    type: "message",
    listener: (ev: { data: unknown; ports?: readonly unknown[] }) => void,
  ): void;
  removeEventListener(
    type: "message",
    listener: (ev: { data: unknown; ports?: readonly unknown[] }) => void,
  ): void;
  start?(): void;
  close(): void;
}

/** Where the page's online state comes from: a window (`navigator.onLine` and its events). */
export interface ConnectivitySource {
  readonly onLine: boolean;
  addEventListener(type: "online" | "offline", listener: () => void): void;
  removeEventListener(type: "online" | "offline", listener: () => void): void;
}

export interface ConnectOptions {
  /** Use this port instead of asking the preload for one (tests, workers, custom transports). */
  port?: PortLike;
  /** How long to wait for the preload's port (default 10 s). */
  timeoutMs?: number;
  /**
   * When main grants `connectivity`, the client reports the page's online
   * state (at once, then on every `online`/`offline` event) from this
   * source; default: the window (`navigator.onLine`). `false`: never report.
   */
  connectivity?: ConnectivitySource | false;
}

function unwrap<T>(reply: Reply<T>): T {
  if (reply && reply.ok === true) return reply.value;
  if (reply && reply.ok === false) throw HonkerError.from(reply.error);
  throw new HonkerError("HONKER_SQLITE", "malformed reply from the main process");
}

/** Asks the preload for a port (window.postMessage handshake). */
function requestPort(timeoutMs: number): Promise<PortLike> {
  const w = globalThis as unknown as Window;
  if (typeof w.postMessage !== "function" || typeof w.addEventListener !== "function") {
    return Promise.reject(
      new HonkerError(
        "HONKER_CLOSED",
        "connect(): no window to ask for a port; pass { port } explicitly",
      ),
    );
  }
  const nonce = Math.random().toString(36).slice(2);
  return new Promise<PortLike>((resolve, reject) => {
    const timer = setTimeout(() => {
      w.removeEventListener("message", onMessage);
      reject(
        new HonkerError(
          "HONKER_TIMEOUT",
          "connect(): no port from the preload; is honker-electron/preload set as webPreferences.preload and db.serve(window, grants) called in main?",
        ),
      );
    }, timeoutMs);
    const onMessage = (ev: MessageEvent) => {
      const d = ev.data as { type?: unknown; nonce?: unknown } | null;
      if (ev.source !== w || !d || d.type !== CONNECT_PORT || d.nonce !== nonce || !ev.ports[0])
        return;
      clearTimeout(timer);
      w.removeEventListener("message", onMessage);
      resolve(ev.ports[0] as unknown as PortLike);
    };
    w.addEventListener("message", onMessage);
    w.postMessage(
      { type: CONNECT_REQUEST, nonce },
      w.location?.origin && w.location.origin !== "null" ? w.location.origin : "*",
    );
  });
}

/**
 * Splits the window port: subscription-port handoffs are kept here (ports
 * arrive in the event's transfer list), everything else goes to Comlink.
 */
class Demux {
  readonly endpoint: Comlink.Endpoint;
  private readonly ports = new Map<number, PortLike>();
  private readonly waiting = new Map<number, (port: PortLike) => void>();

  constructor(port: PortLike) {
    const listeners = new Map<
      unknown,
      (ev: { data: unknown; ports?: readonly unknown[] }) => void
    >();
    this.endpoint = {
      postMessage: (m: unknown, t?: Transferable[]) => port.postMessage(m, t),
      addEventListener: (_type: string, listener: unknown) => {
        const fn = (ev: { data: unknown; ports?: readonly unknown[] }) => {
          const d = ev.data as PortHandoff | null;
          if (d && typeof d === "object" && d.honker === "subscription-port") {
            const p = ev.ports?.[0] as PortLike | undefined;
            if (p) this.deliver(d.subId, p);
            return;
          }
          (listener as (ev: { data: unknown }) => void)({ data: ev.data });
        };
        listeners.set(listener, fn);
        port.addEventListener("message", fn);
        port.start?.();
      },
      removeEventListener: (_type: string, listener: unknown) => {
        const fn = listeners.get(listener);
        if (fn) port.removeEventListener("message", fn);
        listeners.delete(listener);
      },
    } as Comlink.Endpoint;
  }

  private deliver(subId: number, port: PortLike): void {
    const w = this.waiting.get(subId);
    if (w) {
      this.waiting.delete(subId);
      w(port);
    } else {
      this.ports.set(subId, port);
    }
  }

  /** The port for `subId` (it is posted before the subscribe reply). */
  take(subId: number): Promise<PortLike> {
    const p = this.ports.get(subId);
    if (p) {
      this.ports.delete(subId);
      return Promise.resolve(p);
    }
    return new Promise((resolve) => this.waiting.set(subId, resolve));
  }
}

/** Handles one message; returns false when a data message was dropped (it counts as handled). */
type Handler = (message: SubscriptionMessage) => boolean | undefined;

/**
 * One page-side subscription. It grants credits as events are consumed and
 * re-opens itself (from its last offset) if main ends it early.
 */
class PortSubscription {
  private port: PortLike | null = null;
  private closed = false;
  private granted = 0;
  private consumed = 0;
  private lastHandled = 0;
  /** Receipt tokens (`k`) of data messages received and not yet handled, oldest first. */
  private tokens: number[] = [];
  /** The token of the last message handled: sent as `seen` with the next grant. */
  private lastSeen: number | undefined;
  /** Main asked for an acknowledgement (its budget for this window is full). */
  private ackWanted = false;
  private opening: Promise<void> | null = null;
  private readonly core: ClientCore;
  private spec: SubscriptionSpec;
  private readonly handler: Handler;
  private readonly idle: () => boolean;
  private resumePending = false;
  private readonly onPortMessage = (ev: { data: unknown }) =>
    this.onMessage(ev.data as SubscriptionMessage);

  /** `idle()` tells whether the consumer holds no undelivered events. */
  constructor(
    core: ClientCore,
    spec: SubscriptionSpec,
    handler: Handler,
    idle: () => boolean = () => true,
  ) {
    this.core = core;
    this.spec = spec;
    this.handler = handler;
    this.idle = idle;
  }

  open(): Promise<void> {
    if (!this.opening) {
      this.opening = (async () => {
        const { subId } = unwrap(await this.core.api.subscribe(this.spec));
        const port = await this.core.demux.take(subId);
        if (this.closed) {
          port.postMessage({ t: "close" } satisfies SubscriptionControl);
          port.close();
          return;
        }
        this.port = port;
        port.addEventListener("message", this.onPortMessage);
        port.start?.();
        this.granted = DEFAULT_CREDITS;
        this.consumed = 0;
        this.tokens = [];
        this.lastSeen = undefined;
        this.ackWanted = false;
        this.control({ t: "credit", n: DEFAULT_CREDITS });
      })();
    }
    return this.opening;
  }

  private control(c: SubscriptionControl): void {
    try {
      this.port?.postMessage(c);
    } catch {
      // the port is gone; a reopen follows
    }
  }

  private onMessage(m: SubscriptionMessage): void {
    if (this.closed || !m || typeof m !== "object") return;
    if (m.t === "resume") {
      // Main let go of us for falling behind. Come back from where we were,
      // but only once our consumer has drained what it holds: reopening at
      // once would grant fresh credit to a page that is not reading.
      if (this.spec.kind === "stream") this.spec = { ...this.spec, from: m.from };
      this.detach();
      this.resumePending = true;
      if (this.idle()) this.reopenIfPending();
      return;
    }
    if (m.t === "ack-request") {
      this.ackWanted = true;
      if (this.consumed > 0) this.grant();
      return;
    }
    const k = (m as { k?: unknown }).k;
    if (typeof k === "number") this.tokens.push(k);
    if (this.handler(m) === false && typeof k === "number") this.handled();
  }

  /** Counts one event as handled; grants more credit once half is used (or main asked). */
  handled(offset?: number): void {
    if (offset !== undefined) this.lastHandled = offset;
    const k = this.tokens.shift();
    if (k !== undefined) this.lastSeen = k;
    this.consumed++;
    if (this.consumed >= this.granted / 2 || this.ackWanted) this.grant();
  }

  /** Returns the credits consumed, acknowledging what was handled. */
  private grant(): void {
    const n = this.consumed;
    this.consumed = 0;
    this.ackWanted = false;
    const c: SubscriptionControl & { t: "credit" } = { t: "credit", n };
    if (this.lastSeen !== undefined) c.seen = this.lastSeen;
    if (this.lastHandled > 0 && this.spec.kind === "stream" && this.spec.consumer) {
      c.ack = this.lastHandled;
    }
    this.control(c);
  }

  /** Reopens after a 'resume' once the consumer is ready for more. */
  reopenIfPending(): void {
    if (!this.resumePending || this.closed) return;
    this.resumePending = false;
    this.reopen();
  }

  /** Where a stream subscription should restart after a reconnect. */
  resumeFrom(offset: number): void {
    if (this.spec.kind === "stream" && !this.spec.consumer)
      this.spec = { ...this.spec, from: offset };
  }

  private reopen(): void {
    this.detach();
    this.opening = null;
    this.open().catch((err) =>
      this.handler({
        t: "error",
        error: { code: err.code ?? "HONKER_CLOSED", message: String(err.message ?? err) },
      }),
    );
  }

  private detach(): void {
    if (!this.port) return;
    this.port.removeEventListener("message", this.onPortMessage);
    try {
      this.port.close();
    } catch {
      // already closed
    }
    this.port = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opening?.catch(() => {});
    if (
      this.spec.kind === "stream" &&
      this.spec.consumer &&
      this.consumed > 0 &&
      this.lastHandled > 0
    ) {
      this.grant();
    }
    this.control({ t: "close" });
    this.detach();
  }
}

/** An async iterable over a subscription's events, bounded by its credits. */
class EventIterable<E> implements ClientSubscription<E> {
  private readonly buffer: E[] = [];
  private waiter: ((r: IteratorResult<E>) => void) | null = null;
  private failer: ((err: unknown) => void) | null = null;
  private error: unknown = null;
  private done = false;
  private pendingAck: number | undefined | null = null;
  readonly sub: PortSubscription;
  /** Resolves once main has the subscription live (events committed after this are delivered). */
  readonly ready: Promise<void>;
  private readonly offsetOf: (e: E) => number | undefined;

  constructor(
    core: ClientCore,
    spec: SubscriptionSpec,
    offsetOf: (e: E) => number | undefined,
    pick: (m: SubscriptionMessage) => E | null,
  ) {
    this.offsetOf = offsetOf;
    this.sub = new PortSubscription(
      core,
      spec,
      (m) => {
        if (m.t === "error") {
          this.fail(HonkerError.from(m.error));
          return;
        }
        const e = pick(m);
        if (e === null) return false;
        const off = this.offsetOf(e);
        if (off !== undefined) this.sub.resumeFrom(off);
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          this.failer = null;
          this.pendingAck = off;
          w({ value: e, done: false });
        } else {
          this.buffer.push(e);
        }
      },
      () => this.buffer.length === 0,
    );
    this.ready = this.sub.open();
    this.ready.catch((err) => this.fail(err));
  }

  get closed(): boolean {
    return this.done;
  }

  private fail(err: unknown): void {
    this.error = err;
    if (this.failer) {
      const f = this.failer;
      this.waiter = null;
      this.failer = null;
      f(err);
    }
  }

  private ackPrevious(): void {
    // The previous event was handled once the consumer asks for the next.
    if (this.pendingAck !== null) {
      this.sub.handled(this.pendingAck);
      this.pendingAck = null;
    }
  }

  next(): Promise<IteratorResult<E>> {
    this.ackPrevious();
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    const e = this.buffer.shift();
    if (e !== undefined) {
      this.pendingAck = this.offsetOf(e);
      return Promise.resolve({ value: e, done: false });
    }
    if (this.error) return Promise.reject(this.error);
    this.sub.reopenIfPending();
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failer = reject;
    });
  }

  async return(): Promise<IteratorResult<E>> {
    await this.close();
    return { value: undefined, done: true };
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.buffer.length = 0;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      this.failer = null;
      w({ value: undefined, done: true });
    }
    await this.sub.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<E> {
    return this;
  }
}

/** Callback delivery: each handler call (awaited) counts as handled. */
function callbackSubscription<E>(
  core: ClientCore,
  spec: SubscriptionSpec,
  offsetOf: (e: E) => number | undefined,
  pick: (m: SubscriptionMessage) => E | null,
  fn: (e: E) => void | Promise<void>,
  onError?: (err: unknown) => void,
): () => void {
  let chain = Promise.resolve();
  let inFlight = 0;
  const sub: PortSubscription = new PortSubscription(
    core,
    spec,
    (m) => {
      if (m.t === "error") {
        (onError ?? console.error)(HonkerError.from(m.error));
        return;
      }
      const e = pick(m);
      if (e === null) return false;
      const off = offsetOf(e);
      if (off !== undefined) sub.resumeFrom(off);
      inFlight++;
      chain = chain
        .then(() => fn(e))
        .then(
          () => sub.handled(off),
          (err) => (onError ?? console.error)(err),
        )
        .finally(() => {
          if (--inFlight === 0) sub.reopenIfPending();
        });
    },
    () => inFlight === 0,
  );
  sub.open().catch((err) => (onError ?? console.error)(err));
  return () => {
    void sub.close();
  };
}

/** Runtime core shared by the typed facades. */
export class ClientCore {
  readonly api: Comlink.Remote<BridgeApi>;
  readonly demux: Demux;
  private readonly port: PortLike;
  private readonly subs = new Set<{ close(): Promise<void> | void }>();
  capabilities: WireCapabilities = {
    queues: {},
    streams: {},
    channels: {},
    outboxes: {},
    connectivity: false,
    maxPayloadBytes: 0,
  };

  constructor(port: PortLike) {
    this.port = port;
    this.demux = new Demux(port);
    this.api = Comlink.wrap<BridgeApi>(this.demux.endpoint);
  }

  track<T extends { close(): Promise<void> | void }>(s: T): T {
    this.subs.add(s);
    return s;
  }

  iterate<E>(
    spec: SubscriptionSpec,
    offsetOf: (e: E) => number | undefined,
    pick: (m: SubscriptionMessage) => E | null,
  ): EventIterable<E> {
    const it = new EventIterable<E>(this, spec, offsetOf, pick);
    this.track(it);
    return it;
  }

  callback<E>(
    spec: SubscriptionSpec,
    offsetOf: (e: E) => number | undefined,
    pick: (m: SubscriptionMessage) => E | null,
    fn: (e: E) => void | Promise<void>,
    onError?: (err: unknown) => void,
  ): () => void {
    const stop = callbackSubscription(this, spec, offsetOf, pick, fn, onError);
    const entry = { close: stop };
    this.track(entry);
    return () => {
      this.subs.delete(entry);
      stop();
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.subs].map((s) => s.close()));
    this.subs.clear();
    try {
      this.port.close();
    } catch {
      // already closed
    }
  }
}

const streamPick = (m: SubscriptionMessage) => (m.t === "event" ? (m.event as never) : null);
const eventOffset = (e: { offset?: number; id?: number }) => e.offset ?? e.id;

function buildClient(core: ClientCore): HonkerClient<ClientSchema, AllGranted> {
  const jobClient = (queue: string, id: number) => ({
    id,
    get: async () => unwrap(await core.api.job(queue, id)),
    waitResult: async (timeoutMs = 60_000) =>
      unwrap(await core.api.waitResult(queue, id, timeoutMs)),
    watch: (fn: (job: WireJob | null) => void, options?: { onError?: (err: unknown) => void }) =>
      core.callback<WireJob | null>(
        { kind: "job", queue, id },
        () => undefined,
        (m) => (m.t === "job" ? m.job : null),
        fn,
        options?.onError,
      ),
  });
  const client = {
    get capabilities() {
      return core.capabilities;
    },
    queue: (name: string) => ({
      enqueue: async (payload: unknown, options?: WireEnqueueOptions) =>
        unwrap(await core.api.enqueue(name, payload, options)),
      enqueueMany: async (payloads: unknown[], options?: WireEnqueueOptions) =>
        unwrap(await core.api.enqueueMany(name, payloads, options)),
      job: (id: number) => jobClient(name, id),
      stats: async () => unwrap(await core.api.stats(name)),
      watchStats: (fn: (s: WireStats) => void) =>
        core.callback<WireStats>(
          { kind: "stats", queue: name },
          () => undefined,
          (m) => (m.t === "stats" ? m.stats : null),
          fn,
        ),
      cancel: async (id: number) => unwrap(await core.api.cancel(name, id)),
    }),
    stream: (name: string) => ({
      publish: async (payload: unknown, options?: { key?: string }) =>
        unwrap(await core.api.publish(name, payload, options?.key)),
      subscribe: (
        a?: StreamSubscribeOptions | ((e: unknown) => void | Promise<void>),
        b?: StreamSubscribeOptions,
      ) => {
        const fn = typeof a === "function" ? a : undefined;
        const opts = (typeof a === "function" ? b : a) ?? {};
        const spec: SubscriptionSpec = { kind: "stream", name, from: opts.from ?? "latest" };
        if (opts.consumer !== undefined) spec.consumer = opts.consumer;
        if (fn) return core.callback(spec, eventOffset, streamPick, fn, opts.onError);
        return core.iterate(spec, eventOffset, streamPick);
      },
    }),
    notify: async (channel: string, payload: unknown) =>
      unwrap(await core.api.notify(channel, payload)),
    listen: (
      channel: string,
      fn?: (n: unknown) => void | Promise<void>,
      options?: { onError?: (err: unknown) => void },
    ) => {
      const spec: SubscriptionSpec = { kind: "channel", name: channel };
      if (fn) return core.callback(spec, () => undefined, streamPick, fn, options?.onError);
      return core.iterate(spec, () => undefined, streamPick);
    },
    outbox: (name: string) => ({
      status: async () => unwrap(await core.api.outboxStatus(name)),
      watchStatus: (
        fn: (s: WireOutboxStatus) => void,
        options?: { onError?: (err: unknown) => void },
      ) =>
        core.callback<WireOutboxStatus>(
          { kind: "outbox", name },
          () => undefined,
          (m) => (m.t === "outbox" ? m.status : null),
          fn,
          options?.onError,
        ),
      pause: async () => unwrap(await core.api.outboxPause(name)),
      resume: async () => unwrap(await core.api.outboxResume(name)),
      flush: async () => unwrap(await core.api.outboxFlush(name)),
      dead: async (options?: { limit?: number }) =>
        unwrap(await core.api.outboxDead(name, options?.limit)),
      redrive: async (ids?: readonly number[]) =>
        unwrap(await core.api.outboxRedrive(name, ids === undefined ? null : [...ids])),
    }),
    close: () => core.close(),
  };
  return client as unknown as HonkerClient<ClientSchema, AllGranted>;
}

/** The window as a connectivity source, when this page has one. */
function windowConnectivity(): ConnectivitySource | null {
  const g = globalThis as {
    navigator?: { onLine?: unknown };
    addEventListener?: unknown;
    removeEventListener?: unknown;
  };
  if (
    typeof g.navigator?.onLine !== "boolean" ||
    typeof g.addEventListener !== "function" ||
    typeof g.removeEventListener !== "function"
  ) {
    return null;
  }
  const nav = g.navigator as { onLine: boolean };
  const target = globalThis as unknown as ConnectivitySource;
  return {
    get onLine() {
      return nav.onLine;
    },
    addEventListener: (type, listener) => target.addEventListener(type, listener),
    removeEventListener: (type, listener) => target.removeEventListener(type, listener),
  };
}

/**
 * Reports `source`'s online state to main now and on every change; the
 * returned function stops. A failed report (a closed connection) is dropped:
 * the next event, or the next connection, reports again.
 */
function forwardConnectivity(core: ClientCore, source: ConnectivitySource): () => void {
  const report = () => {
    core.api.online(source.onLine === true).catch(() => {});
  };
  source.addEventListener("online", report);
  source.addEventListener("offline", report);
  report();
  return () => {
    source.removeEventListener("online", report);
    source.removeEventListener("offline", report);
  };
}

/**
 * Connects this page to the main process. In a window served with
 * `db.serve(window, grants)` and the honker preload, call it with no
 * arguments.
 *
 * ```ts
 * const honker = await connect<AppSchema, typeof grants>();
 * await honker.queue("sync").enqueue({ folder: "inbox" });
 * for await (const e of honker.stream("activity").subscribe()) render(e);
 * ```
 */
export async function connect<S extends ClientSchema = ClientSchema, G = AllGranted>(
  options: ConnectOptions = {},
): Promise<HonkerClient<S, G>> {
  const port = options.port ?? (await requestPort(options.timeoutMs ?? 10_000));
  const core = new ClientCore(port);
  const hello = unwrap(await core.api.hello());
  core.capabilities = hello.capabilities;
  if (hello.capabilities.connectivity === true && options.connectivity !== false) {
    const source = options.connectivity ?? windowConnectivity();
    if (source) core.track({ close: forwardConnectivity(core, source) });
  }
  return buildClient(core) as unknown as HonkerClient<S, G>;
}
