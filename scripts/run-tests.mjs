#!/usr/bin/env node
// Runs the test suite with Node's own runner (TypeScript via type stripping),
// then the native suite again against an ASan+UBSan build of the extension.
//
//   node scripts/run-tests.mjs            all tests, then the sanitizer pass
//   node scripts/run-tests.mjs --no-sanitize
//   node scripts/run-tests.mjs test/native/queue.test.ts   just these files
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, libraryFileName } from "../native/build.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith("--"));
const nodeFlags = ["--experimental-strip-types", "--disable-warning=ExperimentalWarning"];

function runTests(patterns, env) {
  const res = spawnSync(
    process.execPath,
    [...nodeFlags, "--test", "--test-concurrency=2", "--test-timeout=120000", ...patterns],
    { cwd: root, stdio: "inherit", env: { ...process.env, ...env } },
  );
  return res.status ?? 1;
}

// The loader prefers prebuilds/ to build/; the tests must see the extension
// just compiled from these sources (`npm test` runs build:native first), not
// a prebuild left from an earlier `npm run prebuild:all`.
const sourceBuild = join(root, "build", libraryFileName());
const extensionEnv =
  !process.env.HONKER_EXTENSION_PATH && existsSync(sourceBuild)
    ? { HONKER_EXTENSION_PATH: sourceBuild }
    : {};

// e2e/ launches Electron where it can start and skips with one line where it cannot.
let status = runTests(files.length ? files : ["test/**/*.test.ts", "e2e/*.test.ts"], extensionEnv);

function sanitizerRuntime() {
  // The sanitizer runtime must be loaded first, before node itself.
  const cc = process.env.CC || "cc";
  const lib = execFileSync(cc, ["-print-file-name=libasan.so"], { encoding: "utf8" }).trim();
  return lib.includes("/") ? lib : null;
}

if (!args.includes("--no-sanitize") && files.length === 0 && process.platform === "linux") {
  const runtime = sanitizerRuntime();
  if (!runtime) {
    console.log("# sanitizer pass skipped: the C compiler has no AddressSanitizer runtime");
  } else {
    const lib = build({ sanitize: true, quiet: true });
    console.log(`# sanitizer pass: native suite against ${lib}`);
    const code = runTests(["test/native/**/*.test.ts"], {
      HONKER_EXTENSION_PATH: lib,
      LD_PRELOAD: runtime,
      // Node itself keeps memory until exit; leaks are checked in the fuzzers.
      ASAN_OPTIONS: "detect_leaks=0:abort_on_error=1",
      UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1",
      HONKER_SANITIZED: "1",
    });
    if (code !== 0) status = code;
  }
}
process.exit(status);
