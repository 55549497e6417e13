/**
 * What a user installs: `npm pack` of this repository, installed into a
 * fresh project with `--ignore-scripts` and no C compiler on PATH. It must
 * carry everything it needs (this platform's extension, LICENSE, docs,
 * declarations), run a job end to end, and type-check a consumer project
 * (strict, skipLibCheck off, nodenext and bundler) without `electron` or
 * any DOM types for the main process.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
// @ts-expect-error native/build.mjs is plain JavaScript without declarations
import { libraryFileName } from "../../native/build.mjs";
import { consumerEnv, installKit, packKit, platformDir, tsc } from "../helpers/package.ts";

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), "honker-consumer-test-"));
const project = join(work, "project");
let files: string[] = [];
type Check = ReturnType<typeof tsc>;
let nodenext: Check;
let bundler: Check;

before(() => {
  const packed = packKit(work);
  files = packed.files;
  cpSync(join(here, "project"), project, { recursive: true });
  installKit(project, packed.tarball);
  // Both type-checks start now and run while the other tests do.
  nodenext = tsc(join(project, "tsconfig.nodenext.json"));
  bundler = tsc(join(project, "tsconfig.bundler.json"));
});
after(() => rmSync(work, { recursive: true, force: true }));

describe("the tarball", () => {
  it("ships LICENSE, README, the docs and this platform's extension", () => {
    for (const f of ["LICENSE", "README.md", "docs/host.md", "docs/bridge.md", "docs/sql.md"]) {
      assert.ok(files.includes(f), `${f} is packed`);
    }
    assert.ok(files.includes(`prebuilds/${platformDir}/${libraryFileName()}`));
    const license = readFileSync(join(project, "node_modules/honker-electron/LICENSE"), "utf8");
    assert.match(license, /^MIT License/);
    assert.match(license, /honker-electron contributors/);
  });

  it("has no source maps, stray builds, tests or sources outside dist/", () => {
    assert.deepEqual(
      files.filter((f) => f.endsWith(".map")),
      [],
    );
    assert.deepEqual(
      files.filter((f) => /^(src|test|e2e|bench|fuzz|build|example-app)\//.test(f)),
      [],
    );
    assert.ok(!files.includes("dist/preload/index.js"), "the preload ships as .cjs only");
  });

  it("has no lifecycle script that needs the repository (prepare, prepack)", () => {
    const pkg = JSON.parse(
      readFileSync(join(project, "node_modules/honker-electron/package.json"), "utf8"),
    );
    assert.equal(pkg.scripts?.prepare, undefined);
    for (const declared of Object.values(pkg.exports as Record<string, unknown>)) {
      const targets = typeof declared === "string" ? [declared] : Object.values(declared as object);
      for (const target of targets) {
        assert.ok(files.includes(String(target).replace(/^\.\//, "")), `${target} is packed`);
      }
    }
  });
});

describe("installed with --ignore-scripts and no C compiler", () => {
  it("really has no compiler on PATH", () => {
    const cc = spawnSync("cc", ["--version"], { env: consumerEnv(project) });
    assert.equal((cc.error as NodeJS.ErrnoException | undefined)?.code, "ENOENT");
  });

  it("opens a database and works a job to completion", () => {
    const res = spawnSync(process.execPath, ["run.mjs"], {
      cwd: project,
      env: consumerEnv(project),
      encoding: "utf8",
      timeout: 90_000,
    });
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout.trim().split("\n").at(-1) ?? "{}");
    assert.equal(out.result, 14);
    assert.equal(out.state, "completed");
    assert.equal(
      out.extension,
      join(project, "node_modules/honker-electron/prebuilds", platformDir, libraryFileName()),
    );
    assert.ok(!existsSync(join(project, "node_modules/honker-electron/build")), "nothing compiled");
  });
});

describe("npx honker-electron demo, from the installed package", () => {
  it("serves the page and live numbers that change while it runs", async () => {
    const bin = join(project, "node_modules", ".bin", "honker-electron");
    const child = spawn(bin, ["demo"], {
      cwd: project,
      env: consumerEnv(project),
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      let err = "";
      child.stderr.on("data", (d) => {
        err += d;
      });
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL in 30 s: ${out} ${err}`)), 30_000);
        child.stdout.on("data", (d) => {
          out += d;
          const m = out.match(/http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        });
        child.on("exit", (code) => reject(new Error(`demo exited ${code}: ${out} ${err}`)));
      });
      const u = new URL(url);
      const auth = { Authorization: `Bearer ${u.searchParams.get("token")}` };
      // The page and its modules ship in the package.
      for (const file of ["/", "/app.js", "/outbox.js", "/style.css"]) {
        const res = await fetch(`${u.origin}${file}`, { headers: auth });
        assert.equal(res.status, 200, file);
      }
      type Overview = {
        queues: { name: string; completed?: number; pending: number }[];
        outboxes: { name: string; delivered: number }[];
      };
      const overview = async () =>
        (await (await fetch(`${u.origin}/api/overview`, { headers: auth })).json()) as Overview;
      const first = JSON.stringify(await overview());
      let later = first;
      const until = Date.now() + 10_000;
      while (later === first && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        later = JSON.stringify(await overview());
      }
      assert.notEqual(later, first, "the demo's numbers changed within 10 s");
      const o = JSON.parse(later) as Overview;
      assert.ok(o.queues.length > 0, "the demo has queues");
      assert.ok(o.outboxes.length > 0, "the demo has an outbox");
    } finally {
      child.kill("SIGTERM");
    }
  });
});

describe("a consumer's TypeScript (strict, skipLibCheck off, no electron types)", () => {
  it("has neither electron nor @types/electron installed", () => {
    assert.ok(!existsSync(join(project, "node_modules/electron")));
    assert.ok(existsSync(join(project, "node_modules/@types/better-sqlite3")), "db.raw's types");
  });

  it("type-checks with moduleResolution nodenext (main process, no DOM lib)", async () => {
    const { ok, output } = await nodenext;
    assert.ok(ok, output);
  });

  it("type-checks with moduleResolution bundler (main, preload and page)", async () => {
    const { ok, output } = await bundler;
    assert.ok(ok, output);
  });
});
