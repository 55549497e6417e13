/**
 * Trust, class 4: once the watcher knows the database file is gone,
 * replaced or truncated (by another process), every write on that handle is
 * refused with HONKER_WATCHER_DEAD instead of landing in a dead file or
 * corrupting the new one.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { describe, it } from "node:test";
import type { HonkerDatabase } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { withCleanups, within } from "../helpers/host.ts";

const { tempDb } = withCleanups();

// biome-ignore lint/suspicious/noExplicitAny: any schema
function died(db: HonkerDatabase<any>): Promise<unknown> {
  return new Promise((resolve) => db.watcher.onDead(resolve));
}

// biome-ignore lint/suspicious/noExplicitAny: any schema
function assertEveryWriteRefused(db: HonkerDatabase<any>, what: RegExp): void {
  const writes: [string, () => unknown][] = [
    ["enqueue", () => db.queue("q").enqueue(1)],
    ["publish", () => db.stream("s").publish(1)],
    ["notify", () => db.notify("c", 1)],
    ["transaction", () => db.transaction(() => 1)],
    ["tryLock", () => db.tryLock("l")],
    ["rateLimit", () => db.rateLimit("r", { limit: 1, perSeconds: 1 })],
  ];
  for (const [name, write] of writes) {
    assert.throws(
      write,
      (err) => isHonkerError(err, "HONKER_WATCHER_DEAD") && what.test(err.message),
      `${name} after the file went away`,
    );
  }
}

describe("writes on a handle whose file is gone", () => {
  it("are refused once another process deletes the file", async () => {
    const { db, path } = tempDb({ retention: false });
    db.queue("q").enqueue("before");
    const dead = died(db);
    execFileSync("rm", ["-f", path]);
    await within(dead, 5000, "the watcher noticing the deletion");
    assertEveryWriteRefused(db, /was deleted while open/);
    assert.equal(existsSync(path), false);
  });

  it("are refused once another process truncates the file to 0 bytes, and it stays 0 bytes", async () => {
    const { db, path } = tempDb({ retention: false, checkpoints: "inline" });
    db.queue("q").enqueue("before");
    const dead = died(db);
    execFileSync("truncate", ["-s", "0", path]);
    await within(dead, 5000, "the watcher noticing the truncation");
    assertEveryWriteRefused(db, /was truncated to 0 bytes while open/);
    assert.equal(statSync(path).size, 0);
  });

  it("are refused at once in a process that only writes (no file events watched)", async () => {
    // Nobody listens: the directory is not watched (it would cost every
    // commit kernel time), so each write checks the file itself.
    const { db, path } = tempDb({ retention: false, watcher: { fileEventsLingerMs: 0 } });
    db.queue("q").enqueue("before");
    assert.equal(db.watcher.watchingFiles, false);
    // A later turn of the event loop (a write checks the file once per turn).
    await new Promise((resolve) => setImmediate(resolve));
    execFileSync("rm", ["-f", path]);
    assertEveryWriteRefused(db, /was deleted while open/);
    assert.equal(existsSync(path), false);
  });

  it("are refused once another process replaces the file", async () => {
    const { db, path } = tempDb({ retention: false });
    const dead = died(db);
    execFileSync("sh", ["-c", `cp "${path}" "${path}.new" && mv "${path}.new" "${path}"`]);
    await within(dead, 5000, "the watcher noticing the replacement");
    assertEveryWriteRefused(db, /was replaced while open/);
  });
});
