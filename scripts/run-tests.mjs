#!/usr/bin/env node
// Runs the test suite with Node's own runner (TypeScript via type stripping),
// then the native suite again against an ASan+UBSan build of the extension.
//
//   node scripts/run-tests.mjs            all tests, then the sanitizer pass
//   node scripts/run-tests.mjs --no-sanitize
//   node scripts/run-tests.mjs test/native/queue.test.ts   just these files
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, libraryFileName } from "../native/build.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith("--"));
const nodeFlags = ["--experimental-strip-types", "--disable-warning=ExperimentalWarning"];

// Every pass also writes one JSON line per test here (scripts/test-summary-reporter.mjs).
const resultsDir = mkdtempSync(join(tmpdir(), "honker-test-results-"));
const results = [];
/** Skips that are not a node:test test (a whole pass left out). */
const passSkips = [];

function runTests(patterns, env) {
  const resultsFile = join(resultsDir, `pass-${results.length}.jsonl`);
  const reporters = [
    `--test-reporter=${process.stdout.isTTY ? "spec" : "tap"}`,
    "--test-reporter-destination=stdout",
    `--test-reporter=${join(root, "scripts", "test-summary-reporter.mjs")}`,
    `--test-reporter-destination=${resultsFile}`,
  ];
  const res = spawnSync(
    process.execPath,
    [
      ...nodeFlags,
      "--test",
      ...reporters,
      "--test-concurrency=2",
      "--test-timeout=120000",
      ...patterns,
    ],
    { cwd: root, stdio: "inherit", env: { ...process.env, ...env } },
  );
  try {
    for (const line of readFileSync(resultsFile, "utf8").split("\n")) {
      if (line) results.push(JSON.parse(line));
    }
  } catch {
    // The runner died before writing anything: its exit status says so.
  }
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

/** The closing lines: every skip with its reason, then one plain totals line. */
function printSummary() {
  const count = (outcome) => results.filter((r) => r.outcome === outcome).length;
  const skipped = results.filter((r) => r.outcome === "skipped");
  const reasons = new Map();
  for (const r of skipped) {
    const where = r.file ? relative(root, r.file) : "?";
    const key = `${r.reason} (${where})`;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  for (const s of passSkips) reasons.set(s, 1);
  console.log(`\n# skipped: ${skipped.length + passSkips.length}`);
  for (const [reason, n] of reasons) console.log(`#   ${n > 1 ? `${n}x ` : ""}${reason}`);
  console.log(
    `tests: ${count("passed")} passed, ${count("failed")} failed, ${skipped.length} skipped`,
  );
}

/** Every *.test.ts under `dir`, relative to the root, sorted. */
function testFiles(dir) {
  return readdirSync(join(root, dir), { recursive: true })
    .map((f) => join(dir, String(f)).replaceAll("\\", "/"))
    .filter((f) => f.endsWith(".test.ts") && !f.includes("/node_modules/"))
    .sort();
}

// The release tests pack, install, type-check and package the kit: heavy on
// the CPU, so they run after the others, whose timing-sensitive process
// tests get the machine to themselves.
const RELEASE = ["test/consumer/", "test/docs/", "test/packaging/"];
const isRelease = (f) => RELEASE.some((dir) => f.startsWith(dir));

let status;
if (files.length) {
  status = runTests(files, extensionEnv);
} else {
  // e2e/ launches Electron where it can start and skips with one line where it cannot.
  const all = [...testFiles("test"), ...testFiles("e2e")];
  status = runTests(
    all.filter((f) => !isRelease(f)),
    extensionEnv,
  );
  const release = runTests(all.filter(isRelease), extensionEnv);
  if (release !== 0) status = release;
}

function sanitizerRuntime() {
  // The sanitizer runtime must be loaded first, before node itself.
  const cc = process.env.CC || "cc";
  const lib = execFileSync(cc, ["-print-file-name=libasan.so"], { encoding: "utf8" }).trim();
  return lib.includes("/") ? lib : null;
}

if (!args.includes("--no-sanitize") && files.length === 0 && process.platform === "linux") {
  const runtime = sanitizerRuntime();
  if (!runtime) {
    const why = "sanitizer pass skipped: the C compiler has no AddressSanitizer runtime";
    console.log(`# ${why}`);
    passSkips.push(why);
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
printSummary();
rmSync(resultsDir, { recursive: true, force: true });
process.exit(status);
