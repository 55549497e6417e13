/**
 * Offline with messages waiting, in a relaying child process: no request,
 * no attempt consumed, and the process idles (its own CPU time, measured
 * with process.cpuUsage); back online, the first delivery comes within 1 s.
 *
 * npm test: 3 s offline. HONKER_SOAK=1: the 30 s.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { withCleanups } from "../helpers/host.ts";
import { Child } from "../process/children.ts";
import { startServer } from "./server.ts";

const childScript = join(dirname(fileURLToPath(import.meta.url)), "relay-child.ts");
const SOAK = process.env.HONKER_SOAK === "1";
const OFFLINE_MS = SOAK ? 30_000 : 3_000;
const { cleanups, tempDb } = withCleanups();

describe("outbox relay offline", () => {
  it(`${OFFLINE_MS / 1000} s offline: no attempt consumed, idle CPU; back online: first delivery within 1 s`, {
    timeout: OFFLINE_MS + 60_000,
  }, async () => {
    const srv = await startServer();
    cleanups.push(() => srv.close());
    const { db, path } = tempDb({ retention: false });
    const child = new Child("relay-offline", childScript, [
      path,
      srv.url,
      JSON.stringify({ offline: true }),
    ]);
    cleanups.push(() => child.kill());
    await child.event("ready", 20_000);
    db.transaction(() => {
      for (let i = 0; i < 100; i++) {
        db.raw
          .prepare("SELECT honker_x_outbox_add('sync', ?, ?, 20)")
          .get(JSON.stringify({ key: null, seq: i }), i % 2 ? `k${i % 5}` : null);
      }
    });
    const cpu = async () => {
      child.send("cpu");
      const l = await child.event("cpu", 10_000);
      return (l.user as number) + (l.system as number);
    };
    const before = await cpu();
    const t0 = Date.now();
    // Nothing can be awaited here: the point is that nothing happens.
    await new Promise((r) => setTimeout(r, OFFLINE_MS));
    const usedUs = (await cpu()) - before;
    const wallMs = Date.now() - t0;
    assert.equal(srv.requests, 0);
    const attempts = db.raw
      .prepare("SELECT attempts FROM _honker_x_outbox ORDER BY id")
      .pluck()
      .all() as number[];
    assert.deepEqual(attempts, new Array(100).fill(0));
    // Idle: a few wake-ups (the watcher's safety-net poll), no busy loop.
    // Generous for a loaded machine: under 2% of one core.
    const share = usedUs / 1000 / wallMs;
    assert.ok(share < 0.02, `the offline relay used ${(share * 100).toFixed(2)}% of a core`);
    const back = Date.now();
    child.send("online");
    await srv.until(() => srv.applied.length >= 1, 1000);
    const firstMs = Date.now() - back;
    await srv.until(() => srv.applied.length === 100, 20_000);
    console.log(
      `# offline ${(wallMs / 1000).toFixed(1)} s: ${(usedUs / 1000).toFixed(1)} ms CPU ` +
        `(${(share * 100).toFixed(3)}% of a core), 0 requests, 0 attempts; ` +
        `first delivery ${firstMs} ms after online`,
    );
    assert.ok(firstMs < 1000);
  });
});
