/*
 * Job queues: enqueue, claim, ack, retry, fail, heartbeat, cancel, get_job,
 * sweep_expired, queue_next_claim_at. Semantics and JSON shapes are
 * honker's (keys in alphabetical order, payloads as JSON strings), with
 * one addition: a queue paused in _honker_x_paused (pause.c) claims
 * nothing.
 *
 * Our additions on top (honker_x_*): enqueue with a dedup key, progress,
 * retry telling requeued from dead, and the merged job view. Every way out
 * of _honker_live (ack, ack_batch, fail, retry to dead, cancel, sweep,
 * claim's dead-lettering) also writes the _honker_x_history row and deletes
 * the job's progress and dedup rows, in one savepoint (see *_STEPS).
 *
 * "now" is taken once per call (hk_now) and bound as a parameter, so every
 * statement of one call agrees on it.
 */
#include "honker.h"

static const char ENQUEUE_SQL[] =
    "INSERT INTO _honker_live (queue, payload, run_at, priority, max_attempts, expires_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/*
 * THE claimable predicate, given the parameter that holds "now": a row a
 * claim would take (or dead-letter) right now. Every statement below that
 * means "claimable" is built from it.
 *
 * The unary `+` keeps the planner from answering the OR through the two
 * deadline indexes (a MULTI-INDEX OR plus a sort of the whole backlog);
 * walking the claim index in priority order stops at the first due rows
 * instead.
 */
#define CLAIMABLE_WHERE(NOW)                                                   \
  "(expires_at IS NULL OR expires_at > " NOW ") AND "                           \
  "((+state = 'pending' AND +run_at <= " NOW ") OR "                            \
  "(+state = 'processing' AND +claim_expires_at < " NOW "))"

/* Exhausted claimable rows (?1 queue, ?2 now), found through
 * _honker_x_live_exhausted so a claim does not scan the backlog (honker's
 * defect). */
#define EXHAUSTED_WHERE "queue = ?1 AND attempts >= max_attempts AND " CLAIMABLE_WHERE("?2")

/* Moving rows out of _honker_live: the rows matching WHERE go to
 * _honker_x_history with their progress, and their progress and dedup rows
 * are deleted. Each exit path runs these before its DELETE, with the same
 * parameters, in one savepoint (hk_run_steps). */
#define HISTORY_FROM_LIVE(STATE, NOW, ERROR, WHERE)                                         \
  "INSERT OR REPLACE INTO _honker_x_history (id, queue, state, payload, attempts, "        \
  "max_attempts, priority, run_at, created_at, finished_at, progress, error) "             \
  "SELECT id, queue, " STATE ", payload, attempts, max_attempts, priority, run_at, "       \
  "created_at, " NOW ", (SELECT p.progress FROM _honker_x_progress p "                     \
  "WHERE p.job_id = _honker_live.id), " ERROR " FROM _honker_live WHERE " WHERE
#define PROGRESS_OF_LIVE(WHERE) \
  "DELETE FROM _honker_x_progress WHERE job_id IN (SELECT id FROM _honker_live WHERE " WHERE ")"
#define DEDUP_OF_LIVE(WHERE) \
  "DELETE FROM _honker_x_dedup WHERE job_id IN (SELECT id FROM _honker_live WHERE " WHERE ")"

/* The same for one job whose gate statement (history or dead insert) has
 * just matched it: ?1 is its id. */
#define PROGRESS_OF_ID "DELETE FROM _honker_x_progress WHERE job_id = ?1"
#define DEDUP_OF_ID "DELETE FROM _honker_x_dedup WHERE job_id = ?1"

#define DEAD_FROM_LIVE(ERROR)                                                                \
  "INSERT OR REPLACE INTO _honker_dead "                                                    \
  "(id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at) " \
  "SELECT id, queue, payload, priority, run_at, max_attempts, attempts, " ERROR             \
  ", created_at FROM _honker_live WHERE "

/* The unary `+` keeps the planner off the deadline indexes, which would
 * visit every due row. */
static const char EXHAUSTED_PROBE_SQL[] =
    "SELECT 1 FROM _honker_live WHERE " EXHAUSTED_WHERE " LIMIT 1";

static const char DEADLETTER_EXHAUSTED_SQL[] =
    DEAD_FROM_LIVE("'max attempts exceeded'") EXHAUSTED_WHERE;

