// The desktop targets a published package ships a prebuilt extension for:
// what each is called, which toolchain builds it from this Linux machine and
// how its binary is proven here. Data only; the work is in the other files.

/**
 * @typedef {"gcc" | "aarch64-gcc" | "musl-gcc" | "mingw-gcc" | "zig" | "zig+ld64"} ToolchainKind
 * @typedef {"native" | "native-musl" | "qemu" | "qemu-musl" | "wine" | "structure"} VerifyKind
 * @typedef {object} Target
 * @property {string} id          prebuild folder name: `<platform>-<arch>[-musl]`
 * @property {"linux" | "win32" | "darwin"} platform   Node's `process.platform`
 * @property {"x64" | "arm64"} arch                     Node's `process.arch`
 * @property {"glibc" | "musl" | null} libc             Linux only
 * @property {string} file        library file name inside the folder
 * @property {ToolchainKind} toolchain
 * @property {string | null} zigTarget   Zig's `-target` when Zig compiles it
 * @property {VerifyKind} verify  how the binary is proven on this machine
 * @property {boolean} slow       started first: Zig builds the MinGW C runtime
 *                                before it (1-2.5 min until .cache/zig has it)
 */

/** Every prebuild target, in build and report order. @type {readonly Target[]} */
export const TARGETS = Object.freeze([
  target("linux", "x64", "glibc", "gcc", null, "native"),
  target("linux", "arm64", "glibc", "aarch64-gcc", null, "qemu"),
  target("linux", "x64", "musl", "musl-gcc", null, "native-musl"),
  target("linux", "arm64", "musl", "zig", "aarch64-linux-musl", "qemu-musl"),
  target("win32", "x64", null, "mingw-gcc", null, "wine"),
  target("win32", "arm64", null, "zig", "aarch64-windows-gnu", "structure"),
  target("darwin", "x64", null, "zig+ld64", "x86_64-macos.10.15", "structure"),
  target("darwin", "arm64", null, "zig+ld64", "aarch64-macos.11.0", "structure"),
]);

/**
 * Prebuild folder name for a platform, arch and libc: `linux-x64`,
 * `linux-arm64-musl`, `win32-x64`, `darwin-arm64`. The loader in
 * src/extension/index.ts uses the same rule (a test holds them together).
 * @param {string} platform @param {string} arch @param {string | null | undefined} libc
 */
export function prebuildId(platform, arch, libc) {
  return `${platform}-${arch}${libc === "musl" ? "-musl" : ""}`;
}

/** The library's file name on a platform (SQLite's entry-point rule needs `honker`). */
export function libraryFile(platform) {
  if (platform === "win32") return "honker.dll";
  if (platform === "darwin") return "honker.dylib";
  return "honker.so";
}

/**
 * Targets named on a command line (`--only linux-arm64,win32-x64`), or all.
 * @param {string[]} argv
 * @returns {Target[]}
 */
export function selectTargets(argv) {
  const i = argv.indexOf("--only");
  if (i < 0) return [...TARGETS];
  const wanted = (argv[i + 1] ?? "").split(",").filter(Boolean);
  const unknown = wanted.filter((id) => !TARGETS.some((t) => t.id === id));
  if (unknown.length > 0 || wanted.length === 0) {
    throw new Error(
      `unknown target(s) ${JSON.stringify(unknown)}; known: ${TARGETS.map((t) => t.id).join(", ")}`,
    );
  }
  return TARGETS.filter((t) => wanted.includes(t.id));
}

/** @returns {Target} */
function target(platform, arch, libc, toolchain, zigTarget, verify) {
  return Object.freeze({
    id: prebuildId(platform, arch, libc),
    platform,
    arch,
    libc,
    file: libraryFile(platform),
    toolchain,
    zigTarget,
    verify,
    slow: platform === "win32" && toolchain === "zig",
  });
}
