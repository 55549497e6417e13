/**
 * A relay in its own process for test/outbox/kill.test.ts and
 * offline.test.ts: opens the file, relays outbox "sync" to the server at
 * argv[3] and prints {"event":"ready"}; it runs until it is killed.
 *
 * argv[4] (optional) is a JSON object: `batchSize` (default 10),
 * `tokenFile` (the bearer token; headers() reads it again after a 401, so
 * the test expires the token by rewriting the file and moving the server
 * to it), `offline` (start
 * with setOnline(false)). Commands on stdin: `online`, `offline`
 * (setOnline), `cpu` (prints {"event":"cpu", user, system} in µs).
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { open } from "../../src/main/database.ts";
import { httpTransport } from "../../src/main/outbox/transport.ts";

const [path, url, json] = process.argv.slice(2) as [string, string, string | undefined];
const o = JSON.parse(json ?? "{}") as { batchSize?: number; tokenFile?: string; offline?: boolean };
const db = open(path, { retention: false });
const tokenFile = o.tokenFile;
// An app's token cache: the token is read again only after a 401, as an app
// refreshes its credentials when the server says they expired.
const readToken = () => (tokenFile ? readFileSync(tokenFile, "utf8").trim() : "");
let token = readToken();
let refresh = false;
const fetchNoting: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (res.status === 401) refresh = true;
  return res;
};
const sync = db.outbox("sync", {
  transport: httpTransport({
    url,
    batchSize: o.batchSize ?? 10,
    timeoutMs: 1000,
    fetch: fetchNoting,
    ...(tokenFile
      ? {
          headers: () => {
            if (refresh) {
              refresh = false;
              token = readToken();
            }
            return { authorization: `Bearer ${token}` };
          },
        }
      : {}),
  }),
  backoff: { baseSeconds: 0, maxSeconds: 0 },
  visibilityTimeout: 2,
  maxAttempts: 1000,
  probeMinMs: 50,
  probeMaxMs: 250,
  onError: () => {},
});
if (o.offline) sync.setOnline(false);
createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = line.trim();
  if (cmd === "online") sync.setOnline(true);
  else if (cmd === "offline") sync.setOnline(false);
  else if (cmd === "cpu") console.log(JSON.stringify({ event: "cpu", ...process.cpuUsage() }));
});
console.log(JSON.stringify({ event: "ready", pid: process.pid }));
