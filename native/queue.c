/*
 * Job queues: enqueue, claim, ack, retry, fail, heartbeat, cancel, get_job,
 * sweep_expired, queue_next_claim_at. Semantics and JSON shapes are
 * honker's (keys in alphabetical order, payloads as JSON strings).
 *
 * "now" is taken once per call (hk_now) and bound as a parameter, so every
 * statement of one call agrees on it.
 */
#include "honker.h"

static const char ENQUEUE_SQL[] =
    "INSERT INTO _honker_live (queue, payload, run_at, priority, max_attempts, expires_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/* Finds exhausted claimable rows through _honker_x_live_exhausted, so a
 * claim does not scan the backlog (honker's defect). The unary `+` keeps
 * the planner off the deadline indexes, which would visit every due row. */
static const char EXHAUSTED_PROBE_SQL[] =
    "SELECT 1 FROM _honker_live WHERE queue = ?1 AND attempts >= max_attempts "
    "AND (expires_at IS NULL OR expires_at > ?2) AND "
    "((+state = 'pending' AND +run_at <= ?2) OR (+state = 'processing' AND +claim_expires_at < ?2)) "
    "LIMIT 1";

static const char DEADLETTER_EXHAUSTED_SQL[] =
    "INSERT OR REPLACE INTO _honker_dead "
    "(id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at) "
    "SELECT id, queue, payload, priority, run_at, max_attempts, attempts, "
    "'max attempts exceeded', created_at FROM _honker_live "
    "WHERE queue = ?1 AND attempts >= max_attempts "
    "AND (expires_at IS NULL OR expires_at > ?2) AND "
    "((+state = 'pending' AND +run_at <= ?2) OR (+state = 'processing' AND +claim_expires_at < ?2))";

static const char DELETE_EXHAUSTED_SQL[] =
    "DELETE FROM _honker_live "
    "WHERE queue = ?1 AND attempts >= max_attempts "
    "AND (expires_at IS NULL OR expires_at > ?2) AND "
    "((+state = 'pending' AND +run_at <= ?2) OR (+state = 'processing' AND +claim_expires_at < ?2))";

/*
 * `state IN ('pending','processing')` is repeated literally: without it
 * SQLite will not use the partial claim index. The unary `+` keeps the
 * planner from answering the OR through the two deadline indexes (a
 * MULTI-INDEX OR plus a sort of the whole backlog); walking the claim index
 * in priority order stops at the first due rows instead.
 *
 * A `+` before a parameter (`+?1`, `LIMIT +?3`) hides its value from the
 * planner: SQLite 3.5x otherwise marks such parameters "plan-dependent" and
 * recompiles the statement every time a new value is bound, which cost a
 * full prepare per claim. The plan does not change (tests pin both).
 */
static const char CLAIM_SQL[] =
    "UPDATE _honker_live SET state = 'processing', worker_id = ?2, "
    "claim_expires_at = ?5 + ?4, attempts = attempts + 1 "
    "WHERE id IN (SELECT id FROM _honker_live "
    "WHERE queue = +?1 AND state IN ('pending','processing') "
    "AND attempts < max_attempts AND (expires_at IS NULL OR expires_at > ?5) AND "
    "((+state = 'pending' AND +run_at <= ?5) OR "
    "(+state = 'processing' AND +claim_expires_at < ?5)) "
    "ORDER BY priority DESC, run_at ASC, id ASC LIMIT +?3) "
    "RETURNING attempts, claim_expires_at, id, payload, queue, worker_id";

static const char ACK_SQL[] =
    "DELETE FROM _honker_live WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= ?3";

static const char ACK_BATCH_SQL[] =
    "DELETE FROM _honker_live WHERE id IN (SELECT value FROM json_each(?1)) "
    "AND worker_id = ?2 AND claim_expires_at >= ?3";

static const char RETRY_PENDING_SQL[] =
    "UPDATE _honker_live SET state = 'pending', run_at = ?3 + ?4, worker_id = NULL, "
    "claim_expires_at = NULL "
    "WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= ?3 AND state = 'processing' "
    "AND attempts < max_attempts";

/* ?5 = 1: only a processing row on its last attempt (retry); 0: any claim (fail). */
static const char MOVE_TO_DEAD_SQL[] =
    "INSERT OR REPLACE INTO _honker_dead "
    "(id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at) "
    "SELECT id, queue, payload, priority, run_at, max_attempts, attempts, ?4, created_at "
    "FROM _honker_live WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= ?3 "
    "AND (?5 = 0 OR (state = 'processing' AND attempts >= max_attempts))";

static const char DELETE_CLAIMED_SQL[] = "DELETE FROM _honker_live WHERE id = ?1";

static const char HEARTBEAT_SQL[] =
    "UPDATE _honker_live SET claim_expires_at = ?3 + ?4 "
    "WHERE id = ?1 AND worker_id = ?2 AND state = 'processing' AND claim_expires_at >= ?3";

static const char CANCEL_SQL[] =
    "DELETE FROM _honker_live WHERE id = ?1 AND state IN ('pending', 'processing') "
    "AND (?2 IS NULL OR queue = ?2)";

static const char GET_JOB_SQL[] =
    "SELECT attempts, claim_expires_at, created_at, expires_at, id, max_attempts, payload, "
    "priority, queue, run_at, state, worker_id FROM _honker_live WHERE id = ?1";

static const char *const GET_JOB_KEYS[] = {
    "attempts", "claim_expires_at", "created_at", "expires_at", "id",    "max_attempts",
    "payload",  "priority",         "queue",      "run_at",     "state", "worker_id"};

static const char *const CLAIM_KEYS[] = {"attempts", "claim_expires_at", "id",
                                         "payload",  "queue",            "worker_id"};

static const char NEXT_CLAIM_AT_SQL[] =
    "SELECT COALESCE(MIN(deadline), 0) FROM ("
    "SELECT MIN(run_at) AS deadline FROM _honker_live WHERE queue = +?1 AND state = 'pending' "
    "AND attempts < max_attempts AND (expires_at IS NULL OR expires_at > ?2) AND run_at > ?2 "
    "UNION ALL "
    "SELECT MIN(claim_expires_at) + 1 FROM _honker_live WHERE queue = +?1 "
    "AND state = 'processing' AND (expires_at IS NULL OR expires_at > ?2) "
    "AND claim_expires_at >= ?2)";

/* Would honker_claim_batch find (or dead-letter) a job right now? The same
 * predicate as the claim without the attempts filter, read-only. */
static const char CLAIMABLE_SQL[] =
    "SELECT 1 FROM _honker_live WHERE queue = +?1 AND state IN ('pending','processing') "
    "AND (expires_at IS NULL OR expires_at > ?2) AND "
    "((+state = 'pending' AND +run_at <= ?2) OR "
    "(+state = 'processing' AND +claim_expires_at < ?2)) LIMIT 1";

#define SWEEP_WHERE                                                              \
  "queue = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2 AND "              \
  "(state = 'pending' OR (state = 'processing' AND claim_expires_at < ?2))"

static const char SWEEP_TO_DEAD_SQL[] =
    "INSERT OR REPLACE INTO _honker_dead "
    "(id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at) "
    "SELECT id, queue, payload, priority, run_at, max_attempts, attempts, 'expired', created_at "
    "FROM _honker_live WHERE id IN (SELECT id FROM _honker_live WHERE " SWEEP_WHERE
    " ORDER BY expires_at, id LIMIT +?3)";

static const char SWEEP_DELETE_SQL[] =
    "DELETE FROM _honker_live WHERE id IN (SELECT id FROM _honker_live WHERE " SWEEP_WHERE
    " ORDER BY expires_at, id LIMIT +?3)";

/* Runs a cached, fully bound statement to completion; returns rc. */
static int run_to_done(sqlite3_stmt *st) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- enqueue ------------------------------------------------------------- */

static void enqueue_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_enqueue";
  const char *queue, *payload;
  int qlen, plen, run_null, delay_null, exp_null;
  int64_t run_at, delay, priority, max_attempts, expires;
  if (hk_arg_text(ctx, argv, 0, fn, "queue", &queue, &qlen)) return;
  if (hk_arg_json(ctx, argv, 1, fn, "payload", &payload, &plen)) return;
  if (hk_arg_int_or_null(ctx, argv, 2, fn, "run_at", &run_at, &run_null)) return;
  if (hk_arg_int_or_null(ctx, argv, 3, fn, "delay", &delay, &delay_null)) return;
  if (hk_arg_int(ctx, argv, 4, fn, "priority", &priority)) return;
  if (hk_arg_int(ctx, argv, 5, fn, "max_attempts", &max_attempts)) return;
  if (hk_arg_int_or_null(ctx, argv, 6, fn, "expires", &expires, &exp_null)) return;
  if (!run_null && hk_check_range(ctx, fn, "run_at", run_at, 0, HK_MAX_UNIX)) return;
  if (!delay_null && hk_check_range(ctx, fn, "delay", delay, -HK_MAX_SECONDS, HK_MAX_SECONDS))
    return;
  if (hk_check_range(ctx, fn, "max_attempts", max_attempts, 1, 1000000)) return;
  if (!exp_null && hk_check_range(ctx, fn, "expires", expires, 0, HK_MAX_SECONDS)) return;
  if (hk_check_range(ctx, fn, "priority", priority, -1000000000, 1000000000)) return;

  int64_t now = hk_now();
  int64_t when = !delay_null ? now + delay : (!run_null ? run_at : now);
  hk_outcome o;
  int err = exp_null ? hk_run(ctx, fn, HK_S_ENQUEUE, ENQUEUE_SQL, &o, "ttiiin", queue, qlen,
                              payload, plen, when, priority, max_attempts)
                     : hk_run(ctx, fn, HK_S_ENQUEUE, ENQUEUE_SQL, &o, "ttiiii", queue, qlen,
                              payload, plen, when, priority, max_attempts, now + expires);
  if (err) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_result_int64(ctx, sqlite3_last_insert_rowid(db));
}

