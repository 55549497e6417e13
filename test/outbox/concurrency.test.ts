/**
 * The relay's default concurrency: eight single-message requests in flight,
 * one batch at a time otherwise. (Key order with several in flight: the kill
 * test's batch-1 children.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DeliveryOutcome, OutboxMessage, Transport } from "../../src/main/outbox/transport.ts";
import { withCleanups } from "../helpers/host.ts";
import { waitFor } from "../helpers/wait.ts";

const { cleanups, tempDb } = withCleanups();

/**
 * A transport that holds each call until `release` calls are waiting at
 * once (or all the messages not yet released are), then lets them all go.
 */
function gatedTransport(batchSize: number, release: number, total: number) {
  const seen: OutboxMessage[][] = [];
  let waiting: { n: number; go: () => void }[] = [];
  let released = 0;
  let max = 0;
  const transport = (async (batch) => {
    seen.push([...batch]);
    await new Promise<void>((go) => {
      waiting.push({ n: batch.length, go });
      max = Math.max(max, waiting.length);
      const held = waiting.reduce((a, w) => a + w.n, 0);
      if (waiting.length >= release || held >= total - released) {
        const all = waiting;
        waiting = [];
        released += held;
        for (const w of all) w.go();
      }
    });
    return batch.map((): DeliveryOutcome => ({ status: "delivered" }));
  }) as Transport;
  transport.batchSize = batchSize;
  return { transport, seen, max: () => max };
}

describe("outbox concurrency", () => {
  it("sends eight single-message requests at once by default", async () => {
    const { db } = tempDb({ retention: false });
    // The gate lets calls go only once eight wait together: with fewer in
    // flight, nothing would ever be delivered.
    const gate = gatedTransport(1, 8, 48);
    const sync = db.outbox("sync", { transport: gate.transport });
    cleanups.push(() => sync.stop());
    db.transaction(() => {
      for (let i = 0; i < 48; i++) sync.add({ i });
    });
    await waitFor(() => sync.stats.delivered === 48, { db, what: "delivered" });
    assert.equal(gate.max(), 8);
    assert.equal(gate.seen.length, 48);
  });

  it("settles the batches in flight that come back a few turns apart in one transaction", async () => {
    const { db } = tempDb({ retention: false });
    let settles = 0;
    const transaction = db.transaction.bind(db);
    db.transaction = ((fn: () => unknown) => {
      settles++;
      return transaction(fn as () => never);
    }) as typeof db.transaction;
    let call = 0;
    const transport = (async (batch) => {
      // Responses to requests sent together, spread over three turns of the event loop.
      const turns = call++ % 3;
      for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
      return batch.map((): DeliveryOutcome => ({ status: "delivered" }));
    }) as Transport;
    transport.batchSize = 1;
    db.transaction(() => {
      for (let i = 0; i < 48; i++)
        db.raw.prepare("SELECT honker_x_outbox_add('sync', ?, NULL, 20)").get(String(i));
    });
    settles = 0;
    const sync = db.outbox("sync", { transport });
    cleanups.push(() => sync.stop());
    await waitFor(() => sync.stats.delivered === 48, { db, what: "delivered" });
    // Eight in flight: six rounds of eight, one settle transaction each.
    assert.equal(settles, 6, "settle transactions for 48 messages");
  });

  it("sends one batch at a time by default when batches hold more than one message", async () => {
    const { db } = tempDb({ retention: false });
    const gate = gatedTransport(10, 1, 30);
    const sync = db.outbox("sync", { transport: gate.transport });
    cleanups.push(() => sync.stop());
    db.transaction(() => {
      for (let i = 0; i < 30; i++) sync.add({ i });
    });
    await waitFor(() => sync.stats.delivered === 30, { db, what: "delivered" });
    assert.equal(gate.max(), 1);
    assert.deepEqual(
      gate.seen.map((b) => b.length),
      [10, 10, 10],
    );
  });
});
