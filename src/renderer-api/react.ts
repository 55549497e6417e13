/**
 * honker-electron/react: React hooks over a connected page client.
 *
 * ```ts
 * import { connect } from "honker-electron/renderer";
 * import { HonkerProvider, useStream } from "honker-electron/react";
 *
 * const honker = await connect<AppSchema, typeof grants>();
 * root.render(createElement(HonkerProvider, { client: honker }, createElement(App)));
 *
 * function Feed() {
 *   const { events, status } = useStream("activity", { limit: 50 });
 *   ...
 * }
 * ```
 *
 * Every hook reads a per-client store through `useSyncExternalStore`.
 * Subscriptions are keyed (kind, name and options) and reference-counted:
 * any number of components that use the same key share one subscription in
 * main. Teardown is deferred by a timer tick, so React's StrictMode
 * (mount, unmount, mount again) neither opens a second subscription nor
 * leaks one. Snapshots are frozen and change identity only when their
 * content changes.
 * @module
 */
import * as React from "react";
import type { WireJobState, WireStats } from "../protocol/index.ts";
import { HonkerError } from "./errors.ts";
import type {
  AllGranted,
  ClientSchema,
  ClientSubscription,
  GrantedQueues,
  GrantedStreams,
  HonkerClient,
  JobView,
  ListenableChannels,
  Notification,
  OutboxStatusView,
  StatusOutboxes,
  StreamEvent,
} from "./types.ts";

/** A client of any schema and grants, as the provider accepts it. */
// biome-ignore lint/suspicious/noExplicitAny: the provider accepts a client of any schema
export type AnyHonkerClient = HonkerClient<any, any>;

/** The untyped view the store uses internally (every method present). */
type LooseClient = HonkerClient<ClientSchema, AllGranted>;

/** Where a subscription stands: opening, delivering, or failed (see `error`). */
export type HookStatus = "connecting" | "live" | "error";

export interface StreamState<P = unknown> {
  /** The last `limit` events, oldest first. */
  readonly events: readonly StreamEvent<P>[];
  readonly status: HookStatus;
  readonly error?: HonkerError;
}

export interface ListenState<P = unknown> {
  /** The last `limit` notifications received since the subscription opened, oldest first. */
  readonly notifications: readonly Notification<P>[];
  /** The newest notification, or null before the first. */
  readonly last: Notification<P> | null;
  readonly status: HookStatus;
  readonly error?: HonkerError;
}

export interface JobState<P = unknown, R = unknown> {
  /** The job as main last reported it; null while unknown, when it does not exist, or when idle. */
  readonly job: JobView<P, R> | null;
  /** `job.state`, or null when there is no job to show. */
  readonly state: WireJobState | null;
  readonly attempts: number;
  /** The saved result (once completed), else null. */
  readonly result: R | null;
  /** The job's last error message (from a failed attempt), else null. */
  readonly error: string | null;
  /** 'idle' when no id was given. */
  readonly status: HookStatus | "idle";
  /** Why the subscription itself failed (status 'error'). */
  readonly bridgeError?: HonkerError;
}

export interface QueueStatsState {
  readonly stats: WireStats | null;
  readonly status: HookStatus;
  readonly error?: HonkerError;
}

export interface OutboxState {
  /** The outbox's status as main last reported it (null until the first report). */
  readonly outbox: OutboxStatusView | null;
  readonly status: HookStatus;
  readonly error?: HonkerError;
}

export interface UseStreamOptions {
  /** Where to start: an offset (events after it), 'latest' (default) or 'beginning'. */
  from?: number | "latest" | "beginning";
  /** How many recent events to keep (default 100). */
  limit?: number;
}

export interface UseListenOptions {
  /** How many recent notifications to keep (default 100). */
  limit?: number;
}

const DEFAULT_LIMIT = 100;

// ---------------------------------------------------------------------------
// The store

/** Replaces a key's snapshot and tells its components. */
type Publish<S> = (next: S) => void;
/** Opens the subscription for a key; returns how to close it. */
type Start<S> = (client: LooseClient, publish: Publish<S>, current: () => S) => () => void;

interface Entry {
  snapshot: unknown;
  readonly listeners: Set<() => void>;
  refs: number;
  stop: (() => void) | null;
  timer: ReturnType<typeof setTimeout> | null;
  dead: boolean;
}

/** One per client: keyed, reference-counted subscriptions and their snapshots. */
class HookStore {
  private readonly client: LooseClient;
  private readonly entries = new Map<string, Entry>();

  constructor(client: LooseClient) {
    this.client = client;
  }

  read<S>(key: string, initial: S): S {
    const e = this.entries.get(key);
    return e ? (e.snapshot as S) : initial;
  }

