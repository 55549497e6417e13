/**
 * The demo's webhook receiver: a tiny HTTP server on 127.0.0.1 that the
 * demo's outbox relays to. It is flaky on purpose, so the inspector shows
 * an outbox at work: most messages are accepted, some get a 503 (retried
 * with backoff), a few a 422 (rejected: dead), and now and then it goes
 * down for a few seconds (connections refused: the outbox goes offline and
 * probes until it is back).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface DemoReceiver {
  /** Where the outbox POSTs. */
  readonly url: string;
  /** Messages accepted so far (each idempotency key once). */
  readonly received: number;
  /** Stops the server (and its down/up cycle). */
  close(): Promise<void>;
}

export interface DemoReceiverOptions {
  /** Chance of a 503 (default 0.15). */
  retryRate?: number;
  /** Chance of a 422 (default 0.02). */
  rejectRate?: number;
  /** Milliseconds each answer takes, at random between the two (default 100-600). */
  latencyMs?: [number, number];
  /** Milliseconds up, then down, in turn (default 30 s up, 6 s down; 0 up: never down). */
  upMs?: number;
  downMs?: number;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts the receiver on a free loopback port. */
export async function startDemoReceiver(options: DemoReceiverOptions = {}): Promise<DemoReceiver> {
  const retryRate = options.retryRate ?? 0.15;
  const rejectRate = options.rejectRate ?? 0.02;
  const [minMs, maxMs] = options.latencyMs ?? [100, 600];
  const upMs = options.upMs ?? 30_000;
  const downMs = options.downMs ?? 6_000;
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    req.resume();
    req.on("end", () => setTimeout(answer, minMs + Math.random() * (maxMs - minMs)));
    const answer = () => {
      const key = String(req.headers["idempotency-key"] ?? "");
      const roll = Math.random();
      // A duplicate (a retry after a lost answer) is acknowledged again.
      if (seen.has(key) || roll >= retryRate + rejectRate) {
        if (key) seen.add(key);
        res.statusCode = 200;
        res.end('{"ok":true}');
      } else if (roll < retryRate) {
        res.statusCode = 503;
        res.end("the demo receiver is busy, try again");
      } else {
        res.statusCode = 422;
        res.end("the demo receiver does not know this user");
      }
    };
  });
  const port = await listen(server, 0);
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  const cycle = (up: boolean) => {
    if (closed || upMs <= 0) return;
    timer = setTimeout(
      () => {
        if (closed) return;
        if (up) {
          server.close();
          server.closeAllConnections();
          cycle(false);
        } else {
          // Back on the same port (the outbox's URL); if it is taken for a
          // moment, try again shortly.
          listen(server, port).then(
            () => cycle(true),
            () => cycle(false),
          );
        }
      },
      up ? upMs : downMs,
    );
    timer.unref();
  };
  cycle(true);
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    get received() {
      return seen.size;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