/* ---- claim --------------------------------------------------------------- */

static int deadletter_exhausted(sqlite3_context *ctx, const char *queue, int qlen, int64_t now) {
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_CLAIM_EXHAUSTED_PROBE, EXHAUSTED_PROBE_SQL, &s);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(s.stmt, 1, queue, qlen, SQLITE_STATIC);
  sqlite3_bind_int64(s.stmt, 2, now);
  rc = sqlite3_step(s.stmt);
  int found = rc == SQLITE_ROW;
  rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SQLITE_OK : sqlite3_reset(s.stmt);
  hk_stmt_done(&s);
  if (rc != SQLITE_OK || !found) return rc;

  int began = hk_savepoint_begin(ctx);
  const hk_slot slots[2] = {HK_S_DEADLETTER_EXHAUSTED, HK_S_DELETE_EXHAUSTED};
  const char *sqls[2] = {DEADLETTER_EXHAUSTED_SQL, DELETE_EXHAUSTED_SQL};
  for (int i = 0; i < 2 && rc == SQLITE_OK; i++) {
    rc = hk_stmt_get(ctx, slots[i], sqls[i], &s);
    if (rc != SQLITE_OK) break;
    sqlite3_bind_text(s.stmt, 1, queue, qlen, SQLITE_STATIC);
    sqlite3_bind_int64(s.stmt, 2, now);
    rc = run_to_done(s.stmt);
    if (rc != SQLITE_OK) rc = sqlite3_reset(s.stmt);
    hk_stmt_done(&s);
  }
  hk_savepoint_end(ctx, began, rc == SQLITE_OK);
  return rc;
}

