/**
 * What a worker's `null` result row costs per job: the flush a worker runs
 * (one transaction acking a batch of 32 claimed jobs) with and without
 * `saveResult(id, null)` for each, interleaved in one process.
 *
 *   node bench/peers/result-rows.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../src/main/index.ts";
import { comparePair, printResults } from "../harness.ts";

const dir = mkdtempSync(join(tmpdir(), "honker-result-rows-"));
const db = open(join(dir, "bench.db"), { retention: false });
const q = db.queue("r");
const BATCH = 32;
const JOBS = 3200;

const refill = () => {
  db.raw.exec("DELETE FROM _honker_live; DELETE FROM _honker_x_history");
  db.raw.exec("DELETE FROM _honker_results");
  q.enqueueMany(Array.from({ length: JOBS + BATCH * 4 }, (_, n) => ({ n })));
};

/** Claims a batch, then acks it in one transaction as the worker's flush does. */
const flush = (save: boolean) => (n: number) => {
  for (let done = 0; done < n; done += BATCH) {
    const jobs = q.claim("w", { batchSize: BATCH });
    db.transaction(() => {
      for (const j of jobs) {
        if (q.ack(j.id, "w") && save) q.saveResult(j.id, undefined, 86400);
      }
    });
  }
};

try {
  const r = comparePair(
    {
      name: `claim ${BATCH} + ack, with vs without null result rows`,
      ops: JOBS,
      goal: 0,
      setup: refill,
      floor: flush(false),
      ours: flush(true),
    },
    9,
  );
  printResults("null result rows (median of 9 interleaved rounds; 'raw' = without)", [r]);
  console.log(
    `   per job: ${(1e6 / r.oursRate - 1e6 / r.floorRate) | 0} us more with the row (${(
      (1 - r.ratio) * 100
    ).toFixed(0)}% fewer jobs/s)`,
  );
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
