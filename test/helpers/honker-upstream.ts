/**
 * Finds upstream honker's prebuilt Node binding for the interop tests. It is
 * not a dependency of ours (it only exists for some platforms): we use a copy
 * the project can resolve, else install it once under `.cache/honker-upstream`.
 * Set HONKER_UPSTREAM_NO_INSTALL=1 to never touch the network.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const UPSTREAM_PACKAGE = "@russellthehippo/honker-node-linux-x64-gnu";
export const UPSTREAM_VERSION = "0.5.1";

export type Row = Record<string, unknown>;

/** honker's Transaction: BEGIN IMMEDIATE on its single writer connection. */
export interface HonkerTransaction {
  query(sql: string, params?: unknown[]): Row[];
  execute(sql: string, params?: unknown[]): number;
  notify(channel: string, value: unknown): number;
  commit(): void;
  rollback(): void;
}

export interface HonkerDatabase {
  transaction(): HonkerTransaction;
  query(sql: string, params?: unknown[]): Row[];
  close(): void;
}

export interface HonkerModule {
  open(path: string, maxReaders?: number): HonkerDatabase;
}

export type Upstream = { module: HonkerModule; from: string } | { reason: string };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const upstreamCacheDir = join(repoRoot, ".cache", "honker-upstream");

function isGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } };
  return typeof report?.header?.glibcVersionRuntime === "string";
}

/** Loads the package resolvable from `base`, if it is there at the right version. */
function tryLoad(base: string): Upstream | null {
  const req = createRequire(join(base, "noop.js"));
  let pkgJson: string;
  try {
    pkgJson = req.resolve(`${UPSTREAM_PACKAGE}/package.json`);
  } catch {
    return null;
  }
  const { version, main } = JSON.parse(readFileSync(pkgJson, "utf8")) as {
    version: string;
    main: string;
  };
  if (version !== UPSTREAM_VERSION) return null;
  const binary = join(dirname(pkgJson), main);
  return { module: req(binary) as HonkerModule, from: binary };
}

let cached: Upstream | undefined;

/** The loaded honker binding, or the reason it is unavailable. */
export function loadUpstream(): Upstream {
  if (cached) return cached;
  cached = locate();
  return cached;
}

function locate(): Upstream {
  const wanted = `${UPSTREAM_PACKAGE}@${UPSTREAM_VERSION}`;
  if (process.platform !== "linux" || process.arch !== "x64" || !isGlibc()) {
    return {
      reason: `${wanted} only exists for linux-x64-gnu (this is ${process.platform}-${process.arch})`,
    };
  }
  try {
    const fromProject = tryLoad(repoRoot) ?? tryLoad(upstreamCacheDir);
    if (fromProject) return fromProject;
    if (process.env.HONKER_UPSTREAM_NO_INSTALL === "1") {
      return { reason: `${wanted} is not installed and HONKER_UPSTREAM_NO_INSTALL=1` };
    }
    mkdirSync(upstreamCacheDir, { recursive: true });
    execFileSync(
      "npm",
      ["install", "--no-save", "--no-audit", "--no-fund", "--prefix", upstreamCacheDir, wanted],
      { cwd: upstreamCacheDir, stdio: "pipe", timeout: 120_000 },
    );
    const installed = tryLoad(upstreamCacheDir);
    if (installed) return installed;
    return { reason: `npm installed ${wanted} but it could not be found in ${upstreamCacheDir}` };
  } catch (err) {
    const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
    return { reason: `${wanted} could not be loaded or installed: ${message}` };
  }
}