static const char DELETE_EXHAUSTED_SQL[] = "DELETE FROM _honker_live WHERE " EXHAUSTED_WHERE;

/*
 * `state IN ('pending','processing')` is repeated literally: without it
 * SQLite will not use the partial claim index.
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
    "AND attempts < max_attempts AND " CLAIMABLE_WHERE("?5") " "
    "ORDER BY priority DESC, run_at ASC, id ASC LIMIT +?3) "
    "RETURNING attempts, claim_expires_at, id, payload, queue, worker_id";

#define ACK_WHERE "id = ?1 AND worker_id = ?2 AND claim_expires_at >= ?3"
static const char ACK_SQL[] = "DELETE FROM _honker_live WHERE " ACK_WHERE;

#define ACK_BATCH_WHERE                                          \
  "id IN (SELECT value FROM json_each(?1)) "                     \
  "AND worker_id = ?2 AND claim_expires_at >= ?3"
static const char ACK_BATCH_SQL[] = "DELETE FROM _honker_live WHERE " ACK_BATCH_WHERE;

static const char RETRY_PENDING_SQL[] =
    "UPDATE _honker_live SET state = 'pending', run_at = ?3 + ?4, worker_id = NULL, "
    "claim_expires_at = NULL "
    "WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= ?3 AND state = 'processing' "
    "AND attempts < max_attempts";

/* ?4 error; ?5 = 1: only a processing row on its last attempt (retry); 0:
 * any claim (fail). */
#define CLAIMED_WHERE                                       \
  "id = ?1 AND worker_id = ?2 AND claim_expires_at >= ?3 " \
  "AND (?5 = 0 OR (state = 'processing' AND attempts >= max_attempts))"
static const char MOVE_TO_DEAD_SQL[] = DEAD_FROM_LIVE("?4") CLAIMED_WHERE;

static const char DELETE_CLAIMED_SQL[] = "DELETE FROM _honker_live WHERE id = ?1";

static const char HEARTBEAT_SQL[] =
    "UPDATE _honker_live SET claim_expires_at = ?3 + ?4 "
    "WHERE id = ?1 AND worker_id = ?2 AND state = 'processing' AND claim_expires_at >= ?3";

#define CANCEL_WHERE "id = ?1 AND state IN ('pending', 'processing') AND (?2 IS NULL OR queue = ?2)"
static const char CANCEL_SQL[] = "DELETE FROM _honker_live WHERE " CANCEL_WHERE;

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
    "AND " CLAIMABLE_WHERE("?2") " LIMIT 1";

#define SWEEP_WHERE                                                              \
  "id IN (SELECT id FROM _honker_live WHERE "                                    \
  "queue = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2 AND "              \
  "(state = 'pending' OR (state = 'processing' AND claim_expires_at < ?2)) "     \
  "ORDER BY expires_at, id LIMIT +?3)"

static const char SWEEP_TO_DEAD_SQL[] = DEAD_FROM_LIVE("'expired'") SWEEP_WHERE;

static const char SWEEP_DELETE_SQL[] = "DELETE FROM _honker_live WHERE " SWEEP_WHERE;

/* Our additions (honker_x_*). */
static const char DEDUP_LOOKUP_SQL[] =
    "SELECT d.job_id FROM _honker_x_dedup d JOIN _honker_live l ON l.id = d.job_id "
    "WHERE d.queue = +?1 AND d.key = +?2";

static const char DEDUP_RECORD_SQL[] =
    "INSERT OR REPLACE INTO _honker_x_dedup (queue, key, job_id, created_at) "
    "VALUES (?1, ?2, ?3, ?4)";

static const char PROGRESS_SET_SQL[] =
    "INSERT INTO _honker_x_progress (job_id, progress, updated_at) "
    "SELECT id, ?2, ?3 FROM _honker_live WHERE id = ?1 "
    "ON CONFLICT(job_id) DO UPDATE SET progress = excluded.progress, "
    "updated_at = excluded.updated_at";

/* The merged view of a job, best source first: live, dead, history, then a
 * lone unexpired result. Columns in X_GET_JOB_KEYS' (alphabetical) order. */
