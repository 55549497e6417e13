/**
 * Finds and loads the honker SQLite extension.
 *
 * ```ts
 * import Database from "better-sqlite3";
 * import { load } from "honker-electron/extension";
 * const db = new Database("app.db");
 * load(db);
 * db.prepare("SELECT honker_bootstrap()").get();
 * ```
 * @module
 */
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The file name SQLite's default entry-point rule maps to `sqlite3_honker_init`. */
export function libraryFileName(platform: NodeJS.Platform = process.platform): string {
  if (platform === "win32") return "honker.dll";
  if (platform === "darwin") return "honker.dylib";
  return "honker.so";
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The C library a Linux process runs on; `null` on other systems. */
export type Libc = "glibc" | "musl" | null;

/** What the choice of binary depends on; every field can be injected (tests). */
export interface HostInfo {
  platform: NodeJS.Platform;
  arch: string;
  libc: Libc;
  /** Whether a file exists (default: `fs.existsSync`). */
  exists: (path: string) => boolean;
  /** The environment `HONKER_EXTENSION_PATH` is read from (default: `process.env`). */
  env: Record<string, string | undefined>;
}

let detectedLibc: Libc | undefined;

/**
 * The C library of this process, found without spawning a process: Node's
 * diagnostic report names the glibc it runs on; without one, a musl dynamic
 * loader in /lib means musl (Alpine). `null` off Linux.
 */
export function detectLibc(platform: NodeJS.Platform = process.platform): Libc {
  if (platform !== "linux") return null;
  if (detectedLibc !== undefined) return detectedLibc;
  detectedLibc = "glibc";
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })
    ?.header;
  if (!header?.glibcVersionRuntime) {
    try {
      if (readdirSync("/lib").some((f) => f.startsWith("ld-musl-"))) detectedLibc = "musl";
    } catch {
      // no /lib: keep glibc, the common case
    }
  }
  return detectedLibc;
}

/** This process's platform, arch and libc, with the real file system and environment. */
export function currentHost(): HostInfo {
  return {
    platform: process.platform,
    arch: process.arch,
    libc: detectLibc(),
    exists: existsSync,
    env: process.env,
  };
}

/**
 * Folder name of the prebuild for a platform: `<platform>-<arch>`, plus
 * `-musl` on musl Linux (a musl-built library does not load on glibc, so
 * the two are separate): `linux-x64`, `linux-arm64-musl`, `darwin-arm64`.
 */
export function prebuildId(platform: string, arch: string, libc: Libc): string {
  return `${platform}-${arch}${libc === "musl" ? "-musl" : ""}`;
}

/**
 * Electron packs app files into `app.asar`, which SQLite cannot read; the
 * extension must be listed under `asarUnpack` and is loaded from there.
 */
export function unpackedAsarPath(path: string): string {
  return path.replace(`${sep}app.asar${sep}`, `${sep}app.asar.unpacked${sep}`);
}

/**
 * Where we look, in order: the prebuild for this platform, arch and libc,
 * then a source build in `build/` (for platforms without a prebuild).
 */
export function candidatePaths(
  root: string = packageRoot,
  host: Pick<HostInfo, "platform" | "arch" | "libc"> = currentHost(),
): string[] {
  const file = libraryFileName(host.platform);
  return [
    join(root, "prebuilds", prebuildId(host.platform, host.arch, host.libc), file),
    join(root, "build", file),
  ].map(unpackedAsarPath);
}

/**
 * Absolute path of the extension for this platform. `HONKER_EXTENSION_PATH`
 * overrides the search; then the prebuild for this platform, arch and libc;
 * then a source build in `build/`.
 * @param root the package folder (default: this package's)
 * @param host platform, arch, libc, file system and environment (default: this process's)
 * @throws Error listing every path looked at, and how to build from source.
 */
export function getLoadablePath(root: string = packageRoot, host: Partial<HostInfo> = {}): string {
  const h: HostInfo = { ...currentHost(), ...host };
  const override = h.env.HONKER_EXTENSION_PATH;
  if (override) {
    const path = resolve(override);
    if (!h.exists(path)) {
      throw new Error(
        `honker-electron: HONKER_EXTENSION_PATH points to ${path}, which does not exist.`,
      );
    }
    return path;
  }
  const candidates = candidatePaths(root, h);
  const found = candidates.find((p) => h.exists(p));
  if (found) return found;
  const id = prebuildId(h.platform, h.arch, h.libc);
  throw new Error(
    `honker-electron: no SQLite extension for ${id}${h.libc ? ` (${h.libc})` : ""}. ` +
      `Looked in: ${candidates.join(", ")}. The published package ships prebuilds for ` +
      "linux-x64, linux-arm64, linux-x64-musl, linux-arm64-musl, win32-x64, win32-arm64, " +
      "darwin-x64 and darwin-arm64 (a package packed without running 'npm run prebuild:all' " +
      "has none). To build from source (needs a C compiler), run 'npx honker-electron-build' " +
      "in your project, or set HONKER_EXTENSION_PATH to a built honker library.",
  );
}

/** The subset of a better-sqlite3 `Database` that loading needs. */
export interface ExtensionHost {
  loadExtension(path: string): unknown;
}

/** Loads the extension into a better-sqlite3 database; returns the path used. */
export function load(db: ExtensionHost, path: string = getLoadablePath()): string {
  db.loadExtension(path);
  return path;
}