  subscribe<S>(key: string, initial: S, start: Start<S>, listener: () => void): () => void {
    let entry = this.entries.get(key);
    let fresh = false;
    if (!entry) {
      entry = {
        snapshot: initial,
        listeners: new Set(),
        refs: 0,
        stop: null,
        timer: null,
        dead: false,
      };
      this.entries.set(key, entry);
      fresh = true;
    } else if (entry.timer) {
      // Re-acquired before the deferred teardown ran (StrictMode, a quick remount).
      clearTimeout(entry.timer);
      entry.timer = null;
    }
    const e = entry;
    e.refs++;
    e.listeners.add(listener);
    if (fresh) {
      const publish: Publish<S> = (next) => {
        if (e.dead || next === e.snapshot) return;
        e.snapshot = next;
        for (const l of [...e.listeners]) l();
      };
      try {
        e.stop = start(this.client, publish, () => e.snapshot as S);
      } catch (err) {
        publish(failedSnapshot(initial, toHonkerError(err)));
      }
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      e.refs--;
      e.listeners.delete(listener);
      if (e.refs > 0 || e.timer || e.dead) return;
      e.timer = setTimeout(() => {
        e.timer = null;
        if (e.refs > 0 || e.dead) return;
        e.dead = true;
        if (this.entries.get(key) === e) this.entries.delete(key);
        const stop = e.stop;
        e.stop = null;
        stop?.();
      }, 0);
    };
  }
}

const stores = new WeakMap<object, HookStore>();

function storeFor(client: AnyHonkerClient): HookStore {
  let s = stores.get(client);
  if (!s) {
    s = new HookStore(client as unknown as LooseClient);
    stores.set(client, s);
  }
  return s;
}

function toHonkerError(err: unknown): HonkerError {
  if (err instanceof HonkerError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "HONKER_CLOSED";
  const message = typeof e?.message === "string" ? e.message : String(err);
  return new HonkerError(code, message);
}

/** The error snapshot of whatever shape `base` has. */
function failedSnapshot<S>(base: S, error: HonkerError): S {
  const b = base as Record<string, unknown>;
  // Job snapshots keep the job's own `error` field; theirs goes to `bridgeError`.
  if ("attempts" in b) return Object.freeze({ ...b, status: "error", bridgeError: error }) as S;
  return Object.freeze({ ...b, status: "error", error }) as S;
}

/** The one hook shape every public hook reduces to. */
function useKeyed<S>(client: AnyHonkerClient, key: string | null, initial: S, start: Start<S>): S {
  const store = storeFor(client);
  // `start` and `initial` are derived from the key's parts: the key alone decides identity.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the key encodes start and initial
  const subscribe = React.useCallback(
    (listener: () => void) =>
      key === null ? () => {} : store.subscribe(key, initial, start, listener),
    [store, key],
  );
  // biome-ignore lint/correctness/useExhaustiveDependencies: the key encodes initial
  const getSnapshot = React.useCallback(
    () => (key === null ? initial : store.read(key, initial)),
    [store, key],
  );
  return React.useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

function checkLimit(limit: number | undefined, what: string): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new HonkerError("HONKER_INVALID_ARGUMENT", `${what}: limit must be an integer >= 1`);
  }
  return limit;
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new HonkerError("HONKER_INVALID_ARGUMENT", `${what}: name must be a non-empty string`);
  }
  return name;
}

/**
 * Drains an async-iterable subscription into a bounded window. Events that
 * arrive together are appended once (one snapshot per microtask).
 */
function windowed<E, S extends { status: HookStatus }>(
  open: () => ClientSubscription<E>,
  limit: number,
  publish: Publish<S>,
  current: () => S,
  items: (s: S) => readonly E[],
  withItems: (s: S, items: readonly E[]) => S,
): () => void {
  const sub = open();
  let stopped = false;
  let pending: E[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (stopped || pending.length === 0) return;
    const merged = items(current()).concat(pending);
    pending = [];
    const kept = Object.freeze(
      merged.length > limit ? merged.slice(merged.length - limit) : merged,
    );
    publish(withItems(current(), kept));
  };
  const setLive = () => {
    const s = current();
    if (!stopped && s.status === "connecting") publish(Object.freeze({ ...s, status: "live" }));
  };
  sub.ready.then(setLive, () => {});
  (async () => {
    for await (const e of sub) {
      if (stopped) break;
      setLive();
      pending.push(e);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    }
    if (!stopped) {
      // The client closed under us: keep what we have, say why it stopped.
      flush();
      publish(
        failedSnapshot(current(), new HonkerError("HONKER_CLOSED", "the honker client was closed")),
      );
    }
  })().catch((err: unknown) => {
    if (stopped) return;
    flush();
    publish(failedSnapshot(current(), toHonkerError(err)));
    void sub.close().catch(() => {});
  });
  return () => {
    stopped = true;
    pending = [];
    void sub.close().catch(() => {});
  };
}

