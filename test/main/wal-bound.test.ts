/**
 * The -wal file stays bounded under sustained writes (from this process and
 * another one), returns to journal_size_limit after the burst, and a reader that
 * pins an old snapshot is reported instead of letting it grow in silence.
 *
 * HONKER_SOAK=1 writes for 60 s instead of 5 s.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { after, describe, it } from "node:test";
import type { HonkerError } from "../../src/main/errors.ts";
import { deferred, withCleanups, within } from "../helpers/host.ts";
import { killAll, startChild } from "../process/children.ts";

const { tempDb } = withCleanups();
after(killAll);

const SECONDS = process.env.HONKER_SOAK ? 60 : 5;
const MiB = 1024 * 1024;
/** The documented bound: twice the hard bound of 8 x checkpointAfterWalBytes (4 MiB). */
const BOUND = 64 * MiB;
/** journal_size_limit: twice checkpointAfterWalBytes. */
const LIMIT = 8 * MiB;

const walSize = (path: string) => statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;

describe("the -wal file", () => {
  it(`stays under ${BOUND / MiB} MiB while two processes write at full speed for ${SECONDS} s, then shrinks`, async () => {
    const { db, path } = tempDb({ retention: false });
    const other = startChild("writer", "proc-writer.ts", [path, "other", "continuous", "c"]);
    await other.event("writing", 10_000);
    const q = db.queue("q");
    const body = "x".repeat(200);
    let max = 0;
    let jobs = 0;
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      for (let i = 0; i < 100; i++) q.enqueue({ i, body });
      jobs += 100;
      max = Math.max(max, walSize(path));
      await new Promise((r) => setImmediate(r));
    }
    other.send("stop");
    await other.event("stopped", 10_000);
    // After the burst a checkpoint cuts the file back to at most
    // journal_size_limit (2 x checkpointAfterWalBytes: a checkpointed WAL
    // below it is rewound in place, not truncated).
    q.enqueue({ last: true });
    const deadline = Date.now() + 5000;
    while (walSize(path) > LIMIT && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(jobs > 1000, `${jobs} jobs written`);
    assert.ok(max <= BOUND, `max -wal ${(max / MiB).toFixed(1)} MiB`);
    assert.ok(
      walSize(path) <= LIMIT,
      `-wal after the burst ${(walSize(path) / MiB).toFixed(1)} MiB`,
    );
  });

  it("is reported as growing (HONKER_WAL_GROWING, with its size) while another process pins an old snapshot", async () => {
    const warned = deferred<HonkerError>();
    const { db, path } = tempDb({
      retention: false,
      checkpointAfterWalBytes: 256 * 1024,
      onError: (err) => warned.resolve(err as HonkerError),
    });
    const reader = startChild("reader", "hold-read.ts", [path]);
    await reader.event("ready", 10_000);
    db.queue("q").enqueue(0);
    reader.send("read");
    await reader.event("reading", 5000);
    const q = db.queue("q");
    const body = "y".repeat(1000);
    let done = false;
    const writing = (async () => {
      while (!done) {
        for (let i = 0; i < 50; i++) q.enqueue({ i, body });
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      const err = await within(warned.promise, 20_000, "a HONKER_WAL_GROWING warning");
      assert.equal(err.code, "HONKER_WAL_GROWING");
      assert.match(
        err.message,
        /-wal file of .* is \d+\.\d MiB and checkpoints cannot finish: a reader holds an old snapshot/,
      );
    } finally {
      done = true;
      await writing;
      reader.send("end");
    }
  });
});
