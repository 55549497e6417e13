/**
 * Endpoints: Comlink talks to anything with postMessage/addEventListener.
 * Electron's MessagePortMain is an EventEmitter whose 'message' events are
 * `{ data, ports }`; Node's worker_threads MessagePort is an EventTarget.
 * Both are wrapped here into one shape, and `guardEndpoint` filters what a
 * page may send before Comlink sees it.
 */
import { BRIDGE_METHODS, type WireError } from "../../protocol/index.ts";

/** The documented shape of Electron's MessagePortMain (structural, so tests can fake it). */
export interface MessagePortMainLike {
  postMessage(message: unknown, transfer?: MessagePortMainLike[]): void;
  start(): void;
  close(): void;
  on(
    event: "message",
    listener: (event: { data: unknown; ports: MessagePortMainLike[] }) => void,
  ): unknown;
  on(event: "close", listener: () => void): unknown;
  off(
    event: "message",
    listener: (event: { data: unknown; ports: MessagePortMainLike[] }) => void,
  ): unknown;
  off(event: "close", listener: () => void): unknown;
}

/** A port we push subscription messages through, whatever the runtime. */
export interface SubPort {
  send(message: unknown): void;
  onMessage(fn: (data: unknown) => void): void;
  onClose(fn: () => void): void;
  close(): void;
}

type MessageListener = (ev: { data: unknown }) => void;

/**
 * Comlink's `Endpoint`, declared without DOM types (`Transferable`,
 * `EventListenerOrEventListenerObject`): the published types of the main
 * entry point must type-check in a Node project that has no `lib: ["DOM"]`.
 */
export interface BridgeEndpoint {
  postMessage(message: unknown, transfer?: unknown[]): void;
  addEventListener(type: string, listener: unknown): void;
  removeEventListener(type: string, listener: unknown): void;
  start?(): void;
}

/** Comlink endpoint over a MessagePortMain. Transfers go in the transfer list only. */
export function portMainEndpoint(port: MessagePortMainLike): BridgeEndpoint & { close(): void } {
  const wrapped = new Map<
    unknown,
    (event: { data: unknown; ports: MessagePortMainLike[] }) => void
  >();
  return {
    postMessage(message: unknown, transfer?: unknown[]) {
      port.postMessage(message, (transfer ?? []) as unknown as MessagePortMainLike[]);
    },
    addEventListener(_type: string, listener: unknown) {
      const fn = (event: { data: unknown; ports: MessagePortMainLike[] }) =>
        (listener as MessageListener)({ data: event.data });
      wrapped.set(listener, fn);
      port.on("message", fn);
    },
    removeEventListener(_type: string, listener: unknown) {
      const fn = wrapped.get(listener);
      if (fn) port.off("message", fn);
      wrapped.delete(listener);
    },
    start() {
      port.start();
    },
    close() {
      port.close();
    },
  } as BridgeEndpoint & { close(): void };
}

/** A SubPort over a MessagePortMain. */
export function portMainSubPort(port: MessagePortMainLike): SubPort {
  return {
    send: (m) => port.postMessage(m),
    onMessage: (fn) => {
      port.on("message", (e) => fn(e.data));
      port.start();
    },
    onClose: (fn) => {
      port.on("close", fn);
    },
    close: () => port.close(),
  };
}

/** The Node worker_threads MessagePort surface we use. */
export interface NodePortLike {
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
  on(event: "message", fn: (value: unknown) => void): unknown;
  on(event: "close", fn: () => void): unknown;
  close(): void;
}

/** A SubPort over a Node MessagePort. */
export function nodeSubPort(port: NodePortLike): SubPort {
  return {
    send: (m) => port.postMessage(m),
    onMessage: (fn) => {
      port.on("message", fn);
    },
    onClose: (fn) => {
      port.on("close", fn);
    },
    close: () => port.close(),
  };
}

const MAX_ID = 128;
const MAX_ARGS = 4;

export type Decoded =
  | { kind: "call"; id: string; method: string; args: unknown[] }
  | { kind: "release"; id: string }
  | { kind: "reject"; id: string | null; reason: string };

/**
 * The message decoder: the only door from a page into main. Accepts a
 * Comlink APPLY of one of the bridge's own method names with plain (RAW)
 * arguments, or a RELEASE. Refuses GET/SET/CONSTRUCT/ENDPOINT (which would
 * read or replace the exposed object), proxies/handlers, and anything else.
 */
