/* notify(channel, payload): a notification row in the caller's transaction. */
#include "honker.h"

static const char NOTIFY_SQL[] =
    "INSERT INTO _honker_notifications (channel, payload) VALUES (?1, ?2)";

static void notify_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "notify";
  const char *channel, *payload;
  int clen, plen;
  if (hk_arg_text(ctx, argv, 0, fn, "channel", &channel, &clen)) return;
  if (hk_arg_json(ctx, argv, 1, fn, "payload", &payload, &plen)) return;
  hk_outcome o;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt probe;
  if (hk_stmt_get(ctx, HK_S_NOTIFY, NOTIFY_SQL, &probe) != SQLITE_OK) {
    /* Like honker, notify() works before honker_bootstrap(). */
    int rc = hk_create_notify_table(db);
    if (rc != SQLITE_OK) {
      hk_sql_error(ctx, fn, db, rc);
      return;
    }
  } else {
    hk_stmt_done(&probe);
  }
  if (hk_run(ctx, fn, HK_S_NOTIFY, NOTIFY_SQL, &o, "tt", channel, clen, payload, plen)) return;
  sqlite3_result_int64(ctx, sqlite3_last_insert_rowid(db));
}

int hk_register_notify(sqlite3 *db, hk_conn *c) { return hk_fn(db, c, "notify", 2, notify_fn); }