static const char X_GET_JOB_SQL[] =
    "SELECT attempts, claim_expires_at, created_at, error, finished_at, id, max_attempts, "
    "payload, priority, progress, queue, (SELECT r.value FROM _honker_results r "
    "WHERE r.job_id = ?1 AND (r.expires_at IS NULL OR r.expires_at > ?2)) AS result, "
    "run_at, state, worker_id FROM ("
    "SELECT 1 AS src, attempts, claim_expires_at, created_at, NULL AS error, "
    "NULL AS finished_at, id, max_attempts, payload, priority, (SELECT p.progress FROM "
    "_honker_x_progress p WHERE p.job_id = l.id) AS progress, queue, run_at, state, worker_id "
    "FROM _honker_live l WHERE l.id = ?1 "
    "UNION ALL "
    "SELECT 2, attempts, NULL, created_at, last_error, died_at, id, max_attempts, payload, "
    "priority, (SELECT h.progress FROM _honker_x_history h WHERE h.id = d.id), queue, run_at, "
    "'dead', NULL FROM _honker_dead d WHERE d.id = ?1 "
    "UNION ALL "
    "SELECT 3, attempts, NULL, created_at, error, finished_at, id, max_attempts, payload, "
    "priority, progress, queue, run_at, state, NULL FROM _honker_x_history WHERE id = ?1 "
    "UNION ALL "
    "SELECT 4, NULL, NULL, NULL, NULL, NULL, job_id, NULL, NULL, NULL, NULL, NULL, NULL, "
    "'completed', NULL FROM _honker_results WHERE job_id = ?1 "
    "AND (expires_at IS NULL OR expires_at > ?2) "
    "ORDER BY 1 LIMIT 1)";

static const char *const X_GET_JOB_KEYS[] = {
    "attempts", "claim_expires_at", "created_at", "error",    "finished_at",
    "id",       "max_attempts",     "payload",    "priority", "progress",
    "queue",    "result",           "run_at",     "state",    "worker_id"};

/* The statements each exit path runs, in order (hk_run_steps): the gate
 * (what decides whether the job is ours to move), history, progress and
 * dedup clean-up, and the DELETE from _honker_live last. */
static const hk_step ACK_STEPS[] = {
    {HK_S_HISTORY_ACK, HISTORY_FROM_LIVE("'completed'", "?3", "NULL", ACK_WHERE)},
    {HK_S_PROGRESS_DEL_ACK, PROGRESS_OF_ID},
    {HK_S_DEDUP_DEL_ACK, DEDUP_OF_ID},
    {HK_S_ACK, ACK_SQL},
};

static const hk_step ACK_BATCH_STEPS[] = {
    {HK_S_HISTORY_ACK_BATCH, HISTORY_FROM_LIVE("'completed'", "?3", "NULL", ACK_BATCH_WHERE)},
    {HK_S_PROGRESS_DEL_ACK_BATCH, PROGRESS_OF_LIVE(ACK_BATCH_WHERE)},
    {HK_S_DEDUP_DEL_ACK_BATCH, DEDUP_OF_LIVE(ACK_BATCH_WHERE)},
    {HK_S_ACK_BATCH, ACK_BATCH_SQL},
};

static const hk_step DEAD_STEPS[] = {
    {HK_S_MOVE_TO_DEAD, MOVE_TO_DEAD_SQL},
    {HK_S_HISTORY_DEAD, HISTORY_FROM_LIVE("'dead'", "?3", "?4", CLAIMED_WHERE)},
    {HK_S_PROGRESS_DEL_CLAIMED, PROGRESS_OF_ID},
    {HK_S_DEDUP_DEL_CLAIMED, DEDUP_OF_ID},
    {HK_S_DELETE_CLAIMED, DELETE_CLAIMED_SQL},
};

static const hk_step EXHAUSTED_STEPS[] = {
    {HK_S_DEADLETTER_EXHAUSTED, DEADLETTER_EXHAUSTED_SQL},
    {HK_S_HISTORY_EXHAUSTED,
     HISTORY_FROM_LIVE("'dead'", "?2", "'max attempts exceeded'", EXHAUSTED_WHERE)},
    {HK_S_PROGRESS_DEL_EXHAUSTED, PROGRESS_OF_LIVE(EXHAUSTED_WHERE)},
    {HK_S_DEDUP_DEL_EXHAUSTED, DEDUP_OF_LIVE(EXHAUSTED_WHERE)},
    {HK_S_DELETE_EXHAUSTED, DELETE_EXHAUSTED_SQL},
};

