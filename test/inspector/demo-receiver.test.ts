/**
 * The demo's flaky receiver: it goes down and comes back on the same port,
 * and an outbox relaying to it (as the demo's does) goes offline, probes,
 * and delivers everything once it is back, each message once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startDemoReceiver } from "../../src/inspector/demo-receiver.ts";
import { open } from "../../src/main/database.ts";
import { httpTransport } from "../../src/main/outbox/transport.ts";
import { tempDir } from "../helpers/db.ts";
import { waitFor } from "../helpers/wait.ts";

describe("the demo receiver", { timeout: 60_000 }, () => {
  it("goes down and up; the outbox goes offline and catches up", async () => {
    const t = tempDir("honker-demo-receiver-");
    const db = open(join(t.dir, "demo.db"), { retention: false });
    const receiver = await startDemoReceiver({
      retryRate: 0,
      rejectRate: 0,
      latencyMs: [1, 5],
      upMs: 300,
      downMs: 600,
    });
    try {
      // Down between 300 and 900 ms: a request then is refused.
      await new Promise((r) => setTimeout(r, 450));
      await assert.rejects(fetch(receiver.url, { method: "POST", body: "{}" }));
      const errors: unknown[] = [];
      const outbox = db.outbox("webhooks", {
        transport: httpTransport({ url: receiver.url, batchSize: 1, timeoutMs: 2000 }),
        probeMinMs: 50,
        probeMaxMs: 200,
        onError: (e) => errors.push(e),
      });
      for (let i = 0; i < 5; i++) outbox.add({ n: i });
      await waitFor(() => outbox.status().delivered === 5, {
        db,
        timeoutMs: 10_000,
        what: "every message delivered once the receiver is back",
      });
      assert.equal(receiver.received, 5);
      assert.equal(outbox.status().online, true);
      assert.ok(
        errors.some((e) => (e as { offline?: boolean }).offline === true),
        "the refused connection took the outbox offline (reported to onError)",
      );
      await outbox.stop();
    } finally {
      await receiver.close();
      await db.close();
      t.cleanup();
    }
  });
});
