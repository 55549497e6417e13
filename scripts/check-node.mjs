#!/usr/bin/env node
// First step of `npm test`: on a Node older than package.json's engines
// (">=22.12") print one line naming the Node needed and exit 1, instead of
// the crash better-sqlite3 13 gives older Nodes. Plain syntax: it runs on old Nodes.
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const min = String(pkg.engines.node).replace(/^>=\s*/, "");
const have = process.versions.node.split(".").map(Number);
const need = min.split(".").map(Number);
let ok = true;
for (let i = 0; i < need.length; i++) {
  const h = have[i] || 0;
  const n = need[i] || 0;
  if (h !== n) {
    ok = h > n;
    break;
  }
}
if (!ok) {
  console.error(
    `honker-electron needs Node >= ${min} (see .nvmrc); this is Node ${process.versions.node}.`,
  );
  process.exit(1);
}
