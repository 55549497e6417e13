/**
 * Grants name exactly what one window may do. Anything not granted is
 * refused with HONKER_FORBIDDEN.
 */
import type { WireCapabilities } from "../../protocol/index.ts";
import { refuse } from "../args.ts";
import { HonkerError } from "../errors.ts";
import type { ChannelName, HonkerSchema, OutboxName, QueueName, StreamName } from "../schema.ts";
import type { StandardSchemaV1 } from "./validate.ts";

export interface QueueGrant {
  /** May add jobs. */
  enqueue?: boolean;
  /** May read job status and results (job(), waitResult(), useJob()). */
  read?: boolean;
  /** May read queue counts (stats(), useQueueStats()). */
  stats?: boolean;
  /** May cancel jobs of this queue. */
  cancel?: boolean;
  /** Checks every payload the window enqueues (zod, valibot, arktype...). */
  validate?: StandardSchemaV1;
}

export interface StreamGrant {
  publish?: boolean;
  /** true, or which start points are allowed (default: any). */
  subscribe?: boolean | { from?: "latest" | "any" };
  validate?: StandardSchemaV1;
}

export interface ChannelGrant {
  notify?: boolean;
  listen?: boolean;
  validate?: StandardSchemaV1;
}

/**
 * An outbox, seen from a window. Adding messages stays in main (with the
 * app's own writes, in one transaction); a page may watch and steer.
 */
export interface OutboxGrant {
  /** May read the status (status(), watchStatus(), useOutbox()). */
  status?: boolean;
  /** May pause(), resume(), flush(), list dead() messages and redrive() them. */
  control?: boolean;
}

export interface Grants<S extends HonkerSchema = HonkerSchema> {
  queues?: { [Q in QueueName<S>]?: QueueGrant };
  streams?: { [T in StreamName<S>]?: StreamGrant };
  channels?: { [C in ChannelName<S>]?: ChannelGrant };
  outboxes?: { [N in OutboxName<S>]?: OutboxGrant };
  /**
   * The page reports `navigator.onLine` and its `online`/`offline` events
   * (the client does so by itself); main passes them to
   * `ServeOptions.connectivity` as hints. Needs that option.
   */
  connectivity?: boolean;
}

/** Where a window's `navigator.onLine` hints go: `electronConnectivity()` is one. */
export interface ConnectivityHints {
  /** A page said it is online (or offline). A hint: the receiver checks for itself. */
  hint(online: boolean): void;
}

export interface ServeOptions {
  /** Page origins allowed to connect (e.g. ["app://main", "http://localhost:5173"]). Default: any origin of the window's own main frame. */
  origins?: string[];
  /** Largest payload a window may send, in bytes (default 1 MiB). */
  maxPayloadBytes?: number;
  /** Requests per second a window may make (burst twice that); default 500. */
  requestsPerSecond?: number;
  /** Subscriptions one window may hold at once (default 256). */
  maxSubscriptions?: number;
  /**
   * A stream subscriber that grants no credit, or cannot send because the
   * window's in-flight budget is full, for this long is told to resume later
   * from its last offset (default 30 s).
   */
  stallMs?: number;
  /**
   * Bytes of subscription messages main may have in flight to one window:
   * sent, and not yet acknowledged by the page as handled (default 8 MiB;
   * measured as JSON length plus 64 bytes a message). A window that stops
   * reading holds at most this much, whatever credits it granted.
   */
  maxInFlightBytes?: number;
  /** waitResult calls one window may have pending at once (default 1024); beyond, HONKER_RATE_LIMITED. */
  maxPendingWaits?: number;
  /** Other calls one window may have running at once (default 256); beyond, HONKER_RATE_LIMITED. */
  maxPendingCalls?: number;
  /** Receives the window's online/offline hints (`grants.connectivity`), e.g. `electronConnectivity(...)`. */
  connectivity?: ConnectivityHints;
}

export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

function forbidden(what: string): HonkerError {
  return new HonkerError("HONKER_FORBIDDEN", `${what} is not granted to this window`);
}

