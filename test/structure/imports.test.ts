/**
 * The layering DESIGN.md asks for, checked: no import circle anywhere in
 * src/ (type imports included), and the host (src/main outside bridge/)
 * never imports the bridge.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const src = join(root, "src");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? tsFiles(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

const IMPORT = /(?:import|export)[^;]*?from\s+"(\.[^"]+)"|import\s+"(\.[^"]+)"/g;

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of tsFiles(src)) {
    const text = readFileSync(file, "utf8");
    const deps = [...text.matchAll(IMPORT)].map((m) =>
      normalize(join(dirname(file), (m[1] ?? m[2]) as string)),
    );
    g.set(file, deps);
  }
  return g;
}

it("has no import circle in src/, counting type imports", () => {
  const g = graph();
  const circles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    path.push(f);
    for (const d of g.get(f) ?? []) {
      if (!g.has(d)) continue;
      if (state.get(d) === "open") {
        circles.push(
          path
            .slice(path.indexOf(d))
            .map((p) => relative(src, p))
            .join(" -> "),
        );
      } else if (!state.has(d)) visit(d);
    }
    path.pop();
    state.set(f, "done");
  };
  for (const f of g.keys()) if (!state.has(f)) visit(f);
  assert.deepEqual(circles, []);
});

it("keeps the host below the bridge: nothing in src/main outside bridge/ imports it, but index.ts", () => {
  const offenders: string[] = [];
  for (const [file, deps] of graph()) {
    const rel = relative(src, file);
    if (!rel.startsWith("main/") || rel.startsWith("main/bridge/") || rel === "main/index.ts")
      continue;
    for (const d of deps)
      if (relative(src, d).startsWith("main/bridge/"))
        offenders.push(`${rel} -> ${relative(src, d)}`);
  }
  assert.deepEqual(offenders, []);
});