static const hk_step CANCEL_STEPS[] = {
    {HK_S_HISTORY_CANCEL, HISTORY_FROM_LIVE("'cancelled'", "?3", "NULL", CANCEL_WHERE)},
    {HK_S_PROGRESS_DEL_CANCEL, PROGRESS_OF_ID},
    {HK_S_DEDUP_DEL_CANCEL, DEDUP_OF_ID},
    {HK_S_CANCEL, CANCEL_SQL},
};

/* Sweeps are not hot: prepared per call. */
static const hk_step SWEEP_STEPS[] = {
    {HK_UNCACHED, SWEEP_TO_DEAD_SQL},
    {HK_UNCACHED, HISTORY_FROM_LIVE("'dead'", "?2", "'expired'", SWEEP_WHERE)},
    {HK_UNCACHED, PROGRESS_OF_LIVE(SWEEP_WHERE)},
    {HK_UNCACHED, DEDUP_OF_LIVE(SWEEP_WHERE)},
    {HK_UNCACHED, SWEEP_DELETE_SQL},
};

#define NSTEPS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static hk_bind bind_int(int64_t v) {
  hk_bind b = {'i', v, NULL, 0};
  return b;
}

static hk_bind bind_text(const char *t, int n) {
  hk_bind b = {'t', 0, t, n};
  return b;
}

/* Reads a job id argument of our own functions: a positive integer. */
static int arg_job_id(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                      int64_t *id) {
  if (hk_arg_int(ctx, argv, i, fn, "job_id", id)) return 1;
  if (*id < 1) {
    hk_error(ctx, "%s: argument %d (job_id) must be a positive integer, got %lld", fn, i + 1,
             (long long)*id);
    return 1;
  }
  return 0;
}

/* ---- enqueue ------------------------------------------------------------- */

/* honker_enqueue(queue, payload, run_at, delay, priority, max_attempts,
 * expires) and honker_x_enqueue(..., key): with a key, a job of that
 * (queue, key) still in _honker_live is returned instead of a new one. */
static void enqueue_impl(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *fn) {
  const char *queue, *payload, *key = NULL;
  int qlen, plen, klen = 0, run_null, delay_null, exp_null;
  int64_t run_at, delay, priority, max_attempts, expires;
  if (hk_arg_text(ctx, argv, 0, fn, "queue", &queue, &qlen)) return;
  if (hk_arg_json(ctx, argv, 1, fn, "payload", &payload, &plen)) return;
  if (hk_arg_int_or_null(ctx, argv, 2, fn, "run_at", &run_at, &run_null)) return;
  if (hk_arg_int_or_null(ctx, argv, 3, fn, "delay", &delay, &delay_null)) return;
  if (hk_arg_int(ctx, argv, 4, fn, "priority", &priority)) return;
  if (hk_arg_int(ctx, argv, 5, fn, "max_attempts", &max_attempts)) return;
  if (hk_arg_int_or_null(ctx, argv, 6, fn, "expires", &expires, &exp_null)) return;
  if (argc > 7) {
    if (hk_arg_text_or_null(ctx, argv, 7, fn, "key", &key, &klen)) return;
    if (key && klen == 0) {
      hk_error(ctx, "%s: argument 8 (key) must not be empty", fn);
      return;
    }
  }
  if (!run_null && hk_check_range(ctx, fn, "run_at", run_at, 0, HK_MAX_UNIX)) return;
  if (!delay_null && hk_check_range(ctx, fn, "delay", delay, -HK_MAX_SECONDS, HK_MAX_SECONDS))
    return;
  if (hk_check_range(ctx, fn, "max_attempts", max_attempts, 1, 1000000)) return;
  if (!exp_null && hk_check_range(ctx, fn, "expires", expires, 0, HK_MAX_SECONDS)) return;
  if (hk_check_range(ctx, fn, "priority", priority, -1000000000, 1000000000)) return;

  int64_t now = hk_now();
  int64_t when = !delay_null ? now + delay : (!run_null ? run_at : now);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_outcome o;
  int began = 0;
  if (key) {
    /* The savepoint (a transaction, in autocommit mode) comes first, so the
     * lookup and the insert share one snapshot: if another connection
     * commits the same key in between, our insert fails with SQLITE_BUSY
     * (stale snapshot) instead of making a second job. */
    began = hk_savepoint_begin(ctx);
    if (hk_run(ctx, fn, HK_S_DEDUP_LOOKUP, DEDUP_LOOKUP_SQL, &o, "tt", queue, qlen, key, klen)) {
      hk_savepoint_end(ctx, began, 0);
      return;
    }
    if (o.has_row) {
      hk_savepoint_end(ctx, began, 1);
      sqlite3_result_int64(ctx, o.first);
      return;
    }
  }
  int err = exp_null ? hk_run(ctx, fn, HK_S_ENQUEUE, ENQUEUE_SQL, &o, "ttiiin", queue, qlen,
                              payload, plen, when, priority, max_attempts)
                     : hk_run(ctx, fn, HK_S_ENQUEUE, ENQUEUE_SQL, &o, "ttiiii", queue, qlen,
                              payload, plen, when, priority, max_attempts, now + expires);
  int64_t id = sqlite3_last_insert_rowid(db);
  if (!err && key) {
    err = hk_run(ctx, fn, HK_S_DEDUP_RECORD, DEDUP_RECORD_SQL, &o, "ttii", queue, qlen, key,
                 klen, id, now);
  }
  hk_savepoint_end(ctx, began, !err);
  if (err) return;
  sqlite3_result_int64(ctx, id);
}

