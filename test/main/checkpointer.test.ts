import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { describe, it } from "node:test";
import type { Checkpointer } from "../../src/main/checkpointer.ts";
import type { Queue } from "../../src/main/queue.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import { freshHost, type Host } from "../helpers/host.ts";
import { sleep, waitFor } from "../helpers/wait.ts";

function eventually(predicate: () => boolean, ms: number, what: string): Promise<void> {
  return waitFor(predicate, { timeoutMs: ms, what, intervalMs: 10 });
}

/** A host (retention off) with its checkpointer, queue "q" and the -wal file's size; closed after `fn`. */
async function withCheckpointer(
  checkpointAfterWalBytes: number,
  fn: (t: {
    h: Host<AnySchema>;
    cp: Checkpointer;
    q: Queue;
    walSize: () => number;
  }) => Promise<void>,
): Promise<void> {
  const h = freshHost({ checkpointAfterWalBytes, retention: false });
  try {
    const cp = h.db.checkpointer;
    assert.ok(cp);
    await fn({ h, cp, q: h.db.queue("q"), walSize: () => statSync(`${h.path}-wal`).size });
  } finally {
    await h.close();
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
    // Threshold 0: every timer run requests a checkpoint, so any run would
    // show (with the default 4 MiB nothing is ever requested, idle or not).
    const h = freshHost({ checkpointAfterWalBytes: 0 });
    try {
      const cp = h.db.checkpointer;
      assert.ok(cp);
      const runs = () => cp.stats.requested + cp.stats.skipped;
      // open() itself writes (bootstrap, the first retention pass): let that settle.
      let last = -1;
      let stableSince = Date.now();
      await waitFor(
        () => {
          if (runs() !== last || cp.stats.requested !== cp.stats.completed + cp.stats.failed) {
            last = runs();
            stableSince = Date.now();
          }
          return Date.now() - stableSince >= 300;
        },
        { timeoutMs: 5000, what: "open()'s own checkpoints to settle", intervalMs: 20 },
      );
      const settled = runs();
      await sleep(500);
      assert.equal(runs(), settled, "a checkpoint ran while idle");
      // The control: a commit does make the checkpointer run, so the count above could move.
      h.db.queue("q").enqueue(1);
      await eventually(() => runs() > settled, 5000, "a checkpoint after a commit");
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
      // Yielding now and then: 64 commits in one turn would be a burst,
      // which SQLite's own checkpoint handles (next test).
      for (let i = 0; i < 100; i++) {
        h.db.transaction(() => q.enqueue({ i, pad }));
        if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      assert.equal(cp.stats.inline, 0, "no burst");
      await eventually(() => cp.stats.completed > 0, 5000, "a checkpoint past the threshold");
    } finally {
      await h.close();
    }
  });

  it("lets writers rewind a checkpointed WAL in place at a steady pace: the file is reused, never truncated", async () => {
    await withCheckpointer(1024 * 1024, async ({ h, cp, q, walSize }) => {
      const frames = () => h.db.raw.prepare("SELECT honker_x_wal_frames()").pluck().get() as number;
      let smallestAfterCheckpoint = Number.POSITIVE_INFINITY;
      let largest = 0;
      let rewound = false;
      let last = 0;
      // A commit every few milliseconds: a busy app's pace, not a burst
      // (and slow enough for the thread to catch up on a loaded machine).
      for (let i = 0; i < 300; i++) {
        h.db.transaction(() => q.enqueue({ i }));
        const f = frames();
        if (f < last) rewound = true;
        last = f;
        largest = Math.max(largest, walSize());
        if (cp.stats.completed > 0)
          smallestAfterCheckpoint = Math.min(smallestAfterCheckpoint, walSize());
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(cp.stats.inline, 0, "no burst");
      assert.ok(cp.stats.caughtUp > 0, "a checkpoint copied every frame");
      assert.ok(rewound, "a writer started the WAL over at its front");
      assert.equal(cp.stats.resets, 0, "no TRUNCATE");
      assert.ok(
        smallestAfterCheckpoint >= 1024 * 1024,
        `the file went down to ${smallestAfterCheckpoint} bytes`,
      );
      // journal_size_limit: twice the threshold.
      assert.ok(largest <= 2 * 1024 * 1024, `-wal reached ${largest} bytes`);
    });
  });

  it("keeps the hard bound after the app's own PRAGMA wal_autocheckpoint replaced the extension's WAL hook", async () => {
    await withCheckpointer(256 * 1024, async ({ h, q, walSize }) => {
      q.enqueue({ first: true });
      // Off altogether: the worst case (no SQLite checkpoints either).
      h.db.raw.pragma("wal_autocheckpoint = 0");
      const pad = "x".repeat(8000);
      let max = 0;
      const end = Date.now() + 1000;
      for (let n = 1; Date.now() < end; n++) {
        h.db.transaction(() => {
          for (let k = 0; k < 4; k++) q.enqueue({ n, pad });
        });
        if (n % 40 === 0) {
          max = Math.max(max, walSize());
          await new Promise((r) => setImmediate(r));
        }
      }
      // The hard bound is 8 x the threshold (2 MiB here); a commit may overshoot it a little.
      assert.ok(max <= 4 * 1024 * 1024, `-wal reached ${(max / 1048576).toFixed(1)} MiB`);
      assert.equal(
        h.db.raw.pragma("wal_autocheckpoint", { simple: true }),
        0,
        "the app's setting stands",
      );
    });
  });

  it("lets SQLite checkpoint during a burst that never yields, and takes over again after", async () => {
    await withCheckpointer(256 * 1024, async ({ h, cp, q, walSize }) => {
      const pad = "x".repeat(1000);
      // The extension's WAL hook stands in for SQLite's (native/wal.c).
      const autocheckpoint = () =>
        h.db.raw.prepare("SELECT honker_x_wal_watch()").pluck().get() as number;
      let max = 0;
      // 3,000 transactions in one synchronous loop: the thread's timer never runs.
      for (let i = 0; i < 3000; i++) {
        h.db.transaction(() => q.enqueue({ i, pad }));
        if (i % 100 === 0) max = Math.max(max, walSize());
      }
      assert.equal(cp.stats.inline, 1, "one burst");
      assert.equal(cp.stats.forced, 0, "never the hard bound's RESTART");
      assert.equal(autocheckpoint(), 64);
      // Near the threshold (SQLite's checkpoint at 64 pages), far below the hard bound (2 MiB).
      assert.ok(max <= 1024 * 1024, `-wal reached ${max} bytes`);
      // The loop turns: checkpoints are the thread's again.
      await eventually(() => autocheckpoint() === 0, 5000, "automatic checkpoints off again");
    });
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