/** True when the window's capabilities say `action` on queue `q` is refused. */
function queueRefused(client: LooseClient, q: string, action: "read" | "stats"): boolean {
  const queues = client.capabilities?.queues;
  if (!queues || typeof queues !== "object") return false;
  return !Object.hasOwn(queues, q) || queues[q]?.[action] !== true;
}

// ---------------------------------------------------------------------------
// Provider

const HonkerContext = React.createContext<AnyHonkerClient | null>(null);

export interface HonkerProviderProps {
  /** A client from `connect()`. The provider never closes it. */
  client: AnyHonkerClient;
  children?: React.ReactNode;
}

/** Makes `client` available to `useHonker()` and the hooks below it. */
export function HonkerProvider(props: HonkerProviderProps): React.ReactElement {
  return React.createElement(HonkerContext.Provider, { value: props.client }, props.children);
}

/** The client given to the nearest `<HonkerProvider>`. */
export function useHonker<S extends ClientSchema = ClientSchema, G = AllGranted>(): HonkerClient<
  S,
  G
> {
  const client = React.useContext(HonkerContext);
  if (!client) {
    throw new HonkerError(
      "HONKER_INVALID_ARGUMENT",
      "useHonker(): no client; wrap your components in <HonkerProvider client={await connect()}>",
    );
  }
  return client as HonkerClient<S, G>;
}

// ---------------------------------------------------------------------------
// Hooks

const STREAM_INITIAL: StreamState<never> = Object.freeze({
  events: Object.freeze([]) as readonly never[],
  status: "connecting" as const,
});

/** The last `limit` events of stream `topic`, live. */
export function useStream<P = unknown>(
  topic: string,
  options: UseStreamOptions = {},
): StreamState<P> {
  const client = useHonker();
  const name = checkName(topic, "useStream");
  const limit = checkLimit(options.limit, "useStream");
  const from = options.from ?? "latest";
  if (
    from !== "latest" &&
    from !== "beginning" &&
    !(typeof from === "number" && Number.isSafeInteger(from) && from >= 0)
  ) {
    throw new HonkerError(
      "HONKER_INVALID_ARGUMENT",
      "useStream: from must be an offset >= 0, 'latest' or 'beginning'",
    );
  }
  const key = `stream\u0000${name}\u0000${String(from)}\u0000${limit}`;
  return useKeyed<StreamState<P>>(client, key, STREAM_INITIAL, (c, publish, current) =>
    windowed<StreamEvent<P>, StreamState<P>>(
      () => c.stream(name).subscribe({ from }) as ClientSubscription<StreamEvent<P>>,
      limit,
      publish,
      current,
      (s) => s.events,
      (s, events) => Object.freeze({ ...s, events }),
    ),
  );
}

const LISTEN_INITIAL: ListenState<never> = Object.freeze({
  notifications: Object.freeze([]) as readonly never[],
  last: null,
  status: "connecting" as const,
});

/** Notifications on `channel` since the hook first mounted (the last `limit`). */
export function useListen<P = unknown>(
  channel: string,
  options: UseListenOptions = {},
): ListenState<P> {
  const client = useHonker();
  const name = checkName(channel, "useListen");
  const limit = checkLimit(options.limit, "useListen");
  const key = `channel\u0000${name}\u0000${limit}`;
  return useKeyed<ListenState<P>>(client, key, LISTEN_INITIAL, (c, publish, current) =>
    windowed<Notification<P>, ListenState<P>>(
      () => c.listen(name) as unknown as ClientSubscription<Notification<P>>,
      limit,
      publish,
      current,
      (s) => s.notifications,
      (s, notifications) =>
        Object.freeze({
          ...s,
          notifications,
          last: notifications[notifications.length - 1] ?? null,
        }),
    ),
  );
}

const JOB_IDLE: JobState<never, never> = Object.freeze({
  job: null,
  state: null,
  attempts: 0,
  result: null,
  error: null,
  status: "idle" as const,
});
const JOB_INITIAL: JobState<never, never> = Object.freeze({
  ...JOB_IDLE,
  status: "connecting" as const,
});