static void enqueue_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  enqueue_impl(ctx, argc, argv, "honker_enqueue");
}

static void x_enqueue_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  enqueue_impl(ctx, argc, argv, "honker_x_enqueue");
}

/* ---- claim --------------------------------------------------------------- */

static int deadletter_exhausted(sqlite3_context *ctx, const char *fn, const char *queue,
                                int qlen, int64_t now) {
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_CLAIM_EXHAUSTED_PROBE, EXHAUSTED_PROBE_SQL, &o, "ti", queue, qlen,
             now))
    return 1;
  if (!o.has_row) return 0;
  const hk_bind binds[2] = {bind_text(queue, qlen), bind_int(now)};
  int gate, last;
  return hk_run_steps(ctx, fn, EXHAUSTED_STEPS, NSTEPS(EXHAUSTED_STEPS), binds, 2, &gate, &last);
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
  int paused = 0;
  if (n > 0 && hk_paused(ctx, fn, "queue", queue, qlen, &paused)) return;
  if (n == 0 || paused) {
    sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
    return;
  }
  int64_t now = hk_now();
  if (deadletter_exhausted(ctx, fn, queue, qlen, now)) return;
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_CLAIM, CLAIM_SQL, &s);
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
  rc = hk_json_rows(&b, s.stmt, CLAIM_KEYS, 6, 0, 1, NULL);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    hk_stmt_done(&s);
    hk_buf_free(&b);
    return;
  }
  hk_stmt_done(&s);
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
  const hk_bind binds[3] = {bind_int(id), bind_text(worker, wlen), bind_int(hk_now())};
  int gate, last;
  if (hk_run_steps(ctx, fn, ACK_STEPS, NSTEPS(ACK_STEPS), binds, 3, &gate, &last)) return;
  sqlite3_result_int(ctx, last > 0);
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
  const hk_bind binds[3] = {bind_text(ids_json, jlen), bind_text(worker, wlen),
                            bind_int(hk_now())};
  int gate, last;
  if (hk_run_steps(ctx, fn, ACK_BATCH_STEPS, NSTEPS(ACK_BATCH_STEPS), binds, 3, &gate, &last))
    return;
  sqlite3_result_int(ctx, last);
}

/* ---- retry / fail -------------------------------------------------------- */

/* Moves a claimed row to _honker_dead (and history) in one savepoint.
 * Returns non-zero with the error set; *moved is 1 when a row moved. */
static int move_to_dead(sqlite3_context *ctx, const char *fn, int64_t id, const char *worker,
                        int wlen, int64_t now, const char *error, int elen,
                        int last_attempt_only, int *moved) {
  const hk_bind binds[5] = {bind_int(id), bind_text(worker, wlen), bind_int(now),
                            bind_text(error, elen), bind_int(last_attempt_only)};
  int gate, last;
  int err = hk_run_steps(ctx, fn, DEAD_STEPS, NSTEPS(DEAD_STEPS), binds, 5, &gate, &last);
  *moved = !err && gate > 0;
  return err;
}

