// prebuilds/manifest.json: for each prebuild, what built it, its size and
// SHA-256. Written by build-all.mjs, read by verify.mjs, shipped in the
// package so a consumer can check the binaries it received.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { prebuildsDir } from "./compile.mjs";

const file = join(prebuildsDir, "manifest.json");

/** @typedef {{ file: string, builtBy: string, bytes: number, sha256: string }} Entry */

/** The manifest's entries by target id (empty when there is none). @returns {Record<string, Entry>} */
export function readManifest() {
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
}

/** Adds or replaces one target's entry (other targets' entries are kept). */
export function recordPrebuild(target, path, builtBy) {
  const data = readFileSync(path);
  const entries = readManifest();
  entries[target.id] = {
    file: `${target.id}/${target.file}`,
    builtBy,
    bytes: data.length,
    sha256: createHash("sha256").update(data).digest("hex"),
  };
  const sorted = Object.fromEntries(Object.entries(entries).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(file, `${JSON.stringify(sorted, null, 2)}\n`);
}
