/**
 * What an outbox hands its messages to: a transport is an async function
 * from a batch to one outcome per message. `httpTransport` is the one the
 * kit ships; any function of this shape works (a WebSocket, a broker
 * client, a test double).
 */
import * as args from "../args.ts";
import { type LinkedAbort, linkedAbort } from "./signals.ts";

/** One message as the relay hands it to a transport. */
export interface OutboxMessage<P = unknown> {
  /** The message's id in this file (commit order within the file). */
  readonly id: number;
  /** The ordering key given to add(), or null. */
  readonly key: string | null;
  readonly payload: P;
  /**
   * Stable across retries, processes and restarts, unique across devices:
   * `<device id>.<hex of the outbox name>.<id>`. Servers dedup on it.
   */
  readonly idempotencyKey: string;
  /** 1 on the first attempt. */
  readonly attempts: number;
  /** Unix seconds when the message was added. */
  readonly createdAt: number;
}

/** What became of one message. */
export type DeliveryOutcome =
  | { status: "delivered" }
  | { status: "retry"; afterSeconds?: number; error?: string }
  | { status: "rejected"; reason: string };

export interface TransportContext {
  /** Aborted when the outbox stops. */
  readonly signal: AbortSignal;
  /** The highest attempt number in the batch (1 on a first try). */
  readonly attempt: number;
}

/**
 * `(batch, { signal, attempt }) => outcomes`, one per message in batch
 * order. A thrown error retries the whole batch (with the backoff, or
 * after `err.retryAfterSeconds`); an error with `offline: true` marks the
 * outbox offline without consuming an attempt; one with `pause: true`
 * pauses the outbox (also without consuming an attempt) with the error as
 * `lastError`. See TransportError.
 */
export interface Transport<P = unknown> {
  (
    batch: readonly OutboxMessage<P>[],
    context: TransportContext,
  ): Promise<readonly DeliveryOutcome[]>;
  /** Messages per call (default 1). */
  batchSize?: number;
  /** A cheap check that the server is reachable again (after going offline). */
  probe?: (signal: AbortSignal) => Promise<boolean>;
}

