/**
 * Trust, class 5: a refused open() leaves the file and the process as they
 * were: no journal-mode switch, no descriptor left open, no file created.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { open } from "../../src/main/database.ts";
import { isHonkerError } from "../../src/main/errors.ts";
import { tempDir } from "../helpers/db.ts";
import { withCleanups } from "../helpers/host.ts";

const { cleanups } = withCleanups();

function dir(): string {
  const d = tempDir("honker-open-");
  cleanups.push(d.cleanup);
  return d.dir;
}

const fds = () => readdirSync("/proc/self/fd").length;

/** A file of the app's own whose `_honker_live` is not honker's table. */
function clashingFile(path: string): void {
  const raw = new Database(path);
  raw.exec("CREATE TABLE _honker_live (id INTEGER PRIMARY KEY, something_else TEXT)");
  raw.close();
}

function journalMode(path: string): string {
  const raw = new Database(path, { readonly: true });
  try {
    return raw.pragma("journal_mode", { simple: true }) as string;
  } finally {
    raw.close();
  }
}

describe("a refused open()", () => {
  it("leaves a file whose tables clash in its own journal mode", () => {
    const path = join(dir(), "app.db");
    clashingFile(path);
    assert.equal(journalMode(path), "delete");
    assert.throws(
      () => open(path, { retention: false }),
      (err) => isHonkerError(err),
    );
    assert.equal(journalMode(path), "delete");
    assert.equal(existsSync(`${path}-wal`), false);
  });

  it("leaks no file descriptor, after 20 refusals of each kind", async () => {
    const d = dir();
    const clash = join(d, "clash.db");
    clashingFile(clash);
    const ok = join(d, "ok.db");
    await open(ok, { retention: false }).close();
    const refuseEach = () => {
      assert.throws(() => open(clash));
      assert.throws(() => open(ok, { retention: { intervalMs: -1 } }));
      assert.throws(() => open(ok, { scheduler: { lockTtl: Number.NaN } }));
      assert.throws(() => open(ok, { checkpoints: "sometimes" as never }));
      assert.throws(() => open(ok, { extensionPath: join(d, "missing.so") }));
    };
    // The first round may set up what Node keeps for the process (the
    // dynamic loader's state, libuv's threads); the next 20 must add nothing.
    refuseEach();
    const before = fds();
    for (let i = 0; i < 20; i++) refuseEach();
    assert.equal(fds(), before);
  });

  it("creates no file when an option is bad", () => {
    const path = join(dir(), "never.db");
    assert.throws(
      () => open(path, { busyTimeoutMs: Number.NaN }),
      (err) =>
        isHonkerError(err, "HONKER_INVALID_ARGUMENT") && /options\.busyTimeoutMs/.test(err.message),
    );
    assert.equal(existsSync(path), false);
  });

  it("refuses a file written by a newer kit's format, and writes nothing to it", async () => {
    const path = join(dir(), "future.db");
    const db = open(path, { retention: false });
    db.raw.prepare("UPDATE _honker_x_meta SET value = '99' WHERE key = 'format_version'").run();
    await db.close();
    const raw = new Database(path);
    raw.pragma("journal_mode = DELETE");
    raw.close();
    assert.throws(
      () => open(path, { retention: false }),
      (err) =>
        isHonkerError(err, "HONKER_FORMAT_VERSION") &&
        /format version is 99, newer than/.test(err.message),
    );
    assert.equal(journalMode(path), "delete");
  });
});
