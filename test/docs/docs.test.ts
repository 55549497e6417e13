/**
 * The docs are tests. Every ```ts / ```tsx block of README.md and docs/*.md
 * type-checks as a consumer's code (strict, against the built package
 * resolved as `honker-electron` from a project's node_modules); every block
 * not marked `<!-- fragment -->` also runs in Node in a fresh folder (for at
 * most a few seconds: a worker that would run forever is stopped then); every
 * ```sql block runs in the sqlite3 shell on a fresh file, its `.load` pointed
 * at the built extension. Markers: see blocks.ts. Fragments may use names
 * declared by their doc's prelude, test/docs/preludes/<doc>.d.ts.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { getLoadablePath } from "../../src/extension/index.ts";
import { SQLITE3_SHELL, shellSkipReason } from "../helpers/clients.ts";
import { TS_FLAGS } from "../helpers/db.ts";
import { root, tsc } from "../helpers/package.ts";
import { type Block, extractBlocks } from "./blocks.ts";

const docs = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];
const blocks = docs.flatMap((doc) => extractBlocks(readFileSync(join(root, doc), "utf8"), doc));
const work = mkdtempSync(join(tmpdir(), "honker-docs-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** A consumer project: the built package (and React, Electron's types) in its node_modules. */
function setUpProject(): void {
  assert.ok(existsSync(join(root, "dist/main/index.d.ts")), "build first (npm run build)");
  writeFileSync(
    join(work, "package.json"),
    '{ "name": "docs", "private": true, "type": "module" }\n',
  );
  mkdirSync(join(work, "node_modules"));
  symlinkSync(root, join(work, "node_modules", "honker-electron"), "junction");
  for (const dep of ["@types", "react", "react-dom", "electron"]) {
    symlinkSync(join(root, "node_modules", dep), join(work, "node_modules", dep), "junction");
  }
}
setUpProject();

const docDir = (doc: string) => join(work, doc.replace(/[/.]/g, "_"));
function blockPath(b: Block): string {
  return join(docDir(b.doc), b.file);
}

const compilerOptions = {
  target: "ES2023",
  lib: ["ES2023", "DOM", "DOM.Iterable"],
  module: "Preserve",
  moduleResolution: "Bundler",
  moduleDetection: "force",
  jsx: "react-jsx",
  strict: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: true,
  noEmit: true,
  types: ["node"],
};

/** Writes a doc's blocks and tsconfig; returns the tsconfig's path. */
function writeDocProject(doc: string, own: Block[]): string {
  const dir = docDir(doc);
  const files: string[] = [];
  const prelude = join(root, "test", "docs", "preludes", `${basename(doc, ".md")}.d.ts`);
  if (existsSync(prelude)) {
    mkdirSync(dir, { recursive: true });
    copyFileSync(prelude, join(dir, "prelude.d.ts"));
    files.push("prelude.d.ts");
  }
  for (const b of own) {
    mkdirSync(dirname(blockPath(b)), { recursive: true });
    writeFileSync(blockPath(b), b.code);
    files.push(b.file);
  }
  const tsconfig = join(dir, "tsconfig.json");
  writeFileSync(tsconfig, JSON.stringify({ compilerOptions, files }, null, 2));
  return tsconfig;
}

/** tsc's `src/page.ts(3,7): error ...` as `docs/bridge.md:88: error ...`. */
function inDocTerms(output: string, own: Block[]): string {
  let text = output;
  for (const b of own) {
    const re = new RegExp(
      `\\S*${b.file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\((\\d+),\\d+\\)`,
      "g",
    );
    text = text.replace(re, (_, l: string) => `${b.doc}:${b.line + Number(l)}`);
  }
  return text;
}

const tsBlocks = blocks.filter((b) => b.lang !== "sql");
const checks = new Map(
  docs
    .filter((doc) => tsBlocks.some((b) => b.doc === doc))
    .map((doc) => {
      const own = tsBlocks.filter((b) => b.doc === doc);
      return [doc, { own, result: tsc(writeDocProject(doc, own)) }] as const;
    }),
);

describe("TypeScript in the docs type-checks as a consumer's (strict)", () => {
  for (const [doc, { own, result }] of checks) {
    it(`${doc} (${own.length} blocks)`, async () => {
      const { ok, output } = await result;
      assert.ok(ok, inDocTerms(output, own));
    });
  }
});

/**
 * Runs a block in Node. It passes when it exits with 0, or, with `expect`,
 * as soon as it has printed that (it is stopped then: a worker would wait for
 * jobs forever); a block without `expect` that is still running after
 * `quietMs` has shown no error and is stopped too.
 */
function runBlock(
  b: Block,
  cwd: string,
  quietMs: number,
  deadlineMs: number,
): Promise<{ ok: boolean; why: string }> {
  const env = { ...process.env };
  delete env.HONKER_EXTENSION_PATH;
  const child = spawn(process.execPath, [...TS_FLAGS, blockPath(b)], { cwd, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
    if (b.expect && stdout.includes(b.expect)) finish(true, "printed what it should");
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  let finish: (ok: boolean, why: string) => void = () => {};
  return new Promise((resolve) => {
    const timer = setTimeout(
      () =>
        b.expect
          ? finish(false, `did not print ${JSON.stringify(b.expect)} within ${deadlineMs} ms`)
          : finish(true, `still running after ${quietMs} ms, no error`),
      b.expect ? deadlineMs : quietMs,
    );
    finish = (ok, why) => {
      clearTimeout(timer);
      child.kill();
      resolve({ ok, why: `${why}\nstdout:\n${stdout}\nstderr:\n${stderr}` });
    };
    child.on("exit", (code) => {
      if (code === 0 && !b.expect) finish(true, "exited with 0");
      else if (code !== null) finish(false, `exited with ${code}`);
    });
  });
}

describe("runnable TypeScript in the docs runs in Node", () => {
  for (const b of tsBlocks.filter((x) => !x.fragment)) {
    it(`${b.doc}:${b.line}`, async () => {
      assert.equal(b.lang, "ts", "a runnable block is plain TypeScript (mark JSX a fragment)");
      await checks.get(b.doc)?.result; // its file is written
      const { ok, why } = await runBlock(b, mkdtempSync(join(work, "run-")), 3000, 60_000);
      assert.ok(ok, `${b.doc}:${b.line}: ${why}`);
    });
  }
});

describe("SQL in the docs runs in the sqlite3 shell", { skip: shellSkipReason() }, () => {
  for (const b of blocks.filter((x) => x.lang === "sql")) {
    it(`${b.doc}:${b.line}`, () => {
      const extension = getLoadablePath();
      const script = b.code.replace(/^\.load\s+\S+/gm, `.load ${extension}`);
      const file = join(mkdtempSync(join(work, "sql-")), "app.db");
      const res = spawnSync(SQLITE3_SHELL, ["-bail", file], {
        input: script,
        encoding: "utf8",
      });
      assert.equal(res.status, 0, `${b.doc}:${b.line}: ${res.stderr}`);
      assert.equal(res.stderr, "");
    });
  }
});
