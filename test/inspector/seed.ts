/** A seeded database file for the inspector's tests. */
import { join } from "node:path";
import Database from "better-sqlite3";
import { getLoadablePath } from "../../src/extension/index.ts";
import { type AnyHonkerDatabase, open } from "../../src/main/database.ts";
import { tempDir } from "../helpers/db.ts";

export interface Seeded {
  db: AnyHonkerDatabase;
  path: string;
  deadIds: number[];
  cleanup(): Promise<void>;
}

/**
 * Queues "alpha" (5 due, 2 delayed, 1 processing, 2 dead; 3 completed) and
 * "beta" (3 due), a stream "events" with a consumer, a notification, a
 * schedule, a lock.
 */
export function seed(): Seeded {
  const { dir, cleanup } = tempDir("honker-inspector-");
  const path = join(dir, "app.db");
  const db = open(path, { retention: false });
  const alpha = db.queue("alpha");
  const deadIds: number[] = [];
  for (let i = 0; i < 2; i++) {
    const id = alpha.enqueue({ doomed: i }, { maxAttempts: 1 });
    const [job] = alpha.claim("seed", { batchSize: 1 });
    if (job?.id !== id) throw new Error("seed: claim mismatch");
    alpha.fail(id, "seed", `boom ${i}`);
    deadIds.push(id);
  }
  for (let i = 0; i < 3; i++) {
    const id = alpha.enqueue({ done: i });
    alpha.claim("seed", { batchSize: 1 });
    alpha.ack(id, "seed");
  }
  alpha.enqueue({ working: true });
  alpha.claim("seed", { batchSize: 1, visibilityTimeout: 600 });
  alpha.enqueueMany([1, 2, 3, 4, 5].map((n) => ({ n, note: `hello ${n}` })));
  alpha.enqueueMany([{ later: 1 }, { later: 2 }], { delay: 3600 });
  db.queue("beta").enqueueMany([{ b: 1 }, { b: 2 }, { b: 3 }]);
  const events = db.stream("events");
  for (let i = 0; i < 5; i++) events.publish({ i }, { key: `k${i % 2}` });
  db.raw.prepare("SELECT honker_stream_save_offset('reader', 'events', 2)").get();
  db.notify("changes", { table: "notes" });
  db.scheduler.register("hourly", { queue: "beta", cron: "@hourly", payload: { sweep: true } });
  db.tryLock("compaction", 600);
  return {
    db,
    path,
    deadIds,
    async cleanup() {
      await db.close();
      cleanup();
    },
  };
}

/** A second, independent connection (as another process would have). */
export function otherConnection(path: string): Database.Database {
  const conn = new Database(path);
  conn.pragma("busy_timeout = 5000");
  conn.loadExtension(getLoadablePath());
  return conn;
}