static void claim_batch_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_claim_batch";
  const char *queue, *worker;
  int qlen, wlen;
  int64_t n, timeout;
  if (hk_arg_text(ctx, argv, 0, fn, "queue", &queue, &qlen)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "n", &n)) return;
  if (hk_arg_int(ctx, argv, 3, fn, "timeout_s", &timeout)) return;
  if (hk_check_range(ctx, fn, "n", n, 0, HK_MAX_BATCH)) return;
  if (hk_check_range(ctx, fn, "timeout_s", timeout, 0, HK_MAX_SECONDS)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  if (n == 0) {
    sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
    return;
  }
  int64_t now = hk_now();
  int rc = deadletter_exhausted(ctx, queue, qlen, now);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  hk_stmt s;
  rc = hk_stmt_get(ctx, HK_S_CLAIM, CLAIM_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_bind_text(s.stmt, 1, queue, qlen, SQLITE_STATIC);
  sqlite3_bind_text(s.stmt, 2, worker, wlen, SQLITE_STATIC);
  sqlite3_bind_int64(s.stmt, 3, n);
  sqlite3_bind_int64(s.stmt, 4, timeout);
  sqlite3_bind_int64(s.stmt, 5, now);
  hk_buf b;
  hk_buf_init(&b);
  hk_buf_putc(&b, '[');
  int rows = 0;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
    hk_buf_puts(&b, rows++ ? ",{" : "{");
    for (int col = 0; col < 6; col++) {
      if (col) hk_buf_putc(&b, ',');
      hk_buf_putc(&b, '"');
      hk_buf_puts(&b, CLAIM_KEYS[col]);
      hk_buf_puts(&b, "\":");
      hk_buf_json_column(&b, s.stmt, col);
    }
    hk_buf_putc(&b, '}');
  }
  if (rc != SQLITE_DONE) {
    hk_sql_error(ctx, fn, db, sqlite3_reset(s.stmt));
    hk_stmt_done(&s);
    hk_buf_free(&b);
    return;
  }
  hk_stmt_done(&s);
  hk_buf_putc(&b, ']');
  hk_result_buf(ctx, &b);
}

