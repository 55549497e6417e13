import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Grants } from "../../src/main/bridge/grants.ts";
import { runPage } from "../helpers/bridge.ts";
import { freshHost, type Host } from "../helpers/host.ts";

let h: Host<import("../../src/main/schema.ts").AnySchema>;
beforeEach(() => {
  h = freshHost();
});
afterEach(() => h.close());

const nSchema = {
  "~standard": {
    version: 1 as const,
    vendor: "test",
    validate: (v: unknown) =>
      typeof (v as { n?: unknown })?.n === "number"
        ? { value: v }
        : { issues: [{ message: "n must be a number", path: ["n"] }] },
  },
};

const grants: Grants = {
  queues: { jobs: { enqueue: true, read: true, stats: true, validate: nSchema } },
  streams: { feed: { subscribe: true, publish: true } },
  channels: { pings: { listen: true } },
};

describe("the bridge between a page (worker thread) and main", () => {
  it("enqueues from the page and waits for the result a main worker saves", async () => {
    h.db.queue("jobs").work(async (job) => (job.payload as { n: number }).n + 1);
    const page = runPage(h.db, "enqueue-and-wait", grants);
    try {
      const connected = await page.next<{ capabilities: { queues: Record<string, unknown> } }>(
        "connected",
      );
      assert.deepEqual(Object.keys(connected.capabilities.queues), ["jobs"]);
      const { id } = await page.next<{ id: number }>("enqueued");
      assert.equal(typeof id, "number");
      assert.deepEqual((await page.next<{ result: unknown }>("result")).result, 42);
    } finally {
      await page.stop();
    }
  });

  it("streams replayed and live events to the page in order, with no gap or duplicate", async () => {
    const stream = h.db.stream("feed");
    for (let n = 0; n < 100; n++) stream.publish({ n });
    const page = runPage(h.db, "stream", grants);
    try {
      await page.next("subscribed");
      for (let n = 100; n < 200; n++) stream.publish({ n });
      const { seen } = await page.next<{ seen: number[] }>("events");
      assert.deepEqual(
        seen,
        Array.from({ length: 200 }, (_, i) => i),
      );
    } finally {
      await page.stop();
    }
  });

  it("delivers notifications to a listening page", async () => {
    const page = runPage(h.db, "listen", grants);
    try {
      await page.next("subscribed");
      for (let n = 1; n <= 3; n++) h.db.notify("pings", { n });
      assert.deepEqual((await page.next<{ seen: number[] }>("notes")).seen, [1, 2, 3]);
    } finally {
      await page.stop();
    }
  });

  it("refuses what was not granted and bad payloads with codes, writing nothing", async () => {
    const page = runPage(h.db, "forbidden", grants);
    try {
      const { errors } = await page.next<{ errors: string[] }>("errors");
      assert.deepEqual(errors, [
        "HONKER_FORBIDDEN",
        "HONKER_FORBIDDEN",
        "HONKER_FORBIDDEN",
        "HONKER_INVALID_ARGUMENT",
        "HONKER_INVALID_ARGUMENT",
        "HONKER_INVALID_ARGUMENT",
      ]);
      assert.equal(h.db.raw.prepare("SELECT count(*) FROM _honker_live").pluck().get(), 0);
      assert.equal(h.db.raw.prepare("SELECT count(*) FROM _honker_notifications").pluck().get(), 0);
    } finally {
      await page.stop();
    }
  });
});
