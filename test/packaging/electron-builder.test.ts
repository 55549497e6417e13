/**
 * electron-builder, proven without the Electron binary and offline:
 * `electronDist` points at a stub folder holding an executable named
 * `electron` (all electron-builder copies for `--linux dir`; it renames it to
 * the product's name), and `npmRebuild: false` keeps it from fetching
 * Electron's headers. Two apps are packaged and inspected:
 *
 * - example-app/ with the repository's electron-builder.yml;
 * - a user's app that depends on the packed package, with the electron-builder
 *   settings of docs/packaging.md (its yaml block, taken from the doc).
 *
 * For each: the kit's JS is inside app.asar, the extension and better-sqlite3's
 * addon are in app.asar.unpacked, and the packaged loader, run from its path
 * inside app.asar, returns the unpacked extension, which loads in better-sqlite3.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensurePrebuild, installKit, packKit, platformDir, root } from "../helpers/package.ts";

const require = createRequire(import.meta.url);
type Asar = {
  listPackage(archive: string): string[];
  statFile(archive: string, filename: string): { unpacked?: boolean };
  extractAll(archive: string, dest: string): void;
};
const asar = require("@electron/asar") as Asar;

const skip = process.platform === "linux" ? false : "electron-builder --linux dir runs on Linux";
const work = mkdtempSync(join(tmpdir(), "honker-builder-"));
after(() => rmSync(work, { recursive: true, force: true }));

function electronStub(): string {
  const stub = join(work, "electron-stub");
  if (!existsSync(stub)) {
    mkdirSync(stub);
    writeFileSync(join(stub, "electron"), "#!/bin/sh\necho 'a stand-in for Electron'\n");
    chmodSync(join(stub, "electron"), 0o755);
  }
  return stub;
}

/** Runs electron-builder for `--linux dir` in `projectDir`; returns its log and resources/. */
function buildLinuxDir(projectDir: string, name: string): { log: string; resources: string } {
  const out = join(work, `out-${name}`);
  const electronVersion = JSON.parse(
    readFileSync(join(root, "node_modules/electron/package.json"), "utf8"),
  ).version;
  const log = execFileSync(
    process.execPath,
    [
      join(root, "node_modules", "electron-builder", "cli.js"),
      "--linux",
      "dir",
      `--${process.arch}`,
      "--publish",
      "never",
      `-c.electronDist=${electronStub()}`,
      `-c.electronVersion=${electronVersion}`,
      `-c.directories.output=${out}`,
    ],
    { cwd: projectDir, encoding: "utf8", env: { ...process.env, CI: "true" }, stdio: "pipe" },
  );
  const dir = process.arch === "x64" ? "linux-unpacked" : `linux-${process.arch}-unpacked`;
  return { log, resources: join(out, dir, "resources") };
}

/**
 * Plain Node cannot read app.asar, so lay out what Electron shows the app (a
 * folder named app.asar with the archive's files, the real app.asar.unpacked
 * beside it), import the packaged loader from there, load what it returns.
 */
function probeLoader(resources: string, kitDir: string): { path: string; tables: number } {
  const view = mkdtempSync(join(work, "view-"));
  asar.extractAll(join(resources, "app.asar"), join(view, "app.asar"));
  symlinkSync(join(resources, "app.asar.unpacked"), join(view, "app.asar.unpacked"));
  const loader = join(view, "app.asar", kitDir, "dist", "extension", "index.js");
  const sqlite = join(view, "app.asar.unpacked", "node_modules", "better-sqlite3");
  const probe = `
    import { getLoadablePath } from ${JSON.stringify(loader)};
    import { createRequire } from "node:module";
    const path = getLoadablePath();
    const Database = createRequire(import.meta.url)(${JSON.stringify(sqlite)});
    const db = new Database(":memory:");
    db.loadExtension(path);
    db.prepare("SELECT honker_bootstrap()").get();
    const { n } = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE '_honker%'").get();
    console.log(JSON.stringify({ path: path.replace(${JSON.stringify(view)}, "<view>"), tables: n }));
  `;
  const env = { ...process.env };
  delete env.HONKER_EXTENSION_PATH;
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
    env,
    encoding: "utf8",
  });
  assert.equal(res.status, 0, res.stderr);
  return JSON.parse(res.stdout);
}

