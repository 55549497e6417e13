import assert from "node:assert/strict";
import { join, sep } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import {
  candidatePaths,
  getLoadablePath,
  libraryFileName,
  load,
  unpackedAsarPath,
} from "../../src/extension/index.ts";
import { tempDir } from "../helpers/db.ts";

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

  it("looks in build/ first, then prebuilds/<platform>-<arch>/", () => {
    const [build, prebuild] = candidatePaths("/pkg");
    assert.equal(build, join("/pkg", "build", libraryFileName()));
    assert.equal(
      prebuild,
      join("/pkg", "prebuilds", `${process.platform}-${process.arch}`, libraryFileName()),
    );
  });

  it("honours HONKER_EXTENSION_PATH and refuses one that does not exist", () => {
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

  it("names the platform when no binary exists", () => {
    assert.throws(
      () => withEnv(undefined, () => getLoadablePath("/empty-package-root")),
      new RegExp(
        `no SQLite extension for ${process.platform}-${process.arch}\\. Looked in: /empty-package-root/build/`,
      ),
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