/** Job `id` of `queue`, live; idle (no subscription) while `id` is null or undefined. */
export function useJob<P = unknown, R = unknown>(
  queue: string,
  id: number | null | undefined,
): JobState<P, R> {
  const client = useHonker();
  const name = checkName(queue, "useJob");
  if (id !== null && id !== undefined && (!Number.isSafeInteger(id) || id < 1)) {
    throw new HonkerError("HONKER_INVALID_ARGUMENT", "useJob: id must be a positive integer");
  }
  const key = id === null || id === undefined ? null : `job\u0000${name}\u0000${id}`;
  return useKeyed<JobState<P, R>>(
    client,
    key,
    key === null ? JOB_IDLE : JOB_INITIAL,
    (c, publish) => {
      if (queueRefused(c, name, "read")) {
        publish(
          failedSnapshot(
            JOB_INITIAL as JobState<P, R>,
            new HonkerError("HONKER_FORBIDDEN", `this window may not read queue '${name}'`),
          ),
        );
        return () => {};
      }
      return c
        .queue(name)
        .job(id as number)
        .watch((job) => {
          const j = job as JobView<P, R> | null;
          publish(
            Object.freeze({
              job: j,
              state: j?.state ?? null,
              attempts: j?.attempts ?? 0,
              result: j?.result ?? null,
              error: j?.error ?? null,
              status: "live",
            }),
          );
        });
    },
  );
}

const STATS_INITIAL: QueueStatsState = Object.freeze({
  stats: null,
  status: "connecting" as const,
});

/** Counts of `queue` (pending, processing, dead...), live. */
export function useQueueStats(queue: string): QueueStatsState {
  const client = useHonker();
  const name = checkName(queue, "useQueueStats");
  const key = `stats\u0000${name}`;
  return useKeyed<QueueStatsState>(client, key, STATS_INITIAL, (c, publish) => {
    if (queueRefused(c, name, "stats")) {
      publish(
        failedSnapshot(
          STATS_INITIAL,
          new HonkerError("HONKER_FORBIDDEN", `this window may not read stats of queue '${name}'`),
        ),
      );
      return () => {};
    }
    return c
      .queue(name)
      .watchStats((stats) =>
        publish(Object.freeze({ stats: Object.freeze({ ...stats }), status: "live" })),
      );
  });
}

const OUTBOX_INITIAL: OutboxState = Object.freeze({
  outbox: null,
  status: "connecting" as const,
});

/** True when the window's capabilities say the status of outbox `name` is refused. */
function outboxRefused(client: LooseClient, name: string): boolean {
  const outboxes = client.capabilities?.outboxes;
  if (!outboxes || typeof outboxes !== "object") return false;
  return !Object.hasOwn(outboxes, name) || outboxes[name]?.status !== true;
}

/**
 * The status of outbox `name` (pending, inFlight, dead, delivered, online,
 * paused, lastError...), live: main pushes it on every change, not on a timer.
 */
export function useOutbox(name: string): OutboxState {
  const client = useHonker();
  const outbox = checkName(name, "useOutbox");
  const key = `outbox\u0000${outbox}`;
  return useKeyed<OutboxState>(client, key, OUTBOX_INITIAL, (c, publish, current) => {
    if (outboxRefused(c, outbox)) {
      publish(
        failedSnapshot(
          OUTBOX_INITIAL,
          new HonkerError(
            "HONKER_FORBIDDEN",
            `this window may not read the status of outbox '${outbox}'`,
          ),
        ),
      );
      return () => {};
    }
    return c
      .outbox(outbox)
      .watchStatus(
        (s) => publish(Object.freeze({ outbox: Object.freeze({ ...s }), status: "live" })),
        {
          // Main ended the subscription (the database closed...): keep the last status, say why.
          onError: (err) => publish(failedSnapshot(current(), toHonkerError(err))),
        },
      );
  });
}

/** The hooks, typed against one schema and the window's grants. */
export interface HonkerHooks<S extends ClientSchema, G> {
  useHonker(): HonkerClient<S, G>;
  useStream<N extends GrantedStreams<S, G>>(
    topic: N,
    options?: UseStreamOptions,
  ): StreamState<S["streams"][N]>;
  useListen<C extends ListenableChannels<S, G>>(
    channel: C,
    options?: UseListenOptions,
  ): ListenState<S["channels"][C]>;
  useJob<Q extends GrantedQueues<S, G>, R = unknown>(
    queue: Q,
    id: number | null | undefined,
  ): JobState<S["queues"][Q], R>;
  useQueueStats<Q extends GrantedQueues<S, G>>(queue: Q): QueueStatsState;
  useOutbox<N extends StatusOutboxes<S, G>>(name: N): OutboxState;
}

/**
 * The same hooks, checked against your schema (the one main uses) and the
 * window's grants: `export const hooks = createHonkerHooks<AppSchema, typeof grants>();`
 */
export function createHonkerHooks<S extends ClientSchema, G = AllGranted>(): HonkerHooks<S, G> {
  return {
    useHonker: useHonker as HonkerHooks<S, G>["useHonker"],
    useStream: useStream as HonkerHooks<S, G>["useStream"],
    useListen: useListen as HonkerHooks<S, G>["useListen"],
    useJob: useJob as HonkerHooks<S, G>["useJob"],
    useQueueStats,
    useOutbox,
  };
}