/* ---- ack ----------------------------------------------------------------- */

static void ack_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_ack";
  int64_t id;
  const char *worker;
  int wlen;
  if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_ACK, ACK_SQL, &o, "iti", id, worker, wlen, hk_now())) return;
  sqlite3_result_int(ctx, o.changes > 0);
}

static void ack_batch_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_ack_batch";
  const char *ids_json, *worker, *why = NULL;
  int jlen, wlen;
  int64_t *ids = NULL;
  if (hk_arg_text(ctx, argv, 0, fn, "ids_json", &ids_json, &jlen)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  int count = hk_json_int_array(ids_json, (size_t)jlen, &ids, &why);
  sqlite3_free(ids);
  if (count < 0) {
    hk_error(ctx, "%s: argument 1 (ids_json) %s", fn, why);
    return;
  }
  if (count == 0) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_ACK_BATCH, ACK_BATCH_SQL, &o, "tti", ids_json, jlen, worker, wlen,
             hk_now()))
    return;
  sqlite3_result_int(ctx, o.changes);
}

/* ---- retry / fail -------------------------------------------------------- */

/* Moves a claimed row to _honker_dead in one savepoint. Returns rc and sets
 * *moved to 1 when a row moved. */
static int move_to_dead(sqlite3_context *ctx, int64_t id, const char *worker, int wlen,
                        int64_t now, const char *error, int elen, int last_attempt_only,
                        int *moved) {
  *moved = 0;
  int began = hk_savepoint_begin(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_MOVE_TO_DEAD, MOVE_TO_DEAD_SQL, &s);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(s.stmt, 1, id);
    sqlite3_bind_text(s.stmt, 2, worker, wlen, SQLITE_STATIC);
    sqlite3_bind_int64(s.stmt, 3, now);
    if (error) {
      sqlite3_bind_text(s.stmt, 4, error, elen, SQLITE_STATIC);
    } else {
      sqlite3_bind_null(s.stmt, 4);
    }
    sqlite3_bind_int(s.stmt, 5, last_attempt_only);
    rc = sqlite3_step(s.stmt);
    rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(s.stmt);
    *moved = rc == SQLITE_OK && sqlite3_changes(db) > 0;
    hk_stmt_done(&s);
  }
  if (rc == SQLITE_OK && *moved) {
    rc = hk_stmt_get(ctx, HK_S_DELETE_CLAIMED, DELETE_CLAIMED_SQL, &s);
    if (rc == SQLITE_OK) {
      sqlite3_bind_int64(s.stmt, 1, id);
      rc = sqlite3_step(s.stmt);
      rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(s.stmt);
      hk_stmt_done(&s);
    }
  }
  if (rc != SQLITE_OK) *moved = 0;
  hk_savepoint_end(ctx, began, rc == SQLITE_OK);
  return rc;
}

