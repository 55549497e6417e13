/**
 * A hostile renderer: raw Comlink wire messages on the window port, no
 * client library. Whatever it sends, main must stay up, answer with the
 * right code, write nothing it should not, and keep Object.prototype clean.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { MessageChannel } from "node:worker_threads";
import type { Grants, ServeOptions } from "../../src/main/bridge/grants.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import {
  codeOf,
  eventually,
  nextId,
  prototypeSnapshot,
  type RawPage,
  rawPage,
  sleep,
  tableCounts,
} from "../helpers/bridge-raw.ts";
import { freshHost, type Host } from "../helpers/host.ts";

const grants: Grants = {
  queues: {
    jobs: { enqueue: true, read: true, stats: true, cancel: true },
    ro: { read: true, stats: true },
  },
  streams: {
    feed: { publish: true, subscribe: true },
    latest: { subscribe: { from: "latest" } },
    readonly: { subscribe: true },
  },
  channels: { pings: { listen: true }, shout: { notify: true, listen: true } },
};

const FAST: ServeOptions = { requestsPerSecond: 1_000_000 };

let h: Host<AnySchema>;
let page: RawPage | null = null;
let protoBefore = "";

function serve(options: ServeOptions = FAST): RawPage {
  page = rawPage(h.db, grants, options);
  return page;
}

beforeEach(() => {
  h = freshHost({ retention: false });
  protoBefore = prototypeSnapshot();
});

afterEach(async () => {
  page?.close();
  page = null;
  await h.close();
});

/** Calls every case and returns the codes, in order. */
async function codes(p: RawPage, cases: [string, ...unknown[]][]): Promise<string[]> {
  const out: string[] = [];
  for (const [method, ...args] of cases) out.push(codeOf(await p.call(method, ...args)));
  return out;
}

/** A well-behaved call afterwards must still work, and the host must be intact. */
async function assertHealthy(p: RawPage): Promise<void> {
  assert.equal(p.session.isClosed, false, "the session is still open");
  assert.equal(h.db.open, true, "the database is still open");
  const hello = await p.call<{ protocol: number }>("hello");
  assert.equal(codeOf(hello), "ok");
  const before = tableCounts(h.db)._honker_live ?? 0;
  const id = await p.call<number>("enqueue", "jobs", { ok: true });
  assert.equal(codeOf(id), "ok", JSON.stringify(id));
  assert.equal(tableCounts(h.db)._honker_live, before + 1);
  assert.equal(prototypeSnapshot(), protoBefore, "Object.prototype and friends are unchanged");
  assert.equal(({} as Record<string, unknown>).x, undefined);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}

function assertEveryCode(got: string[], code: string, cases: unknown[]): void {
  got.forEach((c, i) => {
    assert.equal(c, code, `case ${i}: ${safeJson(cases[i])} answered ${c}`);
  });
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))?.slice(0, 160) ?? "";
  } catch {
    return String(v);
  }
}

const badNames: unknown[] = [
  undefined,
  null,
  1,
  true,
  {},
  [],
  ["jobs"],
  "",
  "x".repeat(257),
  { toString: "jobs" },
  10n,
];

