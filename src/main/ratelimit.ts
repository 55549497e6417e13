/**
 * Fixed-window rate limits shared by every process that opens the file
 * (honker's `_honker_rate_limits`). A call that is refused is not counted.
 */
import * as args from "./args.ts";
import { invalid } from "./errors.ts";
import type { Host } from "./host.ts";
import { plucked } from "./statements.ts";

export interface RateLimitOptions {
  /** Calls allowed per window (whole number >= 1). */
  limit: number;
  /** Window length in whole seconds (>= 1); windows start at multiples of it. */
  perSeconds: number;
}

function stmts(db: Host) {
  return {
    try: plucked(db.raw, "SELECT honker_rate_limit_try(?, ?, ?)"),
    sweep: plucked(db.raw, "SELECT honker_rate_limit_sweep(?, ?)"),
  };
}

function wholeNumber(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Counts one call against `name` and says whether it is allowed: true for
 * the first `limit` calls of each `perSeconds` window, false after that.
 *
 * ```ts
 * if (!rateLimit(db, `email:${user}`, { limit: 5, perSeconds: 3600 })) throw tooMany();
 * ```
 */
export function rateLimit(db: Host, name: string, options: RateLimitOptions): boolean {
  args.name("rateLimit(name, options)", "name", name);
  const doing = `rateLimit('${name}')`;
  if (options === null || typeof options !== "object") {
    throw invalid(`${doing}: options must be an object like { limit: 10, perSeconds: 60 }`);
  }
  const { limit, perSeconds } = options;
  if (!wholeNumber(limit, 1, 2_147_483_647)) {
    throw invalid(`${doing}: limit must be a whole number >= 1 (got ${String(limit)})`);
  }
  if (!wholeNumber(perSeconds, 1, 315_360_000)) {
    throw invalid(
      `${doing}: perSeconds must be a whole number of seconds >= 1 (got ${String(perSeconds)})`,
    );
  }
  const s = stmts(db);
  return db.write(doing, () => s.try.get(name, limit, perSeconds) === 1);
}

/**
 * Deletes rate-limit windows that started more than `olderThanS` seconds
 * ago, at most `limit` rows (default 10000). Returns the number deleted;
 * call again while it returns `limit`.
 */
export function sweepRateLimits(db: Host, olderThanS: number, limit = 10_000): number {
  if (!wholeNumber(olderThanS, 0, 315_360_000)) {
    throw invalid(
      `sweepRateLimits(db, olderThanS): olderThanS must be a whole number of seconds >= 0 (got ${String(olderThanS)})`,
    );
  }
  if (!wholeNumber(limit, 0, 10_000)) {
    throw invalid(
      `sweepRateLimits(db, olderThanS, limit): limit must be a whole number from 0 to 10000`,
    );
  }
  const s = stmts(db);
  return db.write("sweepRateLimits", () => s.sweep.get(olderThanS, limit) as number);
}
