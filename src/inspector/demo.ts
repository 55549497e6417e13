/**
 * `honker-electron demo`: a database in a temp folder with live traffic
 * (producers, workers that sometimes fail, a stream with a fast and a slow
 * consumer, notifications, a schedule, a lock, a rate limit, an outbox
 * relaying to a flaky local receiver), for the inspector to show.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AnyHonkerDatabase, open } from "../main/database.ts";
import { httpTransport } from "../main/outbox/transport.ts";
import { DoNotRetry } from "../main/worker.ts";
import { startDemoReceiver } from "./demo-receiver.ts";

export interface Demo {
  readonly db: AnyHonkerDatabase;
  readonly path: string;
  /** Stops the traffic, closes the database and deletes the temp folder. */
  stop(): Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
const USERS = ["ann", "bob", "chen", "dana", "emil", "fatou"] as const;

/**
 * Outbox traffic: an outbox "webhooks" relaying to a flaky receiver on
 * 127.0.0.1 (demo-receiver.ts: some 503s, a few rejections, down for a few
 * seconds now and then), so the inspector shows messages waiting, retried,
 * in flight, delivered and, now and then, dead. Each message is added with
 * a note in the same transaction, as an app would with its own writes.
 * Resolves once stopped (outbox stopped, receiver closed).
 */
async function outboxTraffic(db: AnyHonkerDatabase, signal: AbortSignal): Promise<void> {
  const receiver = await startDemoReceiver();
  const webhooks = db.outbox("webhooks", {
    transport: httpTransport({ url: receiver.url, batchSize: 1, timeoutMs: 3000 }),
    maxAttempts: 4,
    concurrency: 2,
    backoff: { baseSeconds: 1, maxSeconds: 8 },
    probeMaxMs: 2000,
    onError: () => {},
  });
  try {
    while (!signal.aborted) {
      // One or two changes at a time, each message committed with a note
      // of it, as an app's own writes would be.
      const burst = 1 + Math.floor(Math.random() * 2);
      db.transaction(() => {
        for (let i = 0; i < burst; i++) {
          const user = pick(USERS);
          const event = pick(["note.created", "note.edited", "note.shared", "note.deleted"]);
          webhooks.add({ event, user, note: Math.floor(Math.random() * 500) }, { key: user });
          db.notify("outbox-demo", { event, user });
        }
      });
      await sleep(400 + Math.random() * 700, signal);
    }
  } finally {
    await webhooks.stop();
    await receiver.close();
  }
}

export function startDemo(options: { dir?: string } = {}): Demo {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "honker-demo-"));
  const ownsDir = options.dir === undefined;
  const path = join(dir, "demo.db");
  let db: ReturnType<typeof open>;
  try {
    db = open(path);
  } catch (err) {
    // A refused open (no extension for this platform...) leaves no folder behind.
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = new AbortController();
  const { signal } = stop;
  const quiet = { onError: () => {} };

  // A few jobs already waiting, some in the future, and a couple of dead ones.
  const emails = db.queue<"emails", { messageId: string }>("emails");
  const thumbs = db.queue("thumbnails");
  const reports = db.queue("reports");
  emails.enqueueMany(
    Array.from({ length: 40 }, (_, i) => ({
      to: `${pick(USERS)}@example.com`,
      template: "welcome",
      n: i,
    })),
  );
  thumbs.enqueueMany(
    Array.from({ length: 12 }, (_, i) => ({ image: `photos/${1000 + i}.jpg`, size: 256 })),
    { delay: 45 },
  );
  for (const n of [1, 2, 3]) {
    const id = reports.enqueue({ report: `quarterly-${n}`, format: "pdf" }, { maxAttempts: 1 });
    const [job] = reports.claim("demo-seed", { batchSize: 1 });
    if (job?.id === id) reports.fail(id, "demo-seed", "TypeError: cannot read 'rows' of undefined");
  }

  // Producers.
  const producer = async () => {
    while (!signal.aborted) {
      emails.enqueue({
        to: `${pick(USERS)}@example.com`,
        template: pick(["welcome", "digest", "reset"]),
      });
      if (Math.random() < 0.3) {
        thumbs.enqueue(
          { image: `photos/${Math.floor(Math.random() * 9000)}.jpg`, size: pick([128, 256, 512]) },
          Math.random() < 0.3 ? { delay: 20 + Math.floor(Math.random() * 60) } : undefined,
        );
      }
      await sleep(250 + Math.random() * 250, signal);
    }
  };

  // Workers: emails fail now and then (retried, some die); thumbnails report progress.
  const workers = [
    emails.work(
      async (job) => {
        await sleep(150 + Math.random() * 300, job.signal);
        if (Math.random() < 0.12) throw new Error("SMTP 451: try again later");
        if (Math.random() < 0.03)
          throw new DoNotRetry(`mailbox ${(job.payload as { to: string }).to} does not exist`);
        return { messageId: `<${job.id}@mail.example>` };
      },
      { concurrency: 2, backoff: { baseSeconds: 1, maxSeconds: 5 }, ...quiet },
    ),
    thumbs.work(
      async (job) => {
        for (let p = 25; p <= 100; p += 25) {
          job.progress({ percent: p });
          await sleep(150, job.signal);
        }
        return { bytes: 1000 + Math.floor(Math.random() * 50_000) };
      },
      { concurrency: 1, ...quiet },
    ),
  ];

  // A stream with a fast consumer and a slow one (which lags).
  const activity = db.stream("activity");
  const publisher = async () => {
    while (!signal.aborted) {
      const user = pick(USERS);
      activity.publish({ user, action: pick(["login", "edit", "share", "logout"]) }, { key: user });
      if (Math.random() < 0.2) db.notify("presence", { user, online: Math.random() < 0.7 });
      await sleep(200 + Math.random() * 300, signal);
    }
  };
  const consume = async (consumer: string, delayMs: number) => {
    try {
      for await (const _event of activity.subscribe({ consumer, from: "beginning", signal })) {
        if (signal.aborted) break;
        await sleep(delayMs, signal);
      }
    } catch {
      // closed with the demo
    }
  };

  // A schedule, a lock held now and then, a rate limit.
  db.scheduler.register("nightly-report", {
    queue: "reports",
    cron: "0 2 * * *",
    payload: { report: "nightly", format: "csv" },
  });
  db.scheduler.register("sync-every-10s", {
    queue: "sync",
    cron: "@every 10s",
    payload: { folder: "inbox" },
  });
  db.scheduler.start();
  const syncWorker = db.queue("sync").work(async () => {
    await sleep(300, signal);
  }, quiet);
  const housekeeping = async () => {
    while (!signal.aborted) {
      db.rateLimit("geocoding-api", { limit: 20, perSeconds: 60 });
      await db.withLock("compaction", async (s) => sleep(1500, s), { ttl: 10 }).catch(() => {});
      await sleep(2500, signal);
    }
  };

  const loops = [
    outboxTraffic(db, signal).catch(() => {}),
    producer(),
    publisher(),
    consume("search-indexer", 0),
    consume("analytics", 1500),
    housekeeping(),
  ];

  let stopping: Promise<void> | null = null;
  return {
    db,
    path,
    stop() {
      stopping ??= (async () => {
        stop.abort();
        await Promise.allSettled([...workers, syncWorker].map((w) => w.stop({ graceMs: 1000 })));
        await Promise.allSettled(loops);
        await db.close({ graceMs: 1000 });
        if (ownsDir) rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
