/**
 * What one window may make main hold is bounded whatever the page sends:
 * credits (per subscription and per window), bytes in flight (released only
 * by receipt tokens the page was actually sent), pending waitResult calls,
 * other pending calls. And a well-behaved page still gets everything, even
 * with a budget far smaller than its credits.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { MessageChannel } from "node:worker_threads";
import { MAX_CREDITS_PER_SUBSCRIPTION, WindowBudget } from "../../src/main/bridge/budget.ts";
import type { SubPort } from "../../src/main/bridge/endpoint.ts";
import type { Grants } from "../../src/main/bridge/grants.ts";
import { serveNodePort } from "../../src/main/bridge/node.ts";
import { IteratorPusher } from "../../src/main/bridge/subscription.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import type { SubscriptionMessage } from "../../src/protocol/index.ts";
import { connect, type PortLike } from "../../src/renderer-api/index.ts";
import { codeOf, eventually, rawPage } from "../helpers/bridge-raw.ts";
import { freshHost, type Host } from "../helpers/host.ts";

type Sent = SubscriptionMessage & { k?: number };

/** A subscription port whose control messages are delivered synchronously. */
function fakePort() {
  let handler: (data: unknown) => void = () => {};
  const sent: Sent[] = [];
  const port: SubPort = {
    send: (m) => sent.push(m as Sent),
    onMessage: (fn) => {
      handler = fn;
    },
    onClose: () => {},
    close: () => {},
  };
  return { port, sent, control: (c: unknown) => handler(c) };
}

/** An endless source of `size`-byte events, as a stream subscription yields them. */
function source(size: number) {
  let offset = 0;
  const pad = "x".repeat(size);
  return {
    next: async () => ({ value: { offset: ++offset, payload: { pad } }, done: false }),
    return: async () => ({ value: undefined, done: true }),
  } as unknown as ConstructorParameters<typeof IteratorPusher>[3];
}

function pusher(budget: WindowBudget, size = 1000) {
  const p = fakePort();
  const closed: number[] = [];
  const pu = new IteratorPusher(p.port, () => closed.push(1), budget, source(size), {
    startOffset: 0,
    stallMs: 60_000,
    saveOffset: null,
    resumable: true,
  });
  const events = () => p.sent.filter((m) => m.t === "event");
  return { ...p, pusher: pu, events, closed };
}

/** Lets the pushers' async pumps run to where they stop. */
const drain = () => new Promise((r) => setImmediate(r));