export function decodeMessage(data: unknown): Decoded {
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { kind: "reject", id: null, reason: "message is not an object" };
  }
  const m = data as Record<string, unknown>;
  const id = typeof m.id === "string" && m.id.length > 0 && m.id.length <= MAX_ID ? m.id : null;
  if (id === null) return { kind: "reject", id: null, reason: "message has no valid id" };
  const path = m.path;
  if (m.type === "RELEASE") {
    return { kind: "release", id };
  }
  if (m.type !== "APPLY") {
    // Never String() a page's value: {toString: 1} would throw here.
    const t = typeof m.type === "string" ? m.type.slice(0, 32) : typeof m.type;
    return { kind: "reject", id, reason: `message type ${t} is not allowed` };
  }
  if (!Array.isArray(path) || path.length !== 1 || typeof path[0] !== "string") {
    return { kind: "reject", id, reason: "call path must name one method" };
  }
  const method = path[0];
  if (!(BRIDGE_METHODS as readonly string[]).includes(method)) {
    return { kind: "reject", id, reason: `unknown method '${method.slice(0, 64)}'` };
  }
  const list = m.argumentList ?? [];
  if (!Array.isArray(list) || list.length > MAX_ARGS) {
    return { kind: "reject", id, reason: "argument list must be an array of at most 4 values" };
  }
  const args: unknown[] = [];
  for (const w of list) {
    if (w === null || typeof w !== "object" || (w as { type?: unknown }).type !== "RAW") {
      return {
        kind: "reject",
        id,
        reason: "arguments must be plain values (no proxies or handlers)",
      };
    }
    args.push((w as { value?: unknown }).value);
  }
  return { kind: "call", id, method, args };
}

/**
 * Admission of decoded calls, before Comlink sees them: the window's rate
 * and its caps on pending calls. A refused call is answered here at once
 * (no Comlink state, no error object with a stack); an admitted one is
 * tracked until its reply is posted.
 */
export interface Admission {
  /** Null admits the call; anything else is the error it is answered with. */
  admit(method: string): WireError | null;
  /** The reply to an admitted call was posted (or the session ended first). */
  done(method: string): void;
}

/** The guarded endpoint, and `dispose()` to settle the books of calls still pending. */
export interface GuardedEndpoint extends BridgeEndpoint {
  /** Calls admitted and not yet answered. */
  readonly pending: number;
  dispose(): void;
}

/**
 * Wraps the window endpoint: decoded calls pass to Comlink (rebuilt from
 * the decoded parts, so nothing unexpected rides along) once admitted;
 * rejected messages are answered with a HONKER_FORBIDDEN reply when they
 * carry an id. A call id already pending is refused: ids are how replies
 * are matched, and how the books of pending calls are kept.
 */
export function guardEndpoint(
  inner: BridgeEndpoint,
  onRelease: () => void,
  onReject: (reason: string) => void,
  admission?: Admission,
): GuardedEndpoint {
  const wrapped = new Map<unknown, MessageListener>();
  const pending = new Map<string, string>();
  const refuse = (id: string, error: WireError) =>
    inner.postMessage({ id, type: "RAW", value: { ok: false, error } });
  return {
    get pending() {
      return pending.size;
    },
    dispose() {
      const methods = [...pending.values()];
      pending.clear();
      for (const m of methods) admission?.done(m);
    },
    postMessage: (message: unknown, transfer?: unknown[]) => {
      const id = (message as { id?: unknown } | null)?.id;
      if (typeof id === "string") {
        const method = pending.get(id);
        if (method !== undefined) {
          pending.delete(id);
          admission?.done(method);
        }
      }
      inner.postMessage(message, transfer);
    },
    addEventListener(type: string, listener: unknown) {
      const fn: MessageListener = (ev) => {
        let d: Decoded;
        try {
          d = decodeMessage(ev.data);
        } catch {
          // A getter or proxy trick: whatever it was, it is refused, never thrown into main.
          d = { kind: "reject", id: null, reason: "message could not be read" };
        }
        if (d.kind === "call") {
          if (pending.has(d.id)) {
            onReject("call id already pending");
            refuse(d.id, { code: "HONKER_FORBIDDEN", message: "refused: call id already pending" });
            return;
          }
          const refusal = admission?.admit(d.method) ?? null;
          if (refusal) {
            refuse(d.id, refusal);
            return;
          }
          if (admission) pending.set(d.id, d.method);
          (listener as MessageListener)({
            data: {
              id: d.id,
              type: "APPLY",
              path: [d.method],
              argumentList: d.args.map((value) => ({ type: "RAW", value })),
            },
          });
        } else if (d.kind === "release") {
          inner.postMessage({ id: d.id, type: "RAW", value: undefined });
          onRelease();
        } else {
          onReject(d.reason);
          if (d.id !== null) {
            refuse(d.id, { code: "HONKER_FORBIDDEN", message: `refused: ${d.reason}` });
          }
        }
      };
      wrapped.set(listener, fn);
      inner.addEventListener(type, fn as never);
    },
    removeEventListener(type: string, listener: unknown) {
      const fn = wrapped.get(listener);
      if (fn) inner.removeEventListener(type, fn as never);
      wrapped.delete(listener);
    },
    start: () => (inner as { start?: () => void }).start?.(),
  } as GuardedEndpoint;
}
