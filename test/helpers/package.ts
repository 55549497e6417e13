/**
 * The package as a user gets it: `npm pack` of this repository (with this
 * platform's prebuilt extension inside) installed into a fresh project with
 * `--ignore-scripts` and no C compiler on PATH. Shared by the consumer,
 * docs and packaging tests.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// @ts-expect-error native/build.mjs is plain JavaScript without declarations
import { build, libraryFileName } from "../../native/build.mjs";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const platformDir = `${process.platform}-${process.arch}`;

/** The npm CLI script that runs this test (npm sets npm_execpath), or the one on PATH. */
export function npmCli(): string {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm && /npm-cli\.js$/.test(fromNpm)) return fromNpm;
  const onPath = execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim();
  return realpathSync(onPath);
}

/** Runs npm with this Node; throws with npm's output when it fails. */
export function npm(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): string {
  const res = spawnSync(process.execPath, [npmCli(), ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: "utf8",
  });
  if (res.status !== 0) {
    throw new Error(`npm ${args.join(" ")} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
  }
  return res.stdout;
}

/**
 * A PATH holding `node` and nothing else: no cc, gcc, clang, make or python,
 * so nothing in an install can compile.
 */
export function pathWithoutCompiler(dir: string): string {
  const bin = join(dir, "bin-no-cc");
  mkdirSync(bin, { recursive: true });
  const node = join(bin, process.platform === "win32" ? "node.exe" : "node");
  if (!existsSync(node)) {
    // Windows may refuse symlinks to unprivileged users; a copy always works.
    if (process.platform === "win32") copyFileSync(process.execPath, node);
    else symlinkSync(process.execPath, node);
  }
  return bin;
}

/** An environment without a compiler and without our own overrides. */
export function consumerEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    // Windows spells it Path; npm_* would point npm back at this repository.
    if (/^path$/i.test(name) || name.startsWith("npm_")) delete env[name];
  }
  for (const name of ["CC", "CXX", "HONKER_EXTENSION_PATH", "NODE_OPTIONS"]) delete env[name];
  env.PATH = pathWithoutCompiler(dir);
  return env;
}

function newestMtime(dir: string, suffixes: string[]): number {
  let newest = 0;
  for (const f of readdirSync(dir)) {
    if (suffixes.some((s) => f.endsWith(s)))
      newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  return newest;
}

function isTracked(path: string): boolean {
  const res = spawnSync("git", ["ls-files", "--error-unmatch", path], {
    cwd: root,
    stdio: "ignore",
  });
  return res.status === 0;
}

/**
 * prebuilds/<platform>-<arch>/ as `npm run package:prebuild` makes it, built
 * when missing or older than the C sources (never over a committed one).
 * Built aside and renamed in place, so a test reading it never sees half a file.
 */
export function ensurePrebuild(): string {
  const target = join(root, "prebuilds", platformDir, libraryFileName());
  if (isTracked(target)) return target;
  const stale =
    !existsSync(target) ||
    statSync(target).mtimeMs < newestMtime(join(root, "native"), [".c", ".h"]);
  if (stale) {
    // build/ is ignored by git and npm, and on the same file system as prebuilds/.
    mkdirSync(join(root, "build"), { recursive: true });
    const aside = mkdtempSync(join(root, "build", "prebuild-"));
    const built = build({ outDir: aside, quiet: true }) as string;
    mkdirSync(dirname(target), { recursive: true });
    renameSync(built, target);
    rmSync(aside, { recursive: true, force: true });
  }
  return target;
}

export interface PackedFile {
  path: string;
}

/** `npm pack` into `dest`: the tarball's path and the files in it. */
export function packKit(dest: string): { tarball: string; files: string[] } {
  const missing = ["dist/main/index.js", "dist/preload/index.cjs"].filter(
    (f) => !existsSync(join(root, f)),
  );
  if (missing.length > 0) {
    throw new Error(`build first (npm run build): missing ${missing.join(", ")}`);
  }
  ensurePrebuild();
  // --ignore-scripts: prepack rebuilds dist/, which other test files read meanwhile.
  const out = npm(["pack", "--json", "--ignore-scripts", "--pack-destination", dest], {
    cwd: root,
  });
  const [info] = JSON.parse(out) as { filename: string; files: PackedFile[] }[];
  if (!info) throw new Error(`npm pack printed no result: ${out}`);
  return { tarball: join(dest, info.filename), files: info.files.map((f) => f.path) };
}

/**
 * A fresh project in `dir` with the tarball installed (scripts off, no
 * compiler on PATH, from the local npm cache where it can).
 */
export function installKit(
  dir: string,
  tarball: string,
  packageJson: Record<string, unknown> = {},
): void {
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "consumer", private: true, type: "module", ...packageJson }, null, 2)}\n`,
  );
  npm(["install", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", tarball], {
    cwd: dir,
    env: consumerEnv(dir),
  });
}

/**
 * Runs this repository's own TypeScript compiler on a tsconfig (in the
 * background, so several checks overlap); resolves to its verdict and output.
 */
export function tsc(project: string): Promise<{ ok: boolean; output: string }> {
  const bin = join(root, "node_modules", "typescript", "bin", "tsc");
  return new Promise((done) => {
    execFile(
      process.execPath,
      [bin, "-p", project, "--pretty", "false"],
      { maxBuffer: 16 << 20 },
      (err, stdout, stderr) => done({ ok: !err, output: `${stdout}${stderr}` }),
    );
  });
}
