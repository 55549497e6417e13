/**
 * Imported first by the main entry point, before anything loads
 * better-sqlite3: on a Node older than 22.12 (better-sqlite3 13 crashes the
 * process as soon as a database opens on Node 20) importing the kit throws
 * one clear error instead. Plain code only: it must run on old Nodes.
 */
import { HonkerError } from "./errors.ts";

/** The oldest Node the kit runs on (package.json `engines.node`, checked by a test). */
export const MIN_NODE = "22.12.0";

/** True when `version` ("22.12.0", "v20.18.1") is at least `min`. */
export function nodeAtLeast(version: string, min: string = MIN_NODE): boolean {
  const have = version.replace(/^v/, "").split(".").map(Number);
  const need = min.split(".").map(Number);
  for (let i = 0; i < need.length; i++) {
    const h = have[i] ?? 0;
    const n = need[i] ?? 0;
    if (h !== n) return h > n;
  }
  return true;
}

/** @throws HonkerError `HONKER_UNSUPPORTED_RUNTIME` naming the Node needed. */
export function assertSupportedNode(version: string = process.versions.node): void {
  if (nodeAtLeast(version)) return;
  throw new HonkerError(
    "HONKER_UNSUPPORTED_RUNTIME",
    `honker-electron needs Node >= ${MIN_NODE}; this is Node ${version}. ` +
      "Run it on a newer Node (or the Node inside a current Electron).",
  );
}

assertSupportedNode();
