import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { withCleanups } from "../helpers/host.ts";
import { waitFor } from "../helpers/wait.ts";
import { Child } from "../process/children.ts";
import { checkApplied, startServer } from "./server.ts";

const childScript = join(dirname(fileURLToPath(import.meta.url)), "relay-child.ts");
const KILLS = process.env.HONKER_SOAK === "1" ? 20 : 5;
const { cleanups, tempDb } = withCleanups();

describe("outbox relay killed with SIGKILL", () => {
  it(`delivers every message exactly once in key order across ${KILLS} kill -9s`, async () => {
    const srv = await startServer();
    cleanups.push(() => srv.close());
    let r = 0x5eed;
    const rand = () => {
      r = (r * 1103515245 + 12345) & 0x7fffffff;
      return r / 0x7fffffff;
    };
    srv.fault = () => {
      const x = rand();
      return x < 0.1 ? "503" : x < 0.2 ? "drop" : "ok";
    };
    srv.partial = () => rand() < 0.1;
    const { db, path } = tempDb({ retention: false });
    const total = 500;
    const poison = new Set<number>();
    for (let t = 0; t < 10; t++) {
      db.transaction(() => {
        for (let i = t * 50; i < (t + 1) * 50; i++) {
          const bad = i % 101 === 7;
          if (bad) poison.add(i);
          db.raw
            .prepare("SELECT honker_x_outbox_add('sync', ?, ?, 1000)")
            .get(
              JSON.stringify({ key: `k${i % 20}`, seq: i, ...(bad ? { poison: true } : {}) }),
              `k${i % 20}`,
            );
        }
      });
    }
    const want = total - poison.size;
    const children: Child[] = [];
    cleanups.push(async () => {
      for (const c of children) await c.kill();
    });
    for (let k = 0; k < KILLS; k++) {
      const child = new Child(`relay-${k}`, childScript, [path, srv.url]);
      children.push(child);
      await child.event("ready", 20_000);
      // Kill at a random point of the flow: after the server applied some more.
      const target = Math.min(want - 1, srv.applied.length + 5 + Math.floor(rand() * 60));
      await srv.until(() => srv.applied.length >= target, 30_000);
      if (rand() < 0.5) await new Promise((res) => setImmediate(res));
      process.kill(child.proc.pid as number, "SIGKILL");
      await child.exited;
    }
    const last = new Child("relay-last", childScript, [path, srv.url]);
    children.push(last);
    await last.event("ready", 20_000);
    await srv.until(() => srv.applied.length === want, 60_000);
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
    for (let i = 0; i < total; i++) assert.ok(seqs.has(i) !== poison.has(i), `seq ${i}`);
    assert.equal(db.raw.prepare("PRAGMA integrity_check").pluck().get(), "ok");
    console.log(
      `# ${KILLS} kills: ${srv.requests} requests, ${srv.arrivals} arrivals, ${srv.applied.length} applied once, ${poison.size} dead`,
    );
  });
});
