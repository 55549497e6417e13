import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { getLoadablePath } from "../../src/extension/index.ts";
import { freshDb, scalar, TS_FLAGS } from "../helpers/db.ts";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "claim-worker.ts");
// Enough work (about 2,000 claims) that no single process drains the queue before the others start.
const JOBS = 10_000;
const WORKERS = 4;

type Report = {
  worker: string;
  ids: number[];
  batches: number;
  shortAcks: number;
  busyRetries: number;
};

/** A started worker: `ready` resolves on its first line, `done` with its report. */
function startWorker(path: string, worker: string, signal: AbortSignal) {
  const child: ChildProcess = spawn(
    process.execPath,
    [...TS_FLAGS, fixture, path, getLoadablePath(), "mp", worker],
    { stdio: ["pipe", "pipe", "pipe"], signal },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const out: string[] = [];
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    if (line === "ready") markReady();
    else out.push(line);
  });
  const done = new Promise<Report>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0 || stderr !== "") {
        reject(new Error(`worker ${worker} exited with ${code}: ${stderr}`));
        return;
      }
      resolve(JSON.parse(out.join("")) as Report);
    });
  });
  // A failed start must not leave `ready` hanging.
  done.catch(() => markReady());
  return { child, ready, done };
}

it("claims every job exactly once when four processes claim from one queue", {
  timeout: 90_000,
}, async () => {
  const ctx = freshDb();
  try {
    const insert = ctx.db.prepare("SELECT honker_enqueue('mp', ?, NULL, NULL, 0, 3, NULL)");
    ctx.db.transaction(() => {
      for (let i = 0; i < JOBS; i++) insert.get(JSON.stringify({ i }));
    })();
    const signal = AbortSignal.timeout(80_000);
    const workers = Array.from({ length: WORKERS }, (_, i) =>
      startWorker(ctx.path, `w${i}`, signal),
    );
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin?.end("go\n");
    const reports = await Promise.all(workers.map((w) => w.done));

    const all = reports.flatMap((r) => r.ids);
    assert.equal(all.length, JOBS, "claims in total");
    assert.equal(new Set(all).size, JOBS, "no job claimed twice");
    assert.deepEqual(
      [...all].sort((a, b) => a - b),
      Array.from({ length: JOBS }, (_, i) => i + 1),
    );
    assert.deepEqual(
      reports.map((r) => r.shortAcks),
      reports.map(() => 0),
      "every ack_batch acked the whole batch",
    );
    const participants = reports.filter((r) => r.ids.length > 0).length;
    assert.ok(participants >= 2, `only ${participants} process(es) claimed jobs`);
    assert.equal(scalar(ctx.db, "(SELECT count(*) FROM _honker_live)"), 0);
    assert.equal(scalar(ctx.db, "(SELECT count(*) FROM _honker_dead)"), 0);
  } finally {
    ctx.close();
  }
});
