/**
 * A Node older than 22.12 gets one clear error (importing the kit) or one
 * line (`npm test`), never better-sqlite3 13's crash on opening a database.
 * The child-process cases run the BUILT kit under an old Node when this
 * machine has one (Debian's /usr/bin/node is 20), and skip saying so when not.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isHonkerError } from "../../src/main/errors.ts";
import { assertSupportedNode, MIN_NODE, nodeAtLeast } from "../../src/main/node-version.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A `node` on PATH (or a usual place) older than MIN_NODE, if this machine has one. */
function oldNode(): string | null {
  const candidates = new Set<string>(["/usr/bin/node", "/usr/local/bin/node"]);
  try {
    const all = execFileSync("which", ["-a", "node"], { encoding: "utf8" });
    for (const p of all.split("\n")) if (p) candidates.add(p);
  } catch {
    // no `which`: the usual places only
  }
  for (const bin of candidates) {
    if (!existsSync(bin)) continue;
    const res = spawnSync(bin, ["-p", "process.versions.node"], { encoding: "utf8" });
    const version = res.stdout?.trim();
    if (res.status === 0 && version && !nodeAtLeast(version)) return bin;
  }
  return null;
}

describe("the Node version guard", () => {
  it("matches package.json's engines", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.equal(pkg.engines.node, `>=${MIN_NODE.replace(/\.0$/, "")}`);
  });

  it("compares versions numerically", () => {
    assert.ok(nodeAtLeast("22.12.0"));
    assert.ok(nodeAtLeast("v22.20.1"));
    assert.ok(nodeAtLeast("24.0.0"));
    assert.ok(!nodeAtLeast("22.11.9"));
    assert.ok(!nodeAtLeast("20.18.1"));
    assert.ok(!nodeAtLeast("9.99.99"));
  });

  it("throws a HonkerError naming the Node needed", () => {
    assert.doesNotThrow(() => assertSupportedNode("22.12.0"));
    assert.throws(
      () => assertSupportedNode("20.18.1"),
      (err) =>
        isHonkerError(err, "HONKER_UNSUPPORTED_RUNTIME") &&
        /needs Node >= 22\.12\.0; this is Node 20\.18\.1/.test(err.message),
    );
  });
});

const old = oldNode();
const built = join(root, "dist", "main", "index.js");
const skip = old ? false : `no Node older than ${MIN_NODE} on this machine`;

describe("on an old Node", { skip }, () => {
  it("importing the built kit throws before better-sqlite3 runs", () => {
    assert.ok(existsSync(built), "dist/ is built by `npm test` (npm run build)");
    // After the import fails: which modules ran, and is SQLite's addon mapped?
    const probe = `
      let error;
      try { await import(${JSON.stringify(built)}); } catch (e) { error = e; }
      const { createRequire } = await import("node:module");
      const ran = Object.entries(createRequire(import.meta.url).cache)
        .filter(([k, m]) => k.includes("better-sqlite3") && m.loaded).map(([k]) => k);
      const addons = process.report.getReport().sharedObjects.filter((s) => s.endsWith(".node"));
      console.log(JSON.stringify({ name: error?.name, code: error?.code, message: error?.message, ran, addons }));
    `;
    const out = execFileSync(old as string, ["--input-type=module", "-e", probe], {
      encoding: "utf8",
    });
    const result = JSON.parse(out);
    assert.equal(result.name, "HonkerError");
    assert.equal(result.code, "HONKER_UNSUPPORTED_RUNTIME");
    assert.match(result.message, /needs Node >= 22\.12\.0/);
    assert.deepEqual(result.ran, [], "better-sqlite3's code never ran");
    assert.deepEqual(result.addons, [], "no native addon was loaded");
  });

  it("`npm test`'s first step prints one line and fails", () => {
    const res = spawnSync(old as string, [join(root, "scripts", "check-node.mjs")], {
      encoding: "utf8",
    });
    assert.equal(res.status, 1);
    assert.equal(res.stdout, "");
    const lines = res.stderr.trim().split("\n");
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /^honker-electron needs Node >= 22\.12 .*this is Node \d+\./);
  });
});
