import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { freshHost } from "../helpers/host.ts";

async function eventually(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("background checkpoints", () => {
  it("checkpoint the WAL from a worker thread after commits, not inside them", async () => {
    const h = freshHost({ checkpointAfterWalBytes: 0 });
    try {
      const q = h.db.queue("q");
      for (let i = 0; i < 50; i++) h.db.transaction(() => q.enqueue({ i }));
      const cp = h.db.checkpointer;
      assert.ok(cp, "a checkpointer by default");
      await eventually(() => cp.stats.completed > 0, 5000, "a background checkpoint");
      assert.ok(cp.stats.lastLog > 0, "the WAL had frames");
      assert.equal(cp.stats.lastCheckpointed, cp.stats.lastLog, "all of them were copied back");
      assert.equal(cp.stats.failed, 0);
    } finally {
      await h.close();
    }
  });

  it("runs nothing while the database is idle", async () => {
    const h = freshHost();
    try {
      // open() itself writes (bootstrap, the first retention pass); then quiet.
      await new Promise((r) => setTimeout(r, 300));
      const settled = h.db.checkpointer?.stats.requested;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(h.db.checkpointer?.stats.requested, settled);
    } finally {
      await h.close();
    }
  });

  it("starts no thread while the -wal file is below the threshold, and checkpoints once it is above", async () => {
    const h = freshHost({ checkpointAfterWalBytes: 256 * 1024 });
    try {
      const cp = h.db.checkpointer;
      assert.ok(cp);
      const q = h.db.queue("q");
      for (let i = 0; i < 5; i++) h.db.transaction(() => q.enqueue({ i }));
      await eventually(() => cp.stats.skipped > 0, 5000, "a skipped checkpoint");
      assert.equal(cp.stats.requested, 0);
      const pad = "x".repeat(4000);
      for (let i = 0; i < 100; i++) h.db.transaction(() => q.enqueue({ i, pad }));
      await eventually(() => cp.stats.completed > 0, 5000, "a checkpoint past the threshold");
    } finally {
      await h.close();
    }
  });

  it("can be switched off, keeping SQLite's automatic checkpoints", async () => {
    const h = freshHost({ checkpoints: "inline" });
    try {
      assert.equal(h.db.checkpointer, null);
      assert.equal(h.db.raw.pragma("wal_autocheckpoint", { simple: true }), 10000);
    } finally {
      await h.close();
    }
  });

  it("close() stops the worker thread", async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === "MessagePort").length;
    const h = freshHost({ checkpointAfterWalBytes: 0 });
    h.db.queue("q").enqueue(1);
    await eventually(() => (h.db.checkpointer?.stats.completed ?? 0) > 0, 5000, "a checkpoint");
    await h.close();
    const after = process.getActiveResourcesInfo().filter((r) => r === "MessagePort").length;
    assert.equal(after, before);
  });
});
