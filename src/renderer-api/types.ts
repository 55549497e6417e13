/**
 * Types of the renderer client: one schema (the same one main uses) maps
 * names to payloads, and the window's grants (the same object main passes
 * to `db.serve`, as a type) decide which methods exist at all.
 */
import type {
  WireDeadMessage,
  WireEnqueueOptions,
  WireJob,
  WireNotification,
  WireOutboxStatus,
  WireStats,
  WireStreamEvent,
} from "../protocol/index.ts";

/** The schema shape shared with the main process. */
export interface ClientSchema {
  queues: Record<string, unknown>;
  streams: Record<string, unknown>;
  channels: Record<string, unknown>;
  /** Outbox names and message types (optional: without it any outbox name). */
  outboxes?: Record<string, unknown>;
}

/** The boolean shape of main's grants (validators are irrelevant here). */
export interface GrantShape {
  queues?: Record<
    string,
    { enqueue?: boolean; read?: boolean; stats?: boolean; cancel?: boolean } | undefined
  >;
  streams?: Record<string, { publish?: boolean; subscribe?: boolean | object } | undefined>;
  channels?: Record<string, { notify?: boolean; listen?: boolean } | undefined>;
  outboxes?: Record<string, { status?: boolean; control?: boolean } | undefined>;
  connectivity?: boolean;
}

/** Grants that allow everything: the default when no grants type is given. */
export interface AllGranted {
  queues: Record<string, { enqueue: true; read: true; stats: true; cancel: true }>;
  streams: Record<string, { publish: true; subscribe: true }>;
  channels: Record<string, { notify: true; listen: true }>;
  outboxes: Record<string, { status: true; control: true }>;
  connectivity: true;
}

type Keys<T> = Extract<keyof T, string>;
/** `never` (nothing granted under that name) must read as "not granted", not distribute away. */
type Granted<T, K extends string> = [T] extends [never]
  ? false
  : T extends Record<K, true | object>
    ? true
    : false;

export type JobView<P, R> = Omit<WireJob, "payload" | "result"> & {
  payload: P | null;
  result: R | null;
};

export interface StreamEvent<P> extends Omit<WireStreamEvent, "payload"> {
  payload: P;
}

export interface Notification<P> extends Omit<WireNotification, "payload"> {
  payload: P;
}

/** An open subscription: iterate it, or close it. */
export interface ClientSubscription<E> extends AsyncIterable<E> {
  close(): Promise<void>;
  readonly closed: boolean;
  /** Resolves once main has the subscription live. */
  readonly ready: Promise<void>;
}

export interface JobClient<P, R> {
  readonly id: number;
  get(): Promise<JobView<P, R> | null>;
  waitResult(timeoutMs?: number): Promise<R>;
  /** Calls `fn` with every change of the job until the returned function is called. */
  watch(
    fn: (job: JobView<P, R> | null) => void,
    options?: { onError?: (err: unknown) => void },
  ): () => void;
}

export interface StreamSubscribeOptions {
  /** Where to start: an offset (events after it), 'latest' (default) or 'beginning'. */
  from?: number | "latest" | "beginning";
  /** A durable consumer name: resumes from its saved offset; offsets are saved as you handle events. */
  consumer?: string;
  /** Callback form only: receives errors (default: console.error). */
  onError?: (err: unknown) => void;
}

type QueueEnqueue<P> = {
  enqueue(payload: P, options?: WireEnqueueOptions): Promise<number>;
  enqueueMany(payloads: P[], options?: WireEnqueueOptions): Promise<number[]>;
};
type QueueRead<P, R> = { job(id: number): JobClient<P, R> };
type QueueStats = {
  stats(): Promise<WireStats>;
  watchStats(
    fn: (stats: WireStats) => void,
    options?: { onError?: (err: unknown) => void },
  ): () => void;
};
type QueueCancel = { cancel(id: number): Promise<boolean> };

// biome-ignore lint/complexity/noBannedTypes: {} is "no extra methods" in these intersections
type Empty = {};

export type QueueClient<P, G, R = unknown> = (Granted<G, "enqueue"> extends true
  ? QueueEnqueue<P>
  : Empty) &
  (Granted<G, "read"> extends true ? QueueRead<P, R> : Empty) &
  (Granted<G, "stats"> extends true ? QueueStats : Empty) &
  (Granted<G, "cancel"> extends true ? QueueCancel : Empty);

type StreamPublish<P> = { publish(payload: P, options?: { key?: string }): Promise<number> };
type StreamSubscribe<P> = {
  subscribe(options?: StreamSubscribeOptions): ClientSubscription<StreamEvent<P>>;
  subscribe(
    fn: (event: StreamEvent<P>) => void | Promise<void>,
    options?: StreamSubscribeOptions,
  ): () => void;
};

/** An outbox's status as the page sees it (`online` is null when main has no such outbox open). */
export type OutboxStatusView = WireOutboxStatus;

/** A dead outbox message (times are Unix seconds). */
export interface DeadMessageView<P> extends Omit<WireDeadMessage, "payload"> {
  payload: P;
}

