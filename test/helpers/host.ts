/** Helpers for host tests: a fresh open() database in a temp folder. */
import { join } from "node:path";
import { afterEach } from "node:test";
import { type HonkerDatabase, type OpenOptions, open } from "../../src/main/database.ts";
import type { AnySchema, HonkerSchema } from "../../src/main/schema.ts";
import { tempDir } from "./db.ts";

export interface Host<S extends HonkerSchema> {
  db: HonkerDatabase<S>;
  path: string;
  dir: string;
  close: () => Promise<void>;
}

export function freshHost<S extends HonkerSchema = AnySchema>(options: OpenOptions = {}): Host<S> {
  const { dir, cleanup } = tempDir("honker-host-");
  const path = join(dir, "app.db");
  const db = open<S>(path, options);
  return {
    db,
    path,
    dir,
    close: async () => {
      await db.close();
      cleanup();
    },
  };
}

/** A promise with its resolve function, for awaiting events. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Waiting helpers live in ./wait.ts (waitFor, nextEvent, within, sleep); `within` is re-exported for old imports. */
export { within } from "./wait.ts";

/**
 * Per-test cleanup: registers an afterEach that runs the pushed functions
 * in reverse, and a tempDb() opening a fresh file whose close is pushed.
 */
export function withCleanups(): {
  cleanups: (() => Promise<void> | void)[];
  // biome-ignore lint/suspicious/noExplicitAny: any schema will do
  tempDb: (options?: OpenOptions) => { db: HonkerDatabase<any>; path: string };
} {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  const tempDb = (options: OpenOptions = {}) => {
    const { dir, cleanup } = tempDir("honker-host-");
    const path = join(dir, "app.db");
    const db = open(path, options);
    cleanups.push(cleanup, () => db.close());
    return { db, path };
  };
  return { cleanups, tempDb };
}
