// Compiles the extension for one target into prebuilds/<id>/<file>, with the
// same warnings-as-errors flags as this machine's build (native/build.mjs).
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { COMPILE_FLAGS, sourceFiles, sqliteHeaderDir } from "../../native/build.mjs";
import { compilerFor, ld64Path, root, zigEnv, zigPath } from "./toolchains.mjs";

const run = promisify(execFile);

/** Oldest macOS each darwin prebuild supports (`-platform_version`). */
export const MACOS_MIN = Object.freeze({ x64: "10.15", arm64: "11.0" });

/** Folder holding every target's prebuild. */
export const prebuildsDir = join(root, "prebuilds");

/**
 * Builds one target's library and returns where it is and what built it.
 * Only the library lands in prebuilds/ (no .pdb, import library or objects).
 * @param {import("./targets.mjs").Target} target
 * @returns {Promise<{ path: string, builtBy: string }>}
 */
export async function compileTarget(target) {
  const { cc, label } = compilerFor(target.toolchain);
  const outDir = join(prebuildsDir, target.id);
  const work = mkdtempSync(join(tmpdir(), `honker-${target.id}-`));
  try {
    const flags = [...COMPILE_FLAGS, `-I${sqliteHeaderDir()}`, "-O2"];
    if (target.zigTarget) flags.unshift("-target", target.zigTarget);
    const built = join(work, target.file);
    let builtBy = label;
    if (target.toolchain === "zig+ld64") {
      builtBy = `${label} + ${basename(ld64Path())}`;
      await linkDarwin(target, cc, flags, work, built);
    } else {
      const libm = target.platform === "linux" ? ["-lm"] : [];
      // -s: a shipped binary carries no debug information or local symbols.
      await exec(cc, [...flags, "-shared", "-s", "-o", built, ...sourceFiles(), ...libm], work);
    }
    mkdirSync(outDir, { recursive: true });
    const path = join(outDir, target.file);
    copyFileSync(built, path);
    return { path, builtBy };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * macOS: Zig compiles, LLVM's ld64.lld links (Zig's own Mach-O linker exports
 * every symbol and ignores export lists). One export, an `@rpath` install
 * name, and an ad-hoc code signature on arm64 (ld64.lld adds it).
 */
async function linkDarwin(target, cc, flags, work, out) {
  const objects = await Promise.all(
    sourceFiles().map(async (src) => {
      const obj = join(work, `${basename(src, ".c")}.o`);
      await exec(cc, [...flags, "-g0", "-c", src, "-o", obj], work);
      return obj;
    }),
  );
  const min = MACOS_MIN[target.arch];
  const zigLibc = join(zigPath(), "..", "lib", "libc", "darwin");
  await exec(
    [ld64Path()],
    [
      "-dylib",
      "-arch",
      target.arch === "arm64" ? "arm64" : "x86_64",
      "-platform_version",
      "macos",
      min,
      min,
      "-install_name",
      `@rpath/${target.file}`,
      "-exported_symbol",
      "_sqlite3_honker_init",
      "-dead_strip",
      "-x",
      "-o",
      out,
      ...objects,
      "-L",
      zigLibc,
      "-lSystem",
    ],
    work,
  );
}

async function exec(cmd, args, cwd) {
  const [file, ...pre] = cmd;
  try {
    await run(file, [...pre, ...args], { cwd, env: zigEnv(), maxBuffer: 64 << 20 });
  } catch (err) {
    const e = /** @type {{ stderr?: string, stdout?: string, message: string }} */ (err);
    throw new Error(
      `${[file, ...pre, ...args].join(" ")}\nfailed: ${e.stderr || e.stdout || e.message}`,
    );
  }
}
