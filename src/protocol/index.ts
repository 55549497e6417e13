/**
 * The bridge protocol shared by the main process and renderer pages. Plain
 * data only: no Node, Electron or DOM imports, so both sides can load it.
 *
 * Requests and replies travel through Comlink over one MessagePort per
 * window. Every method replies with a `Reply` (never throws across the
 * port) so errors keep their `code`. Each subscription gets a dedicated
 * port, created by main and handed over in a transfer list, never inside
 * message data.
 */

/** Error codes that can cross the bridge (a subset of HonkerErrorCode). */
export type BridgeErrorCode =
  | "HONKER_FORBIDDEN"
  | "HONKER_INVALID_ARGUMENT"
  | "HONKER_RATE_LIMITED"
  | "HONKER_CLOSED"
  | "HONKER_TIMEOUT"
  | "HONKER_NOT_FOUND"
  | "HONKER_JOB_DEAD"
  | "HONKER_CANCELLED"
  | "HONKER_WATCHER_DEAD"
  | "HONKER_DISK_FULL"
  | "HONKER_BUSY"
  | "HONKER_SQLITE"
  | string;

export interface WireError {
  code: BridgeErrorCode;
  message: string;
}

export type Reply<T> = { ok: true; value: T } | { ok: false; error: WireError };

export interface WireEnqueueOptions {
  delay?: number;
  runAt?: number;
  priority?: number;
  maxAttempts?: number;
  expires?: number;
  key?: string;
}

export type WireJobState = "pending" | "processing" | "completed" | "cancelled" | "dead";

/** A job as a page sees it (no worker ids). */
export interface WireJob {
  id: number;
  queue: string;
  state: WireJobState;
  payload: unknown;
  attempts: number;
  maxAttempts: number | null;
  runAt: number | null;
  createdAt: number | null;
  progress: unknown;
  result: unknown;
  error: string | null;
}

export interface WireStats {
  pending: number;
  processing: number;
  dead: number;
  oldestPendingAgeS: number;
  nextRunAt: number | null;
  /** The queue is paused in the file (queue.pause()). */
  paused: boolean;
}

export interface WireStreamEvent {
  offset: number;
  key: string | null;
  payload: unknown;
  createdAt: number;
  topic: string;
}

export interface WireNotification {
  id: number;
  channel: string;
  payload: unknown;
  createdAt: number;
}

/**
 * An outbox's status as a page sees it (the host's OutboxStatus; times are
 * Unix seconds). `online` is null when no outbox of that name is open in
 * main: the counts come from the file, and nobody in main relays it.
 */
export interface WireOutboxStatus {
  pending: number;
  inFlight: number;
  dead: number;
  delivered: number;
  online: boolean | null;
  paused: boolean;
  lastError: string | null;
  lastDeliveredAt: number | null;
  nextAttemptAt: number | null;
}

/** A dead outbox message, as a page sees it (times are Unix seconds). */
export interface WireDeadMessage {
  id: number;
  key: string | null;
  payload: unknown;
  attempts: number;
  error: string | null;
  createdAt: number;
  diedAt: number;
}

export type SubscriptionSpec =
  | { kind: "stream"; name: string; from?: number | "latest" | "beginning"; consumer?: string }
  | { kind: "channel"; name: string }
  | { kind: "job"; queue: string; id: number }
  | { kind: "stats"; queue: string }
  | { kind: "outbox"; name: string };

/** What the window may do, as main reports it to the page on hello(). */
export interface WireCapabilities {
  queues: Record<string, { enqueue: boolean; read: boolean; stats: boolean; cancel: boolean }>;
  streams: Record<string, { publish: boolean; subscribe: boolean }>;
  channels: Record<string, { notify: boolean; listen: boolean }>;
  outboxes: Record<string, { status: boolean; control: boolean }>;
  /** The page may report `navigator.onLine` (the client does so by itself when true). */
  connectivity: boolean;
  maxPayloadBytes: number;
}

