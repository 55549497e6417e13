/**
 * The relay in a child process, killed with SIGKILL at random moments and
 * restarted, against a real node:http server with every fault mode:
 * refused connections, a hang past the timeout, 503 + Retry-After, 429,
 * 400 for poison messages (children alternate batch 1, where a poison
 * message is an HTTP 400, and batch 10, where it is a per-message
 * rejection), 401 until the token is refreshed, partial per-message results
 * and accept-then-drop. Every message is applied exactly once at the server
 * (deduped by idempotency key) or dead, each key's messages arrive in commit
 * order, and the file passes integrity_check.
 *
 * npm test: 500 messages over 20 keys, 5 kills. HONKER_SOAK=1: the issue's
 * full size, 2,000 messages over 50 keys, 20 kills.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { withCleanups } from "../helpers/host.ts";
import { waitFor } from "../helpers/wait.ts";
import { Child } from "../process/children.ts";
import { checkApplied, startServer } from "./server.ts";

const childScript = join(dirname(fileURLToPath(import.meta.url)), "relay-child.ts");
const SOAK = process.env.HONKER_SOAK === "1";
const KILLS = SOAK ? 20 : 5;
const TOTAL = SOAK ? 2000 : 500;
const KEYS = SOAK ? 50 : 20;
const { cleanups, tempDb } = withCleanups();

describe("outbox relay killed with SIGKILL", () => {
  it(`delivers ${TOTAL} messages over ${KEYS} keys exactly once in key order across ${KILLS} kill -9s and every fault`, {
    timeout: SOAK ? 900_000 : 120_000,
  }, async () => {
    const started = Date.now();
    const srv = await startServer();
    cleanups.push(() => srv.close());
    let r = 0x5eed;
    const rand = () => {
      r = (r * 1103515245 + 12345) & 0x7fffffff;
      return r / 0x7fffffff;
    };
    const faults = { "503": 0, "429": 0, drop: 0, hang: 0, refused: 0, token: 0 };
    srv.fault = () => {
      const x = rand();
      const f = x < 0.08 ? "503" : x < 0.14 ? "429" : x < 0.2 ? "drop" : x < 0.22 ? "hang" : "ok";
      if (f !== "ok") faults[f]++;
      return f;
    };
    srv.partial = () => rand() < 0.1;
    const { db, path } = tempDb({ retention: false });
    // 401 until the token is refreshed: the server moves to a new token
    // now and then; the children read it from this file in headers().
    const tokenFile = join(dirname(path), "token");
    let token = 0;
    const rotate = () => {
      token++;
      writeFileSync(tokenFile, `t${token}`);
      srv.token = `t${token}`;
      faults.token++;
    };
    rotate();
    const poison = new Set<number>();
    for (let t = 0; t < TOTAL / 50; t++) {
      db.transaction(() => {
        for (let i = t * 50; i < (t + 1) * 50; i++) {
          const bad = i % 101 === 7;
          if (bad) poison.add(i);
          db.raw
            .prepare("SELECT honker_x_outbox_add('sync', ?, ?, 1000)")
            .get(
              JSON.stringify({ key: `k${i % KEYS}`, seq: i, ...(bad ? { poison: true } : {}) }),
              `k${i % KEYS}`,
            );
        }
      });
    }
    const want = TOTAL - poison.size;
    const children: Child[] = [];
    cleanups.push(async () => {
      for (const c of children) await c.kill();
    });
    const start = (name: string, batchSize: number) => {
      const child = new Child(name, childScript, [
        path,
        srv.url,
        JSON.stringify({ batchSize, tokenFile }),
      ]);
      children.push(child);
      return child;
    };
    for (let k = 0; k < KILLS; k++) {
      const child = start(`relay-${k}`, k % 2 ? 1 : 10);
      await child.event("ready", 20_000);
      // Kill at a random point of the flow: after the server applied some more.
      const target = Math.min(want - 1, srv.applied.length + 5 + Math.floor(rand() * 60));
      if (k % 3 === 1) {
        rotate(); // the child's next request gets a 401, then asks headers() again
      }
      if (k % 4 === 2) {
        // Refused connections for a while: offline, probes, back.
        await srv.until(() => srv.applied.length >= target - 3, 30_000);
        await srv.refuse();
        faults.refused++;
        await new Promise((res) => setTimeout(res, 100 + Math.floor(rand() * 400)));
        await srv.accept();
      }
      await srv.until(() => srv.applied.length >= target, 30_000);
      if (rand() < 0.5) await new Promise((res) => setImmediate(res));
      process.kill(child.proc.pid as number, "SIGKILL");
      await child.exited;
    }
    const last = start("relay-last", 10);
    await last.event("ready", 20_000);
    await srv.until(() => srv.applied.length === want, SOAK ? 300_000 : 60_000);
    const deadCount = () =>
      db.raw.prepare("SELECT count(*) FROM _honker_x_outbox_dead").pluck().get() as number;
    const liveCount = () =>
      db.raw.prepare("SELECT count(*) FROM _honker_x_outbox").pluck().get() as number;
    await waitFor(() => deadCount() === poison.size && liveCount() === 0, {
      db,
      timeoutMs: 30_000,
      what: "settled",
    });
    process.kill(last.proc.pid as number, "SIGKILL");
    await last.exited;
    const { seqs } = checkApplied(srv.applied);
    for (let i = 0; i < TOTAL; i++) assert.ok(seqs.has(i) !== poison.has(i), `seq ${i}`);
    const deadSeqs = (
      db.raw.prepare("SELECT payload FROM _honker_x_outbox_dead").pluck().all() as string[]
    ).map((p) => (JSON.parse(p) as { seq: number }).seq);
    assert.deepEqual(
      deadSeqs.sort((a, b) => a - b),
      [...poison].sort((a, b) => a - b),
    );
    assert.equal(db.raw.prepare("PRAGMA integrity_check").pluck().get(), "ok");
    console.log(
      `# ${TOTAL} messages over ${KEYS} keys, ${KILLS} kills in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
        `${srv.requests} requests, ${srv.arrivals} arrivals, ${srv.applied.length} applied once, ` +
        `${poison.size} dead, ${srv.unauthorized} answered 401; faults ${JSON.stringify(faults)}`,
    );
    for (const [f, n] of Object.entries(faults)) assert.ok(n > 0, `fault ${f} never happened`);
  });
});
