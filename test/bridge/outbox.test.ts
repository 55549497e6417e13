/**
 * Outboxes through the bridge: a page (the real client, over a real
 * MessageChannel) reads the status of the outbox main has open, hears it
 * change, steers it when granted, and reports its online state as hints.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, it } from "node:test";
import { MessageChannel } from "node:worker_threads";
import type { Grants, ServeOptions } from "../../src/main/bridge/grants.ts";
import { serveNodePort } from "../../src/main/bridge/node.ts";
import type { BridgeSession } from "../../src/main/bridge/session.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { electronConnectivity } from "../../src/main/outbox/electron.ts";
import {
  type DeliveryOutcome,
  type OutboxMessage,
  type Transport,
  TransportError,
} from "../../src/main/outbox/transport.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import type { WireOutboxStatus } from "../../src/protocol/index.ts";
import { type ConnectivitySource, connect, type PortLike } from "../../src/renderer-api/client.ts";
import type { HonkerClient } from "../../src/renderer-api/types.ts";
import { codeOf, rawPage, watcherListeners } from "../helpers/bridge-raw.ts";
import { freshHost, type Host } from "../helpers/host.ts";
import { nextEvent, waitFor } from "../helpers/wait.ts";

type Client = HonkerClient<AnySchema>;

const grants: Grants = {
  outboxes: { sync: { status: true, control: true }, audit: { status: true } },
  queues: { jobs: { enqueue: true } },
};
const FAST: ServeOptions = { requestsPerSecond: 1_000_000 };

let h: Host<AnySchema>;
const cleanups: (() => unknown)[] = [];
beforeEach(() => {
  h = freshHost({ retention: false });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await h.close();
});

/** Serves `g` over a fresh channel and connects the page client to it. */
async function page(
  g: Grants = grants,
  options: ServeOptions = FAST,
  connectivity: ConnectivitySource | false = false,
): Promise<{ client: Client; session: BridgeSession }> {
  const { port1, port2 } = new MessageChannel();
  const session = serveNodePort(h.db, port1, g, options);
  const client = (await connect({
    port: port2 as unknown as PortLike,
    connectivity,
  })) as unknown as Client;
  cleanups.push(async () => {
    await client.close();
    session.close();
    port1.close();
  });
  return { client, session };
}

type Answer = (batch: readonly OutboxMessage[]) => DeliveryOutcome[] | Promise<DeliveryOutcome[]>;

interface Controlled {
  transport: Transport;
  batches: OutboxMessage[][];
  answer: Answer | null;
}

/** A transport the test answers with `answer` (default: every message delivered). */
function controlledTransport(): Controlled {
  const t: Controlled = {
    batches: [],
    answer: null,
    transport: (async (batch: readonly OutboxMessage[]) => {
      t.batches.push([...batch]);
      const a = t.answer;
      if (!a) return batch.map((): DeliveryOutcome => ({ status: "delivered" }));
      return a(batch);
    }) as Transport,
  };
  return t;
}

/** The next status the page hears that passes `match`. */
function statusWhere(
  client: Client,
  name: string,
  match: (s: WireOutboxStatus) => boolean,
  what: string,
): Promise<WireOutboxStatus> {
  return nextEvent<WireOutboxStatus>((fn) => client.outbox(name).watchStatus(fn), {
    match,
    timeoutMs: 5000,
    what,
  });
}

/** The page client's errors are its own HonkerError class: compare codes. */
const hasCode = (e: unknown, code: string): boolean => (e as { code?: unknown })?.code === code;

const deadCount = () =>
  h.db.raw.prepare("SELECT count(*) FROM _honker_x_outbox_dead").pluck().get() as number;