/** The methods main exposes to a page. Arguments are untrusted on arrival. */
export interface BridgeApi {
  hello(): Promise<Reply<{ protocol: number; capabilities: WireCapabilities }>>;
  enqueue(queue: string, payload: unknown, options?: WireEnqueueOptions): Promise<Reply<number>>;
  enqueueMany(
    queue: string,
    payloads: unknown[],
    options?: WireEnqueueOptions,
  ): Promise<Reply<number[]>>;
  job(queue: string, id: number): Promise<Reply<WireJob | null>>;
  stats(queue: string): Promise<Reply<WireStats>>;
  cancel(queue: string, id: number): Promise<Reply<boolean>>;
  waitResult(queue: string, id: number, timeoutMs: number): Promise<Reply<unknown>>;
  publish(stream: string, payload: unknown, key?: string): Promise<Reply<number>>;
  notify(channel: string, payload: unknown): Promise<Reply<number>>;
  subscribe(spec: SubscriptionSpec): Promise<Reply<{ subId: number }>>;
  unsubscribe(subId: number): Promise<Reply<boolean>>;
  outboxStatus(outbox: string): Promise<Reply<WireOutboxStatus>>;
  outboxPause(outbox: string): Promise<Reply<boolean>>;
  outboxResume(outbox: string): Promise<Reply<boolean>>;
  outboxFlush(outbox: string): Promise<Reply<number>>;
  outboxRedrive(outbox: string, ids?: number[] | null): Promise<Reply<number>>;
  outboxDead(outbox: string, limit?: number): Promise<Reply<WireDeadMessage[]>>;
  /** The page's `navigator.onLine` (a hint: main's own check decides). */
  online(online: boolean): Promise<Reply<boolean>>;
}

/**
 * 2: receipt tokens (`k`/`seen`) and `ack-request` on subscription ports.
 * 3: outboxes (status, control, `outbox` subscriptions) and `online` hints.
 */
export const PROTOCOL_VERSION = 3;

/** Method names a page may call; anything else is refused by the decoder. */
export const BRIDGE_METHODS: readonly (keyof BridgeApi)[] = [
  "hello",
  "enqueue",
  "enqueueMany",
  "job",
  "stats",
  "cancel",
  "waitResult",
  "publish",
  "notify",
  "subscribe",
  "unsubscribe",
  "outboxStatus",
  "outboxPause",
  "outboxResume",
  "outboxFlush",
  "outboxRedrive",
  "outboxDead",
  "online",
];

/** Sent by main on the window port, with the subscription port in the transfer list. */
export interface PortHandoff {
  honker: "subscription-port";
  subId: number;
}

/**
 * Main -> page, on a subscription port. Data messages (event, job, stats, outbox)
 * carry `k`, a receipt token that only that message holds: the page echoes
 * the `k` of the last message it handled as `seen` on its next credit grant.
 * Until then main counts the message's bytes as in flight for the window
 * (ServeOptions.maxInFlightBytes); an unforgeable token means a page cannot
 * acknowledge what it never read. `ack-request` asks the page to report what
 * it has handled now: main holds back because the window's budget is full.
 */
export type SubscriptionMessage =
  | { t: "event"; event: WireStreamEvent | WireNotification; k?: number }
  | { t: "job"; job: WireJob | null; k?: number }
  | { t: "stats"; stats: WireStats; k?: number }
  | { t: "outbox"; status: WireOutboxStatus; k?: number }
  | { t: "status"; status: "live" | "replaying" }
  | { t: "ack-request" }
  | { t: "resume"; from: number; reason: string }
  | { t: "error"; error: WireError };

/**
 * Page -> main, on a subscription port. `credit`: main may send `n` more
 * messages (main caps what it honours per subscription and per window);
 * `seen`: the `k` of the last message handled (releases it and every
 * earlier one); `ack`: for a durable consumer, the offset to save.
 */
export type SubscriptionControl =
  | { t: "credit"; n: number; seen?: number; ack?: number }
  | { t: "close" };

/** window.postMessage types used by the page <-> preload handshake. */
export const CONNECT_REQUEST = "honker:connect";
export const CONNECT_PORT = "honker:port";
/** IPC channel names used by preload <-> main. */
export const IPC_CONNECT = "honker:connect";
export const IPC_PORT = "honker:port";

/** Credits a page grants at once (and again after consuming half). */
export const DEFAULT_CREDITS = 64;
