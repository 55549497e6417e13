// Runs in the consumer project with no compiler on PATH: open, enqueue,
// work the job to completion, print what happened as JSON.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "honker-electron";
import { getLoadablePath } from "honker-electron/extension";

const dir = mkdtempSync(join(tmpdir(), "honker-consumer-"));
const db = open(join(dir, "app.db"));
const id = db.queue("ship").enqueue({ order: 7 });
const worker = db.queue("ship").work(async (job) => job.payload.order * 2);
const result = await db.queue("ship").waitResult(id, { timeoutMs: 60_000 });
const state = db.queue("ship").getJob(id)?.state;
await worker.stop();
await db.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ result, state, extension: getLoadablePath() }));