function own<T>(table: Record<string, T | undefined> | undefined, name: string): T | undefined {
  return table && Object.hasOwn(table, name) ? table[name] : undefined;
}

export function queueGrant(
  grants: Grants,
  name: string,
  action: keyof Omit<QueueGrant, "validate">,
): QueueGrant {
  const g = own(grants.queues as Record<string, QueueGrant | undefined>, name);
  if (g?.[action] !== true) throw forbidden(`${action} on queue '${name}'`);
  return g;
}

export function streamGrant(
  grants: Grants,
  name: string,
  action: "publish" | "subscribe",
): StreamGrant {
  const g = own(grants.streams as Record<string, StreamGrant | undefined>, name);
  if (!g?.[action]) throw forbidden(`${action} on stream '${name}'`);
  return g;
}

export function channelGrant(
  grants: Grants,
  name: string,
  action: "notify" | "listen",
): ChannelGrant {
  const g = own(grants.channels as Record<string, ChannelGrant | undefined>, name);
  if (g?.[action] !== true) throw forbidden(`${action} on channel '${name}'`);
  return g;
}

export function outboxGrant(
  grants: Grants,
  name: string,
  action: "status" | "control",
): OutboxGrant {
  const g = own(grants.outboxes as Record<string, OutboxGrant | undefined>, name);
  if (g?.[action] !== true) throw forbidden(`${action} of outbox '${name}'`);
  return g;
}

export function connectivityGrant(grants: Grants): void {
  if (grants.connectivity !== true) throw forbidden("reporting connectivity");
}

/**
 * Checks what serve() is given beyond the numeric bounds (WindowBudget
 * checks those): granting `connectivity` needs somewhere for the hints to go.
 */
export function checkServe(grants: Grants, options: ServeOptions, fn = "serve"): void {
  if (grants === null || typeof grants !== "object") {
    throw refuse(fn, "grants", "an object", grants);
  }
  const c = options.connectivity as Partial<ConnectivityHints> | null | undefined;
  if (c !== undefined && (c === null || typeof c !== "object" || typeof c.hint !== "function")) {
    throw refuse(
      fn,
      "options.connectivity",
      "an object with hint(online), such as electronConnectivity(...)",
      c,
    );
  }
  if (grants.connectivity !== undefined && typeof grants.connectivity !== "boolean") {
    throw refuse(fn, "grants.connectivity", "true or false", grants.connectivity);
  }
  if (grants.connectivity === true && c === undefined) {
    throw new HonkerError(
      "HONKER_INVALID_ARGUMENT",
      `${fn}: grants.connectivity needs options.connectivity (e.g. electronConnectivity({ net, powerMonitor })) to take the page's hints`,
    );
  }
}

/** What the page is told it may do (no validators, just booleans). */
export function describeGrants(grants: Grants, maxPayloadBytes: number): WireCapabilities {
  const caps: WireCapabilities = {
    queues: {},
    streams: {},
    channels: {},
    outboxes: {},
    connectivity: grants.connectivity === true,
    maxPayloadBytes,
  };
  for (const [name, g] of Object.entries((grants.queues ?? {}) as Record<string, QueueGrant>)) {
    caps.queues[name] = {
      enqueue: !!g.enqueue,
      read: !!g.read,
      stats: !!g.stats,
      cancel: !!g.cancel,
    };
  }
  for (const [name, g] of Object.entries((grants.streams ?? {}) as Record<string, StreamGrant>)) {
    caps.streams[name] = { publish: !!g.publish, subscribe: !!g.subscribe };
  }
  for (const [name, g] of Object.entries((grants.channels ?? {}) as Record<string, ChannelGrant>)) {
    caps.channels[name] = { notify: !!g.notify, listen: !!g.listen };
  }
  for (const [name, g] of Object.entries((grants.outboxes ?? {}) as Record<string, OutboxGrant>)) {
    caps.outboxes[name] = { status: g?.status === true, control: g?.control === true };
  }
  return caps;
}
