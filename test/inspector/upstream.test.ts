/**
 * `honker-electron inspect --read-only` on a file written by upstream
 * honker 0.5.1 alone (its prebuilt Node binding, test/helpers/
 * honker-upstream.ts): the CLI, as a child process, shows honker's queues,
 * dead jobs, streams and channels, refuses actions, and leaves the file
 * untouched: the same bytes and modification time, no table of ours
 * created. (SQLite's -wal and -shm companions of a WAL-mode file may be
 * created, empty, by any reader: see docs/inspector.md.)
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { tempDir } from "../helpers/db.ts";
import { type HonkerDatabase, loadUpstream } from "../helpers/honker-upstream.ts";

const upstream = loadUpstream();
const skip = "reason" in upstream ? `upstream honker unavailable: ${upstream.reason}` : false;

import { startCli, stopCli } from "./cli-child.ts";

/** Writes the file with honker alone: queue "emails" (3 due, 1 dead), stream "orders", a notification. */
function writeWithHonker(path: string): { deadId: number } {
  if (!("module" in upstream)) throw new Error("honker is unavailable");
  const hdb: HonkerDatabase = upstream.module.open(path);
  try {
    const tx = hdb.transaction();
    const one = (sql: string, params: unknown[]) =>
      Object.values(tx.query(sql, params)[0] ?? {})[0] as number | string;
    for (let i = 0; i < 3; i++) {
      one("SELECT honker_enqueue(?, ?, NULL, NULL, 0, 3, NULL) AS id", [
        "emails",
        JSON.stringify({ to: `user${i}@example.com` }),
      ]);
    }
    const deadId = one("SELECT honker_enqueue(?, ?, NULL, NULL, 0, 1, NULL) AS id", [
      "emails",
      '{"to":"nobody@example.com"}',
    ]) as number;
    tx.commit();
    // Claim the last job and fail it: honker moves it to _honker_dead.
    const tx2 = hdb.transaction();
    const claimed = JSON.parse(
      Object.values(
        tx2.query("SELECT honker_claim_batch(?, ?, ?, ?) AS r", ["emails", "w", 10, 60])[0] ?? {},
      )[0] as string,
    ) as { id: number }[];
    assert.equal(claimed.length, 4);
    for (const c of claimed.filter((c) => c.id !== deadId)) {
      tx2.query("SELECT honker_retry(?, ?, ?, ?) AS r", [c.id, "w", 0, "not yet"]);
    }
    tx2.query("SELECT honker_fail(?, ?, ?) AS r", [deadId, "w", "mailbox does not exist"]);
    tx2.query("SELECT honker_stream_publish(?, ?, ?) AS o", ["orders", "o-1", '{"n":1}']);
    tx2.query("SELECT honker_stream_publish(?, ?, ?) AS o", ["orders", "o-2", '{"n":2}']);
    tx2.query("SELECT honker_stream_publish(?, ?, ?) AS o", ["orders", null, '{"n":3}']);
    tx2.query("SELECT honker_stream_save_offset(?, ?, ?) AS r", ["billing", "orders", 1]);
    tx2.notify("changes", { table: "users" });
    tx2.commit();
    return { deadId };
  } finally {
    hdb.close();
  }
}

/** What "untouched" means here: the database file's bytes and mtime, and its schema. */
function fingerprint(path: string): { sha256: string; mtimeMs: number; tables: string[] } {
  const sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
  const { mtimeMs } = statSync(path);
  const conn = new Database(path, { readonly: true });
  try {
    const tables = conn
      .prepare("SELECT name FROM sqlite_schema ORDER BY name")
      .pluck()
      .all() as string[];
    return { sha256, mtimeMs, tables };
  } finally {
    conn.close();
  }
}

describe("inspect a file written by upstream honker", { skip, timeout: 90_000 }, () => {
  it("shows honker's queues and streams read-only and leaves the file untouched", async () => {
    const t = tempDir("honker-inspector-upstream-");
    try {
      const path = join(t.dir, "honker.db");
      const { deadId } = writeWithHonker(path);
      assert.equal(existsSync(`${path}-wal`), false, "honker checkpointed and removed its WAL");
      const before = fingerprint(path);
      assert.deepEqual(
        before.tables.filter((n) => n.startsWith("_honker_x_")),
        [],
        "a file honker alone wrote",
      );
      // The mtime must not move even by a write within the same tick.
      await new Promise((r) => setTimeout(r, 20));

      const { child, url } = await startCli(["inspect", path, "--read-only"]);
      try {
        const origin = new URL(url).origin;
        const headers = { Authorization: `Bearer ${new URL(url).searchParams.get("token")}` };
        const get = async (p: string) => {
          const res = await fetch(`${origin}${p}`, { headers });
          const body = (await res.json()) as Record<string, unknown>;
          assert.equal(res.status, 200, `${p}: ${JSON.stringify(body)}`);
          return body as never;
        };
        const o: {
          queues: { name: string; pending: number; processing: number; dead: number }[];
          streams: { name: string; head: number; consumers: { name: string; lag: number }[] }[];
          channels: { name: string }[];
          outboxes: unknown[];
        } = await get("/api/overview");
        assert.deepEqual(
          o.queues.map((q) => [q.name, q.pending, q.processing, q.dead]),
          [["emails", 3, 0, 1]],
        );
        assert.deepEqual(
          o.streams.map((s) => [s.name, s.head, s.consumers.map((c) => [c.name, c.lag])]),
          [["orders", 3, [["billing", 2]]]],
        );
        assert.deepEqual(
          o.channels.map((c) => c.name),
          ["changes"],
        );
        assert.deepEqual(o.outboxes, []);

        const dead: { list: { jobs: { id: number; error: string }[] } } = await get(
          "/api/queue?name=emails&state=dead",
        );
        assert.deepEqual(
          dead.list.jobs.map((j) => [j.id, j.error]),
          [[deadId, "mailbox does not exist"]],
        );
        const done: { finished: unknown; list: { total: number } } = await get(
          "/api/queue?name=emails&state=completed",
        );
        assert.deepEqual(done.finished, { completed: 0, cancelled: 0 });
        assert.equal(done.list.total, 0);
        const job: { state: string; queue: string; error: string; attempts: number } = await get(
          `/api/job?id=${deadId}`,
        );
        assert.deepEqual(
          [job.state, job.queue, job.error, job.attempts],
          ["dead", "emails", "mailbox does not exist", 1],
        );
        const events: { events: { offset: number; key: string | null }[] } = await get(
          "/api/stream?name=orders&from=0",
        );
        assert.deepEqual(
          events.events.map((e) => [e.offset, e.key]),
          [
            [1, "o-1"],
            [2, "o-2"],
            [3, null],
          ],
        );
        const refused = await fetch(`${origin}/api/action`, {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/json", "X-Honker-Inspector": "1" },
          body: JSON.stringify({ action: "redrive", queue: "emails" }),
        });
        assert.equal(refused.status, 403);
      } finally {
        assert.equal(await stopCli(child), 0);
      }

      assert.deepEqual(fingerprint(path), before, "same bytes, same mtime, same schema");
      // A reader of a WAL-mode file may leave SQLite's companions; the WAL holds nothing.
      if (existsSync(`${path}-wal`)) assert.equal(statSync(`${path}-wal`).size, 0);
    } finally {
      t.cleanup();
    }
  });
});
