import assert from "node:assert/strict";
import { closeSync, openSync, readSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import {
  candidatePaths,
  detectLibc,
  getLoadablePath,
  type HostInfo,
  type Libc,
  libraryFileName,
  load,
  prebuildId,
  unpackedAsarPath,
} from "../../src/extension/index.ts";
import { tempDir } from "../helpers/db.ts";

/** A target as scripts/prebuild/targets.mjs describes it (the build side of the layout). */
interface ShippedTarget {
  id: string;
  platform: NodeJS.Platform;
  arch: string;
  libc: Libc;
  file: string;
}
const targetsModule = new URL("../../scripts/prebuild/targets.mjs", import.meta.url).href;

/** A host with an injected platform and file system, and no HONKER_EXTENSION_PATH. */
function fakeHost(
  platform: NodeJS.Platform,
  arch: string,
  libc: Libc,
  exists: (path: string) => boolean,
): HostInfo {
  return { platform, arch, libc, exists, env: {} };
}

function withEnv<T>(value: string | undefined, fn: () => T): T {
  const saved = process.env.HONKER_EXTENSION_PATH;
  if (value === undefined) delete process.env.HONKER_EXTENSION_PATH;
  else process.env.HONKER_EXTENSION_PATH = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.HONKER_EXTENSION_PATH;
    else process.env.HONKER_EXTENSION_PATH = saved;
  }
}

describe("honker-electron/extension", () => {
  it("names the library so SQLite's default entry point finds sqlite3_honker_init", () => {
    assert.equal(libraryFileName("linux"), "honker.so");
    assert.equal(libraryFileName("darwin"), "honker.dylib");
    assert.equal(libraryFileName("win32"), "honker.dll");
  });

  it("rewrites a path inside app.asar to app.asar.unpacked", () => {
    const packed = [
      "",
      "opt",
      "App",
      "resources",
      "app.asar",
      "node_modules",
      "honker-electron",
      "build",
      "honker.so",
    ].join(sep);
    assert.equal(
      unpackedAsarPath(packed),
      [
        "",
        "opt",
        "App",
        "resources",
        "app.asar.unpacked",
        "node_modules",
        "honker-electron",
        "build",
        "honker.so",
      ].join(sep),
    );
    assert.equal(unpackedAsarPath("/plain/path/honker.so"), "/plain/path/honker.so");
  });

  it("looks for the prebuild of this platform, arch and libc first, then build/", () => {
    const host = { platform: "linux", arch: "arm64", libc: "musl" } as const;
    assert.deepEqual(candidatePaths("/pkg", host), [
      join("/pkg", "prebuilds", "linux-arm64-musl", "honker.so"),
      join("/pkg", "build", "honker.so"),
    ]);
  });

  it("picks each shipped target's prebuild (the layout prebuild:all writes)", async () => {
    const targets: readonly ShippedTarget[] = (await import(targetsModule)).TARGETS;
    assert.equal(targets.length, 8);
    for (const t of targets) {
      const path = getLoadablePath(
        "/pkg",
        fakeHost(t.platform, t.arch, t.libc, () => true),
      );
      assert.equal(path, join("/pkg", "prebuilds", t.id, t.file), t.id);
      assert.equal(prebuildId(t.platform, t.arch, t.libc), t.id);
    }
  });

  it("prefers a prebuild to a build/ output, and falls back to build/ without one", () => {
    const both = fakeHost("darwin", "arm64", null, () => true);
    assert.equal(
      getLoadablePath("/pkg", both),
      join("/pkg", "prebuilds", "darwin-arm64", "honker.dylib"),
    );
    const buildOnly = fakeHost("freebsd", "x64", null, (p) => p.includes(`${sep}build${sep}`));
    assert.equal(getLoadablePath("/pkg", buildOnly), join("/pkg", "build", "honker.so"));
  });

  it("does not give a musl process the glibc prebuild, or the other way round", () => {
    const glibcOnly = (p: string) => p.includes(`linux-x64${sep}`);
    assert.throws(
      () => getLoadablePath("/pkg", fakeHost("linux", "x64", "musl", glibcOnly)),
      /no SQLite extension for linux-x64-musl \(musl\)/,
    );
    const muslOnly = (p: string) => p.includes("linux-x64-musl");
    assert.throws(
      () => getLoadablePath("/pkg", fakeHost("linux", "x64", "glibc", muslOnly)),
      /no SQLite extension for linux-x64 \(glibc\)/,
    );
  });

  it("loads from app.asar.unpacked when the package sits inside app.asar", () => {
    const root = join(sep, "App", "resources", "app.asar", "node_modules", "honker-electron");
    const path = getLoadablePath(
      root,
      fakeHost("win32", "arm64", null, () => true),
    );
    assert.equal(
      path,
      join(sep, "App", "resources", "app.asar.unpacked", "node_modules", "honker-electron").concat(
        sep,
        join("prebuilds", "win32-arm64", "honker.dll"),
      ),
    );
  });

  it("detects this process's C library without spawning a process", () => {
    assert.equal(detectLibc("darwin"), null);
    assert.equal(detectLibc("win32"), null);
    if (process.platform === "linux") {
      // An independent answer: the dynamic loader named in node's own ELF header.
      const head = Buffer.alloc(4096);
      const fd = openSync(process.execPath, "r");
      readSync(fd, head, 0, head.length, 0);
      closeSync(fd);
      const musl = head.includes("ld-musl-");
      assert.ok(musl || head.includes("ld-linux-"), "node's interpreter is neither");
      assert.equal(detectLibc(), musl ? "musl" : "glibc");
    }
  });

  it("honours HONKER_EXTENSION_PATH ahead of any prebuild, and refuses one that does not exist", () => {
    const env = { HONKER_EXTENSION_PATH: "/custom/honker.so" };
    assert.equal(
      getLoadablePath("/pkg", { ...fakeHost("linux", "x64", "glibc", () => true), env }),
      resolve("/custom/honker.so"),
    );
    const real = withEnv(undefined, () => getLoadablePath());
    assert.equal(
      withEnv(real, () => getLoadablePath()),
      real,
    );
    assert.throws(
      () => withEnv("/nowhere/honker.so", () => getLoadablePath()),
      /HONKER_EXTENSION_PATH points to \/nowhere\/honker.so, which does not exist/,
    );
  });

  it("lists what it looked for, and how to build from source, when nothing matches", () => {
    assert.throws(
      () =>
        getLoadablePath(
          "/empty",
          fakeHost("linux", "riscv64", "glibc", () => false),
        ),
      (err: Error) => {
        assert.match(err.message, /no SQLite extension for linux-riscv64 \(glibc\)/);
        assert.ok(err.message.includes(join("/empty", "prebuilds", "linux-riscv64", "honker.so")));
        assert.ok(err.message.includes(join("/empty", "build", "honker.so")));
        assert.match(err.message, /npx honker-electron-build/);
        assert.match(err.message, /HONKER_EXTENSION_PATH/);
        return true;
      },
    );
  });

  it("load(db) loads the extension into a better-sqlite3 database", () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = new Database(join(dir, "a.db"));
      load(db);
      assert.equal(db.prepare("SELECT honker_x_version()").pluck().get(), "0.1.0");
      db.close();
    } finally {
      cleanup();
    }
  });
});
