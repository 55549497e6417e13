/** Runs a fixture page in a worker thread against a host served over a real MessageChannel. */
import { MessageChannel, Worker } from "node:worker_threads";
import type { Grants, ServeOptions } from "../../src/main/bridge/grants.ts";
import { serveNodePort } from "../../src/main/bridge/node.ts";
import type { BridgeSession } from "../../src/main/bridge/session.ts";
import type { HonkerDatabase } from "../../src/main/database.ts";
import { TS_FLAGS } from "./db.ts";

export interface PageRun {
  worker: Worker;
  session: BridgeSession;
  /** Resolves with the next message of type `t` from the page. */
  next<T = Record<string, unknown>>(t: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

export function runPage(
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  db: HonkerDatabase<any>,
  scenario: string,
  grants: Grants,
  options: ServeOptions = {},
): PageRun {
  const { port1, port2 } = new MessageChannel();
  const session = serveNodePort(db, port1, grants, options);
  const worker = new Worker(new URL("../fixtures/bridge-page.ts", import.meta.url), {
    execArgv: TS_FLAGS,
    workerData: { port: port2, scenario },
    transferList: [port2],
  });
  const inbox: Record<string, unknown>[] = [];
  const waiters: { t: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  worker.on("message", (m: Record<string, unknown>) => {
    if (m.t === "error") console.error("page error:", m);
    const i = waiters.findIndex((w) => w.t === m.t);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(m);
    else inbox.push(m);
  });
  return {
    worker,
    session,
    next<T>(t: string, timeoutMs = 10_000): Promise<T> {
      const i = inbox.findIndex((m) => m.t === t);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0] as T);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`page sent no '${t}' within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          t,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m as T);
          },
        });
      });
    },
    async stop() {
      await worker.terminate();
      session.close();
    },
  };
}