describe("outboxes in renderer windows", () => {
  it("reports outbox grants in the capabilities and refuses what was not granted with HONKER_FORBIDDEN", async () => {
    h.db.outbox("sync");
    h.db.outbox("audit");
    h.db.outbox("secret");
    const { client } = await page();
    assert.deepEqual(client.capabilities.outboxes, {
      sync: { status: true, control: true },
      audit: { status: true, control: false },
    });
    assert.equal(client.capabilities.connectivity, false);
    const codes: string[] = [];
    const loose = client as unknown as {
      outbox(n: string): Record<string, (...a: unknown[]) => Promise<unknown>>;
    };
    for (const [name, op] of [
      ["secret", "status"],
      ["secret", "pause"],
      ["audit", "pause"],
      ["audit", "resume"],
      ["audit", "flush"],
      ["audit", "dead"],
      ["audit", "redrive"],
    ] as const) {
      try {
        await loose.outbox(name)[op]?.();
        codes.push("ok");
      } catch (err) {
        codes.push((err as { code: string }).code);
      }
    }
    assert.deepEqual(codes, Array(7).fill("HONKER_FORBIDDEN"));
    assert.equal(h.db.outbox("audit").status().paused, false, "a refused pause changed nothing");
    // A live subscription of an ungranted outbox is refused too.
    const err = await new Promise<unknown>((resolve) => {
      loose.outbox("secret").watchStatus?.(() => resolve("pushed"), { onError: resolve });
    });
    assert.ok(hasCode(err, "HONKER_FORBIDDEN"), String(err));
  });

  it("checks every argument from the page (raw wire calls) and writes nothing when refusing", async () => {
    const ob = h.db.outbox("sync", {
      transport: async (b) => b.map(() => ({ status: "rejected", reason: "no" })),
    });
    ob.add({ a: 1 });
    await waitFor(() => deadCount() === 1, { what: "a dead message" });
    const p = rawPage(h.db, grants, FAST);
    cleanups.push(() => p.close());
    const got: string[] = [];
    for (const [method, ...args] of [
      ["outboxStatus", 1],
      ["outboxStatus", ""],
      ["outboxPause", null],
      ["outboxRedrive", "sync", "all"],
      ["outboxRedrive", "sync", [0]],
      ["outboxRedrive", "sync", [1.5]],
      ["outboxRedrive", "sync", Array(1001).fill(1)],
      ["outboxDead", "sync", -1],
      ["outboxDead", "sync", "10"],
      ["subscribe", { kind: "outbox", name: 7 }],
      ["online", true], // connectivity not granted
    ] as [string, ...unknown[]][]) {
      got.push(codeOf(await p.call(method, ...args)));
    }
    assert.deepEqual(got, [...Array(10).fill("HONKER_INVALID_ARGUMENT"), "HONKER_FORBIDDEN"]);
    assert.equal(deadCount(), 1, "no refused redrive moved the dead message");
  });

  it("reads the status of the outbox open in main, JSON-safe, and from the file when none is open", async () => {
    const { client } = await page();
    // Nothing open in main: the counts come from the file, online is unknown.
    h.db.raw.prepare("SELECT honker_x_outbox_add('sync', '{\"a\":1}', NULL, 20)").get();
    const fromFile = await client.outbox("sync").status();
    assert.equal(typeof fromFile.nextAttemptAt, "number");
    assert.deepEqual(fromFile, {
      pending: 1,
      inFlight: 0,
      dead: 0,
      delivered: 0,
      online: null,
      paused: false,
      lastError: null,
      lastDeliveredAt: null,
      nextAttemptAt: fromFile.nextAttemptAt,
    });
    // Control needs the outbox open in main.
    await assert.rejects(client.outbox("sync").pause(), (e) => hasCode(e, "HONKER_NOT_FOUND"));
    // Opened in main without a transport (it only adds): nobody relays, so
    // online stays unknown; the stored pause shows, and no next attempt.
    const ob = h.db.outbox("sync");
    ob.pause();
    assert.deepEqual(await client.outbox("sync").status(), {
      ...ob.status(),
      online: null,
      lastError: null,
    });
    assert.equal((await client.outbox("sync").status()).paused, true);
    assert.equal((await client.outbox("sync").status()).nextAttemptAt, null);
    assert.throws(
      () => h.db.openedOutbox(5 as never),
      (e: unknown) => isHonkerError(e, "HONKER_INVALID_ARGUMENT") && /openedOutbox/.test(String(e)),
    );
    // The pause is stored in the file: read from there once main closes it.
    await ob.stop();
    assert.equal((await client.outbox("sync").status()).paused, true);
    assert.equal(h.db.openedOutbox("sync"), undefined);
    h.db.raw.prepare("SELECT honker_x_outbox_resume('sync')").get();
    // The bridge never opened one itself: the app's own options still win.
    const { transport, batches } = controlledTransport();
    h.db.outbox("sync", { transport });
    await waitFor(() => batches.length === 1, { what: "the app's transport got the message" });
  });

  it("pushes the status to the page on every change: add, delivery, pause (not on a timer)", async () => {
    const t = controlledTransport();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    t.answer = (batch) => gate.then(() => batch.map(() => ({ status: "delivered" as const })));
    const ob = h.db.outbox("sync", { transport: t.transport });
    const { client, session } = await page();
    const seen: WireOutboxStatus[] = [];
    const stop = client.outbox("sync").watchStatus((s) => seen.push(s));
    await waitFor(() => seen.length === 1, { what: "the first status" });
    assert.equal(seen[0]?.pending, 0);
    assert.equal(seen[0]?.online, true);
    ob.add({ n: 1 });
    await waitFor(() => seen.some((s) => s.inFlight === 1), { what: "in flight pushed" });
    release();
    await waitFor(() => seen.some((s) => s.delivered === 1 && s.inFlight === 0), {
      what: "delivery pushed",
    });
    ob.pause();
    await waitFor(() => seen.at(-1)?.paused === true, { what: "pause pushed" });
    // Nothing changes: nothing is sent.
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, count, "no push without a change");
    assert.equal(session.subscriptionCount, 1);
    stop();
    await waitFor(() => session.subscriptionCount === 0, { what: "the subscription freed" });
  });

  it("pauses, resumes, flushes, lists dead messages and redrives them from the page", async () => {
    const t = controlledTransport();
    t.answer = (batch) => batch.map(() => ({ status: "rejected", reason: "bad note" }));
    const ob = h.db.outbox("sync", { transport: t.transport });
    const { client } = await page();
    const sync = client.outbox("sync");
    ob.add({ note: 1 }, { key: "n1" });
    await waitFor(() => deadCount() === 1, { what: "the message died" });
    const dead = await sync.dead();
    assert.equal(dead.length, 1);
    assert.deepEqual(
      { key: dead[0]?.key, payload: dead[0]?.payload, error: dead[0]?.error },
      { key: "n1", payload: { note: 1 }, error: "bad note" },
    );
    assert.equal(await sync.pause(), true);
    assert.equal(await sync.pause(), false, "paused already");
    assert.equal(ob.status().paused, true);
    t.answer = null; // the server takes it now
    assert.equal(await sync.redrive([dead[0]?.id as number]), 1);
    assert.equal(ob.status().pending, 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(t.batches.length, 1, "paused: nothing sent");
    assert.equal(await sync.resume(), true);
    await waitFor(() => ob.status().delivered === 1, { what: "delivered after resume" });
    assert.equal(await sync.flush(), 0);
    assert.equal(await sync.redrive(), 0, "nothing dead any more");
  });

  it("counts outbox subscriptions against the window's cap and frees main's listeners when the page goes", async () => {
    // A status listener makes a transport-less outbox follow commits for the rest of its life.
    h.db.outbox("sync").onStatus(() => {})();
    const before = watcherListeners(h.db);
    const { client, session } = await page(grants, { ...FAST, maxSubscriptions: 2 });
    const errors: unknown[] = [];
    client.outbox("sync").watchStatus(() => {});
    client.outbox("audit").watchStatus(() => {});
    client.outbox("sync").watchStatus(() => {}, { onError: (e) => errors.push(e) });
    await waitFor(() => errors.length === 1, { what: "the third subscription refused" });
    assert.ok(hasCode(errors[0], "HONKER_RATE_LIMITED"), String(errors[0]));
    assert.equal(session.subscriptionCount, 2);
    assert.ok(watcherListeners(h.db) > before);
    await client.close();
    await waitFor(() => session.subscriptionCount === 0, { what: "subscriptions freed" });
    assert.equal(watcherListeners(h.db), before, "no watcher listener left behind");
  });
});

