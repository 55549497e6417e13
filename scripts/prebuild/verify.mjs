#!/usr/bin/env node
// `npm run prebuild:verify`: proves every prebuild on this machine. Each one
// gets the structural checks (format, architecture, exports, needed
// libraries; Mach-O install name and signature); those this machine can run
// also load into SQLite in a C harness that runs a SQL smoke suite
// (natively, under qemu-aarch64 or under Wine). One line per target:
//
//   <target>: built by <compiler>, verified by <how>: ok
//
//   node scripts/prebuild/verify.mjs [--only linux-arm64,win32-x64]
//
// Exits non-zero when a prebuild is missing or any check fails.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { prebuildsDir } from "./compile.mjs";
import { runHarness } from "./harness.mjs";
import { readManifest } from "./manifest.mjs";
import { checkStructure } from "./structure.mjs";
import { selectTargets } from "./targets.mjs";

/** @type {import("./targets.mjs").Target[]} */
let targets;
try {
  targets = selectTargets(process.argv.slice(2));
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
const manifest = readManifest();
const started = performance.now();

/**
 * Verifies one target; returns its report line and whether it passed.
 * @param {import("./targets.mjs").Target} target
 */
async function verify(target) {
  const path = join(prebuildsDir, target.id, target.file);
  const entry = manifest[target.id];
  const builtBy = entry?.builtBy ?? "unknown (not in prebuilds/manifest.json)";
  const head = `${target.id}: built by ${builtBy}, verified by`;
  if (!existsSync(path)) {
    return {
      ok: false,
      line: `${head} nothing: FAILED: ${path} is missing (run npm run prebuild:all)`,
    };
  }
  const problems = [];
  if (entry) {
    const sha = createHash("sha256").update(readFileSync(path)).digest("hex");
    if (sha !== entry.sha256) problems.push("SHA-256 differs from prebuilds/manifest.json");
  }
  const structure = checkStructure(target, path);
  problems.push(...structure.problems);
  const how = [`headers (${structure.summary})`];
  if (target.verify !== "structure") {
    try {
      how.unshift(await runHarness(target.verify, path));
    } catch (err) {
      problems.push(err.message);
    }
  }
  const verdict = problems.length === 0 ? "ok" : `FAILED:\n  ${problems.join("\n  ")}`;
  return { ok: problems.length === 0, line: `${head} ${how.join("; ")}: ${verdict}` };
}

// The harnesses compile SQLite once per toolchain: run as many as there are cores.
const results = new Array(targets.length);
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(availableParallelism(), targets.length) }, async () => {
    while (next < targets.length) {
      const i = next++;
      results[i] = await verify(targets[i]);
    }
  }),
);
for (const r of results) (r.ok ? console.log : console.error)(r.line);
const failed = results.filter((r) => !r.ok).length;
const total = ((performance.now() - started) / 1000).toFixed(1);
if (failed > 0) {
  console.error(`prebuild:verify: ${failed} of ${targets.length} target(s) FAILED (${total} s)`);
  process.exit(1);
}
console.log(`prebuild:verify: ${targets.length} target(s) ok (${total} s)`);