describe("a window's budget, message by message", () => {
  it("caps credits per subscription and per window, whatever is granted", async () => {
    const budget = new WindowBudget({ maxSubscriptions: 5, maxInFlightBytes: 1 << 30 });
    const a = pusher(budget, 10);
    const b = pusher(budget, 10);
    a.control({ t: "credit", n: 2 ** 31 });
    assert.equal(budget.credits, MAX_CREDITS_PER_SUBSCRIPTION);
    a.control({ t: "credit", n: 2 ** 31 });
    assert.equal(budget.credits, MAX_CREDITS_PER_SUBSCRIPTION, "granting again adds nothing");
    // The window holds at most maxSubscriptions x 64 credits in all.
    b.control({ t: "credit", n: 2 ** 31 });
    assert.equal(budget.credits, 5 * 64, "b gets what is left of the window's credits");
    await drain();
    assert.ok(a.events().length <= MAX_CREDITS_PER_SUBSCRIPTION);
    assert.equal(budget.stats.peakCredits, 5 * 64);
    a.pusher.close();
    b.pusher.close();
    assert.equal(budget.credits, 0, "closed subscriptions give their credits back");
  });

  it("stops at maxInFlightBytes, asks for an ack, ignores forged tokens and resumes on a real one", async () => {
    const budget = new WindowBudget({ maxInFlightBytes: 10_000 });
    const a = pusher(budget, 1000);
    a.control({ t: "credit", n: 200 });
    await drain();
    const sentBefore = a.events().length;
    assert.ok(sentBefore > 0 && sentBefore < 10, `sent ${sentBefore} events of ~1 KB`);
    assert.ok(budget.inFlightBytes <= 10_000, `in flight ${budget.inFlightBytes}`);
    assert.equal(budget.stats.peakInFlightBytes, budget.inFlightBytes);
    assert.ok(
      a.sent.some((m) => m.t === "ack-request"),
      "the page is asked to acknowledge",
    );
    // Guessed tokens release nothing, and credits alone release nothing.
    for (const seen of [0, 1, 2 ** 53 - 1, 123_456_789, -1, 1.5]) {
      a.control({ t: "credit", n: 1, seen });
    }
    a.control({ t: "credit", n: 50 });
    await drain();
    assert.equal(a.events().length, sentBefore, "nothing more was sent");
    const held = budget.inFlightBytes;
    // The token of the third event releases the first three.
    const third = a.events()[2];
    assert.equal(typeof third?.k, "number");
    a.control({ t: "credit", n: 1, seen: third?.k });
    await drain();
    assert.equal(a.events().length, sentBefore + 3, "three released, three more sent");
    assert.ok(budget.inFlightBytes <= 10_000);
    assert.ok(budget.inFlightBytes >= held - 100, "the same amount is in flight again");
    // A token already acknowledged is spent.
    a.control({ t: "credit", n: 1, seen: third?.k });
    await drain();
    assert.equal(a.events().length, sentBefore + 3);
    const tokens = new Set(a.events().map((m) => m.k));
    assert.equal(tokens.size, a.events().length, "every message has its own token");
    a.pusher.close();
    assert.equal(budget.inFlightBytes, 0, "a closed subscription's bytes go back to the window");
  });

  it("shares the bytes between a window's subscriptions and lets a blocked one go when another is acknowledged", async () => {
    const budget = new WindowBudget({ maxInFlightBytes: 5_000 });
    const a = pusher(budget, 1000);
    const b = pusher(budget, 1000);
    a.control({ t: "credit", n: 100 });
    await drain();
    b.control({ t: "credit", n: 100 });
    await drain();
    assert.equal(b.events().length, 0, "a holds the whole budget");
    const last = a.events().at(-1);
    a.control({ t: "credit", n: 1, seen: last?.k });
    await drain();
    assert.ok(b.events().length > 0, "b sent once a's bytes came back");
    assert.ok(budget.inFlightBytes <= 5_000);
    a.pusher.close();
    b.pusher.close();
  });
});

const grants: Grants = {
  queues: { jobs: { enqueue: true, read: true } },
  streams: { feed: { subscribe: true, publish: true } },
};

let h: Host<AnySchema>;
beforeEach(() => {
  h = freshHost({ retention: false });
});
afterEach(() => h.close());

describe("a window's pending calls", () => {
  it("refuses waitResult beyond maxPendingWaits with HONKER_RATE_LIMITED, and takes more as waits end", async () => {
    const p = rawPage(h.db, grants, { requestsPerSecond: 1e6, maxPendingWaits: 5 });
    try {
      const q = h.db.queue("jobs");
      const ids = Array.from({ length: 6 }, (_, i) => q.enqueue({ i }));
      const waits = ids.slice(0, 5).map((id) => p.call("waitResult", "jobs", id, 60_000));
      await eventually(() => p.session.budget.pendingWaits === 5, 3000, "five waits");
      assert.equal(
        codeOf(await p.call("waitResult", "jobs", ids[5], 60_000)),
        "HONKER_RATE_LIMITED",
      );
      assert.equal(codeOf(await p.call("hello")), "ok", "other calls still go through");
      q.saveResult(ids[0] as number, "r0");
      assert.deepEqual(await waits[0], { ok: true, value: "r0" });
      const sixth = p.call("waitResult", "jobs", ids[5], 60_000);
      await eventually(() => p.session.budget.pendingWaits === 5, 3000, "a slot reused");
      h.db.transaction(() => {
        for (const id of ids.slice(1)) q.saveResult(id, id);
      });
      assert.deepEqual((await Promise.all([...waits.slice(1), sixth])).map(codeOf), [
        "ok",
        "ok",
        "ok",
        "ok",
        "ok",
      ]);
      assert.equal(p.session.budget.pendingWaits, 0);
    } finally {
      p.close();
    }
  });

  it("refuses other calls beyond maxPendingCalls (a slow validator) with HONKER_RATE_LIMITED", async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const slow: Grants = {
      queues: {
        jobs: {
          enqueue: true,
          validate: {
            "~standard": {
              version: 1,
              vendor: "test",
              validate: async (value: unknown) => {
                await gate;
                return { value };
              },
            },
          },
        },
      },
    };
    const p = rawPage(h.db, slow, { requestsPerSecond: 1e6, maxPendingCalls: 3 });
    try {
      const held = [1, 2, 3].map((i) => p.call("enqueue", "jobs", { i }));
      await eventually(() => p.session.budget.pendingCalls === 3, 3000, "three calls pending");
      assert.equal(codeOf(await p.call("enqueue", "jobs", { i: 4 })), "HONKER_RATE_LIMITED");
      open();
      assert.deepEqual((await Promise.all(held)).map(codeOf), ["ok", "ok", "ok"]);
      assert.equal(codeOf(await p.call("enqueue", "jobs", { i: 5 })), "ok");
    } finally {
      p.close();
    }
  });
});

