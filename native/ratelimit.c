/* Fixed-window rate limits; a rejected call is not counted. */
#include "honker.h"

static const char TRY_SQL[] =
    "INSERT INTO _honker_rate_limits (name, window_start, count) VALUES (?1, ?2, 1) "
    "ON CONFLICT(name, window_start) DO UPDATE SET count = count + 1 WHERE count < ?3";

static const char SWEEP_SQL[] =
    "DELETE FROM _honker_rate_limits WHERE rowid IN (SELECT rowid FROM _honker_rate_limits "
    "WHERE window_start < ?1 ORDER BY window_start LIMIT +?2)";

static void try_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_rate_limit_try";
  const char *name;
  int nlen;
  int64_t limit, per;
  if (hk_arg_text(ctx, argv, 0, fn, "name", &name, &nlen)) return;
  if (hk_arg_int(ctx, argv, 1, fn, "limit", &limit)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "per_s", &per)) return;
  if (hk_check_range(ctx, fn, "limit", limit, 1, INT32_MAX)) return;
  if (hk_check_range(ctx, fn, "per_s", per, 1, HK_MAX_SECONDS)) return;
  int64_t now = hk_now();
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_RATE_TRY, TRY_SQL, &o, "tii", name, nlen, (now / per) * per, limit))
    return;
  sqlite3_result_int(ctx, o.changes > 0);
}

static void sweep_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_rate_limit_sweep";
  int64_t older, limit = HK_MAX_BATCH;
  if (hk_arg_int(ctx, argv, 0, fn, "older_than_s", &older)) return;
  if (hk_check_range(ctx, fn, "older_than_s", older, 0, HK_MAX_SECONDS)) return;
  if (argc > 1) {
    if (hk_arg_int(ctx, argv, 1, fn, "limit", &limit)) return;
    if (hk_check_range(ctx, fn, "limit", limit, 0, HK_MAX_BATCH)) return;
  }
  hk_outcome o;
  if (hk_run(ctx, fn, HK_UNCACHED, SWEEP_SQL, &o, "ii", hk_now() - older, limit)) return;
  sqlite3_result_int(ctx, o.changes);
}

int hk_register_ratelimit(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_rate_limit_try", 3, try_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_rate_limit_sweep", 1, sweep_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_rate_limit_sweep", 2, sweep_fn);
  return rc;
}