type OutboxStatusRead = {
  /** The status now. */
  status(): Promise<OutboxStatusView>;
  /** Calls `fn` with the status on every change (not on a timer) until the returned function is called. */
  watchStatus(
    fn: (status: OutboxStatusView) => void,
    options?: { onError?: (err: unknown) => void },
  ): () => void;
};
type OutboxControl<P> = {
  /** Pauses the outbox in the file: no relay sends (batches in flight finish). Resolves false if it was paused already. */
  pause(): Promise<boolean>;
  /** Resumes it; resolves false if it was not paused. */
  resume(): Promise<boolean>;
  /** Tries every waiting message now; resolves with how many were waiting on a backoff. */
  flush(): Promise<number>;
  /** Dead messages, newest first (default 100, at most 1000). */
  dead(options?: { limit?: number }): Promise<DeadMessageView<P>[]>;
  /** Dead messages (all, or these ids) back to pending; resolves with how many. */
  redrive(ids?: readonly number[]): Promise<number>;
};

export type OutboxClient<P, G> = (Granted<G, "status"> extends true ? OutboxStatusRead : Empty) &
  (Granted<G, "control"> extends true ? OutboxControl<P> : Empty);

export type StreamClient<P, G> = (Granted<G, "publish"> extends true ? StreamPublish<P> : Empty) &
  (Granted<G, "subscribe"> extends true ? StreamSubscribe<P> : Empty);

/** Queue names the window may touch at all. */
export type GrantedQueues<S extends ClientSchema, G> = G extends { queues?: infer Q }
  ?
      | Extract<Keys<NonNullable<Q>>, Keys<S["queues"]>>
      | (string extends Keys<NonNullable<Q>> ? Keys<S["queues"]> : never)
  : never;
export type GrantedStreams<S extends ClientSchema, G> = G extends { streams?: infer T }
  ?
      | Extract<Keys<NonNullable<T>>, Keys<S["streams"]>>
      | (string extends Keys<NonNullable<T>> ? Keys<S["streams"]> : never)
  : never;

/** Outbox names of a client schema (any string when it declares none). */
export type OutboxNames<S extends ClientSchema> = S extends { outboxes: infer O }
  ? O extends Record<string, unknown>
    ? Keys<O>
    : string
  : string;
/** The message type of outbox `N` (unknown when the schema declares none). */
export type OutboxPayloadOf<S extends ClientSchema, N extends string> = S extends {
  outboxes: infer O;
}
  ? N extends keyof O
    ? O[N]
    : unknown
  : unknown;
export type GrantedOutboxes<S extends ClientSchema, G> = G extends { outboxes?: infer T }
  ?
      | Extract<Keys<NonNullable<T>>, OutboxNames<S>>
      | (string extends Keys<NonNullable<T>> ? OutboxNames<S> : never)
  : never;
/** The grant a window holds for `N` of kind `K` (a named grant, else its "*"-style string index). */
type GrantOf<G, K extends string, N extends string> =
  G extends Partial<Record<K, infer T>>
    ? N extends keyof NonNullable<T>
      ? NonNullable<T>[N]
      : string extends keyof NonNullable<T>
        ? NonNullable<T>[string]
        : never
    : never;
type OutboxGrantOf<G, N extends string> = GrantOf<G, "outboxes", N>;
/** Outboxes whose status the window may read (what `useOutbox` accepts). */
export type StatusOutboxes<S extends ClientSchema, G> = {
  [N in GrantedOutboxes<S, G>]: Granted<OutboxGrantOf<G, N>, "status"> extends true ? N : never;
}[GrantedOutboxes<S, G>];

type ChannelGrantOf<G, C extends string> = GrantOf<G, "channels", C>;
type QueueGrantOf<G, Q extends string> = GrantOf<G, "queues", Q>;
type StreamGrantOf<G, N extends string> = GrantOf<G, "streams", N>;

export type NotifiableChannels<S extends ClientSchema, G> = {
  [C in Keys<S["channels"]>]: Granted<ChannelGrantOf<G, C>, "notify"> extends true ? C : never;
}[Keys<S["channels"]>];
export type ListenableChannels<S extends ClientSchema, G> = {
  [C in Keys<S["channels"]>]: Granted<ChannelGrantOf<G, C>, "listen"> extends true ? C : never;
}[Keys<S["channels"]>];

/** The typed client `connect()` returns. */
export interface HonkerClient<S extends ClientSchema, G = AllGranted> {
  queue<Q extends GrantedQueues<S, G>, R = unknown>(
    name: Q,
  ): QueueClient<S["queues"][Q], QueueGrantOf<G, Q>, R>;
  stream<N extends GrantedStreams<S, G>>(
    name: N,
  ): StreamClient<S["streams"][N], StreamGrantOf<G, N>>;
  notify<C extends NotifiableChannels<S, G>>(
    channel: C,
    payload: S["channels"][C],
  ): Promise<number>;
  listen<C extends ListenableChannels<S, G>>(
    channel: C,
  ): ClientSubscription<Notification<S["channels"][C]>>;
  listen<C extends ListenableChannels<S, G>>(
    channel: C,
    fn: (n: Notification<S["channels"][C]>) => void | Promise<void>,
    options?: { onError?: (err: unknown) => void },
  ): () => void;
  /** Outbox `name` as main has it: its status, and with `control` its pause/resume/flush/redrive. */
  outbox<N extends GrantedOutboxes<S, G>>(
    name: N,
  ): OutboxClient<OutboxPayloadOf<S, N>, OutboxGrantOf<G, N>>;
  /** What main granted this window (as reported at connect time). */
  readonly capabilities: import("../protocol/index.ts").WireCapabilities;
  /** Ends every subscription and the connection. */
  close(): Promise<void>;
}
