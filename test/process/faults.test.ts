/**
 * Faults of the file system and the file: a full disk, a read-only file,
 * a corrupt file, a missing directory. Each fails with its stable code,
 * leaves nothing half-written, and the process can go on with a good file.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, type TestContext, test } from "node:test";
import { type HonkerDatabase, open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { tempDir } from "../helpers/db.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function count(db: HonkerDatabase, sql: string): number {
  return db.raw.prepare(sql).pluck().get() as number;
}

/** After a failure, this process can still open a good file and use it. */
async function assertGoodFileWorks(): Promise<void> {
  const { dir, cleanup } = tempDir("honker-proc-");
  try {
    const db = open(join(dir, "good.db"));
    try {
      const q = db.queue("good");
      const id = q.enqueue({ ok: true });
      const [job] = q.claim("good-worker");
      assert.equal(job?.id, id);
      assert.deepEqual(job?.payload, { ok: true });
      assert.equal(q.ack(id, "good-worker"), true);
      assert.equal(count(db, "SELECT count(*) FROM _honker_live"), 0);
    } finally {
      await db.close();
    }
  } finally {
    cleanup();
  }
}

/** Runs a mount-style command; returns the error text, or null on success. */
function tryRun(cmd: string, args: string[]): string | null {
  try {
    execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    return null;
  } catch (err) {
    const e = err as { stderr?: Buffer; message?: string };
    return (e.stderr?.toString().trim() || e.message) ?? String(err);
  }
}

function unmount(dir: string): void {
  if (tryRun("umount", [dir]) !== null) tryRun("umount", ["-l", dir]);
}

test("a full disk fails an enqueue with HONKER_DISK_FULL, leaves nothing half-written, and writes work again once space is freed", async (t: TestContext) => {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const mnt = join(dir, "small");
  mkdirSync(mnt);
  const failed = tryRun("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
  if (failed !== null) {
    t.skip(`cannot mount a 1 MB tmpfs (not root or not permitted): ${failed}`);
    return;
  }
  cleanups.push(() => unmount(mnt));
  const filler = join(mnt, "filler.bin");
  writeFileSync(filler, Buffer.alloc(192 * 1024, 1));
  const db = open(join(mnt, "app.db"));
  cleanups.push(() => db.close());
  const queue = db.queue("fill");
  const pad = "x".repeat(2000);

  let error: unknown = null;
  let before = -1;
  let after = -1;
  let ok = 0;
  for (let n = 0; n < 10_000; n++) {
    before = count(db, "SELECT count(*) FROM _honker_live");
    try {
      queue.enqueue({ n, pad });
      ok++;
    } catch (err) {
      error = err;
      after = count(db, "SELECT count(*) FROM _honker_live");
      break;
    }
  }
  assert.ok(isHonkerError(error, "HONKER_DISK_FULL"), `expected HONKER_DISK_FULL, got ${error}`);
  assert.ok(ok > 0, "some enqueues fit before the disk filled");
  assert.equal(after, before, "the failed enqueue left no row behind");
  assert.equal(before, ok);
  assert.equal(db.raw.inTransaction, false, "no transaction left open");

  // Reads still work, and the file is healthy.
  assert.equal(db.raw.pragma("integrity_check", { simple: true }), "ok");
  const first = queue.getJob(1);
  assert.equal(first?.state, "pending");
  assert.deepEqual(first?.payload, { n: 0, pad });
  assert.equal(queue.stats().pending, ok);
  // Still full: another write fails the same way, again without a trace.
  assert.throws(
    () => queue.enqueue({ n: -1, pad }),
    (err) => isHonkerError(err, "HONKER_DISK_FULL"),
  );
  assert.equal(count(db, "SELECT count(*) FROM _honker_live"), ok);

  unlinkSync(filler);
  const id = queue.enqueue({ n: ok, pad: "" });
  assert.equal(count(db, "SELECT count(*) FROM _honker_live"), ok + 1);
  const [job] = queue.claim("after-full", { batchSize: 1 });
  assert.ok(job, "a claim works after space is freed");
  assert.equal(queue.ack(job.id, "after-full"), true);
  assert.equal(queue.getJob(id)?.state, "pending");
  assert.equal(db.raw.pragma("integrity_check", { simple: true }), "ok");
  await db.close();
  await assertGoodFileWorks();
});

test("a read-only database refuses to be written with HONKER_READONLY and is left unchanged", async (t: TestContext) => {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const src = join(dir, "src");
  mkdirSync(src);
  // Another handle keeps the file in use (its -wal and -shm exist), as an app would.
  const keeper = open(join(src, "app.db"));
  cleanups.push(() => keeper.close());
  keeper.queue("q").enqueue({ before: true });

  // Does chmod stop this process from writing? Not for root.
  const probe = join(dir, "probe");
  writeFileSync(probe, "x");
  chmodSync(probe, 0o444);
  let chmodStopsWrites = false;
  try {
    writeFileSync(probe, "y");
  } catch {
    chmodStopsWrites = true;
  }
  let readOnlyPath: string;
  if (chmodStopsWrites) {
    readOnlyPath = join(src, "app.db");
    chmodSync(readOnlyPath, 0o444);
  } else {
    const ro = join(dir, "ro");
    mkdirSync(ro);
    const failed = tryRun("mount", ["--bind", src, ro]);
    if (failed !== null) {
      t.skip(`running as root (chmod does not stop writes) and a bind mount failed: ${failed}`);
      return;
    }
    cleanups.push(() => unmount(ro));
    const remount = tryRun("mount", ["-o", "remount,ro,bind", ro]);
    if (remount !== null) {
      t.skip(
        `running as root (chmod does not stop writes) and a read-only remount failed: ${remount}`,
      );
      return;
    }
    readOnlyPath = join(ro, "app.db");
  }

  // An up-to-date file opens without writing (readers work); the first write is refused.
  const reader = open(readOnlyPath);
  try {
    assert.equal(reader.queue("q").stats().pending, 1, "the read-only handle reads");
    assert.throws(
      () => reader.queue("q").enqueue({ refused: true }),
      (err) => isHonkerError(err, "HONKER_READONLY"),
      "a write through the read-only handle",
    );
  } finally {
    await reader.close();
  }
  assert.equal(count(keeper, "SELECT count(*) FROM _honker_live"), 1, "nothing was written");
  assert.equal(keeper.raw.pragma("integrity_check", { simple: true }), "ok");
  // The writable handle is unaffected.
  keeper.queue("q").enqueue({ after: true });
  assert.equal(count(keeper, "SELECT count(*) FROM _honker_live"), 2);
  await assertGoodFileWorks();
});

test("a file with a corrupt header fails open() with HONKER_CORRUPT", async () => {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "app.db");
  const db = open(path);
  db.queue("q").enqueue({ n: 1 });
  await db.close();
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.from("this is not an sqlite header, just garbage bytes!!".repeat(2)), 0);
  } finally {
    closeSync(fd);
  }
  assert.throws(
    () => open(path),
    (err) => isHonkerError(err, "HONKER_CORRUPT"),
    "open() of a corrupt file",
  );
  await assertGoodFileWorks();
});

test("a database in a missing directory fails open() with HONKER_CANNOT_OPEN", async () => {
  const { dir, cleanup } = tempDir("honker-proc-");
  cleanups.push(cleanup);
  const path = join(dir, "no", "such", "dir", "app.db");
  assert.throws(
    () => open(path),
    (err) => isHonkerError(err, "HONKER_CANNOT_OPEN"),
    "open() in a missing directory",
  );
  await assertGoodFileWorks();
});
