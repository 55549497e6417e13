// The structural checks prebuild:verify relies on (scripts/prebuild/): they
// must read real binaries correctly and must fail on wrong ones. The ELF
// cases use this machine's build; the PE and Mach-O cases use the prebuilds
// when `npm run prebuild:all` has made them (as .ci/run does) and skip otherwise.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/db.ts";

interface Target {
  id: string;
  platform: string;
  arch: string;
  libc: string | null;
  file: string;
}
type Check = (target: Target, path: string) => { problems: string[]; summary: string };

const scripts = new URL("../../scripts/prebuild/", import.meta.url);
const { checkStructure }: { checkStructure: Check } = await import(
  new URL("structure.mjs", scripts).href
);
const { TARGETS }: { TARGETS: readonly Target[] } = await import(
  new URL("targets.mjs", scripts).href
);
const prebuilds = fileURLToPath(new URL("../../prebuilds/", import.meta.url));

function target(id: string): Target {
  const t = TARGETS.find((x) => x.id === id);
  assert.ok(t, id);
  return t;
}

function prebuild(id: string): string | null {
  const path = join(prebuilds, id, target(id).file);
  return existsSync(path) ? path : null;
}

/** A copy of `path` with one byte changed at `offset` (from the end when negative). */
function tampered(path: string, offset: number, dir: string): string {
  const copy = join(dir, `tampered-${offset}`);
  copyFileSync(path, copy);
  const buf = readFileSync(copy);
  const at = offset < 0 ? buf.length + offset : offset;
  buf[at] = (buf[at] ?? 0) ^ 0xff;
  writeFileSync(copy, buf);
  return copy;
}

const linuxId = process.arch === "arm64" ? "linux-arm64" : "linux-x64";

describe("prebuild structural checks", () => {
  it("pass this machine's own build, and name a wrong architecture or libc", {
    skip: process.platform !== "linux" && "reads this machine's ELF build",
  }, () => {
    // The plain source build (npm test makes it), not the sanitizer pass's extension.
    const own = fileURLToPath(new URL("../../build/honker.so", import.meta.url));
    const ok = checkStructure(target(linuxId), own);
    assert.deepEqual(ok.problems, []);
    assert.match(ok.summary, /exports sqlite3_honker_init/);

    const otherArch = linuxId === "linux-x64" ? "linux-arm64" : "linux-x64";
    assert.match(checkStructure(target(otherArch), own).problems.join("\n"), /architecture is/);
    // A glibc build needs libc.so.6, which a musl system does not have.
    assert.match(
      checkStructure(target(`${linuxId}-musl`), own).problems.join("\n"),
      /needs libraries beyond the C library: libc\.so\.6/,
    );
    assert.match(checkStructure(target("win32-x64"), own).problems.join("\n"), /not a PE file/);
  });

  it("read the Windows DLLs' machine, export and imports", {
    skip: !prebuild("win32-arm64") && "no prebuilds (npm run prebuild:all)",
  }, () => {
    const arm = checkStructure(target("win32-arm64"), prebuild("win32-arm64") as string);
    assert.deepEqual(arm.problems, []);
    assert.match(arm.summary, /PE arm64 DLL, exports sqlite3_honker_init only/);
    const asX64 = checkStructure(target("win32-x64"), prebuild("win32-arm64") as string);
    assert.match(asX64.problems.join("\n"), /architecture is arm64, want x64/);
  });

  it("check the macOS dylibs' single export, install name and signature page hashes", {
    skip: !prebuild("darwin-arm64") && "no prebuilds (npm run prebuild:all)",
  }, () => {
    const path = prebuild("darwin-arm64") as string;
    const ok = checkStructure(target("darwin-arm64"), path);
    assert.deepEqual(ok.problems, []);
    assert.match(ok.summary, /ad-hoc signed \(\d+ page hashes match\)/);
    assert.match(ok.summary, /install name @rpath\/honker\.dylib/);

    const { dir, cleanup } = tempDir();
    try {
      // One changed byte in the second 4 KiB page (past the load commands).
      const broken = checkStructure(target("darwin-arm64"), tampered(path, 0x1010, dir));
      assert.match(broken.problems.join("\n"), /code signature: page 1 hash differs/);
      // The x64 dylib is not signed (Intel macOS does not require it) and is no arm64 dylib.
      const x64 = checkStructure(target("darwin-arm64"), prebuild("darwin-x64") as string);
      assert.match(x64.problems.join("\n"), /architecture is x64, want arm64/);
      assert.match(x64.problems.join("\n"), /no LC_CODE_SIGNATURE/);
    } finally {
      cleanup();
    }
  });
});
