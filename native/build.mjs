#!/usr/bin/env node
// Compiles the SQLite extension for this machine with the system C compiler.
//
//   node native/build.mjs                 -> build/honker.<so|dylib|dll>
//   node native/build.mjs --sanitize      -> build/sanitize/honker.so (ASan + UBSan)
//   node native/build.mjs --out DIR       -> DIR/honker.<ext>
//
// Installed as the `honker-electron-build` command: `npx honker-electron-build`
// in a project compiles the extension into node_modules/honker-electron/build/,
// where the loader finds it when no prebuild matches the platform. The
// prebuilds a published package ships come from `npm run prebuild:all`
// (scripts/prebuild/), which reuses COMPILE_FLAGS and sourceFiles() from here.
//
// The only input besides our sources is sqlite3ext.h, taken from the pinned
// better-sqlite3 dependency so that the header matches the SQLite we ship with.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");

/** File name SQLite's default entry-point rule maps to sqlite3_honker_init. */
export function libraryFileName(platform = process.platform) {
  if (platform === "win32") return "honker.dll";
  if (platform === "darwin") return "honker.dylib";
  return "honker.so";
}

/** Directory holding sqlite3.h and sqlite3ext.h of the pinned better-sqlite3. */
export function sqliteHeaderDir() {
  const require = createRequire(join(root, "package.json"));
  const pkg = require.resolve("better-sqlite3/package.json");
  return join(dirname(pkg), "deps", "sqlite3");
}

/** The extension's C sources, sorted (the same list for every target). */
export function sourceFiles() {
  return readdirSync(here)
    .filter((f) => f.endsWith(".c"))
    .sort()
    .map((f) => join(here, f));
}

/**
 * C dialect, warnings-as-errors and visibility flags every build of the
 * extension uses, this machine's and each cross-compiled prebuild alike.
 */
export const COMPILE_FLAGS = Object.freeze([
  "-std=c11",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-pedantic",
  "-Wshadow",
  "-Wstrict-prototypes",
  "-fPIC",
  "-fvisibility=hidden",
]);

/**
 * Builds the extension and returns the absolute path of the library.
 * @param {{ sanitize?: boolean, outDir?: string, quiet?: boolean }} [opts]
 */
export function build(opts = {}) {
  if (process.platform === "win32") {
    throw new Error(
      "honker-electron: building the extension from source on Windows is not supported yet; " +
        "use the prebuilt binary from prebuilds/win32-<arch>/ or set HONKER_EXTENSION_PATH.",
    );
  }
  const cc = process.env.CC || "cc";
  const outDir = resolve(opts.outDir ?? join(root, "build", opts.sanitize ? "sanitize" : ""));
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, libraryFileName());
  const flags = [...COMPILE_FLAGS, `-I${sqliteHeaderDir()}`];
  if (opts.sanitize) {
    flags.push(
      "-O1",
      "-g",
      "-fno-omit-frame-pointer",
      "-fsanitize=address,undefined",
      "-fno-sanitize-recover=all",
    );
  } else {
    flags.push("-O2");
  }
  const linkFlags = process.platform === "darwin" ? ["-dynamiclib"] : ["-shared"];
  const args = [...flags, ...linkFlags, "-o", out, ...sourceFiles(), "-lm"];
  try {
    execFileSync(cc, args, { stdio: opts.quiet ? "pipe" : "inherit" });
  } catch (err) {
    const detail = err && typeof err === "object" && "stderr" in err ? String(err.stderr) : "";
    throw new Error(
      `honker-electron: compiling the SQLite extension with '${cc}' failed. ` +
        `Install a C compiler (e.g. 'apt-get install gcc' or Xcode command line tools) ` +
        `or set CC.\n${detail}`,
    );
  }
  return out;
}

// Run as a script (also through the node_modules/.bin symlink npx uses).
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const outIdx = argv.indexOf("--out");
  const out = build({
    sanitize: argv.includes("--sanitize"),
    outDir: outIdx >= 0 ? argv[outIdx + 1] : undefined,
  });
  console.log(`built ${out}`);
}
