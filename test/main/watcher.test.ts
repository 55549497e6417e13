/**
 * Which file events make the watcher check `data_version`: -wal changes do,
 * followed by one trailing check (a writer publishes its commit in -shm
 * after its last -wal write, and that raises no event); changes to the
 * database file alone (checkpoints) do not.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, utimesSync } from "node:fs";
import { afterEach, test } from "node:test";
import Database from "better-sqlite3";
import { open } from "../../src/main/database.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import { Watcher } from "../../src/main/watcher.ts";
import { freshHost, type Host } from "../helpers/host.ts";
import { sleep, waitFor as waitUntil } from "../helpers/wait.ts";

let host: Host<AnySchema> | null = null;
afterEach(async () => {
  await host?.close();
  host = null;
});

/** Polls `predicate` every 2 ms (no watcher wakes: the watcher is what is observed); rejects after `ms`. */
function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  return waitUntil(predicate, { timeoutMs: ms, what, intervalMs: 2 });
}

/** A host with the poll off, after its own start-up events have been handled. */
async function quietHost(): Promise<Host<AnySchema>> {
  host = freshHost({ retention: false, checkpoints: "inline", watcher: { disablePoll: true } });
  const w = host.db.watcher;
  // Someone listens: the directory stays watched (see the linger test below).
  w.subscribe(() => {});
  host.db.queue("q").enqueue({ warm: true });
  // Settled: no new check over ten looks 2 ms apart.
  let last = -1;
  let quiet = 0;
  await waitFor(
    () => {
      quiet = w.stats.checks === last ? quiet + 1 : 0;
      last = w.stats.checks;
      return quiet >= 10;
    },
    5000,
    "the watcher to settle",
  );
  return host;
}

test("a -wal event that shows no commit is checked at once, twice more in the same turn, and once about a millisecond later", async () => {
  const h = await quietHost();
  const w = h.db.watcher;
  assert.ok(existsSync(`${h.path}-wal`));
  const events = w.stats.fileEvents;
  const checks = w.stats.checks;
  utimesSync(`${h.path}-wal`, new Date(), new Date());
  await waitFor(() => w.stats.fileEvents > events, 2000, "the -wal event");
  await waitFor(
    () => w.stats.checks >= checks + 4,
    2000,
    "the immediate, the two quick and the trailing checks",
  );
  // Nothing more follows one event (the trailing check comes ~1 ms after it).
  await sleep(30);
  assert.equal(w.stats.checks, checks + 4);
});

test("a commit published just after the event's check is seen in the same turn of the event loop, not a millisecond later", async () => {
  const h = await quietHost();
  const w = h.db.watcher;
  const reasons: string[] = [];
  w.subscribe((reason) => reasons.push(reason));
  const other = new Database(h.path);
  try {
    // The event arrives first (as a writer's frames reach -wal), its check
    // runs and sees nothing; then the writer publishes its commit.
    (w as unknown as { onFileEvent(e: string, n: string): void }).onFileEvent(
      "change",
      "app.db-wal",
    );
    await Promise.resolve(); // the event's check (queued first) has run
    assert.deepEqual(reasons, []);
    other.exec("CREATE TABLE published (x)");
    // The end of this turn: no timer (the trailing check's) can run before it.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(reasons, ["remote"]);
  } finally {
    other.close();
  }
});

test("a change to the database file alone (as a checkpoint makes) triggers no check", async () => {
  const h = await quietHost();
  const w = h.db.watcher;
  const events = w.stats.fileEvents;
  const checks = w.stats.checks;
  utimesSync(h.path, new Date(), new Date());
  await waitFor(() => w.stats.fileEvents > events, 2000, "the database file event");
  // A -wal event is checked at once (see above); give a wrong check the same time.
  await sleep(30);
  assert.equal(w.stats.checks, checks);
});

test("a process that listens but never writes still learns that file events work, and leaves no probe file", async () => {
  const first = freshHost({ retention: false, checkpoints: "inline" });
  await first.db.close();
  // Opened again: the schema is there, so open() writes nothing.
  const again = open(first.path, { retention: false, checkpoints: "inline" });
  host = {
    ...first,
    db: again,
    close: async () => {
      await again.close();
      await first.close();
    },
  };
  const w = host.db.watcher;
  // File events (and their probe) start with the first listener.
  assert.equal(w.watchingFiles, false);
  w.subscribe(() => {});
  await waitFor(() => w.fileEventsWork, 2000, "the probe's file event");
  assert.equal(w.stats.fileEvents, 0, "no event from a write of ours");
  assert.deepEqual(
    readdirSync(host.dir).filter((f) => f.includes("honker-watch")),
    [],
    "probe files left behind",
  );
});

test("readOnly: the watcher's own connection is read-only and still wakes on another's commit", async () => {
  host = freshHost({ retention: false });
  const h = host;
  const w = new Watcher(h.path, { readOnly: true });
  try {
    const conn = (w as unknown as { conn: { readonly: boolean } }).conn;
    assert.equal(conn.readonly, true);
    const woke = w.wait({ timeoutMs: 5000 });
    h.db.queue("q").enqueue({ from: "the writer" });
    assert.equal(await woke, "remote");
  } finally {
    w.close();
  }
});

test("watches the directory only while someone listens, and a new listener hears another process at once", async () => {
  host = freshHost({ retention: false, watcher: { fileEventsLingerMs: 20 } });
  const w = host.db.watcher;
  // Nobody listens after open: nothing is watched.
  assert.equal(w.watchingFiles, false);
  let wakes = 0;
  const unsubscribe = w.subscribe(() => {
    wakes++;
  });
  assert.equal(w.watchingFiles, true, "a listener watches again at once");
  // A connection that is not ours (as another process's) commits: the event wakes us.
  const other = new Database(host.path);
  const events = w.stats.fileEvents;
  other.exec("CREATE TABLE elsewhere (x); INSERT INTO elsewhere VALUES (1)");
  await waitFor(() => w.stats.fileEvents > events && wakes > 0, 2000, "the other commit's event");
  other.close();
  unsubscribe();
  assert.equal(w.watchingFiles, true, "it lingers after the last listener");
  await waitFor(() => !w.watchingFiles, 2000, "the watch released again");
});