describe("a window's call ids and closing", () => {
  it("refuses a call id that is still pending, and answers the original", async () => {
    const p = rawPage(h.db, grants, { requestsPerSecond: 1e6 });
    try {
      const id = h.db.queue("jobs").enqueue({ n: 1 });
      const msg = {
        id: "same-id",
        type: "APPLY",
        path: ["waitResult"],
        argumentList: [
          { type: "RAW", value: "jobs" },
          { type: "RAW", value: id },
          { type: "RAW", value: 60_000 },
        ],
      };
      const replies: unknown[] = [];
      p.port.addEventListener("message", (ev) => {
        const d = (ev as MessageEvent).data as { id?: string; value?: unknown };
        if (d?.id === "same-id") replies.push(d.value);
      });
      p.post(msg);
      await eventually(() => p.session.budget.pendingWaits === 1, 3000, "the first wait");
      p.post(msg);
      // The first reply under that id is the refusal of the second call.
      await eventually(() => replies.length === 1, 3000, "the refusal");
      assert.equal(codeOf(replies[0] as never), "HONKER_FORBIDDEN");
      assert.equal(p.session.budget.pendingWaits, 1);
      h.db.queue("jobs").saveResult(id, "done");
      await eventually(() => replies.length === 2, 3000, "the first call's answer");
      assert.deepEqual(replies[1], { ok: true, value: "done" });
      assert.equal(p.session.budget.pendingWaits, 0);
    } finally {
      p.close();
    }
  });

  it("gives a closed session's pending calls back to the window at once", async () => {
    const p = rawPage(h.db, grants, { requestsPerSecond: 1e6, maxPendingWaits: 3 });
    const id = h.db.queue("jobs").enqueue({ n: 1 });
    for (let i = 0; i < 3; i++) void p.call("waitResult", "jobs", id, 60_000).catch(() => {});
    await eventually(() => p.session.budget.pendingWaits === 3, 3000, "three waits");
    p.close();
    assert.equal(p.session.budget.pendingWaits, 0);
    assert.equal(p.session.budget.pendingCalls, 0);
  });
});

describe("a well-behaved page under a small budget", () => {
  it("gets every event of three subscriptions, in order, with 4 KiB in flight for 64 credits each", async () => {
    type Schema = {
      queues: Record<string, never>;
      streams: { feed: { n: number; pad: string } };
      channels: Record<string, never>;
    };
    const { port1, port2 } = new MessageChannel();
    const session = serveNodePort(h.db, port1, grants, { maxInFlightBytes: 4096 });
    const honker = await connect<Schema>({ port: port2 as unknown as PortLike });
    try {
      const subs = [0, 1, 2].map(() => honker.stream("feed").subscribe({ from: "beginning" }));
      await Promise.all(subs.map((s) => s.ready));
      const stream = h.db.stream("feed");
      const pad = "p".repeat(250);
      h.db.transaction(() => {
        for (let n = 0; n < 300; n++) stream.publish({ n, pad });
      });
      const seen = await Promise.all(
        subs.map(async (s) => {
          const got: number[] = [];
          for await (const e of s) {
            got.push(e.payload.n);
            if (got.length === 300) break;
          }
          return got;
        }),
      );
      const all = Array.from({ length: 300 }, (_, i) => i);
      for (const got of seen) assert.deepEqual(got, all);
      assert.ok(
        session.budget.stats.peakInFlightBytes <= 4096,
        `peak in flight ${session.budget.stats.peakInFlightBytes}`,
      );
      assert.ok(session.budget.stats.blocked > 0, "the budget, not the credits, was the limit");
    } finally {
      await honker.close();
    }
  });
});
