// An arm64 musl sysroot for the linux-arm64-musl harness: Debian's
// musl:arm64 and musl-dev:arm64 packages, fetched with a private apt state
// (the system's architectures and package lists are left alone) and
// unpacked into .cache/prebuild/sysroot-aarch64-musl/.
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { MissingToolError, requireCommand, root } from "./toolchains.mjs";

const TRIPLE = "aarch64-linux-musl";

/**
 * Returns the sysroot folder and the gcc specs file that compiles and links
 * against it (Debian's musl-gcc.specs with its paths moved into the sysroot).
 * @returns {{ dir: string, specs: string }}
 */
export function muslArm64Sysroot() {
  const dir = join(root, ".cache", "prebuild", `sysroot-${TRIPLE}`);
  const specs = join(dir, "musl-gcc.specs");
  if (existsSync(specs) && existsSync(join(dir, "lib", "ld-musl-aarch64.so.1"))) {
    return { dir, specs };
  }
  const apt = requireCommand("apt-get", "apt");
  const dpkgDeb = requireCommand("dpkg-deb", "dpkg");
  const state = join(root, ".cache", "prebuild", "apt-arm64");
  mkdirSync(join(state, "lists", "partial"), { recursive: true });
  mkdirSync(join(state, "archives", "partial"), { recursive: true });
  const opts = [
    "-q",
    "-o",
    `Dir::State::Lists=${join(state, "lists")}`,
    "-o",
    `Dir::Cache=${state}`,
    "-o",
    "Dir::State::status=/dev/null",
    "-o",
    "APT::Architecture=arm64",
    "-o",
    "APT::Architectures::=arm64",
    "-o",
    "APT::Sandbox::User=root",
    "-o",
    "Debug::NoLocking=1",
  ];
  try {
    execFileSync(apt, [...opts, "update"], { stdio: "pipe" });
    execFileSync(apt, [...opts, "download", "musl:arm64", "musl-dev:arm64"], {
      cwd: state,
      stdio: "pipe",
    });
  } catch (err) {
    throw new MissingToolError(
      `the arm64 musl sysroot (Debian packages musl:arm64 musl-dev:arm64; apt said: ${String(err.stderr ?? err.message).trim()})`,
      `It needs network access to the Debian archive; or unpack those two .deb files into ${dir}.`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const deb of readdirSync(state).filter((f) => f.endsWith("_arm64.deb"))) {
    execFileSync(dpkgDeb, ["-x", join(state, deb), dir]);
  }
  // musl-dev:arm64 has no usr/lib/<triple>/libc.so; the linker needs one.
  const libc = join(dir, "usr", "lib", TRIPLE, "libc.so");
  if (!existsSync(libc)) symlinkSync(join("..", "..", "..", "lib", TRIPLE, "libc.so"), libc);
  const original = readFileSync(join(dir, "usr", "lib", TRIPLE, "musl-gcc.specs"), "utf8");
  writeFileSync(
    specs,
    original
      .replaceAll(`/usr/include/${TRIPLE}`, join(dir, "usr", "include", TRIPLE))
      .replaceAll(`/usr/lib/${TRIPLE}`, join(dir, "usr", "lib", TRIPLE)),
  );
  return { dir, specs };
}