/** A failure of a whole batch, telling the outbox what to do about it. */
export class TransportError extends Error {
  override readonly name = "TransportError";
  /** The network is down: no attempt is consumed, the outbox goes offline until a probe succeeds. */
  readonly offline: boolean;
  /** Credentials keep failing: this relay pauses (in memory, no attempt consumed) until resume(). */
  readonly pause: boolean;
  /** Retry the batch after this many seconds instead of the backoff. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    message: string,
    options: {
      offline?: boolean;
      pause?: boolean;
      retryAfterSeconds?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.offline = options.offline === true;
    this.pause = options.pause === true;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export interface HttpTransportOptions {
  /** Where batches are POSTed. */
  url: string | URL;
  /** Request headers, asked for before every request and again after a 401/403 (token refresh). */
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** Milliseconds before a request is abandoned and retried (default 10,000). */
  timeoutMs?: number;
  /**
   * Messages per request (default 50). With 1, each request's body is the
   * message's payload and its key is in the `Idempotency-Key` header; with
   * more, the body is `{ messages: [{ idempotencyKey, key, payload }] }`.
   */
  batchSize?: number;
  /** The reachability probe's URL (default: `url`, with a HEAD request). */
  probeUrl?: string | URL;
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

/** Network failures that mean "offline" (nothing reached the server). */
const OFFLINE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function causeCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (typeof e.code === "string") return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/** Retry-After: seconds, or an HTTP date. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v), args.MAX_SECONDS);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, Math.ceil((at - Date.now()) / 1000)), args.MAX_SECONDS);
}

const RETRY_STATUSES = new Set([408, 425, 429]);

/** One outcome for a whole HTTP response's status (non-2xx, or a single message). */
async function outcomeOf(res: Response): Promise<DeliveryOutcome> {
  if (res.status >= 200 && res.status < 300) return { status: "delivered" };
  if (RETRY_STATUSES.has(res.status) || res.status >= 500) {
    const after = parseRetryAfter(res.headers.get("retry-after"));
    return {
      status: "retry",
      ...(after === undefined ? {} : { afterSeconds: after }),
      error: `HTTP ${res.status}`,
    };
  }
  let body = "";
  try {
    body = (await res.text()).slice(0, 200);
  } catch {
    // the body is only for the reason
  }
  return { status: "rejected", reason: `HTTP ${res.status}${body ? `: ${body}` : ""}` };
}

/** A per-message result in a batch response's `results` object. */
function itemOutcome(v: unknown): DeliveryOutcome | undefined {
  if (v === "delivered") return { status: "delivered" };
  if (typeof v === "number") {
    if (v >= 200 && v < 300) return { status: "delivered" };
    if (RETRY_STATUSES.has(v) || v >= 500) return { status: "retry", error: `HTTP ${v}` };
    return { status: "rejected", reason: `HTTP ${v}` };
  }
  if (v && typeof v === "object") {
    const o = v as { status?: unknown; retryAfterSeconds?: unknown; reason?: unknown };
    if (typeof o.status === "number") {
      const base = itemOutcome(o.status);
      if (base?.status === "rejected" && typeof o.reason === "string") {
        return { status: "rejected", reason: `${base.reason}: ${o.reason}` };
      }
      return base;
    }
    if (o.status === "delivered") return { status: "delivered" };
    if (o.status === "retry") {
      const after = typeof o.retryAfterSeconds === "number" ? o.retryAfterSeconds : undefined;
      return { status: "retry", ...(after === undefined ? {} : { afterSeconds: after }) };
    }
    if (o.status === "rejected") {
      return { status: "rejected", reason: typeof o.reason === "string" ? o.reason : "rejected" };
    }
  }
  return undefined;
}

/**
 * A transport that POSTs to `url`. 2xx: delivered; 408, 425, 429, 5xx,
 * timeouts and dropped connections: retry (honouring `Retry-After`);
 * refused connections and DNS failures: offline (no attempt consumed);
 * 401/403: headers() is asked again and the request retried once, then the
 * outbox pauses; any other 4xx: rejected with the status and the start of
 * the body. A 2xx batch response may carry per-message results:
 * `{ results: { [idempotencyKey]: "delivered" | status code |
 * { status, retryAfterSeconds?, reason? } } }`; a message missing from
 * them is retried.
 */
export function httpTransport<P = unknown>(options: HttpTransportOptions): Transport<P> {
  const fn = "httpTransport(options)";
  const o = args.options<HttpTransportOptions>(fn, options);
  if (!(o.url instanceof URL)) args.text(fn, "options.url", o.url, 8192);
  const url = new URL(String(o.url));
  const probeUrl = new URL(String(o.probeUrl ?? url));
  args.optFunc(fn, "options.headers", o.headers);
  args.optFunc(fn, "options.fetch", o.fetch);
  const timeoutMs = args.optInt(fn, "options.timeoutMs", o.timeoutMs, 1, args.MAX_TIMER_MS, 10_000);
  const batchSize = args.optInt(fn, "options.batchSize", o.batchSize, 1, args.MAX_BATCH, 50);
  const doFetch = o.fetch ?? globalThis.fetch;
  const headersOf = async () => ({ ...((await o.headers?.()) ?? {}) });

  /**
   * One POST. Its timeout covers the response body too: `links` collects
   * each request's signal, disposed when the transport call is done.
   */
  async function request(
    batch: readonly OutboxMessage<P>[],
    headers: Record<string, string>,
    signal: AbortSignal,
    links: LinkedAbort[],
  ): Promise<Response> {
    const single = batchSize === 1 && batch.length === 1;
    const first = batch[0] as OutboxMessage<P>;
    const body = single
      ? JSON.stringify(first.payload)
      : JSON.stringify({
          messages: batch.map((m) => ({
            idempotencyKey: m.idempotencyKey,
            key: m.key,
            payload: m.payload,
          })),
        });
    const h: Record<string, string> = { "content-type": "application/json", ...headers };
    if (batch.length === 1) h["idempotency-key"] = first.idempotencyKey;
    const link = linkedAbort(signal, timeoutMs);
    links.push(link);
    try {
      return await doFetch(url, { method: "POST", headers: h, body, signal: link.signal });
    } catch (err) {
      if (signal.aborted) throw err;
      if (link.timedOut) {
        throw new TransportError(`no response within ${timeoutMs} ms from ${url.origin}`, {
          cause: err,
        });
      }
      const code = causeCode(err);
      if (code && OFFLINE_CODES.has(code)) {
        throw new TransportError(`cannot reach ${url.origin} (${code})`, {
          offline: true,
          cause: err,
        });
      }
      throw new TransportError(
        `the request to ${url.origin} failed${code ? ` (${code})` : ""}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  const transport = (async (batch, { signal }) => {
    const links: LinkedAbort[] = [];
    try {
      return await send(batch, signal, links);
    } finally {
      for (const l of links) l.dispose();
    }
  }) as Transport<P>;

  async function send(
    batch: readonly OutboxMessage<P>[],
    signal: AbortSignal,
    links: LinkedAbort[],
  ): Promise<readonly DeliveryOutcome[]> {
    let res = await request(batch, await headersOf(), signal, links);
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      // Token refresh: ask for the headers again and try once more.
      res = await request(batch, await headersOf(), signal, links);
      if (res.status === 401 || res.status === 403) {
        const text = (await res.text().catch(() => "")).slice(0, 200);
        throw new TransportError(
          `HTTP ${res.status} from ${url.origin} even with fresh headers()${text ? `: ${text}` : ""}; ` +
            "the outbox is paused: fix the credentials, then call resume()",
          { pause: true },
        );
      }
    }
    if (res.status < 200 || res.status >= 300 || batchSize === 1) {
      const one = await outcomeOf(res);
      return batch.map(() => one);
    }
    let parsed: unknown;
    try {
      const text = await res.text();
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const results = (parsed as { results?: unknown } | null)?.results;
    if (!results || typeof results !== "object") {
      return batch.map((): DeliveryOutcome => ({ status: "delivered" }));
    }
    const r = results as Record<string, unknown>;
    return batch.map(
      (m): DeliveryOutcome =>
        itemOutcome(Object.hasOwn(r, m.idempotencyKey) ? r[m.idempotencyKey] : undefined) ?? {
          status: "retry",
          error: "the response had no result for this message",
        },
    );
  }
  transport.batchSize = batchSize;
  transport.probe = async (signal) => {
    const link = linkedAbort(signal, Math.min(timeoutMs, 5000));
    try {
      const res = await doFetch(probeUrl, { method: "HEAD", signal: link.signal });
      await res.body?.cancel();
      return true;
    } catch {
      return false;
    } finally {
      link.dispose();
    }
  };
  return transport;
}
