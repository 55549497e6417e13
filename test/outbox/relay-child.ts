/**
 * A relay in its own process for test/outbox/kill.test.ts: opens the file,
 * relays outbox "sync" to the server at argv[3] and prints
 * {"event":"ready"}; it runs until it is killed.
 */
import { open } from "../../src/main/database.ts";
import { httpTransport } from "../../src/main/outbox/transport.ts";

const [path, url] = process.argv.slice(2) as [string, string];
const db = open(path, { retention: false });
db.outbox("sync", {
  transport: httpTransport({ url, batchSize: 10, timeoutMs: 1000 }),
  backoff: { baseSeconds: 0, maxSeconds: 0 },
  visibilityTimeout: 1,
  maxAttempts: 1000,
  onError: () => {},
});
console.log(JSON.stringify({ event: "ready", pid: process.pid }));