/* honker_retry -> 1/0; honker_x_retry -> 1 requeued, 2 dead, 0 not ours. */
static void retry_impl(sqlite3_context *ctx, sqlite3_value **argv, const char *fn,
                       int dead_code) {
  int64_t id, delay;
  const char *worker, *error;
  int wlen, elen;
  if (hk_arg_int(ctx, argv, 0, fn, "job_id", &id)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "delay_s", &delay)) return;
  if (hk_arg_text_or_null(ctx, argv, 3, fn, "error", &error, &elen)) return;
  if (hk_check_range(ctx, fn, "delay_s", delay, 0, HK_MAX_SECONDS)) return;
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
  if (move_to_dead(ctx, fn, id, worker, wlen, now, error, elen, 1, &moved)) return;
  sqlite3_result_int(ctx, moved ? dead_code : 0);
}

static void retry_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  retry_impl(ctx, argv, "honker_retry", 1);
}

static void x_retry_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  retry_impl(ctx, argv, "honker_x_retry", 2);
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
  if (move_to_dead(ctx, fn, id, worker, wlen, hk_now(), error, elen, 0, &moved)) return;
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
  const hk_bind binds[3] = {bind_int(id), bind_text(queue, qlen), bind_int(hk_now())};
  int gate, last;
  if (hk_run_steps(ctx, fn, CANCEL_STEPS, NSTEPS(CANCEL_STEPS), binds, 3, &gate, &last)) return;
  sqlite3_result_int(ctx, last > 0);
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
  hk_buf b;
  hk_buf_init(&b);
  rc = hk_json_rows(&b, s.stmt, GET_JOB_KEYS, 12, 0, 0, NULL);
  if (rc != SQLITE_OK) hk_sql_error(ctx, fn, db, rc);
  hk_stmt_done(&s);
  if (rc != SQLITE_OK) {
    hk_buf_free(&b);
    return;
  }
  hk_result_buf(ctx, &b); /* '' when there is no such live job, as honker */
}

/* honker_x_get_job(job_id): live, dead, completed or cancelled; NULL when
 * nothing is known of the id. */
static void x_get_job_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_get_job";
  int64_t id;
  if (arg_job_id(ctx, argv, 0, fn, &id)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_X_GET_JOB, X_GET_JOB_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_bind_int64(s.stmt, 1, id);
  sqlite3_bind_int64(s.stmt, 2, hk_now());
  hk_buf b;
  hk_buf_init(&b);
  int rows = 0;
  rc = hk_json_rows(&b, s.stmt, X_GET_JOB_KEYS, 15, 0, 0, &rows);
  if (rc != SQLITE_OK) hk_sql_error(ctx, fn, db, rc);
  hk_stmt_done(&s);
  if (rc != SQLITE_OK || rows == 0) {
    hk_buf_free(&b);
    if (rc == SQLITE_OK) sqlite3_result_null(ctx);
    return;
  }
  hk_result_buf(ctx, &b);
}

/* honker_x_progress_set(job_id, progress_json): 1 stored, 0 no live job. */
static void progress_set_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_progress_set";
  int64_t id;
  const char *progress;
  int plen;
  if (arg_job_id(ctx, argv, 0, fn, &id)) return;
  if (hk_arg_json(ctx, argv, 1, fn, "progress_json", &progress, &plen)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_PROGRESS_SET, PROGRESS_SET_SQL, &o, "iti", id, progress, plen,
             hk_now()))
    return;
  sqlite3_result_int(ctx, o.changes > 0);
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
  const hk_bind binds[3] = {bind_text(queue, qlen), bind_int(hk_now()), bind_int(limit)};
  int gate, last;
  if (hk_run_steps(ctx, fn, SWEEP_STEPS, NSTEPS(SWEEP_STEPS), binds, 3, &gate, &last)) return;
  sqlite3_result_int(ctx, last);
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
 * future time, or 0); 0 while the queue is paused (pause.c). Read-only: a
 * worker asks this before taking the write lock for a claim that would
 * come back empty. */
static void ready_at_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_queue_ready_at";
  const char *queue;
  int qlen;
  if (hk_arg_text(ctx, argv, 0, fn, "queue", &queue, &qlen)) return;
  int paused = 0;
  if (hk_paused(ctx, fn, "queue", queue, qlen, &paused)) return;
  if (paused) {
    sqlite3_result_int64(ctx, 0); /* nothing until a resume (a commit: workers wake) */
    return;
  }
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
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_enqueue", 8, x_enqueue_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_retry", 4, x_retry_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_progress_set", 2, progress_set_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_get_job", 1, x_get_job_fn);
  return rc;
}
