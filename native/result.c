/* Job results: kept after the job row is gone, optionally with a TTL. */
#include "honker.h"

static const char SAVE_SQL[] =
    "INSERT INTO _honker_results (job_id, value, expires_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(job_id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";

static const char GET_SQL[] =
    "SELECT value FROM _honker_results WHERE job_id = ?1 "
    "AND (expires_at IS NULL OR expires_at > ?2)";

static const char SWEEP_SQL[] =
    "DELETE FROM _honker_results WHERE job_id IN (SELECT job_id FROM _honker_results "
    "WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at LIMIT +?2)";

static void save_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_result_save";
  int64_t id, ttl;
  const char *value;
  int vlen;
  if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) return;
  if (hk_arg_json(ctx, argv, 1, fn, "value", &value, &vlen)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "ttl_s", &ttl)) return;
  if (hk_check_range(ctx, fn, "ttl_s", ttl, -HK_MAX_SECONDS, HK_MAX_SECONDS)) return;
  hk_outcome o;
  int err = ttl > 0 ? hk_run(ctx, fn, HK_S_RESULT_SAVE, SAVE_SQL, &o, "iti", id, value, vlen,
                             hk_now() + ttl)
                    : hk_run(ctx, fn, HK_S_RESULT_SAVE, SAVE_SQL, &o, "itn", id, value, vlen);
  if (!err) sqlite3_result_int(ctx, 1);
}

static void get_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_result_get";
  int64_t id;
  if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_RESULT_GET, GET_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_bind_int64(s.stmt, 1, id);
  sqlite3_bind_int64(s.stmt, 2, hk_now());
  rc = sqlite3_step(s.stmt);
  if (rc == SQLITE_ROW) {
    sqlite3_result_value(ctx, sqlite3_column_value(s.stmt, 0));
  } else if (rc == SQLITE_DONE) {
    sqlite3_result_null(ctx);
  } else {
    hk_sql_error(ctx, fn, db, sqlite3_reset(s.stmt));
  }
  hk_stmt_done(&s);
}

static void sweep_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_result_sweep";
  int64_t limit = HK_MAX_BATCH;
  if (argc > 0) {
    if (hk_arg_int(ctx, argv, 0, fn, "limit", &limit)) return;
    if (hk_check_range(ctx, fn, "limit", limit, 0, HK_MAX_BATCH)) return;
  }
  hk_outcome o;
  if (hk_run(ctx, fn, HK_UNCACHED, SWEEP_SQL, &o, "ii", hk_now(), limit)) return;
  sqlite3_result_int(ctx, o.changes);
}

int hk_register_result(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_result_save", 3, save_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_result_get", 1, get_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_result_sweep", 0, sweep_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_result_sweep", 1, sweep_fn);
  return rc;
}
