import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { getLoadablePath } from "../../src/extension/index.ts";
import { open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import type { Connectivity, OutboxStatus } from "../../src/main/outbox/outbox.ts";
import { httpTransport, type Transport } from "../../src/main/outbox/transport.ts";
import { lines, runShell, shellSkipReason } from "../helpers/clients.ts";
import { deferred, withCleanups } from "../helpers/host.ts";
import { sleep } from "../helpers/wait.ts";
import { checkApplied, startServer, type TestServer } from "./server.ts";

const { cleanups, tempDb } = withCleanups();
let server: TestServer;
afterEach(async () => {
  await server?.close();
});

async function withServer(): Promise<TestServer> {
  server = await startServer();
  return server;
}

/** Attempts column of every live message. */
const attemptsOf = (db: ReturnType<typeof tempDb>["db"]) =>
  db.raw.prepare("SELECT attempts FROM _honker_x_outbox ORDER BY id").pluck().all() as number[];

/** Resolves with the first status that satisfies `predicate` (onStatus fires on change). */
function statusWhere(
  ob: { onStatus(cb: (s: OutboxStatus) => void): () => void; status(): OutboxStatus },
  predicate: (s: OutboxStatus) => boolean,
  ms = 10_000,
): Promise<OutboxStatus> {
  const d = deferred<OutboxStatus>();
  const now = ob.status();
  if (predicate(now)) return Promise.resolve(now);
  const off = ob.onStatus((s) => {
    if (predicate(s)) d.resolve(s);
  });
  const timer = setTimeout(() => d.resolve(ob.status()), ms);
  return d.promise.finally(() => {
    clearTimeout(timer);
    off();
  });
}

describe("outbox relay", () => {
  it("commits with the app's writes or not at all, and delivers each message once", async () => {
    const srv = await withServer();
    const { db } = tempDb();
    db.raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 1, timeoutMs: 2000 }),
    });
    assert.throws(() =>
      db.transaction(() => {
        db.raw.prepare("INSERT INTO notes (body) VALUES ('lost')").run();
        sync.add({ key: "n1", seq: 0 }, { key: "note:1" });
        throw new Error("boom");
      }),
    );
    assert.equal(sync.status().pending, 0);
    for (let i = 1; i <= 3; i++) {
      db.transaction(() => {
        db.raw.prepare("INSERT INTO notes (body) VALUES (?)").run(`n${i}`);
        sync.add({ key: "note:1", seq: i }, { key: "note:1" });
      });
    }
    await srv.until(() => srv.applied.length === 3);
    assert.deepEqual(
      srv.applied.map((a) => a.payload.seq),
      [1, 2, 3],
    );
    // batchSize 1: the payload is the body and the key travels in Idempotency-Key.
    assert.match(srv.applied[0]?.idempotencyKey ?? "", /^[0-9a-f]{32}\.[0-9a-f]+\.\d+$/);
    const s = await statusWhere(sync, (x) => x.delivered === 3 && x.pending === 0);
    assert.equal(s.pending, 0);
    assert.equal(s.delivered, 3);
    assert.ok(s.lastDeliveredAt !== null);
  });

  it("rejects a poison message (400) with its reason, and it does not block its key", async () => {
    const srv = await withServer();
    const { db } = tempDb();
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 1, timeoutMs: 2000 }),
    });
    db.transaction(() => {
      sync.add({ key: "k", seq: 1 }, { key: "k" });
      sync.add({ key: "k", seq: 2, poison: true }, { key: "k" });
      sync.add({ key: "k", seq: 3 }, { key: "k" });
    });
    await srv.until(() => srv.applied.length === 2);
    assert.deepEqual(
      srv.applied.map((a) => a.payload.seq),
      [1, 3],
    );
    const dead = sync.dead();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.error, "HTTP 400: poison message");
    assert.deepEqual(dead[0]?.payload, { key: "k", seq: 2, poison: true });
    // Redrive: same id, so the same idempotency key; purge.
    srv.fault = () => "503";
    assert.equal(sync.redrive(), 1);
    await srv.until(() => srv.requests >= 4);
    assert.equal(sync.purgeDead(), 0);
    await sync.stop();
    assert.equal(sync.status().pending, 1);
  });

  it("honours Retry-After on 503, retries 429, and times out a hang", async () => {
    const srv = await withServer();
    const { db } = tempDb();
    const times: number[] = [];
    let n = 0;
    srv.retryAfter = "2";
    srv.fault = () => {
      times.push(Date.now());
      n++;
      return n === 1 ? "503" : n === 2 ? "hang" : n === 3 ? "429" : "ok";
    };
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 1, timeoutMs: 300 }),
      backoff: { baseSeconds: 0, maxSeconds: 0 },
    });
    sync.add({ key: null, seq: 1 });
    await srv.until(() => srv.applied.length === 1);
    assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 1000, "the 503's Retry-After: 2 was honoured");
    assert.equal(n, 4);
    const s = await statusWhere(sync, (x) => x.delivered === 1);
    assert.equal(s.dead, 0);
  });

  it("refreshes the token on 401, and pauses with a clear lastError if it keeps failing", async () => {
    const srv = await withServer();
    srv.token = "t2";
    const { db } = tempDb();
    let calls = 0;
    let token = "t1";
    const sync = db.outbox("sync", {
      transport: httpTransport({
        url: srv.url,
        batchSize: 1,
        headers: async () => {
          calls++;
          if (calls === 2) token = "t2"; // the app refreshes its token when asked again
          return { authorization: `Bearer ${token}` };
        },
      }),
    });
    sync.add({ key: null, seq: 1 });
    await srv.until(() => srv.applied.length === 1);
    assert.equal(calls, 2);

    srv.token = "t3"; // nothing the app has will do
    sync.add({ key: null, seq: 2 });
    const paused = await statusWhere(sync, (s) => s.paused);
    assert.match(paused.lastError ?? "", /HTTP 401 .*even with fresh headers\(\).*resume\(\)/);
    assert.deepEqual(attemptsOf(db), [0], "a pause consumes no attempt");
    assert.equal(
      db.raw.prepare("SELECT honker_x_outbox_paused('sync')").pluck().get(),
      0,
      "the transport's pause is this relay's, not stored in the file",
    );
    token = "t3";
    calls = 2;
    srv.token = "t3";
    sync.resume();
    await srv.until(() => srv.applied.length === 2);
  });

  it("batches many keys, takes partial per-message results, and survives accept-then-drop", async () => {
    const srv = await withServer();
    const { db } = tempDb();
    let req = 0;
    srv.fault = () => (++req % 4 === 2 ? "drop" : "ok");
    let flip = 0;
    srv.partial = () => ++flip % 3 === 0;
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 10, timeoutMs: 2000 }),
      backoff: { baseSeconds: 0, maxSeconds: 0 },
    });
    db.transaction(() => {
      for (let i = 0; i < 60; i++) sync.add({ key: `k${i % 6}`, seq: i }, { key: `k${i % 6}` });
    });
    await srv.until(() => srv.applied.length === 60);
    checkApplied(srv.applied);
    assert.ok(srv.arrivals > 60, "drops and partial results made retries");
    const s = await statusWhere(sync, (x) => x.pending === 0 && x.inFlight === 0);
    assert.equal(s.dead, 0);
  });

  it("500 messages over 20 keys with every fault: each applied once or dead, per-key order kept", async () => {
    const srv = await withServer();
    const { db } = tempDb();
    let r = 0x1234;
    const rand = () => {
      r = (r * 1103515245 + 12345) & 0x7fffffff;
      return r / 0x7fffffff;
    };
    srv.fault = () => {
      const x = rand();
      return x < 0.1 ? "503" : x < 0.2 ? "429" : x < 0.25 ? "drop" : x < 0.28 ? "hang" : "ok";
    };
    srv.partial = () => rand() < 0.15;
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 50, timeoutMs: 250 }),
      backoff: { baseSeconds: 0, maxSeconds: 0 },
      maxAttempts: 50,
      concurrency: 2,
    });
    const poison = new Set<number>();
    for (let t = 0; t < 10; t++) {
      db.transaction(() => {
        for (let i = t * 50; i < (t + 1) * 50; i++) {
          const bad = i % 97 === 13;
          if (bad) poison.add(i);
          sync.add(
            { key: `k${i % 20}`, seq: i, ...(bad ? { poison: true } : {}) },
            { key: `k${i % 20}` },
          );
        }
      });
    }
    await srv.until(() => srv.applied.length === 500 - poison.size, 60_000);
    const { seqs } = checkApplied(srv.applied);
    const s = await statusWhere(sync, (x) => x.dead === poison.size && x.pending === 0);
    assert.equal(s.dead, poison.size);
    const deadSeqs = new Set(
      sync.dead({ limit: 1000 }).map((d) => (d.payload as { seq: number }).seq),
    );
    assert.deepEqual([...deadSeqs].sort(), [...poison].sort());
    for (let i = 0; i < 500; i++) assert.ok(seqs.has(i) !== poison.has(i), `seq ${i}`);
    console.log(
      `# 500 messages: ${srv.requests} requests, ${srv.arrivals} arrivals, ${srv.applied.length} applied, ${s.dead} dead`,
    );
  });

  it("offline: no attempt is consumed; setOnline(true) delivers within 1 s", async () => {
    const srv = await withServer();
    const { db } = tempDb();
    let online = false;
    const listeners = new Set<(on: boolean) => void>();
    const connectivity: Connectivity = {
      get online() {
        return online;
      },
      subscribe(l) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 50 }),
      connectivity,
    });
    db.transaction(() => {
      for (let i = 0; i < 10; i++) sync.add({ key: null, seq: i });
    });
    // Nothing can be awaited here: the point is that nothing happens.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(srv.requests, 0);
    assert.deepEqual(attemptsOf(db), new Array(10).fill(0));
    assert.equal(sync.status().online, false);
    const t0 = Date.now();
    online = true;
    for (const l of listeners) l(true);
    await srv.until(() => srv.applied.length === 10, 1000);
    assert.ok(Date.now() - t0 < 1000);
  });

  it("a refused connection marks it offline without consuming attempts; the probe brings it back", async () => {
    const srv = await withServer();
    await srv.refuse();
    const { db } = tempDb();
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 50 }),
      probeMinMs: 50,
      probeMaxMs: 100,
      onError: () => {},
    });
    db.transaction(() => {
      for (let i = 0; i < 5; i++) sync.add({ key: "k", seq: i }, { key: "k" });
    });
    const off = await statusWhere(sync, (s) => !s.online);
    assert.match(off.lastError ?? "", /ECONNREFUSED/);
    assert.deepEqual(attemptsOf(db), [0, 0, 0, 0, 0]);
    await srv.accept();
    await srv.until(() => srv.applied.length === 5);
    checkApplied(srv.applied);
    assert.ok(sync.stats.probes >= 1);
    assert.equal((await statusWhere(sync, (s) => s.online)).online, true);
  });

  it("setOnline(false) is the app's word: no probe brings it back; setOnline(true) does", async () => {
    const srv = await withServer();
    const { db } = tempDb();
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 50 }),
      probeMinMs: 1,
      probeMaxMs: 5,
    });
    sync.setOnline(false);
    sync.add({ key: null, seq: 1 });
    sync.flush();
    await new Promise((r) => setTimeout(r, 100)); // nothing to await: nothing may happen
    assert.equal(srv.requests, 0);
    assert.equal(sync.stats.probes, 0);
    sync.setOnline(true);
    await srv.until(() => srv.applied.length === 1, 1000);
  });

  it("flush() ignores the backoff: a message waiting an hour goes at once", async () => {
    const srv = await withServer();
    const { db } = tempDb();
    srv.fault = () => "503";
    srv.retryAfter = "3600";
    const sync = db.outbox("sync", {
      transport: httpTransport({ url: srv.url, batchSize: 1 }),
    });
    sync.add({ key: null, seq: 1 });
    const waiting = await statusWhere(
      sync,
      (s) => s.nextAttemptAt !== null && s.nextAttemptAt > Date.now() / 1000 + 1000,
    );
    assert.equal(waiting.pending, 1);
    srv.fault = () => "ok";
    const t0 = Date.now();
    assert.equal(sync.flush(), 1);
    await srv.until(() => srv.applied.length === 1, 1000);
    assert.ok(Date.now() - t0 < 1000);
  });

  it("a transport that throws retries the batch; pause() holds sending; stop() releases", async () => {
    const { db } = tempDb();
    let calls = 0;
    const gate = deferred();
    const transport: Transport = async (batch, { signal }) => {
      calls++;
      if (calls === 1) throw Object.assign(new Error("flaky"), { retryAfterSeconds: 0 });
      await new Promise<void>((resolve, reject) => {
        gate.promise.then(resolve);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
      return batch.map(() => ({ status: "delivered" as const }));
    };
    const sync = db.outbox("sync", { transport, onError: () => {} });
    sync.pause();
    sync.add(1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, 0);
    sync.resume();
    await statusWhere(sync, () => calls === 2);
    await sync.stop();
    assert.deepEqual(attemptsOf(db), [1], "the aborted attempt was given back");
    gate.resolve();
    assert.throws(
      () => db.outbox("sync", { transport: 5 as never }),
      (e: unknown) => isHonkerError(e, "HONKER_INVALID_ARGUMENT"),
    );
  });

  it("a pause stored by another process stops this relay; its resume delivers at once", {
    skip: shellSkipReason(),
  }, async () => {
    const { db, path } = tempDb();
    const sent: number[] = [];
    const transport: Transport = async (batch) => {
      for (const m of batch) sent.push(m.payload as number);
      return batch.map(() => ({ status: "delivered" as const }));
    };
    const sync = db.outbox("sync", { transport });
    sync.add(1);
    await statusWhere(sync, () => sent.length === 1);
    assert.deepEqual(sent, [1], "the positive control");

    const shell = (sql: string) => {
      const res = runShell(path, getLoadablePath(), sql);
      assert.equal(res.stderr, "");
      return lines(res.stdout);
    };
    assert.deepEqual(shell("SELECT honker_x_outbox_pause('sync');\n"), ["1"]);
    const paused = await statusWhere(sync, (s) => s.paused);
    assert.equal(paused.paused, true, "status() reads the stored pause");
    sync.add(2);
    await sleep(300);
    assert.deepEqual(sent, [1]);
    assert.equal(sync.status().pending, 1);

    const resumedAt = Date.now();
    assert.deepEqual(shell("SELECT honker_x_outbox_resume('sync');\n"), ["1"]);
    await statusWhere(sync, () => sent.length === 2);
    assert.deepEqual(sent, [1, 2]);
    assert.ok(Date.now() - resumedAt < 2000, `sent ${Date.now() - resumedAt} ms after resume`);
    assert.equal(sync.status().paused, false);
  });

  it("pause() and resume() are stored: another handle's relay sees them; they say if they changed anything", async () => {
    const { db, path } = tempDb();
    const other = open(path);
    cleanups.push(() => other.close());
    const sent: number[] = [];
    const relay = other.outbox("sync", {
      transport: async (batch: readonly { payload: unknown }[]) => {
        for (const m of batch) sent.push(m.payload as number);
        return batch.map(() => ({ status: "delivered" as const }));
      },
    });
    const sync = db.outbox("sync"); // adds and controls, does not send
    assert.equal(sync.pause(), true);
    assert.equal(sync.pause(), false);
    assert.equal(relay.status().paused, true);
    sync.add(1);
    await sleep(300);
    assert.deepEqual(sent, []);
    assert.equal(sync.resume(), true);
    assert.equal(sync.resume(), false);
    await statusWhere(relay, () => sent.length === 1);
    assert.deepEqual(sent, [1]);
  });

  it("gives up on a transport that never settles before its claim lapses", async () => {
    const { db } = tempDb();
    let calls = 0;
    const errors: string[] = [];
    const transport: Transport = (batch) => {
      calls++;
      if (calls === 1) return new Promise(() => {}); // never settles, ignores its signal
      return Promise.resolve(batch.map(() => ({ status: "delivered" as const })));
    };
    const sync = db.outbox("sync", {
      transport,
      visibilityTimeout: 1,
      backoff: { baseSeconds: 0, maxSeconds: 0 },
      onError: (err) => errors.push(String(err)),
    });
    sync.add(1);
    const s = await statusWhere(sync, (x) => x.delivered === 1, 5000);
    assert.equal(s.delivered, 1);
    assert.equal(calls, 2);
    assert.match(errors.join("\n"), /did not settle within the claim/);
    assert.equal(s.lastError, null, "the delivery cleared it");
  });

  it("checks its arguments", () => {
    const { db } = tempDb();
    const bad = (f: () => unknown, re: RegExp) =>
      assert.throws(
        f,
        (e: unknown) =>
          isHonkerError(e, "HONKER_INVALID_ARGUMENT") && re.test((e as Error).message),
      );
    bad(() => db.outbox("", {}), /name must be/);
    bad(() => db.outbox("x", { maxAttempts: 0 }), /options.maxAttempts/);
    bad(() => db.outbox("x", { backoff: { baseSeconds: 5, maxSeconds: 1 } }), /maxSeconds/);
    bad(() => db.outbox("x", { connectivity: {} as never }), /options.connectivity/);
    const ob = db.outbox("y");
    bad(() => ob.add(Number.NaN), /payload/);
    bad(() => ob.add(1, { key: "" }), /options.key/);
    bad(() => ob.redrive([0]), /ids\[0\]/);
    bad(() => ob.setOnline("yes" as never), /online/);
    bad(() => httpTransport({ url: 5 as never }), /options.url/);
    bad(() => httpTransport({ url: "http://x", batchSize: 0 }), /options.batchSize/);
    cleanups.length; // keep the import used
  });
});
