/**
 * At scale: 100,000 jobs in a queue and 1,000,000 stream events. Every
 * query the overview and the list pages run is an index search (checked
 * with EXPLAIN QUERY PLAN: no scan of _honker_live or _honker_stream), and
 * the overview and a queue page answer over HTTP in under 300 ms.
 */
import assert from "node:assert/strict";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Inspector, inspector } from "../../src/inspector/index.ts";
import { InspectorQueries } from "../../src/inspector/queries.ts";
import { type AnyHonkerDatabase, open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";

const JOBS = 100_000;
const EVENTS = 1_000_000;

function bindings(sql: string): unknown[] {
  const named = [...sql.matchAll(/@(\w+)/g)].map((m) => m[1] as string);
  if (named.length) {
    const o: Record<string, unknown> = {};
    for (const n of named)
      o[n] =
        n === "q"
          ? "big"
          : n === "text"
            ? "item-5"
            : n === "now"
              ? Math.floor(Date.now() / 1000)
              : 1;
    return [o];
  }
  return [...sql.matchAll(/\?/g)].map(() => "big");
}

describe("inspector at scale", { timeout: 600_000 }, () => {
  let db: AnyHonkerDatabase;
  let ui: Inspector;
  let cleanup: () => void;

  before(async () => {
    const t = tempDir("honker-inspector-scale-");
    cleanup = t.cleanup;
    db = open(join(t.dir, "big.db"), { retention: false });
    const series = (n: number) =>
      `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n}) `;
    db.raw.exec("BEGIN");
    db.raw.exec(
      `INSERT INTO _honker_live (queue, payload, run_at) ${series(JOBS)}` +
        "SELECT 'big', json_object('n', i, 'tag', 'item-' || i), unixepoch() - (i % 1000) + (CASE WHEN i % 10 = 0 THEN 7200 ELSE 0 END) FROM c",
    );
    db.raw.exec(
      `INSERT INTO _honker_live (queue, payload, state, worker_id, claim_expires_at, attempts) ${series(200)}` +
        "SELECT 'big', json_object('n', i), 'processing', 'w1', unixepoch() + 60, 1 FROM c",
    );
    db.raw.exec(
      `INSERT INTO _honker_dead (id, queue, payload, last_error) ${series(5000)}` +
        "SELECT 10000000 + i, 'big', json_object('n', i), 'boom' FROM c",
    );
    db.raw.exec(
      `INSERT INTO _honker_x_history (id, queue, state, payload, finished_at) ${series(10000)}` +
        "SELECT 20000000 + i, 'big', 'completed', '{}', unixepoch() - (i % 900) FROM c",
    );
    db.raw.exec(
      `INSERT INTO _honker_stream (topic, key, payload) ${series(EVENTS)}` +
        "SELECT CASE WHEN i % 100 = 0 THEN 'small' ELSE 'firehose' END, 'k' || (i % 7), json_object('i', i) FROM c",
    );
    db.raw.exec(
      "INSERT INTO _honker_stream_consumers (name, topic, offset) VALUES ('indexer', 'firehose', 999000), ('replay', 'firehose', 10), ('s', 'small', 0)",
    );
    db.raw.exec("COMMIT");
    db.raw.exec("ANALYZE");
    ui = await inspector(db);
  });
  after(async () => {
    await ui?.close();
    await db?.close();
    cleanup?.();
  });

  it("no query scans _honker_live or _honker_stream", () => {
    const bad: string[] = [];
    for (const sql of InspectorQueries.allSql()) {
      const plan = db.raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...bindings(sql)) as {
        detail: string;
      }[];
      for (const step of plan) {
        if (/^SCAN (_honker_live|_honker_stream)\b/.test(step.detail)) {
          bad.push(`${step.detail}   <-   ${sql}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  /**
   * One request: its wall time, and the CPU time this process (server and
   * client both) spent on it, which a loaded machine does not inflate.
   */
  async function timed(path: string): Promise<{ ms: number; cpuMs: number; body: unknown }> {
    const token = new URL(ui.url).searchParams.get("token");
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await fetch(`${new URL(ui.url).origin}${path}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const body = await res.json();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    assert.equal(res.status, 200, JSON.stringify(body));
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, body };
  }

  /** Best of 5 (a busy machine only ever adds time), checked against 300 ms. */
  async function fast(path: string): Promise<unknown> {
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await timed(path));
    const ms = Math.min(...runs.map((r) => r.ms));
    const cpuMs = Math.min(...runs.map((r) => r.cpuMs));
    const load = loadavg()[0] ?? 0;
    const busy = load > availableParallelism() * 8;
    console.log(
      `# ${path}: ${ms.toFixed(1)} ms wall, ${cpuMs.toFixed(1)} ms CPU (load average ${load.toFixed(1)})`,
    );
    assert.ok(cpuMs < 300, `${path} took ${cpuMs.toFixed(1)} ms of CPU`);
    // Wall time measures the machine as much as the query when the machine
    // is badly oversubscribed (8 runnable tasks per CPU): then only CPU time
    // is checked, and the line above says so.
    if (!busy) assert.ok(ms < 300, `${path} took ${ms.toFixed(1)} ms`);
    else
      console.log(
        `# wall time not checked: load average ${load.toFixed(1)} on ${availableParallelism()} CPUs`,
      );
    return (runs[0] as { body: unknown }).body;
  }

  it("the overview answers in under 300 ms, with the right numbers", async () => {
    const body = await fast("/api/overview");
    const o = body as {
      queues: {
        name: string;
        pending: number;
        delayed: number;
        processing: number;
        dead: number;
      }[];
      streams: {
        name: string;
        head: number;
        consumers: { name: string; lag: number; lagCapped: boolean }[];
      }[];
    };
    const big = o.queues.find((q) => q.name === "big");
    assert.deepEqual(big && [big.pending, big.delayed, big.processing, big.dead], [
      JOBS * 0.9,
      JOBS * 0.1,
      200,
      5000,
    ]);
    const fire = o.streams.find((s) => s.name === "firehose");
    assert.equal(fire?.head, EVENTS - 1);
    const replay = fire?.consumers.find((c) => c.name === "replay");
    assert.equal(replay?.lagCapped, true);
  });

  it("a queue page answers in under 300 ms (first, deep, dead and filtered pages)", async () => {
    for (const path of [
      "/api/queue?name=big&state=pending",
      "/api/queue?name=big&state=pending&page=1500",
      "/api/queue?name=big&state=dead&page=3",
      "/api/queue?name=big&state=completed",
      "/api/queue?name=big&state=pending&q=item-99999",
      "/api/stream?name=firehose",
      "/api/stream?name=firehose&from=500000",
    ]) {
      const body = await fast(path);
      if (path.includes("q=item-99999")) {
        const list = (body as { list: { jobs: { payload: string }[] } }).list;
        assert.equal(list.jobs.length, 1);
        assert.match(list.jobs[0]?.payload ?? "", /item-99999"/);
      }
    }
  });
});
