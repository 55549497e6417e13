/*
 * Entry point. `.load path/to/honker` in the sqlite3 shell, Python's
 * load_extension and better-sqlite3's loadExtension all find
 * sqlite3_honker_init by SQLite's default naming rule.
 */
#define HONKER_API_DEFINED
#include "honker.h"
SQLITE_EXTENSION_INIT1

#if defined(_WIN32)
#define HK_EXPORT __declspec(dllexport)
#else
#define HK_EXPORT __attribute__((visibility("default")))
#endif

int hk_fn(sqlite3 *db, hk_conn *c, const char *name, int nargs,
          void (*fn)(sqlite3_context *, int, sqlite3_value **)) {
  return sqlite3_create_function_v2(db, name, nargs, HK_FUNC_FLAGS, c, fn, NULL, NULL, NULL);
}

static void version_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_text(ctx, HK_VERSION, -1, SQLITE_STATIC);
}

HK_EXPORT int sqlite3_honker_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  /* FORMAT.md: unixepoch() and RETURNING need 3.38; json_each needs JSON1. */
  if (sqlite3_libversion_number() < 3038000) {
    *err = sqlite3_mprintf("honker: SQLite %s is too old; 3.38.0 or newer is required",
                           sqlite3_libversion());
    return SQLITE_ERROR;
  }
  /* Loading twice on one connection keeps the first registration: the
   * per-connection state (statement cache, busy handler) stays valid. */
  sqlite3_stmt *probe = NULL;
  if (sqlite3_prepare_v2(db, "SELECT honker_x_version()", -1, &probe, NULL) == SQLITE_OK) {
    sqlite3_finalize(probe);
    return SQLITE_OK;
  }
  hk_conn *c = hk_conn_new(db);
  if (!c) return SQLITE_NOMEM;
  /* The module owns c from here on (freed by its destructor). */
  int rc = hk_register_cache_module(db, c);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("honker: could not register the statement cache: %s",
                           sqlite3_errmsg(db));
    return rc;
  }
  int (*const registrations[])(sqlite3 *, hk_conn *) = {
      hk_register_schema,    hk_register_queue, hk_register_notify,
      hk_register_stream,    hk_register_result, hk_register_lock,
      hk_register_ratelimit, hk_register_cron,  hk_register_scheduler,
      hk_register_retention, hk_register_busy,  hk_register_dead,
      hk_register_outbox,    hk_register_pause, hk_register_wal,
  };
  for (size_t i = 0; i < sizeof(registrations) / sizeof(registrations[0]); i++) {
    rc = registrations[i](db, c);
    if (rc != SQLITE_OK) {
      *err = sqlite3_mprintf("honker: registering functions failed: %s", sqlite3_errmsg(db));
      return rc;
    }
  }
  rc = hk_fn(db, c, "honker_x_statement_stats", 0, hk_statement_stats_fn);
  if (rc != SQLITE_OK) {
    *err = sqlite3_mprintf("honker: registering functions failed: %s", sqlite3_errmsg(db));
    return rc;
  }
  rc = sqlite3_create_function_v2(db, "honker_x_version", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                  c, version_fn, NULL, NULL, NULL);
  return rc;
}
