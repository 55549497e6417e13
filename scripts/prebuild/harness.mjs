// Builds the smoke harness (harness.c + SQLite's amalgamation) for a
// runnable target and runs it against that target's prebuild: natively,
// under qemu-aarch64 or under Wine. The compiled amalgamation is cached in
// .cache/prebuild/harness/ (it takes 5-20 s per compiler).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { sqliteHeaderDir } from "../../native/build.mjs";
import { muslArm64Sysroot } from "./sysroot.mjs";
import { requireCommand, root } from "./toolchains.mjs";

const run = promisify(execFile);
const harnessSource = join(dirname(fileURLToPath(import.meta.url)), "harness.c");
const cacheDir = join(root, ".cache", "prebuild", "harness");
/** The amalgamation needs no threads here; -O0 keeps its compile short (seconds, not 20 s). */
const SQLITE_FLAGS = ["-O0", "-DSQLITE_THREADSAFE=0"];

/**
 * How each runnable verify kind compiles its harness and runs it.
 * @typedef {{ cc: string[], exe: string, libs: string[], how: string,
 *   runner: string[], env?: Record<string, string>, hostPath?: (p: string) => string }} Recipe
 * @returns {Recipe}
 */
function recipe(kind) {
  const gnuLibs = ["-lm", "-ldl"];
  switch (kind) {
    case "native":
      return {
        cc: [requireCommand("gcc", "gcc libc6-dev")],
        exe: "harness",
        libs: gnuLibs,
        how: "a gcc-built harness natively",
        runner: [],
      };
    case "qemu":
      return {
        cc: [
          requireCommand("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"),
        ],
        exe: "harness",
        libs: gnuLibs,
        how: "an aarch64 glibc harness under qemu-aarch64-static",
        runner: [
          requireCommand("qemu-aarch64-static", "qemu-user-static"),
          "-L",
          "/usr/aarch64-linux-gnu",
        ],
      };
    case "native-musl":
      return {
        cc: [requireCommand("musl-gcc", "musl-tools")],
        exe: "harness",
        libs: ["-lm"],
        how: "a musl-linked harness natively (ld-musl-x86_64)",
        runner: [],
      };
    case "qemu-musl": {
      const gcc = requireCommand(
        "aarch64-linux-gnu-gcc",
        "gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
      );
      const qemu = requireCommand("qemu-aarch64-static", "qemu-user-static");
      const sysroot = muslArm64Sysroot();
      return {
        cc: [gcc, "-specs", sysroot.specs],
        exe: "harness",
        libs: ["-lm"],
        how: "an aarch64 musl-linked harness under qemu-aarch64-static",
        runner: [qemu, "-L", sysroot.dir],
      };
    }
    case "wine":
      return {
        cc: [requireCommand("x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64")],
        exe: "harness.exe",
        libs: [],
        how: "a mingw-built harness under wine64",
        runner: [requireCommand("/usr/lib/wine/wine64", "wine64")],
        env: { WINEDEBUG: "-all", WINEPREFIX: join(root, ".cache", "prebuild", "wine") },
        hostPath: (p) => `Z:${p.replaceAll("/", "\\")}`,
      };
    default:
      throw new Error(`verify kind ${kind} does not run a harness`);
  }
}

/** Compiles into `out` unless it exists; writes atomically so a crash leaves no half file. */
async function cached(out, cmd, args) {
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const [file, ...pre] = cmd;
  try {
    await run(file, [...pre, ...args, "-o", tmp], { maxBuffer: 64 << 20 });
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(`${[file, ...pre, ...args].join(" ")}\nfailed: ${err.stderr || err.message}`);
  }
  renameSync(tmp, out);
  return out;
}

function key(...parts) {
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);
}

/**
 * Builds (or reuses) the harness for `kind` and runs it on `library`.
 * @param {import("./targets.mjs").VerifyKind} kind
 * @param {string} library absolute path of the prebuild
 * @returns {Promise<string>} how it was verified, e.g. "... : 17 SQL checks"
 * @throws Error with the harness output when a check fails
 */
export async function runHarness(kind, library) {
  const r = recipe(kind);
  const headers = sqliteHeaderDir();
  const amalgamation = join(headers, "sqlite3.c");
  const st = statSync(amalgamation);
  const sqliteKey = key(
    r.cc.join(" "),
    SQLITE_FLAGS.join(" "),
    String(st.size),
    String(st.mtimeMs),
  );
  const sqliteObj = await cached(join(cacheDir, kind, `sqlite3-${sqliteKey}.o`), r.cc, [
    ...SQLITE_FLAGS,
    `-I${headers}`,
    "-c",
    amalgamation,
  ]);
  const exeKey = key(sqliteObj, readFileSync(harnessSource, "utf8"), r.libs.join(" "));
  const exe = await cached(join(cacheDir, kind, `${exeKey}-${r.exe}`), r.cc, [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
    `-I${headers}`,
    harnessSource,
    sqliteObj,
    ...r.libs,
  ]);
  const work = mkdtempSync(join(tmpdir(), `honker-harness-${kind}-`));
  const hostPath = r.hostPath ?? ((p) => p);
  try {
    const [file, ...pre] = [...r.runner, exe];
    const { stdout } = await run(file, [...pre, hostPath(library), "smoke.db"], {
      cwd: work,
      env: { ...process.env, TZ: "UTC0", ...r.env },
      timeout: 180_000,
    }).catch((err) => {
      throw new Error(
        `harness failed under ${r.how}:\n${err.stdout ?? ""}${err.stderr ?? err.message}`,
      );
    });
    const m = /^ok (\d+) checks/m.exec(stdout);
    if (!m) throw new Error(`harness under ${r.how} printed no verdict:\n${stdout}`);
    return `${r.how}: ${m[1]} SQL checks`;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
