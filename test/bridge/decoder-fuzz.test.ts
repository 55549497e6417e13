/**
 * A bounded, seeded fuzzer over the message decoder and over whole
 * sessions. Set HONKER_FUZZ_SEED to replay a run; the seed is printed in
 * every failure message.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeMessage } from "../../src/main/bridge/endpoint.ts";
import type { Grants } from "../../src/main/bridge/grants.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import { BRIDGE_METHODS } from "../../src/protocol/index.ts";
import {
  codeOf,
  nextId,
  prototypeSnapshot,
  type RawPage,
  rawPage,
  tableCounts,
  totalChanges,
} from "../helpers/bridge-raw.ts";
import { freshHost, type Host } from "../helpers/host.ts";

const SEED = Number(process.env.HONKER_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const DECODER_ITERATIONS = Number(process.env.HONKER_FUZZ_ITERATIONS ?? 20_000);
const SESSION_MESSAGES = Number(process.env.HONKER_FUZZ_SESSION ?? 2_000);

/** mulberry32: small, fast, good enough to explore. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An own data property, as structured clone delivers it (even for "__proto__"). */
function defineOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}

class Gen {
  readonly rnd: () => number;
  /** Also use keys that change how an object turns into a string (toString, valueOf). */
  readonly coercionKeys: boolean;
  constructor(seed: number, coercionKeys = false) {
    this.rnd = prng(seed);
    this.coercionKeys = coercionKeys;
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  string(): string {
    const specials = [
      "",
      "__proto__",
      "constructor",
      "prototype",
      "hello",
      "enqueue",
      "jobs",
      "feed",
      "shout",
      "pings",
      "APPLY",
      "RAW",
      "HANDLER",
      "x".repeat(129),
      "\u0000",
      "\ud800",
      "💥",
    ];
    if (this.coercionKeys) specials.push("toString", "valueOf", "toString", "valueOf");
    if (this.chance(0.5)) return this.pick(specials);
    const n = this.int(12);
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.int(0x3000));
    return s;
  }
  number(): number {
    return this.pick([
      0,
      -0,
      1,
      -1,
      1.5,
      2 ** 31,
      2 ** 53,
      2 ** 53 + 2,
      Number.MAX_SAFE_INTEGER,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      this.int(1000),
      this.rnd() * 1e6 - 5e5,
    ]);
  }
  /** Values structured clone can carry: JSON-ish plus the non-plain ones. */
  value(depth = 0): unknown {
    const k = this.int(depth > 4 ? 6 : 12);
    switch (k) {
      case 0:
        return null;
      case 1:
        return undefined;
      case 2:
        return this.chance(0.5);
      case 3:
        return this.number();
      case 4:
      case 5:
        return this.string();
      case 6:
      case 7: {
        const n = this.int(5);
        return Array.from({ length: n }, () => this.value(depth + 1));
      }
      case 8:
      case 9: {
        const o: Record<string, unknown> = {};
        const n = this.int(5);
        for (let i = 0; i < n; i++) {
          defineOwn(o, this.string(), this.value(depth + 1));
        }
        return o;
      }
      case 10:
        return this.pick([
          () => new Map([[this.string(), 1]]),
          () => new Set([1]),
          () => new Date(this.int(1e12)),
          () => new Uint8Array(this.int(8)),
          () => new ArrayBuffer(4),
          () => BigInt(this.int(100)),
          () => new Error(this.string()),
          () => /x/,
          () => Object(this.string()),
        ])();
      default:
        return JSON.parse(
          this.pick([
            '{"__proto__":{"x":1}}',
            '{"constructor":{"prototype":{"polluted":true}}}',
            '{"a":[{"__proto__":{"polluted":1}}]}',
            '{"kind":"stream","name":"feed"}',
            '{"kind":"channel","name":"pings"}',
            '{"kind":"job","queue":"jobs","id":1}',
            '{"kind":"stats","queue":"jobs"}',
            '{"delay":1,"priority":2,"key":"k"}',
          ]),
        );
    }
  }
  /** A plausible argument list for a method (valid, nearly valid or junk). */
  args(method: string): unknown[] {
    const name = () =>
      this.pick(["jobs", "ro", "feed", "pub", "pings", "shout", "secret", this.string()]);
    const payload = () => (this.chance(0.5) ? { n: this.int(100) } : this.value());
    const id = () => (this.chance(0.6) ? 1 + this.int(5) : this.number());
    switch (method) {
      case "enqueue":
        return [name(), payload(), this.chance(0.3) ? this.value() : undefined];
      case "enqueueMany":
        return [
          name(),
          this.chance(0.6) ? Array.from({ length: this.int(4) }, payload) : this.value(),
          this.chance(0.3) ? this.value() : undefined,
        ];
      case "job":
      case "cancel":
        return [name(), id()];
      case "waitResult":
        return [name(), id(), this.pick([0, 1, 5, -1, 1.5, "10", null, 10])];
      case "stats":
        return [name()];
      case "publish":
        return [name(), payload(), this.chance(0.3) ? this.value() : undefined];
      case "notify":
        return [name(), payload()];
      case "subscribe":
        return [
          this.pick([
            () => ({
              kind: "stream",
              name: name(),
              from: this.pick(["latest", "beginning", 0, -1, this.value()]),
            }),
            () => ({ kind: "stream", name: name(), consumer: this.pick(["c1", "", 5]) }),
            () => ({ kind: "channel", name: name() }),
            () => ({ kind: "job", queue: name(), id: id() }),
            () => ({ kind: "stats", queue: name() }),
            () => this.value(),
          ])(),
        ];
      case "unsubscribe":
        return [this.pick([1, 2, 3, this.value()])];
      default:
        return Array.from({ length: this.int(3) }, () => this.value());
    }
  }
  validMessage(): Record<string, unknown> {
    const method = this.pick(BRIDGE_METHODS);
    return {
      id: nextId(),
      type: "APPLY",
      path: [method],
      argumentList: this.args(method).map((value) => ({ type: "RAW", value })),
    };
  }
  /** Mutates one part of a message. */
  mutate(m: Record<string, unknown>): unknown {
    const out: Record<string, unknown> = { ...m };
    const field = this.pick(["id", "type", "path", "argumentList", "argument", "extra", "whole"]);
    switch (field) {
      case "id":
        out.id = this.pick([undefined, null, 5, "", "i".repeat(129), [m.id], this.string()]);
        break;
      case "type":
        out.type = this.pick([
          "GET",
          "SET",
          "CONSTRUCT",
          "ENDPOINT",
          "RELEASE",
          "apply",
          "",
          null,
          this.string(),
        ]);
        break;
      case "path":
        out.path = this.pick([
          [],
          ["__proto__"],
          ["constructor"],
          ["hello", "call"],
          ["enqueue", "apply"],
          [this.string()],
          [this.number()],
          this.string(),
          null,
          [["hello"]],
          [...(Array.isArray(m.path) ? m.path : []), this.string()],
        ]);
        break;
      case "argumentList":
        out.argumentList = this.pick([
          undefined,
          null,
          "x",
          {},
          [1, 2],
          Array.from({ length: 5 + this.int(3) }, () => ({ type: "RAW", value: 1 })),
          this.value(),
        ]);
        break;
      case "argument": {
        const list = Array.isArray(m.argumentList) ? [...(m.argumentList as unknown[])] : [];
        const i = this.int(list.length + 1);
        list[i] = this.pick([
          { type: "HANDLER", name: "proxy", value: null },
          { type: "HANDLER", name: "throw", value: {} },
          { type: "raw", value: 1 },
          { value: 1 },
          null,
          "RAW",
          { type: "RAW", value: this.value() },
          { type: "RAW" },
        ]);
        out.argumentList = list;
        break;
      }
      case "extra":
        defineOwn(out, this.string(), this.value());
        break;
      default:
        return this.value();
    }
    return out;
  }
  message(): unknown {
    const r = this.rnd();
    if (r < 0.15) return this.value();
    if (r < 0.4) return this.validMessage();
    let m: unknown = this.validMessage();
    const rounds = 1 + this.int(3);
    for (let i = 0; i < rounds && m && typeof m === "object" && !Array.isArray(m); i++) {
      m = this.mutate(m as Record<string, unknown>);
    }
    return m;
  }
}

