#!/usr/bin/env node
// Before `npm pack` / `npm publish`: are all 8 prebuilds in prebuilds/?
//
//   node scripts/prebuild/check.mjs            warn (loudly) about missing ones
//   node scripts/prebuild/check.mjs --strict   fail when any is missing (prepublishOnly)
//
// A package packed without them still works where a C compiler can build
// the extension (`npx honker-electron-build`); a published one must not.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { prebuildsDir } from "./compile.mjs";
import { TARGETS } from "./targets.mjs";

const missing = TARGETS.filter((t) => !existsSync(join(prebuildsDir, t.id, t.file)));
const strict = process.argv.includes("--strict");
if (missing.length === 0) {
  console.error(`honker-electron: packing all ${TARGETS.length} prebuilds`);
} else {
  const ids = missing.map((t) => t.id).join(", ");
  console.error(
    `honker-electron: ${strict ? "ERROR" : "WARNING"}: no prebuild for ${ids}. ` +
      "Run 'npm run prebuild:all && npm run prebuild:verify' first (see docs/platforms.md).",
  );
  if (strict) process.exit(1);
}
