#!/usr/bin/env node
// `npm run prebuild:all`: cross-compiles the extension for every desktop
// target into prebuilds/<platform>-<arch>[-musl]/ from this Linux machine.
//
//   node scripts/prebuild/build-all.mjs                       all targets
//   node scripts/prebuild/build-all.mjs --only linux-arm64,win32-x64
//
// Exits non-zero, naming the package to install, when a toolchain is missing.
import { availableParallelism } from "node:os";
import { relative } from "node:path";
import { compileTarget } from "./compile.mjs";
import { recordPrebuild } from "./manifest.mjs";
import { selectTargets } from "./targets.mjs";
import { MissingToolError, root } from "./toolchains.mjs";

/** @type {import("./targets.mjs").Target[]} */
let targets;
try {
  targets = selectTargets(process.argv.slice(2));
} catch (err) {
  console.error(err.message);
  process.exit(2);
}
const started = performance.now();
let failed = 0;

/** Runs `work` over `items`, at most `limit` at a time. */
async function pool(items, limit, work) {
  const queue = [...items];
  const lanes = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item; item = queue.shift()) await work(item);
  });
  await Promise.all(lanes);
}

// The slow ones first, so the others build on the other cores meanwhile.
const order = [...targets.filter((t) => t.slow), ...targets.filter((t) => !t.slow)];
await pool(order, availableParallelism(), async (target) => {
  const t0 = performance.now();
  try {
    const { path, builtBy } = await compileTarget(target);
    recordPrebuild(target, path, builtBy);
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`${target.id}: built by ${builtBy} -> ${relative(root, path)} (${s} s)`);
  } catch (err) {
    failed++;
    const missing = err instanceof MissingToolError;
    console.error(`${target.id}: FAILED${missing ? " (toolchain missing)" : ""}: ${err.message}`);
  }
});

const total = ((performance.now() - started) / 1000).toFixed(1);
if (failed > 0) {
  console.error(`prebuild:all: ${failed} of ${targets.length} target(s) failed (${total} s)`);
  process.exit(1);
}
console.log(`prebuild:all: ${targets.length} target(s) built in ${total} s`);
