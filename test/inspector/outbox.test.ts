/**
 * Outboxes in the inspector, without a browser: the overview's numbers
 * straight from the file, the message lists, the actions (flush, redrive,
 * purge) with their argument checks and read-only refusals, and query
 * plans that walk the outbox indexes whatever the backlog.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type Inspector, inspectFile, inspector } from "../../src/inspector/index.ts";
import { OutboxQueries } from "../../src/inspector/outbox-queries.ts";
import { type AnyHonkerDatabase, open } from "../../src/main/database.ts";
import type { DeliveryOutcome } from "../../src/main/outbox/transport.ts";
import { tempDir } from "../helpers/db.ts";
import { waitFor } from "../helpers/wait.ts";
import { seedOutbox } from "./outbox-seed.ts";

interface Served {
  db: AnyHonkerDatabase;
  ui: Inspector;
  path: string;
  get<T>(p: string): Promise<{ status: number; body: T }>;
  post(body: unknown): Promise<{ status: number; body: { message?: string; error?: string } }>;
}

/** A fresh file with the seeded outbox "sync", served by an inspector; closed afterwards. */
async function withServed(
  fn: (s: Served) => Promise<void>,
  options: { readOnly?: boolean } = {},
): Promise<void> {
  const t = tempDir("honker-inspector-outbox-");
  const path = join(t.dir, "app.db");
  const db = open(path, { retention: false });
  let ui: Inspector | null = null;
  try {
    seedOutbox(db);
    ui = options.readOnly ? await inspectFile(path, { readOnly: true }) : await inspector(db);
    const origin = new URL(ui.url).origin;
    const auth = { Authorization: `Bearer ${new URL(ui.url).searchParams.get("token")}` };
    await fn({
      db,
      ui,
      path,
      async get(p) {
        const res = await fetch(`${origin}${p}`, { headers: auth });
        return { status: res.status, body: await res.json() };
      },
      async post(body) {
        const res = await fetch(`${origin}/api/action`, {
          method: "POST",
          headers: { ...auth, "Content-Type": "application/json", "X-Honker-Inspector": "1" },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: await res.json() };
      },
    });
  } finally {
    await ui?.close();
    await db.close();
    t.cleanup();
  }
}

const count = (db: AnyHonkerDatabase, sql: string) => db.raw.prepare(sql).pluck().get() as number;

describe("inspector outboxes", { timeout: 60_000 }, () => {
  it("the overview shows each outbox's numbers from the file", () =>
    withServed(async ({ db, get }) => {
      const { body } = await get<{
        now: number;
        outboxes: {
          name: string;
          pending: number;
          backoff: number;
          inFlight: number;
          dead: number;
          delivered: number;
          lastDeliveredAt: number | null;
          nextAttemptAt: number | null;
          lastError: { messageId: number; error: string; dead: boolean } | null;
        }[];
      }>("/api/overview");
      assert.equal(body.outboxes.length, 1);
      const o = body.outboxes[0];
      assert.ok(o);
      const { lastError, lastDeliveredAt, nextAttemptAt, ...numbers } = o;
      assert.deepEqual(numbers, {
        name: "sync",
        pending: 5,
        backoff: 2,
        inFlight: 1,
        dead: 2,
        delivered: 2,
        paused: false,
        pausedAt: null,
      });
      assert.ok(lastDeliveredAt !== null && Math.abs(lastDeliveredAt - body.now) <= 2);
      assert.ok(nextAttemptAt !== null && nextAttemptAt <= body.now, "waiting messages are due");
      assert.equal(lastError?.error, "HTTP 503");
      assert.equal(lastError?.dead, false);
      // The relay's own status() agrees on every count.
      const status = db.outbox("sync").status();
      assert.deepEqual(
        [status.pending, status.inFlight, status.dead, status.delivered],
        [5, 1, 2, 2],
      );
    }));

  it("lists waiting, in-flight and dead messages with keys, attempts and errors", () =>
    withServed(async ({ get }) => {
      type Page = {
        overview: { name: string } | null;
        list: {
          total: number;
          more: boolean;
          messages: {
            id: number;
            key: string | null;
            attempts: number;
            maxAttempts: number;
            claimedBy: string | null;
            error: string | null;
          }[];
        };
      };
      const rows = (p: Page) =>
        p.list.messages.map((m) => [m.id, m.key, m.attempts, m.maxAttempts, m.claimedBy, m.error]);
      const waiting = (await get<Page>("/api/outbox?name=sync&state=waiting")).body;
      assert.equal(waiting.overview?.name, "sync");
      assert.equal(waiting.list.total, 5);
      // Due order: the three due now, then the two in backoff.
      assert.deepEqual(rows(waiting), [
        [8, null, 0, 20, null, null],
        [9, null, 0, 20, null, null],
        [10, null, 0, 20, null, null],
        [5, "note:1", 1, 20, null, "HTTP 503"],
        [6, "note:2", 1, 20, null, "HTTP 503"],
      ]);
      const inflight = (await get<Page>("/api/outbox?name=sync&state=inflight")).body;
      assert.deepEqual(rows(inflight), [[7, "note:3", 1, 20, "relay-x", null]]);
      const dead = (await get<Page>("/api/outbox?name=sync&state=dead")).body;
      assert.deepEqual(rows(dead), [
        [4, null, 1, 20, null, "HTTP 422: unknown user"],
        [3, null, 1, 20, null, "HTTP 422: unknown user"],
      ]);
      const none = (await get<Page>("/api/outbox?name=nope&state=dead")).body;
      assert.deepEqual([none.list.total, none.list.messages], [0, []]);
      for (const bad of [
        "/api/outbox",
        "/api/outbox?name=sync&state=delivered",
        "/api/outbox?name=sync&page=-1",
        `/api/outbox?name=${"x".repeat(300)}`,
      ]) {
        assert.equal((await get(bad)).status, 400, bad);
      }
    }));

  it("flush makes the messages in backoff due now (checked in SQLite)", () =>
    withServed(async ({ db, post }) => {
      const inBackoff =
        "SELECT count(*) FROM _honker_x_outbox WHERE outbox = 'sync' AND state = 'pending' AND run_at > unixepoch()";
      assert.equal(count(db, inBackoff), 2);
      const r = await post({ action: "flushOutbox", outbox: "sync" });
      assert.deepEqual(r, {
        status: 200,
        body: { message: "sync: 2 messages in backoff made due now" },
      });
      assert.equal(count(db, inBackoff), 0);
    }));

  it("pauses and resumes an outbox in the file, so the app's relay stops and sends again", () =>
    withServed(async ({ db, get, post }) => {
      const seen: number[] = [];
      const relay = db.outbox("sync", {
        transport: async (batch) => {
          for (const m of batch) seen.push(m.id);
          return batch.map((): DeliveryOutcome => ({ status: "delivered" }));
        },
        batchSize: 50,
      });
      await waitFor(() => seen.length === 3, { db, what: "the due messages delivered" });
      const paused = await post({ action: "pauseOutbox", outbox: "sync" });
      assert.deepEqual(paused, {
        status: 200,
        body: { message: "outbox sync paused: no relay sends until it is resumed" },
      });
      assert.equal(count(db, "SELECT honker_x_outbox_paused('sync')"), 1);
      assert.equal(relay.status().paused, true);
      const { body } = await get<{ outboxes: { paused: boolean; pausedAt: number | null }[] }>(
        "/api/overview",
      );
      assert.equal(body.outboxes[0]?.paused, true);
      assert.equal(typeof body.outboxes[0]?.pausedAt, "number");
      // Paused: a new message waits.
      db.transaction(() => relay.add({ n: 1 }));
      await post({ action: "flushOutbox", outbox: "sync" });
      assert.equal(relay.status().pending, 3, "two in backoff and the new one wait");
      assert.deepEqual((await post({ action: "pauseOutbox", outbox: "sync" })).body, {
        message: "outbox sync was already paused",
      });
      const resumed = await post({ action: "resumeOutbox", outbox: "sync" });
      assert.deepEqual(resumed.body, { message: "outbox sync resumed" });
      await waitFor(() => relay.status().pending === 0, { db, what: "the relay sending again" });
      assert.equal(seen.length, 6);
      await relay.stop();
    }));

  it("lists an outbox paused before its first message, and says it has none", () =>
    withServed(async ({ get, post }) => {
      const r = await post({ action: "pauseOutbox", outbox: "ghost" });
      assert.deepEqual(r.body, {
        message: "outbox ghost paused: no relay sends until it is resumed (it has no messages yet)",
      });
      const q = await post({ action: "pauseQueue", queue: "ghostq" });
      assert.equal(
        q.body.message,
        "queue ghostq paused: no worker claims its jobs until it is resumed (it holds no jobs now)",
      );
      const { body } = await get<{
        outboxes: { name: string; paused: boolean; pending: number }[];
      }>("/api/overview");
      assert.deepEqual(
        body.outboxes.map((o) => [o.name, o.paused, o.pending]),
        [
          ["ghost", true, 0],
          ["sync", false, 5],
        ],
      );
    }));

  it("redrives one dead message, then all, and purges, leaving db.outbox(name) to the app", () =>
    withServed(async ({ db, post }) => {
      const state = (id: number) =>
        db.raw
          .prepare(
            "SELECT coalesce((SELECT state FROM _honker_x_outbox WHERE id = @id), " +
              "(SELECT 'dead' FROM _honker_x_outbox_dead WHERE id = @id), 'gone')",
          )
          .pluck()
          .get({ id });
      const one = await post({ action: "redriveOutbox", outbox: "sync", ids: [3] });
      assert.deepEqual(one, {
        status: 200,
        body: { message: "1 dead message of sync back to waiting" },
      });
      assert.deepEqual([state(3), state(4)], ["pending", "dead"]);
      const all = await post({ action: "redriveOutbox", outbox: "sync" });
      assert.equal(all.body.message, "1 dead message of sync back to waiting");
      assert.equal(state(4), "pending");
      // The two redriven messages are the oldest due: a claim of two takes them.
      db.raw.prepare("SELECT honker_x_outbox_claim('sync', 'r', 2, 60)").get();
      for (const id of [3, 4]) {
        db.raw.prepare("SELECT honker_x_outbox_settle(?, 'r', 'rejected', 0, 'still no')").get(id);
      }
      const purged = await post({ action: "purgeOutboxDead", outbox: "sync" });
      assert.equal(purged.body.message, "2 dead messages of sync purged");
      assert.deepEqual([state(3), state(4)], ["gone", "gone"]);

      // The actions' handles are their own: the app's relay for "sync" still
      // gets its transport, and delivers what is waiting.
      const seen: number[] = [];
      const relay = db.outbox("sync", {
        transport: async (batch) => {
          for (const m of batch) seen.push(m.id);
          return batch.map((): DeliveryOutcome => ({ status: "delivered" }));
        },
        batchSize: 50,
      });
      await waitFor(() => relay.status().pending === 2, { db, what: "the due messages delivered" });
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        [8, 9, 10],
        "the three due messages went out (the ones in backoff wait)",
      );
      await relay.stop();
    }));

  it("checks outbox action arguments (400) and refuses them read-only (403, nothing written)", async () => {
    await withServed(async ({ post }) => {
      for (const body of [
        { action: "flushOutbox" },
        { action: "flushOutbox", outbox: "" },
        { action: "redriveOutbox", outbox: "sync", ids: [] },
        { action: "redriveOutbox", outbox: "sync", ids: [0] },
        { action: "redriveOutbox", outbox: "sync", ids: "1" },
        { action: "purgeOutboxDead", outbox: 7 },
        { action: "pauseOutbox" },
        { action: "resumeOutbox", outbox: "" },
      ]) {
        assert.equal((await post(body)).status, 400, JSON.stringify(body));
      }
    });
    await withServed(
      async ({ db, post }) => {
        const snapshot = () =>
          db.raw
            .prepare(
              "SELECT (SELECT group_concat(id || state || run_at) FROM _honker_x_outbox), " +
                "(SELECT group_concat(id) FROM _honker_x_outbox_dead), " +
                "(SELECT count(*) FROM _honker_x_paused)",
            )
            .raw()
            .get();
        const before = snapshot();
        for (const body of [
          { action: "flushOutbox", outbox: "sync" },
          { action: "redriveOutbox", outbox: "sync" },
          { action: "redriveOutbox", outbox: "sync", ids: [3] },
          { action: "purgeOutboxDead", outbox: "sync" },
          { action: "pauseOutbox", outbox: "sync" },
          { action: "resumeOutbox", outbox: "sync" },
        ]) {
          const r = await post(body);
          assert.equal(r.status, 403, JSON.stringify(body));
          assert.match(r.body.error ?? "", /^read-only/);
        }
        assert.deepEqual(snapshot(), before);
      },
      { readOnly: true },
    );
  });

  it("walks the outbox indexes, never scanning the outbox tables (EXPLAIN QUERY PLAN)", async () => {
    const t = tempDir("honker-inspector-outbox-plan-");
    const db = open(join(t.dir, "big.db"), { retention: false });
    try {
      const series = (n: number) =>
        `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n}) `;
      db.raw.exec("BEGIN");
      db.raw.exec(
        `INSERT INTO _honker_x_outbox (outbox, key, payload, state, run_at, claimed_by, claim_expires_at) ${series(20_000)}` +
          "SELECT CASE WHEN i % 10 = 0 THEN 'small' ELSE 'big' END, 'k' || (i % 50), '{}', " +
          "CASE WHEN i % 100 = 0 THEN 'inflight' ELSE 'pending' END, unixepoch() + (i % 300), " +
          "CASE WHEN i % 100 = 0 THEN 'r' END, CASE WHEN i % 100 = 0 THEN unixepoch() + 60 END FROM c",
      );
      db.raw.exec(
        `INSERT INTO _honker_x_outbox_dead (id, outbox, payload, error) ${series(5000)}` +
          "SELECT 1000000 + i, 'big', '{}', 'boom' FROM c",
      );
      db.raw.exec("COMMIT");
      db.raw.exec("ANALYZE");
      const bad: string[] = [];
      for (const sql of OutboxQueries.allSql()) {
        const params = sql.includes("@")
          ? [{ o: "big", now: Math.floor(Date.now() / 1000), limit: 50, offset: 0 }].map((p) =>
              Object.fromEntries(Object.entries(p).filter(([k]) => sql.includes(`@${k}`))),
            )
          : [];
        const plan = db.raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as {
          detail: string;
        }[];
        for (const step of plan) {
          if (/^SCAN _honker_x_outbox(_dead)?\b/.test(step.detail)) {
            bad.push(`${step.detail}   <-   ${sql}`);
          }
        }
      }
      assert.deepEqual(bad, []);
      const q = new OutboxQueries(db.raw);
      assert.deepEqual(q.names(), ["big", "small"]);
      const big = q.outbox("big", Math.floor(Date.now() / 1000));
      assert.deepEqual([big.pending + big.inFlight, big.dead], [18_000, 5000]);
    } finally {
      await db.close();
      t.cleanup();
    }
  });
});