/** What the decoder should say, written independently of it. */
function oracle(data: unknown): "call" | "release" | "reject" {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return "reject";
  const m = data as Record<string, unknown>;
  if (typeof m.id !== "string" || m.id.length === 0 || m.id.length > 128) return "reject";
  if (m.type === "RELEASE") return "release";
  if (m.type !== "APPLY") return "reject";
  const p = m.path;
  if (!Array.isArray(p) || p.length !== 1 || !(BRIDGE_METHODS as readonly unknown[]).includes(p[0]))
    return "reject";
  const list = m.argumentList === undefined || m.argumentList === null ? [] : m.argumentList;
  if (!Array.isArray(list) || list.length > 4) return "reject";
  for (const w of list) {
    if (w === null || typeof w !== "object" || (w as { type?: unknown }).type !== "RAW")
      return "reject";
  }
  return "call";
}

function describeValue(v: unknown): string {
  try {
    return (
      JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))?.slice(0, 300) ??
      String(v)
    );
  } catch {
    return String(v);
  }
}

function fuzzDecoder(g: Gen, iterations: number): void {
  const tally = { call: 0, release: 0, reject: 0 };
  for (let i = 0; i < iterations; i++) {
    // Half the messages go through structured clone, as a port would deliver them.
    let msg = g.message();
    if (i % 2 === 1) {
      try {
        msg = structuredClone(msg);
      } catch {
        continue;
      }
    }
    const where = `seed ${SEED}, iteration ${i}, message ${describeValue(msg)}`;
    let d: ReturnType<typeof decodeMessage>;
    try {
      d = decodeMessage(msg);
    } catch (err) {
      assert.fail(`decodeMessage threw ${String(err)} (${where})`);
    }
    tally[d.kind]++;
    assert.equal(d.kind, oracle(msg), where);
    if (d.kind === "call") {
      const m = msg as { id: string; path: string[]; argumentList?: { value: unknown }[] };
      assert.ok((BRIDGE_METHODS as readonly string[]).includes(d.method), where);
      assert.equal(d.id, m.id, where);
      assert.ok(d.args.length <= 4, where);
      assert.deepEqual(
        d.args,
        (m.argumentList ?? []).map((w) => w.value),
        where,
      );
    } else if (d.kind === "reject") {
      assert.equal(typeof d.reason, "string", where);
      assert.ok(d.reason.length < 200, `reasons stay short (${where})`);
    }
  }
  // The generator must actually reach every outcome, or the run proves little.
  assert.ok(tally.call > iterations / 10, `calls: ${JSON.stringify(tally)} (seed ${SEED})`);
  assert.ok(tally.reject > iterations / 10, `rejects: ${JSON.stringify(tally)} (seed ${SEED})`);
  assert.ok(tally.release > 0, `releases: ${JSON.stringify(tally)} (seed ${SEED})`);
}