function asarFiles(resources: string): string[] {
  return asar.listPackage(join(resources, "app.asar")).map((f) => f.replaceAll("\\", "/"));
}

const unpackedIn = (resources: string, file: string) =>
  asar.statFile(join(resources, "app.asar"), file).unpacked === true &&
  existsSync(join(resources, "app.asar.unpacked", file));

const addon = `node_modules/better-sqlite3/prebuilds/${platformDir}.node`;

describe("electron-builder.yml packages example-app offline", { skip }, () => {
  let built: { log: string; resources: string };
  before(
    () => {
      ensurePrebuild();
      assert.ok(existsSync(join(root, "dist/main/index.js")), "build first (npm run build)");
      built = buildLinuxDir(root, "example");
    },
    { timeout: 120_000 },
  );

  it("downloads nothing and rebuilds nothing", () => {
    assert.match(built.log, /using custom unpacked Electron distribution/);
    assert.match(built.log, /skipped dependencies rebuild/);
    assert.doesNotMatch(built.log, /download/i);
  });

  it("puts the app and the kit's JavaScript inside app.asar, without declarations", () => {
    const files = asarFiles(built.resources);
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
    assert.equal(
      asar.statFile(join(built.resources, "app.asar"), "dist/main/index.js").unpacked,
      undefined,
    );
    assert.deepEqual(
      files.filter((f) => f.endsWith(".d.ts") || f.includes("/@types/")),
      [],
    );
  });

  it("unpacks the extension and better-sqlite3's addon next to app.asar", () => {
    assert.ok(unpackedIn(built.resources, `prebuilds/${platformDir}/honker.so`));
    assert.ok(unpackedIn(built.resources, addon));
  });

  it("the packaged loader, run from inside app.asar, finds the unpacked extension and it loads", () => {
    const out = probeLoader(built.resources, "");
    assert.equal(out.path, `<view>/app.asar.unpacked/prebuilds/${platformDir}/honker.so`);
    assert.ok(out.tables > 0, "honker_bootstrap() created the honker tables");
  });
});

describe("docs/packaging.md's recipe packages a user's app offline", { skip }, () => {
  let built: { log: string; resources: string };
  const kit = "node_modules/honker-electron";
  before(
    () => {
      const app = join(work, "user-app");
      mkdirSync(app);
      installKit(app, packKit(work).tarball, {
        name: "user-app",
        version: "1.0.0",
        description: "an app that uses honker-electron",
        author: "a user",
        main: "main.js",
      });
      writeFileSync(join(app, "main.js"), 'import { open } from "honker-electron";\nopen;\n');
      const doc = readFileSync(join(root, "docs", "packaging.md"), "utf8");
      const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
      assert.ok(yaml, "docs/packaging.md has an electron-builder.yml block");
      writeFileSync(join(app, "electron-builder.yml"), yaml);
      built = buildLinuxDir(app, "user");
    },
    { timeout: 120_000 },
  );

  it("downloads nothing and rebuilds nothing", () => {
    assert.match(built.log, /using custom unpacked Electron distribution/);
    assert.match(built.log, /skipped dependencies rebuild/);
    assert.doesNotMatch(built.log, /download/i);
  });

  it("puts the kit's JavaScript inside app.asar, without better-sqlite3's C sources", () => {
    const files = asarFiles(built.resources);
    assert.ok(files.includes(`/${kit}/dist/main/index.js`));
    assert.ok(files.includes(`/${kit}/dist/extension/index.js`));
    assert.deepEqual(
      files.filter((f) => /better-sqlite3\/(deps|src)\//.test(f)),
      [],
    );
  });

  it("unpacks the extension and better-sqlite3's addon next to app.asar", () => {
    assert.ok(unpackedIn(built.resources, `${kit}/prebuilds/${platformDir}/honker.so`));
    assert.ok(unpackedIn(built.resources, addon));
  });

  it("the packaged loader, run from inside app.asar, finds the unpacked extension and it loads", () => {
    const out = probeLoader(built.resources, kit);
    assert.equal(out.path, `<view>/app.asar.unpacked/${kit}/prebuilds/${platformDir}/honker.so`);
    assert.ok(out.tables > 0);
  });
});
