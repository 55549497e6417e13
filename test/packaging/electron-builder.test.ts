/**
 * The root electron-builder.yml packages example-app/ for `--linux dir`,
 * fully offline and without the Electron binary: `electronDist` points at a
 * stub folder holding an executable named `electron` (all electron-builder
 * copies; it renames it to the product's name), and `npmRebuild: false`
 * keeps it from fetching Electron headers. Then the output is inspected:
 * the kit's JS inside app.asar, the extension and better-sqlite3's addon
 * in app.asar.unpacked, and the packaged loader, run from a path inside
 * app.asar, returns the unpacked extension, which loads in better-sqlite3.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensurePrebuild, platformDir, root } from "../helpers/package.ts";

const require = createRequire(import.meta.url);
const skip = process.platform === "linux" ? false : "electron-builder --linux dir runs on Linux";
const work = mkdtempSync(join(tmpdir(), "honker-builder-"));
const resources = join(
  work,
  "out",
  `linux-${process.arch === "x64" ? "" : `${process.arch}-`}unpacked`,
  "resources",
);
const asarFile = join(resources, "app.asar");
const unpacked = join(resources, "app.asar.unpacked");
let log = "";

type Asar = {
  listPackage(archive: string, options?: object): string[];
  statFile(archive: string, filename: string): { unpacked?: boolean; size?: number };
  extractAll(archive: string, dest: string): void;
};
const asar = (): Asar => require("@electron/asar") as Asar;

before(
  () => {
    if (skip) return;
    ensurePrebuild();
    assert.ok(existsSync(join(root, "dist/main/index.js")), "build first (npm run build)");
    const stub = join(work, "electron-stub");
    mkdirSync(stub);
    writeFileSync(join(stub, "electron"), "#!/bin/sh\necho 'a stand-in for Electron'\n");
    chmodSync(join(stub, "electron"), 0o755);
    const cli = join(root, "node_modules", "electron-builder", "cli.js");
    log = execFileSync(
      process.execPath,
      [
        cli,
        "--linux",
        "dir",
        `--${process.arch}`,
        "--publish",
        "never",
        `-c.electronDist=${stub}`,
        `-c.directories.output=${join(work, "out")}`,
      ],
      { cwd: root, encoding: "utf8", env: { ...process.env, CI: "true" }, stdio: "pipe" },
    );
  },
  { timeout: 120_000 },
);
after(() => rmSync(work, { recursive: true, force: true }));

describe("electron-builder.yml, packaging example-app offline", { skip }, () => {
  it("downloaded nothing and rebuilt nothing", () => {
    assert.match(log, /using custom unpacked Electron distribution/);
    assert.match(log, /skipped dependencies rebuild/);
    assert.doesNotMatch(log, /download/i);
  });

  it("puts the kit's JavaScript and the app inside app.asar", () => {
    const files = asar()
      .listPackage(asarFile)
      .map((f) => f.replaceAll("\\", "/"));
    for (const f of [
      "/example-app/main.js",
      "/dist/main/index.js",
      "/dist/extension/index.js",
      "/dist/preload/index.cjs",
      "/dist/renderer-api/index.js",
      "/node_modules/better-sqlite3/lib/index.js",
      "/node_modules/comlink/dist/esm/comlink.mjs",
    ]) {
      assert.ok(files.includes(f), `${f} is in app.asar`);
    }
    assert.equal(asar().statFile(asarFile, "dist/main/index.js").unpacked, undefined);
    assert.deepEqual(
      files.filter((f) => f.endsWith(".d.ts") || f.includes("/@types/")),
      [],
      "no declarations shipped in the app",
    );
  });

  it("unpacks the extension and better-sqlite3's addon next to app.asar", () => {
    const ext = join("prebuilds", platformDir, "honker.so");
    assert.equal(asar().statFile(asarFile, ext).unpacked, true);
    assert.ok(existsSync(join(unpacked, ext)));
    const addon = join("node_modules", "better-sqlite3", "prebuilds", `${platformDir}.node`);
    assert.equal(asar().statFile(asarFile, addon).unpacked, true);
    assert.ok(existsSync(join(unpacked, addon)));
  });

  it("the packaged loader, run from inside app.asar, finds the unpacked extension and it loads", () => {
    // Plain Node cannot read app.asar, so lay out what Electron shows the app:
    // a folder named app.asar with the archive's files, app.asar.unpacked beside it.
    const view = join(work, "view");
    mkdirSync(view);
    asar().extractAll(asarFile, join(view, "app.asar"));
    symlinkSync(unpacked, join(view, "app.asar.unpacked"));
    const loader = join(view, "app.asar", "dist", "extension", "index.js");
    const probe = `
      import { getLoadablePath } from ${JSON.stringify(loader)};
      import { createRequire } from "node:module";
      const path = getLoadablePath();
      const Database = createRequire(${JSON.stringify(join(view, "app.asar.unpacked", "x.js"))})("better-sqlite3");
      const db = new Database(":memory:");
      db.loadExtension(path);
      db.prepare("SELECT honker_bootstrap()").get();
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE '_honker%'").get().n;
      console.log(JSON.stringify({ path, tables }));
    `;
    const env = { ...process.env };
    delete env.HONKER_EXTENSION_PATH;
    const res = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
      env,
      encoding: "utf8",
    });
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.path, join(view, "app.asar.unpacked", "prebuilds", platformDir, "honker.so"));
    assert.ok(out.tables > 0, "honker_bootstrap() created the honker tables");
  });
});
