/**
 * A real HTTP server on 127.0.0.1 for the outbox tests: it dedups on the
 * idempotency key (what docs/outbox.md tells servers to do), records the
 * order in which it applied messages, and injects faults per request:
 * 503 with Retry-After, 429, a hang past the client's timeout, 401 until
 * the token is right, partial per-message results, accept-then-drop (the
 * messages are applied, then the socket is destroyed before any answer),
 * refused connections (stop listening) and poison messages (rejected).
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault = "ok" | "503" | "429" | "hang" | "drop" | "401";

export interface Applied {
  idempotencyKey: string;
  payload: { key: string | null; seq: number; poison?: boolean };
}

export interface TestServer {
  url: string;
  port: number;
  /** Applied messages, in the order applied (each idempotency key once). */
  applied: Applied[];
  /** Requests received (including faulty ones). */
  requests: number;
  /** Messages received, duplicates included. */
  arrivals: number;
  /** Requests answered 401 for a wrong token. */
  unauthorized: number;
  /** Chooses the fault of each request (default: always "ok"). */
  fault: (req: IncomingMessage) => Fault;
  /** Per message of a good batch: true answers "retry" without applying it. */
  partial: (idempotencyKey: string) => boolean;
  /** The Retry-After value sent with 503s. */
  retryAfter: string;
  /** Accepted bearer token (null: no auth). */
  token: string | null;
  /** Resolves when `predicate` holds (checked after every request). */
  until(predicate: () => boolean, ms?: number): Promise<void>;
  /** Stops listening: new connections are refused. */
  refuse(): Promise<void>;
  /** Listens again on the same port. */
  accept(): Promise<void>;
  close(): Promise<void>;
}

export async function startServer(): Promise<TestServer> {
  const seen = new Set<string>();
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  const s: TestServer = {
    url: "",
    port: 0,
    applied: [],
    requests: 0,
    arrivals: 0,
    unauthorized: 0,
    fault: () => "ok",
    partial: () => false,
    retryAfter: "0",
    token: null,
    until: (predicate, ms = 20_000) =>
      new Promise<void>((resolve, reject) => {
        if (predicate()) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`server: condition not met within ${ms} ms`));
        }, ms);
        const check = () => {
          if (!predicate()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      }),
    refuse: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const sock of sockets) sock.destroy();
      await closed;
    },
    accept: async () => {
      server.listen(s.port, "127.0.0.1");
      await once(server, "listening");
    },
    close: async () => {
      for (const sock of sockets) sock.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const apply = (m: Applied) => {
    if (seen.has(m.idempotencyKey)) return;
    seen.add(m.idempotencyKey);
    s.applied.push(m);
  };
  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    s.requests++;
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    if (s.token !== null && req.headers.authorization !== `Bearer ${s.token}`) {
      s.unauthorized++;
      res.writeHead(401).end("bad token");
      return;
    }
    const header = req.headers["idempotency-key"];
    const parsed = JSON.parse(body) as { messages?: Applied[] } & Applied["payload"];
    const messages: Applied[] = parsed.messages
      ? parsed.messages
      : [{ idempotencyKey: String(header), payload: parsed }];
    s.arrivals += messages.length;
    const fault = s.fault(req);
    if (fault === "hang") return; // the client times out; the socket is destroyed at close
    if (fault === "503") {
      res.writeHead(503, { "retry-after": s.retryAfter }).end();
      return;
    }
    if (fault === "429") {
      res.writeHead(429).end();
      return;
    }
    if (fault === "401") {
      res.writeHead(401).end("expired");
      return;
    }
    const single = !parsed.messages;
    const results: Record<string, unknown> = {};
    for (const m of messages) {
      if (m.payload.poison) {
        results[m.idempotencyKey] = { status: "rejected", reason: "poison message" };
      } else if (!single && fault === "ok" && s.partial(m.idempotencyKey)) {
        results[m.idempotencyKey] = { status: "retry" };
      } else {
        apply(m);
        results[m.idempotencyKey] = "delivered";
      }
    }
    if (fault === "drop") {
      req.socket.destroy();
      return;
    }
    if (single) {
      const poison = messages[0]?.payload.poison;
      res.writeHead(poison ? 400 : 200).end(poison ? "poison message" : "ok");
    } else {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ results }));
    }
  };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      try {
        handle(req, res, body);
      } finally {
        notify();
      }
    });
  });
  server.on("connection", (sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  s.port = (server.address() as AddressInfo).port;
  s.url = `http://127.0.0.1:${s.port}/sync`;
  return s;
}

/** Checks the invariants: each seq applied at most once, per-key order = commit order. */
export function checkApplied(applied: readonly Applied[]): { seqs: Set<number> } {
  const seqs = new Set<number>();
  const lastByKey = new Map<string, number>();
  for (const a of applied) {
    const { seq, key } = a.payload;
    if (seqs.has(seq)) throw new Error(`seq ${seq} applied twice (keys not stable?)`);
    seqs.add(seq);
    if (key !== null) {
      const last = lastByKey.get(key) ?? -1;
      if (seq < last) throw new Error(`key ${key}: seq ${seq} applied after ${last}`);
      lastByKey.set(key, seq);
    }
  }
  return { seqs };
}
