// A consumer's main process, type-checked against the packed package with
// skipLibCheck off and neither `electron` nor DOM types around.
import {
  type HonkerDatabase,
  HonkerError,
  isHonkerError,
  open,
  serveNodePort,
} from "honker-electron";
import { getLoadablePath, load } from "honker-electron/extension";

type AppSchema = {
  queues: { ship: { order: number } };
  streams: { activity: { order: number; status: string } };
  channels: { "orders-changed": { id: number } };
};

const db: HonkerDatabase<AppSchema> = open<AppSchema>("app.db");

// db.raw is better-sqlite3's Database, typed, not `any`.
type IsAny<T> = 0 extends 1 & T ? true : false;
export const rawIsAny: IsAny<typeof db.raw> = false;
const row = db.raw.prepare("SELECT 1 AS one").get() as { one: number } | undefined;
// @ts-expect-error prepare() takes SQL text
db.raw.prepare(42);

db.transaction(() => {
  db.queue("ship").enqueue({ order: row?.one ?? 0 });
  db.notify("orders-changed", { id: 1 });
});
// @ts-expect-error wrong payload type
db.queue("ship").enqueue({ order: "1" });

db.queue("ship").work(async (job) => {
  db.stream("activity").publish({ order: job.payload.order, status: "shipped" });
});

try {
  load(db.raw, getLoadablePath());
} catch (err) {
  if (isHonkerError(err, "HONKER_EXTENSION") || err instanceof HonkerError) throw err;
}

export { serveNodePort };