static void retry_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_retry";
  int64_t id, delay;
  const char *worker, *error;
  int wlen, elen;
  if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "delay_s", &delay)) return;
  if (hk_arg_text_or_null(ctx, argv, 3, fn, "error", &error, &elen)) return;
  if (hk_check_range(ctx, fn, "delay_s", delay, 0, HK_MAX_SECONDS)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  int64_t now = hk_now();
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_RETRY_PENDING, RETRY_PENDING_SQL, &o, "itii", id, worker, wlen, now,
             delay))
    return;
  if (o.changes > 0) {
    sqlite3_result_int(ctx, 1);
    return;
  }
  int moved = 0;
  int rc = move_to_dead(ctx, id, worker, wlen, now, error, elen, 1, &moved);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_result_int(ctx, moved);
}

static void fail_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_fail";
  int64_t id;
  const char *worker, *error;
  int wlen, elen;
  if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  if (hk_arg_text_or_null(ctx, argv, 2, fn, "error", &error, &elen)) return;
  int moved = 0;
  int rc = move_to_dead(ctx, id, worker, wlen, hk_now(), error, elen, 0, &moved);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, sqlite3_context_db_handle(ctx), rc);
    return;
  }
  sqlite3_result_int(ctx, moved);
}

/* ---- heartbeat / cancel / get_job ---------------------------------------- */

static void heartbeat_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_heartbeat";
  int64_t id, extend;
  const char *worker;
  int wlen;
  if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "extend_s", &extend)) return;
  if (hk_check_range(ctx, fn, "extend_s", extend, 0, HK_MAX_SECONDS)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_HEARTBEAT, HEARTBEAT_SQL, &o, "itii", id, worker, wlen, hk_now(),
             extend))
    return;
  sqlite3_result_int(ctx, o.changes > 0);
}

/* honker_cancel(job_id) or, as in newer honker, honker_cancel(queue, job_id). */
static void cancel_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_cancel";
  int64_t id;
  const char *queue = NULL;
  int qlen = 0;
  if (argc == 2) {
    if (hk_arg_text(ctx, argv, 0, fn, "queue", &queue, &qlen)) return;
    if (hk_arg_int(ctx, argv, 1, fn, "job_id", &id)) return;
  } else if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) {
    return;
  }
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_CANCEL, CANCEL_SQL, &o, "iT", id, queue, qlen)) return;
  sqlite3_result_int(ctx, o.changes > 0);
}

static void get_job_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_get_job";
  int64_t id;
  if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_GET_JOB, GET_JOB_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_bind_int64(s.stmt, 1, id);
  rc = sqlite3_step(s.stmt);
  if (rc == SQLITE_DONE) {
    hk_stmt_done(&s);
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
    return;
  }
  if (rc != SQLITE_ROW) {
    hk_sql_error(ctx, fn, db, sqlite3_reset(s.stmt));
    hk_stmt_done(&s);
    return;
  }
  hk_buf b;
  hk_buf_init(&b);
  hk_buf_putc(&b, '{');
  for (int col = 0; col < 12; col++) {
    if (col) hk_buf_putc(&b, ',');
    hk_buf_putc(&b, '"');
    hk_buf_puts(&b, GET_JOB_KEYS[col]);
    hk_buf_puts(&b, "\":");
    hk_buf_json_column(&b, s.stmt, col);
  }
  hk_buf_putc(&b, '}');
  hk_stmt_done(&s);
  hk_result_buf(ctx, &b);
}

