/**
 * The inspector's server without a browser: server-sent events only while
 * a page listens, reads that never wait for the write lock, argument checks
 * of actions, the Host check. (The Electron window helper: window.test.ts.)
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { type Inspector, inspectFile, inspector } from "../../src/inspector/index.ts";
import { tempDir } from "../helpers/db.ts";
import { otherConnection, type Seeded, seed } from "./seed.ts";

const listeners = (s: Seeded) =>
  (s.db.watcher as unknown as { listeners: Set<unknown> }).listeners.size;

describe("inspector server", { timeout: 60_000 }, () => {
  let s: Seeded;
  let ui: Inspector;
  let origin: string;
  let auth: Record<string, string>;

  before(async () => {
    s = seed();
    ui = await inspector(s.db);
    origin = new URL(ui.url).origin;
    auth = { Authorization: `Bearer ${new URL(ui.url).searchParams.get("token")}` };
  });
  after(async () => {
    await ui?.close();
    await s?.cleanup();
  });

  it("subscribes to the watcher only while a page listens, and pushes a change on commit", async () => {
    const base = listeners(s);
    const ac = new AbortController();
    const res = await fetch(`${origin}/api/events`, { headers: auth, signal: ac.signal });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    assert.equal(listeners(s), base + 1);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // ": hello"
    const other = otherConnection(s.path);
    other.prepare("SELECT notify('x', '1')").get();
    other.close();
    let text = "";
    while (!text.includes("event: change")) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    await reader.cancel().catch(() => {});
    for (let i = 0; i < 50 && listeners(s) !== base; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(listeners(s), base, "nothing left subscribed once the page is gone");
  });

  it("answers reads while another connection holds the write lock", async () => {
    const other = otherConnection(s.path);
    other.exec("BEGIN IMMEDIATE");
    try {
      const t0 = Date.now();
      const res = await fetch(`${origin}/api/overview`, { headers: auth });
      assert.equal(res.status, 200);
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
  });

  it("checks action arguments and refuses unknown actions", async () => {
    const post = (body: unknown) =>
      fetch(`${origin}/api/action`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json", "X-Honker-Inspector": "1" },
        body: JSON.stringify(body),
      });
    for (const body of [
      { action: "drop table" },
      { action: "cancel", queue: "alpha", id: -1 },
      { action: "cancel", queue: "alpha", id: "1; DELETE" },
      { action: "redrive", queue: "", ids: [1] },
      { action: "redrive", queue: "alpha", ids: [] },
      { action: "enqueue", queue: "alpha" },
      [1, 2],
    ]) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal((await post({ action: "runSchedule", name: "nope" })).status, 404);
    const ok = await post({ action: "runSchedule", name: "hourly" });
    assert.equal(ok.status, 200);
    const { id } = (await ok.json()) as { id: number };
    assert.equal(s.db.queue("beta").getJob(id)?.state, "pending");
  });

  it("cancels, redrives all and purges through the host's API", async () => {
    const post = async (body: unknown) => {
      const res = await fetch(`${origin}/api/action`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json", "X-Honker-Inspector": "1" },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200, JSON.stringify(body));
      return (await res.json()) as { message: string };
    };
    const q = s.db.queue("gamma");
    const id = q.enqueue({ c: 1 });
    assert.match((await post({ action: "cancel", queue: "gamma", id })).message, /cancelled/);
    assert.equal(q.getJob(id)?.state, "cancelled");
    const dead = [q.enqueue({ d: 1 }, { maxAttempts: 1 }), q.enqueue({ d: 2 }, { maxAttempts: 1 })];
    for (const job of q.claim("t", { batchSize: 2 })) q.fail(job.id, "t", "x");
    assert.equal(q.stats().dead, 2);
    assert.match((await post({ action: "redrive", queue: "gamma" })).message, /^2 dead jobs/);
    assert.deepEqual(
      dead.map((d) => q.getJob(d)?.state),
      ["pending", "pending"],
    );
    for (const job of q.claim("t", { batchSize: 2 })) q.fail(job.id, "t", "x");
    assert.match(
      (await post({ action: "purgeDead", queue: "gamma" })).message,
      /^2 dead jobs purged/,
    );
    assert.equal(q.stats().dead, 0);
  });

  it("pauses and resumes a queue for every worker, and the overview shows it", async () => {
    const post = async (body: unknown, status = 200) => {
      const res = await fetch(`${origin}/api/action`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json", "X-Honker-Inspector": "1" },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, status, JSON.stringify(body));
      return (await res.json()) as { message: string; error: string };
    };
    const overviewOf = async (name: string) => {
      const res = await fetch(`${origin}/api/overview`, { headers: auth });
      const o = (await res.json()) as {
        queues: { name: string; paused: boolean; pausedAt: number | null }[];
      };
      return o.queues.find((q) => q.name === name);
    };
    for (const body of [
      { action: "pauseQueue" },
      { action: "pauseQueue", queue: "" },
      { action: "resumeQueue", queue: 7 },
      { action: "pauseQueue", queue: "x".repeat(257) },
    ]) {
      assert.match((await post(body, 400)).error, /^inspector: queue must be a non-empty string/);
    }
    // A queue with no job at all is listed once paused, so it can be resumed.
    assert.equal(await overviewOf("idle"), undefined);
    const before = Math.floor(Date.now() / 1000);
    assert.match(
      (await post({ action: "pauseQueue", queue: "idle" })).message,
      /^queue idle paused: no worker claims its jobs/,
    );
    const idle = await overviewOf("idle");
    assert.equal(idle?.paused, true);
    assert.ok((idle?.pausedAt ?? 0) >= before);
    assert.equal(
      (await post({ action: "pauseQueue", queue: "idle" })).message,
      "queue idle was already paused",
    );
    const q = s.db.queue("idle");
    assert.equal(q.isPaused(), true);
    const id = q.enqueue({ i: 1 });
    assert.deepEqual(q.claim("t"), [], "paused for every claim");
    assert.equal((await overviewOf("idle"))?.paused, true);
    assert.equal((await overviewOf("alpha"))?.paused, false);
    assert.equal(
      (await post({ action: "resumeQueue", queue: "idle" })).message,
      "queue idle resumed",
    );
    assert.equal(
      (await post({ action: "resumeQueue", queue: "idle" })).message,
      "queue idle was not paused",
    );
    const resumed = await overviewOf("idle");
    assert.deepEqual([resumed?.paused, resumed?.pausedAt], [false, null]);
    assert.deepEqual(
      q.claim("t").map((j) => j.id),
      [id],
    );
  });

  it("refuses a request whose Host is not the loopback address (DNS rebinding)", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${origin}/api/overview`,
        { headers: { ...auth, Host: "evil.example" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 421);
  });

  it("serves job, queue and stream reads with bounded arguments", async () => {
    const get = (p: string) => fetch(`${origin}${p}`, { headers: auth });
    assert.equal((await get("/api/job?id=0")).status, 400);
    assert.equal((await get("/api/job?id=999999")).status, 404);
    assert.equal((await get("/api/queue?name=alpha&state=bogus")).status, 400);
    assert.equal((await get("/api/queue?name=alpha&page=-1")).status, 400);
    assert.equal((await get("/api/stream?name=events&limit=100000")).status, 400);
    const ev = (await (await get("/api/stream?name=events&from=2&limit=2")).json()) as {
      events: { offset: number }[];
    };
    assert.deepEqual(
      ev.events.map((e) => e.offset),
      [3, 4],
    );
  });
});

describe("inspector entry points", { timeout: 60_000 }, () => {
  it("refuses, read-only, a file without honker's tables", async () => {
    const t = tempDir("honker-inspector-plain-");
    try {
      const path = join(t.dir, "plain.db");
      new Database(path).exec("CREATE TABLE notes (x)");
      await assert.rejects(inspectFile(path, { readOnly: true }), {
        code: "HONKER_CANNOT_OPEN",
      });
    } finally {
      t.cleanup();
    }
  });
});
