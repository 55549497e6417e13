/**
 * Serving a page over a Node MessagePort (worker_threads): what the tests
 * use, and what a Node app with its own worker threads can use too.
 */
import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { HonkerDatabase } from "../database.ts";
import { nodeSubPort } from "./endpoint.ts";
import type { Grants, ServeOptions } from "./grants.ts";
import { BridgeSession, type SessionOptions } from "./session.ts";

/**
 * Serves `grants` to whoever holds the other end of `port`. Returns the
 * session; closing the port (or the database) ends it.
 */
export function serveNodePort(
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  db: HonkerDatabase<any>,
  port: MessagePort,
  grants: Grants,
  options: ServeOptions & Pick<SessionOptions, "onClose"> = {},
): BridgeSession {
  const session = new BridgeSession(
    db,
    port as unknown as ConstructorParameters<typeof BridgeSession>[1],
    grants,
    {
      create() {
        const { port1, port2 } = new MessageChannel();
        return { local: nodeSubPort(port1), remote: port2 };
      },
    },
    options,
  );
  port.on("close", () => session.close());
  port.start();
  return session;
}
