/*
 * Pausing queues and outboxes (our addition), stored in the file so that
 * every process, and every client that loads this extension, honours it:
 *
 *   honker_x_queue_pause(queue)     -> 1 paused now, 0 it was paused already
 *   honker_x_queue_resume(queue)    -> 1 resumed, 0 it was not paused
 *   honker_x_queue_paused(queue)    -> 1 or 0
 *   honker_x_outbox_pause(outbox)   -> the same for an outbox
 *   honker_x_outbox_resume(outbox)
 *   honker_x_outbox_paused(outbox)
 *   honker_x_paused_list()          -> JSON [{kind, name, paused_at}]
 *
 * A paused queue's honker_claim_batch returns [] (and dead-letters
 * nothing) and its honker_x_queue_ready_at returns 0; a paused outbox's
 * honker_x_outbox_claim returns [] and its honker_x_outbox_ready_at 0.
 * Adding work (enqueue, outbox_add) is not affected, nor is settling what
 * was claimed before the pause. One row of _honker_x_paused per paused
 * (kind, name); resuming deletes it.
 *
 * A file without the table (made by honker, or by an extension older than
 * pausing and read-only since) has nothing paused: the reads answer 0 and
 * the claims go on; pausing it needs a honker_bootstrap() first.
 */
#include <string.h>

#include "honker.h"

/* `+` on the parameters: no recompile per bound value (see queue.c). */
static const char PAUSED_SQL[] =
    "SELECT 1 FROM _honker_x_paused WHERE kind = +?1 AND name = +?2";
static const char PAUSE_SQL[] =
    "INSERT INTO _honker_x_paused (kind, name, paused_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (kind, name) DO NOTHING";
static const char RESUME_SQL[] = "DELETE FROM _honker_x_paused WHERE kind = ?1 AND name = ?2";
static const char LIST_SQL[] =
    "SELECT kind, name, paused_at FROM _honker_x_paused ORDER BY kind, name";
static const char *const LIST_KEYS[] = {"kind", "name", "paused_at"};

int hk_paused(sqlite3_context *ctx, const char *fn, const char *kind, const char *name, int len,
              int *paused) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  *paused = 0;
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_PAUSED, PAUSED_SQL, &s);
  if (rc != SQLITE_OK) {
    if (hk_missing_x_table(db, rc)) return 0;
    hk_sql_error(ctx, fn, db, rc);
    return 1;
  }
  sqlite3_bind_text(s.stmt, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(s.stmt, 2, name, len, SQLITE_STATIC);
  rc = sqlite3_step(s.stmt);
  if (rc == SQLITE_ROW) {
    *paused = 1;
    rc = SQLITE_DONE;
  }
  if (rc != SQLITE_DONE) {
    hk_sql_error(ctx, fn, db, sqlite3_reset(s.stmt));
    hk_stmt_done(&s);
    return 1;
  }
  hk_stmt_done(&s);
  return 0;
}

/* What each of the six functions does: `kind` is "queue" or "outbox",
 * `arg` the name of its argument, `op` 'p' pause, 'r' resume, '?' read. */
static void pause_op(sqlite3_context *ctx, sqlite3_value **argv, const char *fn,
                     const char *kind, const char *arg, char op) {
  const char *name;
  int len;
  if (hk_arg_text(ctx, argv, 0, fn, arg, &name, &len)) return;
  if (op == '?') {
    int paused = 0;
    if (hk_paused(ctx, fn, kind, name, len, &paused)) return;
    sqlite3_result_int(ctx, paused);
    return;
  }
  hk_outcome o;
  int err = op == 'p' ? hk_run(ctx, fn, HK_UNCACHED, PAUSE_SQL, &o, "tti", kind,
                               (int)strlen(kind), name, len, hk_now())
                      : hk_run(ctx, fn, HK_UNCACHED, RESUME_SQL, &o, "tt", kind,
                               (int)strlen(kind), name, len);
  if (err) return;
  sqlite3_result_int(ctx, o.changes > 0);
}

static void queue_pause_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  pause_op(ctx, argv, "honker_x_queue_pause", "queue", "queue", 'p');
}

static void queue_resume_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  pause_op(ctx, argv, "honker_x_queue_resume", "queue", "queue", 'r');
}

static void queue_paused_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  pause_op(ctx, argv, "honker_x_queue_paused", "queue", "queue", '?');
}

static void outbox_pause_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  pause_op(ctx, argv, "honker_x_outbox_pause", "outbox", "outbox", 'p');
}

static void outbox_resume_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  pause_op(ctx, argv, "honker_x_outbox_resume", "outbox", "outbox", 'r');
}

static void outbox_paused_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  pause_op(ctx, argv, "honker_x_outbox_paused", "outbox", "outbox", '?');
}

static void list_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  static const char *fn = "honker_x_paused_list";
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, LIST_SQL, -1, &st, NULL);
  if (rc != SQLITE_OK) {
    if (hk_missing_x_table(db, rc)) {
      sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
    } else {
      hk_sql_error(ctx, fn, db, rc);
    }
    return;
  }
  hk_buf b;
  hk_buf_init(&b);
  rc = hk_json_rows(&b, st, LIST_KEYS, 3, 0, 1, NULL);
  if (rc != SQLITE_OK) hk_sql_error(ctx, fn, db, rc);
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) {
    hk_buf_free(&b);
    return;
  }
  hk_result_buf(ctx, &b);
}

int hk_register_pause(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_x_queue_pause", 1, queue_pause_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_queue_resume", 1, queue_resume_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_queue_paused", 1, queue_paused_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_pause", 1, outbox_pause_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_resume", 1, outbox_resume_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_paused", 1, outbox_paused_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_paused_list", 0, list_fn);
  return rc;
}