describe("online/offline hints from pages", () => {
  /** A stand-in window: navigator.onLine and online/offline events. */
  function fakeWindow(onLine: boolean) {
    const target = new EventTarget();
    return Object.assign(target, { onLine }) as EventTarget &
      ConnectivitySource & { onLine: boolean };
  }

  it("refuses grants.connectivity without a receiver in the serve options", () => {
    const { port1 } = new MessageChannel();
    cleanups.push(() => port1.close());
    assert.throws(
      () => serveNodePort(h.db, port1, { connectivity: true }),
      (e: unknown) =>
        isHonkerError(e, "HONKER_INVALID_ARGUMENT") && /options.connectivity/.test(String(e)),
    );
    assert.throws(
      () => serveNodePort(h.db, port1, {}, { connectivity: {} as never }),
      (e: unknown) => isHonkerError(e, "HONKER_INVALID_ARGUMENT"),
    );
  });

  it("forwards navigator.onLine at connect and on every online/offline event, until closed", async () => {
    const hints: boolean[] = [];
    const win = fakeWindow(false);
    const { client } = await page(
      { connectivity: true },
      { ...FAST, connectivity: { hint: (on) => hints.push(on) } },
      win,
    );
    assert.equal(client.capabilities.connectivity, true);
    await waitFor(() => hints.length === 1, { what: "the initial report" });
    win.onLine = true;
    win.dispatchEvent(new Event("online"));
    await waitFor(() => hints.length === 2, { what: "the online report" });
    win.onLine = false;
    win.dispatchEvent(new Event("offline"));
    await waitFor(() => hints.length === 3, { what: "the offline report" });
    assert.deepEqual(hints, [false, true, false]);
    await client.close();
    win.dispatchEvent(new Event("online"));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(hints, [false, true, false], "no report after close");
  });

  it("an 'online' hint makes electronConnectivity check net at once, and the outbox delivers", async () => {
    let netOnline = false;
    const powerMonitor = new EventEmitter();
    const connectivity = electronConnectivity({
      net: { isOnline: () => netOnline },
      powerMonitor,
      pollMs: 3_600_000, // an hour: only the hint can notice in time
    });
    const t = controlledTransport();
    const ob = h.db.outbox("sync", { transport: t.transport, connectivity });
    ob.add({ n: 1 });
    const win = fakeWindow(true);
    const { client } = await page(
      { connectivity: true, outboxes: { sync: { status: true } } },
      { ...FAST, connectivity },
      win,
    );
    // The page says online, net says not: a hint does not override net.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ob.status().online, false);
    assert.equal(t.batches.length, 0);
    netOnline = true;
    win.dispatchEvent(new Event("online"));
    const s = await statusWhere(client, "sync", (x) => x.delivered === 1, "delivered");
    assert.equal(s.online, true);
  });

  it("an 'online' hint retries an outbox that went offline on a network error while net stayed online", async () => {
    const connectivity = electronConnectivity({
      net: { isOnline: () => true },
      pollMs: 3_600_000,
    });
    const t = controlledTransport();
    t.answer = () => Promise.reject(new TransportError("ECONNREFUSED", { offline: true }));
    const ob = h.db.outbox("sync", { transport: t.transport, connectivity });
    ob.add({ n: 1 });
    await waitFor(() => ob.status().online === false, { what: "offline after the network error" });
    t.answer = null;
    const win = fakeWindow(false);
    await page({ connectivity: true }, { ...FAST, connectivity }, win);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ob.status().delivered, 0, "an 'offline' report changes nothing");
    win.onLine = true;
    win.dispatchEvent(new Event("online"));
    await waitFor(() => ob.status().delivered === 1, { what: "delivered after the hint" });
    assert.equal(ob.status().online, true);
  });
});
