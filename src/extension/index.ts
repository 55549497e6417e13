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
import { existsSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The file name SQLite's default entry-point rule maps to `sqlite3_honker_init`. */
export function libraryFileName(platform: NodeJS.Platform = process.platform): string {
  if (platform === "win32") return "honker.dll";
  if (platform === "darwin") return "honker.dylib";
  return "honker.so";
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * Electron packs app files into `app.asar`, which SQLite cannot read; the
 * extension must be listed under `asarUnpack` and is loaded from there.
 */
export function unpackedAsarPath(path: string): string {
  return path.replace(`${sep}app.asar${sep}`, `${sep}app.asar.unpacked${sep}`);
}

/** Where we look, in order: a source build, then the prebuild for this platform. */
export function candidatePaths(root: string = packageRoot): string[] {
  const file = libraryFileName();
  return [
    join(root, "build", file),
    join(root, "prebuilds", `${process.platform}-${process.arch}`, file),
  ].map(unpackedAsarPath);
}

/**
 * Absolute path of the extension for this platform. `HONKER_EXTENSION_PATH`
 * overrides the search.
 * @throws Error naming the platform when no binary exists.
 */
export function getLoadablePath(root: string = packageRoot): string {
  const override = process.env.HONKER_EXTENSION_PATH;
  if (override) {
    const path = resolve(override);
    if (!existsSync(path)) {
      throw new Error(
        `honker-electron: HONKER_EXTENSION_PATH points to ${path}, which does not exist.`,
      );
    }
    return path;
  }
  const candidates = candidatePaths(root);
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  throw new Error(
    `honker-electron: no SQLite extension for ${process.platform}-${process.arch}. ` +
      `Looked in: ${candidates.join(", ")}. Run 'npm rebuild honker-electron' with a C ` +
      "compiler installed, or set HONKER_EXTENSION_PATH to a built honker library.",
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
