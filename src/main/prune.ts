/**
 * Bounded pruning passes for the stream and notification tables: each
 * statement deletes at most `batch` rows in its own short write.
 */
import * as args from "./args.ts";
import { invalid } from "./errors.ts";
import type { Host } from "./host.ts";

export interface RetentionOptions {
  /** Delete events older than this many seconds. */
  maxAgeS?: number;
  /** Keep at most this many of the newest events. */
  keepLast?: number;
  /** Rows deleted per statement (default 1000). */
  batch?: number;
}

const MAX_PRUNE_BATCH = 100000;
const MAX_PRUNE_PASSES = 100;

/**
 * Runs `honker_prune_*` passes of `batch` rows until one deletes fewer,
 * at most MAX_PRUNE_PASSES times. Returns the number of rows deleted.
 */
export function prunePasses(
  db: Host,
  doing: string,
  options: RetentionOptions,
  run: (maxAgeS: number | null, keepLast: number | null, batch: number) => number,
): number {
  const o = args.options<RetentionOptions>(doing, options);
  const { maxAgeS, keepLast } = o;
  if (maxAgeS === undefined && keepLast === undefined) {
    throw invalid(`${doing}: give maxAgeS, keepLast or both`);
  }
  if (maxAgeS !== undefined) args.int(doing, "options.maxAgeS", maxAgeS, 0, args.MAX_SECONDS);
  if (keepLast !== undefined) {
    args.int(doing, "options.keepLast", keepLast, 0, Number.MAX_SAFE_INTEGER);
  }
  const batch = args.optInt(doing, "options.batch", o.batch, 1, MAX_PRUNE_BATCH, 1000);
  let total = 0;
  for (let pass = 0; pass < MAX_PRUNE_PASSES; pass++) {
    const n = db.write(doing, () => run(maxAgeS ?? null, keepLast ?? null, batch));
    total += n;
    if (n < batch) break;
  }
  return total;
}