describe(`fuzzing the bridge (seed ${SEED}; replay with HONKER_FUZZ_SEED=${SEED})`, () => {
  it(`decodeMessage never throws and only lets through RAW calls of bridge methods (${DECODER_ITERATIONS} messages)`, () => {
    fuzzDecoder(new Gen(SEED), DECODER_ITERATIONS);
  });

  it("decodeMessage never throws, even on objects whose string conversion throws", {}, () => {
    fuzzDecoder(new Gen(SEED, true), DECODER_ITERATIONS);
  });

  describe("whole sessions", () => {
    let h: Host<AnySchema>;
    const grants: Grants = {
      queues: { jobs: { enqueue: true, read: true, stats: true }, ro: { read: true, stats: true } },
      streams: { feed: { subscribe: true }, pub: { publish: true } },
      channels: { pings: { listen: true }, shout: { notify: true } },
    };
    const WRITERS: Record<string, string[]> = {
      enqueue: ["jobs"],
      enqueueMany: ["jobs"],
      publish: ["pub"],
      notify: ["shout"],
    };
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    before(() => {
      h = freshHost({ retention: false });
      process.on("uncaughtException", onError);
      process.on("unhandledRejection", onError);
    });
    after(async () => {
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
      await h.close();
    });

    it(`never crash and never write for a refused message (${SESSION_MESSAGES} messages)`, async () => {
      const g = new Gen(SEED ^ 0x5eed);
      const protoBefore = prototypeSnapshot();
      let page: RawPage = rawPage(h.db, grants, { requestsPerSecond: 1e9, maxSubscriptions: 16 });
      let sessions = 1;
      const codes: Record<string, number> = {};
      try {
        for (let i = 0; i < SESSION_MESSAGES; i++) {
          let msg = g.message();
          const d = decodeMessage(msg);
          // Keep valid waits short: the fuzzer wants answers, not a 5-minute wait.
          if (d.kind === "call" && d.method === "waitResult") {
            const m = msg as { argumentList: { type: string; value: unknown }[] };
            m.argumentList = [...(m.argumentList ?? [])];
            m.argumentList[2] = { type: "RAW", value: 1 };
            msg = m;
          }
          const where = `seed ${SEED}, message ${i}: ${describeValue(msg)}`;
          const changes = totalChanges(h.db);
          const hasId = d.kind !== "reject" || d.id !== null;
          let reply: unknown;
          if (hasId) {
            try {
              reply = (await page.request(msg as Record<string, unknown>, 5000)).value;
            } catch (err) {
              if (String(err).includes("could not be cloned")) continue;
              throw new Error(`${String(err)} (${where})`);
            }
          } else {
            try {
              page.post(msg);
            } catch {
              continue;
            }
            // A hello after it: replies come back in order, so it has been handled.
            const hi = await page.call("hello");
            assert.equal(codeOf(hi), "ok", where);
          }
          const code = d.kind === "release" ? "release" : codeOf(reply as never);
          codes[code] = (codes[code] ?? 0) + 1;
          const wrote = totalChanges(h.db) !== changes;
          if (wrote) {
            assert.equal(code, "ok", `a refused message wrote (${where})`);
            assert.ok(d.kind === "call", where);
            const allowed = WRITERS[d.method];
            assert.ok(allowed?.includes(d.args[0] as string), `a write by ${d.method} (${where})`);
          }
          if (d.kind === "reject") {
            assert.ok(
              reply === undefined || codeOf(reply as never) === "HONKER_FORBIDDEN",
              `a decoder reject is answered HONKER_FORBIDDEN (${where})`,
            );
          }
          if (d.kind === "release") {
            // RELEASE ends the sender's session by design; the page comes back with a new one.
            assert.ok(page.session.isClosed, where);
            page.close();
            page = rawPage(h.db, grants, { requestsPerSecond: 1e9, maxSubscriptions: 16 });
            sessions++;
          } else {
            assert.equal(page.session.isClosed, false, `the session ended (${where})`);
          }
          assert.deepEqual(errors, [], `uncaught errors (${where})`);
        }
        assert.equal(prototypeSnapshot(), protoBefore, `prototypes changed (seed ${SEED})`);
        assert.ok((codes.ok ?? 0) > 0, `some calls succeed: ${JSON.stringify(codes)}`);
        assert.ok((codes.HONKER_FORBIDDEN ?? 0) > 0, `some are refused: ${JSON.stringify(codes)}`);
        assert.ok((codes.HONKER_INVALID_ARGUMENT ?? 0) > 0, JSON.stringify(codes));
        // Rows only ever come from the writable names.
        const counts = tableCounts(h.db);
        assert.ok(counts._honker_live !== undefined && counts._honker_dead === 0);
        const queues = h.db.raw.prepare("SELECT DISTINCT queue FROM _honker_live").pluck().all();
        assert.ok(
          queues.every((q) => q === "jobs"),
          `queues written: ${queues.join(",")}`,
        );
        const topics = h.db.raw.prepare("SELECT DISTINCT topic FROM _honker_stream").pluck().all();
        assert.ok(
          topics.every((t) => t === "pub"),
          `topics written: ${topics.join(",")}`,
        );
        const channels = h.db.raw
          .prepare("SELECT DISTINCT channel FROM _honker_notifications")
          .pluck()
          .all();
        assert.ok(
          channels.every((c) => c === "shout"),
          `channels written: ${channels.join(",")}`,
        );
        process.stdout.write(
          `# fuzz seed ${SEED}: ${sessions} session(s), ${JSON.stringify(codes)}\n`,
        );
      } finally {
        page.close();
      }
    });
  });
});