describe("a hostile page speaking raw wire messages", () => {
  it("answers wrong argument types for every method with HONKER_INVALID_ARGUMENT and writes nothing", async () => {
    const p = serve();
    const before = tableCounts(h.db);
    const cases: [string, ...unknown[]][] = [];
    const namedMethods: [string, (name: unknown) => unknown[]][] = [
      ["enqueue", (n) => [n, { a: 1 }]],
      ["enqueueMany", (n) => [n, [{ a: 1 }]]],
      ["job", (n) => [n, 1]],
      ["stats", (n) => [n]],
      ["cancel", (n) => [n, 1]],
      ["waitResult", (n) => [n, 1, 10]],
      ["publish", (n) => [n, { a: 1 }]],
      ["notify", (n) => [n, { a: 1 }]],
    ];
    for (const [method, args] of namedMethods) {
      for (const n of badNames) cases.push([method, ...args(n)]);
    }
    const badPayloads: unknown[] = [
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      1n,
      [undefined],
    ];
    for (const pl of badPayloads) {
      cases.push(["enqueue", "jobs", pl]);
      cases.push(["enqueueMany", "jobs", [pl]]);
      cases.push(["publish", "feed", pl]);
      cases.push(["notify", "shout", pl]);
    }
    const badOptions: unknown[] = [
      "soon",
      7,
      true,
      [],
      { delay: -1 },
      { delay: 1.5 },
      { delay: "5" },
      { delay: 1e12 },
      { runAt: -5 },
      { priority: 1e9 },
      { priority: Number.NaN },
      { maxAttempts: 0 },
      { maxAttempts: 1001 },
      { expires: -1 },
      { key: 5 },
      { key: "" },
      { key: "k".repeat(513) },
      { key: ["k"] },
    ];
    for (const o of badOptions) {
      cases.push(["enqueue", "jobs", { a: 1 }, o]);
      cases.push(["enqueueMany", "jobs", [{ a: 1 }], o]);
    }
    for (const batch of [{ 0: 1 }, "abc", 5, null, new Array(1001).fill(1)]) {
      cases.push(["enqueueMany", "jobs", batch]);
    }
    const badIds: unknown[] = [
      undefined,
      null,
      0,
      -1,
      1.5,
      "1",
      Number.NaN,
      2 ** 53,
      [1],
      { id: 1 },
      1n,
    ];
    for (const id of badIds) {
      cases.push(["job", "jobs", id]);
      cases.push(["cancel", "jobs", id]);
      cases.push(["waitResult", "jobs", id, 10]);
    }
    for (const t of [-1, 1.5, "10", 5 * 60_000 + 1, [], Number.POSITIVE_INFINITY]) {
      cases.push(["waitResult", "jobs", 1, t]);
    }
    for (const key of [5, {}, ["k"], "k".repeat(513), true]) {
      cases.push(["publish", "feed", { a: 1 }, key]);
    }
    const badSpecs: unknown[] = [
      undefined,
      null,
      "stream",
      5,
      [],
      [{ kind: "stream", name: "feed" }],
      {},
      { kind: "nope", name: "feed" },
      { kind: "Stream", name: "feed" },
      { kind: "stream" },
      { kind: "stream", name: 5 },
      { kind: "stream", name: "" },
      { kind: "stream", name: "feed", from: -1 },
      { kind: "stream", name: "feed", from: 1.5 },
      { kind: "stream", name: "feed", from: "middle" },
      { kind: "stream", name: "feed", from: {} },
      { kind: "stream", name: "feed", from: Number.NaN },
      { kind: "stream", name: "feed", from: 2 ** 60 },
      { kind: "stream", name: "feed", consumer: 5 },
      { kind: "stream", name: "feed", consumer: "" },
      { kind: "stream", name: "feed", consumer: "c".repeat(257) },
      { kind: "channel" },
      { kind: "channel", name: null },
      { kind: "job", queue: "jobs" },
      { kind: "job", queue: "jobs", id: "1" },
      { kind: "job", queue: "jobs", id: 0 },
      { kind: "job", queue: 7, id: 1 },
      { kind: "stats" },
      { kind: "stats", queue: ["jobs"] },
    ];
    for (const s of badSpecs) cases.push(["subscribe", s]);
    const got = await codes(p, cases);
    assertEveryCode(got, "HONKER_INVALID_ARGUMENT", cases);
    assert.equal(p.session.subscriptionCount, 0, "no subscription was left behind");
    assert.deepEqual(tableCounts(h.db), before, "nothing was written");
    // unsubscribe takes anything and answers false: there is nothing to find.
    for (const subId of [undefined, null, "1", 1, -1, 1.5, {}, 2 ** 53]) {
      assert.deepEqual(await p.call("unsubscribe", subId), { ok: true, value: false });
    }
    // Extra arguments to hello are ignored; four is the most the decoder takes.
    assert.equal(codeOf(await p.call("hello", 1, 2, 3, 4)), "ok");
    assert.equal(codeOf(await p.call("hello", 1, 2, 3, 4, 5)), "HONKER_FORBIDDEN");
    await assertHealthy(p);
  });

  it("refuses every name and action that was not granted with HONKER_FORBIDDEN", async () => {
    const p = serve();
    const before = tableCounts(h.db);
    const cases: [string, ...unknown[]][] = [
      ["enqueue", "secret", { a: 1 }],
      ["enqueue", "ro", { a: 1 }],
      ["enqueueMany", "ro", [{ a: 1 }]],
      ["cancel", "ro", 1],
      ["job", "secret", 1],
      ["stats", "secret"],
      ["waitResult", "secret", 1, 10],
      ["publish", "readonly", { a: 1 }],
      ["publish", "latest", { a: 1 }],
      ["publish", "secret", { a: 1 }],
      ["notify", "pings", { a: 1 }],
      ["notify", "secret", { a: 1 }],
      ["subscribe", { kind: "stream", name: "secret" }],
      ["subscribe", { kind: "stream", name: "latest", from: "beginning" }],
      ["subscribe", { kind: "stream", name: "latest", from: 0 }],
      ["subscribe", { kind: "channel", name: "secret" }],
      ["subscribe", { kind: "job", queue: "secret", id: 1 }],
      ["subscribe", { kind: "stats", queue: "secret" }],
      // Names that are properties of every object must not find a grant.
      ["enqueue", "__proto__", { a: 1 }],
      ["enqueue", "constructor", { a: 1 }],
      ["enqueue", "toString", { a: 1 }],
      ["enqueue", "hasOwnProperty", { a: 1 }],
      ["publish", "__proto__", { a: 1 }],
      ["notify", "constructor", { a: 1 }],
      ["subscribe", { kind: "channel", name: "__proto__" }],
      ["subscribe", { kind: "stats", queue: "valueOf" }],
    ];
    assertEveryCode(await codes(p, cases), "HONKER_FORBIDDEN", cases);
    assert.equal(p.session.subscriptionCount, 0);
    assert.deepEqual(tableCounts(h.db), before, "nothing was written");
    // A job a main-side producer made is still invisible through an ungranted queue.
    const id = h.db.queue("secret").enqueue({ hidden: true });
    assert.equal(codeOf(await p.call("job", "secret", id)), "HONKER_FORBIDDEN");
    assert.equal(codeOf(await p.call("cancel", "secret", id)), "HONKER_FORBIDDEN");
    assert.equal(h.db.queue("secret").getJob(id)?.state, "pending");
    await assertHealthy(p);
  });

  it("enforces maxPayloadBytes as configured, and 1 MiB by default", async () => {
    const small = serve({ ...FAST, maxPayloadBytes: 1024 });
    const before = tableCounts(h.db);
    const big = { s: "x".repeat(2000) };
    const cases: [string, ...unknown[]][] = [
      ["enqueue", "jobs", big],
      ["enqueueMany", "jobs", [big]],
      // Small items, large batch: the limit is on what one request carries.
      ["enqueueMany", "jobs", Array.from({ length: 100 }, () => ({ s: "y".repeat(20) }))],
      ["publish", "feed", big],
      ["notify", "shout", big],
      ["enqueue", "jobs", { s: "é".repeat(600) }], // 1,200 bytes of UTF-8 in 600 characters
    ];
    assertEveryCode(await codes(small, cases), "HONKER_INVALID_ARGUMENT", cases);
    assert.equal(codeOf(await small.call("enqueue", "jobs", { s: "x".repeat(900) })), "ok");
    const hello = await small.call<{ capabilities: { maxPayloadBytes: number } }>("hello");
    assert.equal(hello.ok && hello.value.capabilities.maxPayloadBytes, 1024);
    small.close();

    const p = serve();
    const mib = 1024 * 1024;
    const over = "z".repeat(mib + 16);
    const big2: [string, ...unknown[]][] = [
      ["enqueue", "jobs", over],
      ["publish", "feed", { over }],
      ["notify", "shout", [over]],
      ["enqueueMany", "jobs", ["a".repeat(mib / 2), "b".repeat(mib / 2)]],
    ];
    assertEveryCode(await codes(p, big2), "HONKER_INVALID_ARGUMENT", big2);
    // A 64 MiB string crosses the port (structured clone) and is refused, not stored.
    const huge = "h".repeat(64 * mib);
    assert.equal(codeOf(await p.call("enqueue", "jobs", huge)), "HONKER_INVALID_ARGUMENT");
    const counts = tableCounts(h.db);
    assert.equal(counts._honker_live, (before._honker_live ?? 0) + 1, "only the 900-byte job");
    assert.equal(counts._honker_stream, before._honker_stream);
    assert.equal(counts._honker_notifications, before._honker_notifications);
    await assertHealthy(p);
  });

  it("refuses unknown methods, GET/SET/CONSTRUCT/ENDPOINT and odd paths with HONKER_FORBIDDEN", async () => {
    const p = serve();
    const before = tableCounts(h.db);
    const arg = (value: unknown) => ({ type: "RAW", value });
    const messages: Record<string, unknown>[] = [
      { type: "APPLY", path: ["drop"], argumentList: [] },
      { type: "APPLY", path: ["sql"], argumentList: [arg("DELETE FROM _honker_live")] },
      { type: "APPLY", path: ["__proto__"], argumentList: [] },
      { type: "APPLY", path: ["constructor"], argumentList: [arg("return process")] },
      { type: "APPLY", path: ["toString"], argumentList: [] },
      { type: "APPLY", path: ["hasOwnProperty"], argumentList: [arg("enqueue")] },
      { type: "APPLY", path: ["valueOf"], argumentList: [] },
      { type: "APPLY", path: ["then"], argumentList: [] },
      { type: "APPLY", path: ["hello", "call"], argumentList: [] },
      { type: "APPLY", path: ["enqueue", "apply"], argumentList: [arg(null), arg(["jobs", {}])] },
      { type: "APPLY", path: ["enqueue", "bind"], argumentList: [] },
      { type: "APPLY", path: ["__proto__", "polluted"], argumentList: [] },
      { type: "APPLY", path: ["constructor", "prototype"], argumentList: [] },
      { type: "APPLY", path: [], argumentList: [] },
      { type: "APPLY", path: "enqueue", argumentList: [arg("jobs"), arg({})] },
      { type: "APPLY", path: [["enqueue"]], argumentList: [] },
      { type: "APPLY", path: [1], argumentList: [] },
      { type: "APPLY", path: null, argumentList: [] },
      { type: "APPLY", argumentList: [] },
      { type: "APPLY", path: ["Enqueue"], argumentList: [] },
      { type: "APPLY", path: ["enqueue "], argumentList: [] },
      { type: "APPLY", path: ["x".repeat(100_000)], argumentList: [] },
      { type: "APPLY", path: ["enqueue"], argumentList: { 0: arg("jobs"), length: 1 } },
      { type: "APPLY", path: ["enqueue"], argumentList: "jobs" },
      { type: "APPLY", path: ["enqueue"], argumentList: [arg(1), arg(2), arg(3), arg(4), arg(5)] },
      { type: "APPLY", path: ["enqueue"], argumentList: ["jobs", { a: 1 }] },
      { type: "APPLY", path: ["enqueue"], argumentList: [null, arg({})] },
      { type: "APPLY", path: ["enqueue"], argumentList: [{ type: "raw", value: "jobs" }] },
      { type: "GET", path: [] },
      { type: "GET", path: ["enqueue"] },
      { type: "GET", path: ["constructor", "prototype"] },
      { type: "SET", path: ["enqueue"], value: arg(null) },
      { type: "SET", path: ["__proto__", "polluted"], value: arg(true) },
      { type: "SET", path: ["constructor", "prototype", "polluted"], value: arg(true) },
      { type: "CONSTRUCT", path: ["enqueue"], argumentList: [] },
      { type: "CONSTRUCT", path: ["constructor"], argumentList: [] },
      { type: "ENDPOINT" },
      { type: "apply", path: ["hello"], argumentList: [] },
      { type: 0, path: ["hello"], argumentList: [] },
      { type: null, path: ["hello"] },
      { path: ["hello"], argumentList: [] },
    ];
    const got: string[] = [];
    for (const m of messages) {
      const r = await p.request({ ...m, id: nextId() });
      assert.equal(r.type, "RAW", "replies are plain values, never proxies");
      got.push(codeOf(r.value as never));
    }
    assertEveryCode(got, "HONKER_FORBIDDEN", messages);
    // ENDPOINT would normally transfer a fresh port to the caller; none may arrive.
    assert.equal(p.handoffs.size, 0);
    assert.equal(p.session.stats.refused, messages.length);
    assert.deepEqual(tableCounts(h.db), before);
    await assertHealthy(p);
  });

  it("ignores messages without a usable id and keeps answering", async () => {
    const p = serve();
    const before = tableCounts(h.db);
    const junk: unknown[] = [
      null,
      0,
      "APPLY",
      true,
      [],
      [{ id: "x", type: "APPLY", path: ["hello"] }],
      {},
      { type: "APPLY", path: ["enqueue"], argumentList: [{ type: "RAW", value: "jobs" }] },
      { id: 5, type: "APPLY", path: ["hello"], argumentList: [] },
      { id: "", type: "APPLY", path: ["hello"], argumentList: [] },
      { id: "i".repeat(129), type: "APPLY", path: ["hello"], argumentList: [] },
      { id: ["a"], type: "APPLY", path: ["hello"], argumentList: [] },
      { id: { toString: "a" }, type: "RELEASE" },
      new Map([["id", "m"]]),
      new Date(),
      new Uint8Array([1, 2, 3]),
      { honker: "subscription-port", subId: 1 },
      { t: "credit", n: 64 },
    ];
    for (const m of junk) p.post(m);
    const stray = p.stray.length;
    await assertHealthy(p);
    await sleep(20);
    assert.equal(p.stray.length, stray, "no reply to anything without an id");
    assert.equal(p.session.stats.refused, junk.length);
    assert.equal(tableCounts(h.db)._honker_live, (before._honker_live ?? 0) + 1);
  });

  it("refuses HANDLER and proxy wire values (a port smuggled in as an argument)", async () => {
    const p = serve();
    const before = tableCounts(h.db);
    const { port1, port2 } = new MessageChannel();
    let pokedBack = 0;
    port1.on("message", () => pokedBack++);
    const r = await new Promise<unknown>((resolve) => {
      const id = nextId();
      p.port.addEventListener("message", function onReply(ev) {
        const d = (ev as MessageEvent).data as { id?: string; value?: unknown };
        if (d?.id === id) {
          p.port.removeEventListener("message", onReply);
          resolve(d.value);
        }
      });
      p.post(
        {
          id,
          type: "APPLY",
          path: ["enqueue"],
          argumentList: [
            { type: "RAW", value: "jobs" },
            { type: "HANDLER", name: "proxy", value: port2 },
          ],
        },
        [port2],
      );
    });
    assert.equal(codeOf(r as never), "HONKER_FORBIDDEN");
    for (const w of [
      { type: "HANDLER", name: "throw", value: { isError: true, value: { message: "x" } } },
      { type: "HANDLER", name: "proxy", value: null },
      { type: "PROXY", value: "jobs" },
      { type: "RAW" }, // a RAW without value is just undefined: invalid, not forbidden
    ]) {
      const got = await p.request({
        id: nextId(),
        type: "APPLY",
        path: ["enqueue"],
        argumentList: [w, { type: "RAW", value: {} }],
      });
      const c = codeOf(got.value as never);
      assert.equal(c, w.type === "RAW" ? "HONKER_INVALID_ARGUMENT" : "HONKER_FORBIDDEN");
    }
    await sleep(20);
    assert.equal(pokedBack, 0, "main never talked to the smuggled port");
    port1.close();
    assert.deepEqual(tableCounts(h.db), before);
    await assertHealthy(p);
  });

  it("RELEASE ends only the sender's own session", async () => {
    const a = rawPage(h.db, grants, FAST);
    const b = serve();
    try {
      const sub = await a.call<{ subId: number }>("subscribe", { kind: "channel", name: "pings" });
      assert.equal(codeOf(sub), "ok");
      const r = await a.request({ id: nextId(), type: "RELEASE" });
      assert.equal(r.value, undefined);
      await eventually(() => a.session.isClosed, 2000, "session a to close");
      assert.equal(a.session.subscriptionCount, 0);
      assert.equal(b.session.isClosed, false);
      await assertHealthy(b);
    } finally {
      a.close();
    }
  });

  it("refuses prototype-polluting keys anywhere in payloads and leaves Object.prototype alone", async () => {
    const p = serve();
    const before = tableCounts(h.db);
    const nasty: unknown[] = [
      JSON.parse('{"__proto__":{"x":1}}'),
      JSON.parse('{"__proto__":{"polluted":true},"n":1}'),
      JSON.parse('{"a":{"b":[{"__proto__":{"x":1}}]}}'),
      { constructor: { prototype: { polluted: true } } },
      { a: { constructor: { prototype: { x: 1 } } } },
      [{ prototype: { x: 1 } }],
      JSON.parse('[[[{"deep":{"__proto__":{"polluted":1}}}]]]'),
    ];
    const cases: [string, ...unknown[]][] = [];
    for (const n of nasty) {
      cases.push(["enqueue", "jobs", n]);
      cases.push(["enqueueMany", "jobs", [{ ok: 1 }, n]]);
      cases.push(["publish", "feed", n]);
      cases.push(["notify", "shout", n]);
    }
    assertEveryCode(await codes(p, cases), "HONKER_INVALID_ARGUMENT", cases);
    assert.deepEqual(tableCounts(h.db), before, "nothing was written");
    // In options and specs, such keys are data, never prototypes: nothing is picked up from them.
    const opt = JSON.parse('{"__proto__":{"delay":86400,"key":"k"}}');
    const id = await p.call<number>("enqueue", "jobs", { n: 1 }, opt);
    assert.equal(codeOf(id), "ok");
    const job = id.ok ? h.db.queue("jobs").getJob(id.value) : null;
    assert.ok(
      job && job.runAt !== null && job.runAt <= Date.now() / 1000 + 5,
      "no delay leaked in",
    );
    const spec = JSON.parse('{"__proto__":{"kind":"stream","name":"feed"}}');
    assert.equal(codeOf(await p.call("subscribe", spec)), "HONKER_INVALID_ARGUMENT");
    const spec2 = JSON.parse('{"kind":"stream","name":"latest","__proto__":{"from":"beginning"}}');
    const s = await p.call<{ subId: number }>("subscribe", spec2);
    assert.equal(codeOf(s), "ok", "an own __proto__ key does not become 'from'");
    assert.equal(p.session.subscriptionCount, 1);
    await assertHealthy(p);
  });

  it("refuses non-plain objects that structured clone carries (Map, Date, typed arrays...)", async () => {
    const p = serve();
    const before = tableCounts(h.db);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cyclicArr: unknown[] = [1];
    cyclicArr.push(cyclicArr);
    const values: unknown[] = [
      new Map([["a", 1]]),
      new Set([1]),
      new Date(0),
      /re/g,
      new Uint8Array([1, 2]),
      new Float64Array(4),
      new ArrayBuffer(8),
      new DataView(new ArrayBuffer(4)),
      new Error("boom"),
      new TypeError("boom"),
      Object(1),
      Object("s"),
      Object(true),
      123n,
      { nested: { m: new Map() } },
      [1, [2, [new Date()]]],
      { b: new Uint8Array(10) },
      // biome-ignore lint/suspicious/noSparseArray: the hole is the point
      [, 1], // a hole arrives as undefined
      cyclic,
      cyclicArr,
      { n: -0, inf: Number.NEGATIVE_INFINITY },
    ];
    const cases: [string, ...unknown[]][] = [];
    for (const v of values) {
      cases.push(["enqueue", "jobs", v]);
      cases.push(["publish", "feed", v]);
      cases.push(["notify", "shout", v]);
    }
    assertEveryCode(await codes(p, cases), "HONKER_INVALID_ARGUMENT", cases);
    assert.deepEqual(tableCounts(h.db), before);
    // Shared (not cyclic) references are fine: JSON just repeats them.
    const shared = { s: 1 };
    assert.equal(codeOf(await p.call("enqueue", "jobs", { a: shared, b: shared })), "ok");
    await assertHealthy(p);
  });

  it("refuses payloads nested deeper than the limit, however deep", async () => {
    const p = serve();
    const before = tableCounts(h.db);
    const nest = (depth: number, objects: boolean): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < depth; i++) v = objects ? { v } : [v];
      return v;
    };
    assert.equal(codeOf(await p.call("enqueue", "jobs", nest(32, true))), "ok");
    for (const depth of [65, 100, 1000]) {
      for (const objects of [true, false]) {
        const r = await p.call("enqueue", "jobs", nest(depth, objects));
        assert.equal(codeOf(r), "HONKER_INVALID_ARGUMENT", `depth ${depth}`);
      }
    }
    // Deeper still, the receiving port cannot even deserialize the message
    // (Node emits 'messageerror' and drops it): no reply, no harm.
    const tooDeep = p
      .request(
        {
          id: nextId(),
          type: "APPLY",
          path: ["enqueue"],
          argumentList: [
            { type: "RAW", value: "jobs" },
            { type: "RAW", value: nest(2500, true) },
          ],
        },
        500,
      )
      .then(
        (r) => codeOf(r.value as never),
        () => "dropped",
      );
    assert.ok(["HONKER_INVALID_ARGUMENT", "dropped"].includes(await tooDeep));
    assert.equal(tableCounts(h.db)._honker_live, (before._honker_live ?? 0) + 1);
    await assertHealthy(p);
  });

  it("refuses a small message that expands exponentially (shared references, 2^22 leaves) quickly", {}, async () => {
    const p = serve();
    let v: unknown = 0;
    for (let i = 0; i < 22; i++) v = [v, v];
    const t0 = performance.now();
    const r = await p.call("enqueue", "jobs", v);
    const ms = performance.now() - t0;
    assert.equal(codeOf(r), "HONKER_INVALID_ARGUMENT");
    assert.ok(ms < 250, `the host was blocked for ${ms.toFixed(0)} ms by one small message`);
  });

  it("answers a flood of 5,000 requests with HONKER_RATE_LIMITED once over the rate, and recovers", async () => {
    const p = serve({}); // the default rate: 500/s, burst 1,000
    const before = tableCounts(h.db)._honker_live ?? 0;
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const t0 = Date.now();
    const replies = await Promise.all(
      Array.from({ length: 5000 }, (_, i) => p.call<number>("enqueue", "jobs", { i })),
    );
    const elapsed = Date.now() - t0;
    clearInterval(ticker);
    const tally: Record<string, number> = {};
    for (const r of replies) tally[codeOf(r)] = (tally[codeOf(r)] ?? 0) + 1;
    const okCount = tally.ok ?? 0;
    assert.deepEqual(
      Object.keys(tally).sort(),
      ["HONKER_RATE_LIMITED", "ok"],
      JSON.stringify(tally),
    );
    assert.ok(okCount >= 1000, `the burst of 1,000 is served (${okCount})`);
    // The refill during the flood is at most 500/s of elapsed time.
    assert.ok(okCount <= 1000 + Math.ceil((elapsed / 1000) * 500) + 1, JSON.stringify(tally));
    assert.equal(p.session.stats.rateLimited, tally.HONKER_RATE_LIMITED);
    assert.equal(tableCounts(h.db)._honker_live, before + okCount, "only the served ones wrote");
    assert.ok(ticks > 0, "timers kept running during the flood");
    // Refused requests cost no write; after a short pause, requests succeed again.
    await sleep(50);
    await assertHealthy(p);
  });

  it("caps subscriptions at maxSubscriptions with HONKER_RATE_LIMITED, and frees slots on unsubscribe", async () => {
    const p = serve({ ...FAST, maxSubscriptions: 8 });
    const specs = [
      { kind: "stream", name: "feed" },
      { kind: "channel", name: "pings" },
      { kind: "job", queue: "jobs", id: 1 },
      { kind: "stats", queue: "jobs" },
    ];
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        p.call<{ subId: number }>("subscribe", specs[i % specs.length]),
      ),
    );
    const ok = replies.filter((r) => r.ok);
    assert.equal(ok.length, 8);
    assert.ok(replies.slice(8).every((r) => codeOf(r) === "HONKER_RATE_LIMITED"));
    assert.equal(p.session.subscriptionCount, 8);
    await eventually(() => p.handoffs.size === 8, 2000, "eight subscription ports");
    const first = ok[0];
    assert.ok(first?.ok);
    assert.deepEqual(await p.call("unsubscribe", first.value.subId), { ok: true, value: true });
    assert.equal(p.session.subscriptionCount, 7);
    assert.equal(codeOf(await p.call("subscribe", specs[1])), "ok");
    assert.equal(codeOf(await p.call("subscribe", specs[1])), "HONKER_RATE_LIMITED");
    await assertHealthy(p);
    p.close();
    assert.equal(p.session.subscriptionCount, 0);
  });

  it("ignores garbage on a subscription port and keeps the subscription bounded", async () => {
    const p = serve();
    const r = await p.call<{ subId: number }>("subscribe", { kind: "stream", name: "feed" });
    assert.ok(r.ok);
    const port = await p.handoff(r.value.subId);
    const got: { t: string }[] = [];
    port.on("message", (m: { t: string }) => got.push(m));
    for (const c of [
      null,
      "credit",
      { t: "credit" },
      { t: "credit", n: -5 },
      { t: "credit", n: 0 },
      { t: "credit", n: 1.5 },
      { t: "credit", n: "5" },
      { t: "credit", n: Number.NaN },
      { t: "credit", n: Number.POSITIVE_INFINITY },
      { t: "credit", n: 3, ack: -1 },
      { t: "credit", n: 2, ack: "x" },
      { t: "CLOSE" },
      { t: "resume", from: 0 },
      new Map(),
    ]) {
      port.postMessage(c);
    }
    await sleep(30);
    for (let i = 0; i < 20; i++) h.db.stream("feed").publish({ i });
    await eventually(() => got.filter((m) => m.t === "event").length >= 5, 3000, "events");
    await sleep(50);
    assert.equal(got.filter((m) => m.t === "event").length, 5, "exactly the 3 + 2 credits granted");
    assert.equal(p.session.subscriptionCount, 1);
    port.postMessage({ t: "close" });
    await eventually(() => p.session.subscriptionCount === 0, 2000, "the subscription to close");
    await assertHealthy(p);
  });

  it("does not let a page move a consumer offset past what it was sent", {}, async () => {
    const p = serve();
    const stream = h.db.stream("feed");
    for (let i = 0; i < 5; i++) stream.publish({ i });
    const r = await p.call<{ subId: number }>("subscribe", {
      kind: "stream",
      name: "feed",
      from: "beginning",
      consumer: "main-indexer",
    });
    assert.ok(r.ok);
    const port = await p.handoff(r.value.subId);
    port.postMessage({ t: "credit", n: 1, ack: 2 ** 50 });
    await sleep(50);
    assert.ok(
      stream.savedOffset("main-indexer") <= 5,
      `consumer offset is now ${stream.savedOffset("main-indexer")}`,
    );
  });
});