/* ---- sweep / next claim -------------------------------------------------- */

static void sweep_expired_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_sweep_expired";
  const char *queue;
  int qlen;
  int64_t limit = HK_MAX_BATCH;
  if (hk_arg_text(ctx, argv, 0, fn, "queue", &queue, &qlen)) return;
  if (argc > 1) {
    if (hk_arg_int(ctx, argv, 1, fn, "limit", &limit)) return;
    if (hk_check_range(ctx, fn, "limit", limit, 0, HK_MAX_BATCH)) return;
  }
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  int64_t now = hk_now();
  int began = hk_savepoint_begin(ctx);
  const char *sqls[2] = {SWEEP_TO_DEAD_SQL, SWEEP_DELETE_SQL};
  int moved = 0, rc = SQLITE_OK;
  for (int i = 0; i < 2 && rc == SQLITE_OK; i++) {
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, sqls[i], -1, &st, NULL);
    if (rc != SQLITE_OK) break;
    sqlite3_bind_text(st, 1, queue, qlen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, limit);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(st);
    if (i == 1) moved = sqlite3_changes(db);
    sqlite3_finalize(st);
  }
  if (rc != SQLITE_OK) hk_sql_error(ctx, fn, db, rc);
  hk_savepoint_end(ctx, began, rc == SQLITE_OK);
  if (rc == SQLITE_OK) sqlite3_result_int(ctx, moved);
}

static void next_claim_at_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_queue_next_claim_at";
  const char *queue;
  int qlen;
  if (hk_arg_text(ctx, argv, 0, fn, "queue", &queue, &qlen)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_NEXT_CLAIM_AT, NEXT_CLAIM_AT_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_bind_text(s.stmt, 1, queue, qlen, SQLITE_STATIC);
  sqlite3_bind_int64(s.stmt, 2, hk_now());
  rc = sqlite3_step(s.stmt);
  if (rc != SQLITE_ROW) {
    hk_sql_error(ctx, fn, db, sqlite3_reset(s.stmt));
    hk_stmt_done(&s);
    return;
  }
  sqlite3_result_int64(ctx, sqlite3_column_int64(s.stmt, 0));
  hk_stmt_done(&s);
}

/* honker_x_queue_ready_at(queue): when a claim will next find work: `now`
 * if it would right away, else honker_queue_next_claim_at's answer (a
 * future time, or 0). Read-only: a worker asks this before taking the
 * write lock for a claim that would come back empty. */
static void ready_at_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_queue_ready_at";
  const char *queue;
  int qlen;
  if (hk_arg_text(ctx, argv, 0, fn, "queue", &queue, &qlen)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  int64_t now = hk_now();
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_CLAIMABLE, CLAIMABLE_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_bind_text(s.stmt, 1, queue, qlen, SQLITE_STATIC);
  sqlite3_bind_int64(s.stmt, 2, now);
  rc = sqlite3_step(s.stmt);
  if (rc == SQLITE_ROW) {
    hk_stmt_done(&s);
    sqlite3_result_int64(ctx, now);
    return;
  }
  if (rc != SQLITE_DONE) {
    hk_sql_error(ctx, fn, db, sqlite3_reset(s.stmt));
    hk_stmt_done(&s);
    return;
  }
  hk_stmt_done(&s);
  next_claim_at_fn(ctx, argc, argv);
}

int hk_register_queue(sqlite3 *db, hk_conn *c) {
  int rc = SQLITE_OK;
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_enqueue", 7, enqueue_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_claim_batch", 4, claim_batch_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_ack", 2, ack_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_ack_batch", 2, ack_batch_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_retry", 4, retry_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_fail", 3, fail_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_heartbeat", 3, heartbeat_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_cancel", 1, cancel_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_cancel", 2, cancel_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_get_job", 1, get_job_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_sweep_expired", 1, sweep_expired_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_sweep_expired", 2, sweep_expired_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_queue_next_claim_at", 1, next_claim_at_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_queue_ready_at", 1, ready_at_fn);
  return rc;
}
