/**
 * Sessions end cleanly however a page goes away (reload, crash, database
 * close), many subscribe/unsubscribe cycles leave nothing behind, and a
 * page that stops reading costs main a bounded amount of memory.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { MessageChannel, Worker } from "node:worker_threads";
import type { Grants } from "../../src/main/bridge/grants.ts";
import { serveNodePort } from "../../src/main/bridge/node.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import { connect, type PortLike } from "../../src/renderer-api/index.ts";
import {
  eventually,
  rawPage,
  resourceCounts,
  sleep,
  watcherListeners,
} from "../helpers/bridge-raw.ts";
import { TS_FLAGS } from "../helpers/db.ts";
import { freshHost, type Host } from "../helpers/host.ts";

type Schema = {
  queues: { jobs: { n: number } };
  streams: { feed: { n: number; pad?: string } };
  channels: { pings: { n: number } };
};

const grants: Grants = {
  queues: { jobs: { enqueue: true, read: true, stats: true } },
  streams: { feed: { subscribe: true, publish: true } },
  channels: { pings: { listen: true } },
};

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(10);
  }
  return process.memoryUsage().heapUsed;
}

let h: Host<AnySchema>;
beforeEach(() => {
  h = freshHost({ retention: false });
});
afterEach(() => h.close());

function startPage(scenario: string, options: Parameters<typeof serveNodePort>[3] = {}) {
  const { port1, port2 } = new MessageChannel();
  const session = serveNodePort(h.db, port1, grants, options);
  const worker = new Worker(new URL("../fixtures/bridge-lifecycle-page.ts", import.meta.url), {
    execArgv: TS_FLAGS,
    workerData: { port: port2, scenario },
    transferList: [port2],
  });
  const seen: Record<string, unknown>[] = [];
  worker.on("message", (m: Record<string, unknown>) => seen.push(m));
  return {
    session,
    worker,
    seen,
    until: (t: string) => eventually(() => seen.some((m) => m.t === t), 10_000, `page '${t}'`),
  };
}

describe("bridge session lifecycle", () => {
  it("a reload (the page's port closes) ends the session and frees every subscription; a new port gets a new session", async () => {
    const baseListeners = watcherListeners(h.db);
    const { port1, port2 } = new MessageChannel();
    const session = serveNodePort(h.db, port1, grants);
    const honker = await connect<Schema>({ port: port2 as unknown as PortLike });
    const feed = honker.stream("feed").subscribe();
    const pings = honker.listen("pings");
    const stopStats = honker.queue("jobs").watchStats(() => {});
    const id = await honker.queue("jobs").enqueue({ n: 1 });
    const stopJob = honker
      .queue("jobs")
      .job(id)
      .watch(() => {});
    await Promise.all([feed.ready, pings.ready]);
    await eventually(() => session.subscriptionCount === 4, 3000, "four subscriptions");
    assert.ok(watcherListeners(h.db) > baseListeners, "subscriptions listen to the watcher");

    // The page goes away without a word: its port is closed.
    port2.close();
    await eventually(() => session.isClosed, 3000, "the session to close");
    assert.equal(session.subscriptionCount, 0);
    await eventually(() => watcherListeners(h.db) === baseListeners, 3000, "watcher listeners");
    void stopStats;
    void stopJob;

    const next = new MessageChannel();
    const session2 = serveNodePort(h.db, next.port1, grants);
    assert.notEqual(session2, session);
    const honker2 = await connect<Schema>({ port: next.port2 as unknown as PortLike });
    assert.equal(typeof (await honker2.queue("jobs").enqueue({ n: 2 })), "number");
    const sub = honker2.stream("feed").subscribe();
    await sub.ready;
    h.db.stream("feed").publish({ n: 7 });
    const first = await sub[Symbol.asyncIterator]().next();
    assert.equal(first.value?.payload.n, 7);
    await honker2.close();
    await eventually(() => session2.isClosed, 3000, "the second session to close");
    assert.equal(session2.subscriptionCount, 0);
    await eventually(() => watcherListeners(h.db) === baseListeners, 3000, "watcher listeners");
  });

  it("a terminated page (worker thread) ends its session and frees every subscription", async () => {
    const baseListeners = watcherListeners(h.db);
    const page = startPage("hold");
    await page.until("subscribed");
    await eventually(() => page.session.subscriptionCount === 3, 3000, "three subscriptions");
    h.db.stream("feed").publish({ n: 1 });
    await page.worker.terminate();
    await eventually(() => page.session.isClosed, 5000, "the session to close");
    assert.equal(page.session.subscriptionCount, 0);
    await eventually(() => watcherListeners(h.db) === baseListeners, 3000, "watcher listeners");
    // Main carries on.
    assert.equal(typeof h.db.queue("jobs").enqueue({ n: 2 }), "number");
  });

  it("db.close() ends every session", async () => {
    const pages = [startPage("hold"), startPage("hold")];
    const raw = rawPage(h.db, grants);
    try {
      await Promise.all(pages.map((p) => p.until("subscribed")));
      const sub = await raw.call("subscribe", { kind: "channel", name: "pings" });
      assert.ok(sub.ok);
      await h.db.close();
      for (const s of [...pages.map((p) => p.session), raw.session]) {
        assert.equal(s.isClosed, true);
        assert.equal(s.subscriptionCount, 0);
      }
    } finally {
      raw.close();
      await Promise.all(pages.map((p) => p.worker.terminate()));
    }
  });

  it("1,000 subscribe/unsubscribe cycles leave no subscriptions, resources or watcher listeners behind", async () => {
    const { port1, port2 } = new MessageChannel();
    const session = serveNodePort(h.db, port1, grants, { requestsPerSecond: 1_000_000 });
    const honker = await connect<Schema>({ port: port2 as unknown as PortLike });
    // Warm up once so lazily created things (statements, the watcher's poll) exist at the start.
    const warm = honker.stream("feed").subscribe();
    await warm.ready;
    await warm.close();
    await eventually(() => session.subscriptionCount === 0, 3000, "warm-up to close");
    await sleep(50);
    const baseListeners = watcherListeners(h.db);
    const baseResources = resourceCounts();
    for (let i = 0; i < 1000; i++) {
      const sub = i % 2 === 0 ? honker.stream("feed").subscribe() : honker.listen("pings");
      await sub.ready;
      await sub.close();
    }
    await eventually(() => session.subscriptionCount === 0, 5000, "every subscription to close");
    await eventually(() => watcherListeners(h.db) === baseListeners, 5000, "watcher listeners");
    let last = resourceCounts();
    const same = () => {
      last = resourceCounts();
      return JSON.stringify(last) === JSON.stringify(baseResources);
    };
    await eventually(same, 5000, "active resources to settle").catch(() => {});
    assert.deepEqual(last, baseResources, "active resources by type are back to the start");
    assert.equal(session.isClosed, false);
    await honker.close();
    await eventually(() => session.isClosed, 3000, "the session to close");
  });

  it("a stalled stream subscriber costs main one batch, and is told to resume after stallMs", async () => {
    const stallMs = 300;
    const raw = rawPage(h.db, grants, { stallMs });
    try {
      const r = await raw.call<{ subId: number }>("subscribe", { kind: "stream", name: "feed" });
      assert.ok(r.ok);
      const port = await raw.handoff(r.value.subId);
      const got: { t: string; event?: { offset: number }; from?: number }[] = [];
      let closed = false;
      let resumeAt = 0;
      port.on("message", (m: (typeof got)[number]) => {
        if (m.t === "resume") resumeAt = Date.now();
        got.push(m);
      });
      port.on("close", () => {
        closed = true;
      });
      const creditAt = Date.now();
      port.postMessage({ t: "credit", n: 64 });
      const heap0 = await settledHeap();
      const stream = h.db.stream("feed");
      const pad = "p".repeat(2000);
      h.db.transaction(() => {
        for (let n = 0; n < 5000; n++) stream.publish({ n, pad });
      });
      await eventually(() => got.some((m) => m.t === "resume"), 5000, "a resume message");
      // The stall clock starts at the last credit.
      const waited = resumeAt - creditAt;
      const heap1 = await settledHeap();
      const events = got.filter((m) => m.t === "event");
      assert.equal(events.length, 64, "no more events than credits");
      const resume = got.find((m) => m.t === "resume");
      assert.equal(resume?.from, events.at(-1)?.event?.offset, "resume from the last offset sent");
      assert.ok(waited >= stallMs - 50, `resume came after stallMs (${waited} ms)`);
      await eventually(() => closed && raw.session.subscriptionCount === 0, 3000, "sub to end");
      const growth = heap1 - heap0;
      // 5,000 events of 2 KB are 10 MB; main may hold one 64-event batch (~130 KB).
      assert.ok(growth < 3 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(2)} MiB`);
      assert.equal(raw.session.isClosed, false, "the window itself stays connected");
    } finally {
      raw.close();
    }
  });

  it("a stalled page (worker thread, never iterates) leaves main's memory bounded", async () => {
    const page = startPage("stall", { stallMs: 200 });
    try {
      await page.until("subscribed");
      const heap0 = await settledHeap();
      const stream = h.db.stream("feed");
      const pad = "q".repeat(2000);
      h.db.transaction(() => {
        for (let n = 0; n < 5000; n++) stream.publish({ n, pad });
      });
      // Main lets go of the subscription after stallMs without credit: measure after that.
      await eventually(() => page.session.subscriptionCount === 0, 5000, "the stalled sub to end");
      const heap1 = await settledHeap();
      assert.ok(page.session.pushed.sent <= 64, `main sent ${page.session.pushed.sent} events`);
      const growth = heap1 - heap0;
      assert.ok(growth < 3 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(2)} MiB`);
    } finally {
      await page.worker.terminate();
    }
  });

  it("closing a session abandons its pending waitResult calls", {}, async () => {
    const raw = rawPage(h.db, grants);
    const base = watcherListeners(h.db);
    const id = h.db.queue("jobs").enqueue({ n: 1 });
    const pending = raw.call("waitResult", "jobs", id, 300_000);
    void pending.catch(() => {});
    await eventually(() => watcherListeners(h.db) > base, 2000, "the wait to start");
    raw.close();
    // Closing aborts the session's waits synchronously: nothing to wait for.
    const left = watcherListeners(h.db) - base;
    // Let the test end anyway: a result wakes and ends a leftover wait.
    h.db.queue("jobs").saveResult(id, 1);
    assert.equal(left, 0, `${left} wait(s) still registered after the session closed`);
  });

  it("a page that never reads buffers no more than its credits", {}, async () => {
    const { port1, port2 } = new MessageChannel();
    const session = serveNodePort(h.db, port1, grants, { stallMs: 50 });
    const honker = await connect<Schema>({ port: port2 as unknown as PortLike });
    const feed = honker.stream("feed").subscribe();
    await feed.ready;
    const stream = h.db.stream("feed");
    h.db.transaction(() => {
      for (let n = 0; n < 1000; n++) stream.publish({ n });
    });
    // After stallMs without credit main ends the subscription: it sends nothing more after that.
    await eventually(() => session.subscriptionCount === 0, 5000, "the stalled sub to end");
    const sent = session.pushed.sent;
    const buffered = (feed as unknown as { buffer: unknown[] }).buffer.length;
    await honker.close();
    await eventually(() => session.isClosed, 3000, "session close");
    assert.ok(sent <= 64, `main sent ${sent} events for 64 credits`);
    assert.ok(buffered <= 64, `the page buffered ${buffered} events it never asked for`);
  });
});
