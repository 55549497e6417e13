/*
 * The outbox (our addition): messages an app commits with its own writes,
 * relayed to a server by a host, with nothing lost and nothing applied
 * twice (the server dedups on each message's idempotency key).
 *
 *   honker_x_outbox_add(outbox, payload, key, max_attempts)      -> id
 *   honker_x_outbox_claim(outbox, worker, n, timeout_s)          -> JSON array
 *   honker_x_outbox_settle(id, worker, outcome, delay_s, error)  -> 0/1/2/3
 *   honker_x_outbox_flush(outbox)                                -> count
 *   honker_x_outbox_ready_at(outbox)                             -> unix s or 0
 *   honker_x_outbox_stats(outbox)                                -> JSON object
 *   honker_x_outbox_pause/_resume/_paused(outbox)   (pause.c: a paused
 *   outbox's claim returns [] and its ready_at 0; adds still go in)
 *   honker_x_outbox_dead_redrive(outbox, ids_json, limit)        -> count
 *   honker_x_outbox_dead_purge(outbox, ids_json, limit)          -> count
 *
 * Key order: a message with a key is claimable only while it is the oldest
 * (lowest id) live message of its (outbox, key): the next one is not sent
 * until the previous was delivered or went dead. Unkeyed messages and the
 * heads of different keys are claimed together, oldest first. `is_head`
 * marks those rows (1 for unkeyed ones), kept up to date by every function
 * here, so a claim walks only heads (_honker_x_outbox_heads) however deep
 * the backlog behind a busy key is.
 *
 * The idempotency key of a message is `<device>.<hex(outbox)>.<id>`: the
 * device id is random, stored once per file in _honker_x_meta (created by
 * the first claim), ids come from AUTOINCREMENT (never reused), and a
 * redriven message keeps its id. So the key is stable across retries,
 * processes and restarts and unique across devices.
 */
#include <string.h>

#include "honker.h"

/* A row a claim takes right now (?5 = now): due and pending, or claimed
 * and the claim lapsed; attempts left; the head of its key. */
#define CLAIMABLE_WHERE                                                                       \
  "o.outbox = +?1 AND o.is_head = 1 AND o.attempts < o.max_attempts AND "                     \
  "((o.state = 'pending' AND o.run_at <= +?5) OR "                                            \
  "(o.state = 'inflight' AND o.claim_expires_at < +?5)) AND "                                 \
  "(o.key IS NULL OR NOT EXISTS (SELECT 1 FROM _honker_x_outbox p "                           \
  "WHERE p.outbox = o.outbox AND p.key = o.key AND p.id < o.id))"

static const char ADD_SQL[] =
    "INSERT INTO _honker_x_outbox (outbox, key, payload, max_attempts, run_at, created_at, "
    "is_head) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?2 IS NULL OR NOT EXISTS (SELECT 1 FROM "
    "_honker_x_outbox WHERE outbox = ?1 AND key = ?2))";

/* Before row ?1 leaves: the next live row of its key becomes the head. */
static const char PROMOTE_NEXT_SQL[] =
    "UPDATE _honker_x_outbox SET is_head = 1 WHERE id = (SELECT n.id FROM _honker_x_outbox c "
    "JOIN _honker_x_outbox n ON n.outbox = c.outbox AND n.key = c.key AND n.id > c.id "
    "WHERE c.id = +?1 ORDER BY n.id LIMIT 1)";

/* After several rows left or came back (lapsed claims gone dead, redrive):
 * every row of the outbox gets its head flag again. Rare; O(rows). */
static const char REHEAD_SQL[] =
    "UPDATE _honker_x_outbox AS o SET is_head = (o.key IS NULL OR NOT EXISTS (SELECT 1 FROM "
    "_honker_x_outbox p WHERE p.outbox = o.outbox AND p.key = o.key AND p.id < o.id)) "
    "WHERE o.outbox = ?1";

static const char DEVICE_GET_SQL[] =
    "SELECT value FROM _honker_x_meta WHERE key = 'device_id'";
static const char DEVICE_SET_SQL[] =
    "INSERT OR IGNORE INTO _honker_x_meta (key, value) "
    "VALUES ('device_id', lower(hex(randomblob(16))))";

/* Claims that lapsed on their last attempt (the relay died): dead. */
#define EXHAUSTED_WHERE                                                              \
  "outbox = ?1 AND state = 'inflight' AND claim_expires_at < ?2 AND attempts >= max_attempts"
static const char EXHAUSTED_DEAD_SQL[] =
    "INSERT OR REPLACE INTO _honker_x_outbox_dead "
    "(id, outbox, key, payload, attempts, max_attempts, error, created_at, died_at) "
    "SELECT id, outbox, key, payload, attempts, max_attempts, "
    "'max attempts exceeded (the last claim lapsed)', created_at, ?2 "
    "FROM _honker_x_outbox WHERE " EXHAUSTED_WHERE;
static const char EXHAUSTED_DEL_SQL[] = "DELETE FROM _honker_x_outbox WHERE " EXHAUSTED_WHERE;

/* ?1 outbox ?2 worker ?3 n ?4 timeout ?5 now ?6 device id. */
static const char CLAIM_SQL[] =
    "UPDATE _honker_x_outbox SET state = 'inflight', claimed_by = ?2, "
    "claim_expires_at = ?5 + ?4, attempts = attempts + 1 "
    "WHERE id IN (SELECT o.id FROM _honker_x_outbox o WHERE " CLAIMABLE_WHERE
    " ORDER BY o.id LIMIT +?3) "
    "RETURNING attempts, created_at, id, ?6 || '.' || lower(hex(outbox)) || '.' || id, key, "
    "payload";
static const char *const CLAIM_KEYS[] = {"attempts",        "created_at", "id",
                                         "idempotency_key", "key",        "payload"};

/* ?1 id ?2 worker: 1 when the claim is ours and this was its last attempt. */
static const char OWNED_SQL[] =
    "SELECT attempts >= max_attempts FROM _honker_x_outbox "
    "WHERE id = ?1 AND claimed_by = ?2 AND state = 'inflight'";

static const char STATS_BUMP_SQL[] =
    "INSERT INTO _honker_x_outbox_stats (outbox, delivered, last_delivered_at) "
    "SELECT outbox, 1, ?2 FROM _honker_x_outbox WHERE id = ?1 "
    "ON CONFLICT(outbox) DO UPDATE SET delivered = delivered + 1, "
    "last_delivered_at = excluded.last_delivered_at";
static const char DELETE_SQL[] = "DELETE FROM _honker_x_outbox WHERE id = ?1";
static const char TO_DEAD_SQL[] =
    "INSERT OR REPLACE INTO _honker_x_outbox_dead "
    "(id, outbox, key, payload, attempts, max_attempts, error, created_at, died_at) "
    "SELECT id, outbox, key, payload, attempts, max_attempts, ?2, created_at, ?3 "
    "FROM _honker_x_outbox WHERE id = ?1";
static const char RETRY_SQL[] =
    "UPDATE _honker_x_outbox SET state = 'pending', run_at = ?2 + ?3, claimed_by = NULL, "
    "claim_expires_at = NULL, last_error = ?4 WHERE id = ?1";
static const char RELEASE_SQL[] =
    "UPDATE _honker_x_outbox SET state = 'pending', attempts = max(attempts - 1, 0), "
    "claimed_by = NULL, claim_expires_at = NULL, last_error = coalesce(?2, last_error) "
    "WHERE id = ?1";

static const char FLUSH_SQL[] =
    "UPDATE _honker_x_outbox SET run_at = ?2 "
    "WHERE outbox = ?1 AND state = 'pending' AND run_at > ?2";

/* The claim's own walk (heads in id order), not the due index: behind a
 * busy key that index holds every waiting non-head row, and a probe while
 * the heads are in flight walked them all (measured: most of a relay's
 * time with a keyed backlog and free slots). */
static const char PROBE_SQL[] =
    "SELECT 1 FROM _honker_x_outbox o WHERE " CLAIMABLE_WHERE " ORDER BY o.id LIMIT 1";
static const char NEXT_SQL[] =
    "SELECT coalesce(min(t), 0) FROM ("
    "SELECT min(run_at) AS t FROM _honker_x_outbox WHERE outbox = ?1 AND state = 'pending' "
    "AND run_at > ?5 UNION ALL "
    "SELECT min(claim_expires_at) + 1 FROM _honker_x_outbox WHERE outbox = ?1 "
    "AND state = 'inflight' AND claim_expires_at >= ?5)";

/* Every count walks a partial index (pending: _due, in flight: _inflight),
 * never the table: with an OR over both states it read every waiting row,
 * payload and all (measured: 26 ms with 100,000 waiting, on the event loop
 * of whoever listens to the status). */
static const char STATS_SQL[] =
    "SELECT "
    "(SELECT count(*) FROM _honker_x_outbox_dead WHERE outbox = +?1), "
    "coalesce((SELECT delivered FROM _honker_x_outbox_stats WHERE outbox = +?1), 0), "
    "(SELECT count(*) FROM _honker_x_outbox WHERE outbox = +?1 AND state = 'inflight' "
    "AND claim_expires_at >= +?2), "
    "(SELECT last_delivered_at FROM _honker_x_outbox_stats WHERE outbox = +?1), "
    "(SELECT min(run_at) FROM _honker_x_outbox WHERE outbox = +?1 AND state = 'pending'), "
    "?3, "
    "(SELECT count(*) FROM _honker_x_outbox WHERE outbox = +?1 AND state = 'pending') + "
    "(SELECT count(*) FROM _honker_x_outbox WHERE outbox = +?1 AND state = 'inflight' "
    "AND claim_expires_at < +?2)";
/* ?3 is the stored pause (pause.c), read apart: a file without its table
 * still has stats. */
static const char *const STATS_KEYS[] = {"dead",   "delivered", "inflight", "last_delivered_at",
                                         "next_attempt_at", "paused", "pending"};
#define STATS_PAUSED_COL 5

#define PICK_IDS                                                                        \
  "SELECT id FROM _honker_x_outbox_dead WHERE outbox = ?1 AND id IN (SELECT value FROM " \
  "json_each(?2)) ORDER BY id LIMIT +?3"
#define PICK_ALL "SELECT id FROM _honker_x_outbox_dead WHERE outbox = ?1 ORDER BY id LIMIT +?3"
#define REDRIVE(PICK)                                                                     \
  "INSERT INTO _honker_x_outbox (id, outbox, key, payload, state, attempts, max_attempts, " \
  "run_at, created_at) SELECT id, outbox, key, payload, 'pending', 0, max_attempts, ?4, "   \
  "created_at FROM _honker_x_outbox_dead WHERE id IN (" PICK ") ORDER BY id"
#define PURGE(PICK) "DELETE FROM _honker_x_outbox_dead WHERE id IN (" PICK ")"

/* ---- add ------------------------------------------------------------------ */

static void add_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_outbox_add";
  const char *outbox, *payload, *key;
  int olen, plen, klen;
  int64_t max_attempts;
  if (hk_arg_text(ctx, argv, 0, fn, "outbox", &outbox, &olen)) return;
  if (hk_arg_json(ctx, argv, 1, fn, "payload", &payload, &plen)) return;
  if (hk_arg_text_or_null(ctx, argv, 2, fn, "key", &key, &klen)) return;
  if (key && klen == 0) {
    hk_error(ctx, "%s: argument 3 (key) must not be empty (use NULL for none)", fn);
    return;
  }
  if (hk_arg_int(ctx, argv, 3, fn, "max_attempts", &max_attempts)) return;
  if (hk_check_range(ctx, fn, "max_attempts", max_attempts, 1, 1000000)) return;
  if (olen == 0) {
    hk_error(ctx, "%s: argument 1 (outbox) must not be empty", fn);
    return;
  }
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_OUTBOX_ADD, ADD_SQL, &o, "tTtii", outbox, olen, key, klen, payload,
             plen, max_attempts, hk_now()))
    return;
  sqlite3_result_int64(ctx, sqlite3_last_insert_rowid(sqlite3_context_db_handle(ctx)));
}

/* ---- claim ---------------------------------------------------------------- */

/* Reads (creating once) the file's device id into buf. Returns non-zero
 * with the error set. */
static int device_id(sqlite3_context *ctx, const char *fn, char *buf, size_t cap) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  for (int round = 0; round < 2; round++) {
    hk_stmt s;
    int rc = hk_stmt_get(ctx, HK_S_OUTBOX_DEVICE_GET, DEVICE_GET_SQL, &s);
    if (rc != SQLITE_OK) {
      hk_sql_error(ctx, fn, db, rc);
      return 1;
    }
    rc = sqlite3_step(s.stmt);
    if (rc == SQLITE_ROW) {
      const char *v = (const char *)sqlite3_column_text(s.stmt, 0);
      size_t n = v ? strlen(v) : 0;
      if (n >= cap) n = cap - 1;
      if (v) memcpy(buf, v, n);
      buf[n] = 0;
      hk_stmt_done(&s);
      return 0;
    }
    if (rc != SQLITE_DONE) {
      hk_sql_error(ctx, fn, db, sqlite3_reset(s.stmt));
      hk_stmt_done(&s);
      return 1;
    }
    hk_stmt_done(&s);
    hk_outcome o;
    if (hk_run(ctx, fn, HK_S_OUTBOX_DEVICE_SET, DEVICE_SET_SQL, &o, "")) return 1;
  }
  hk_error(ctx, "%s: could not create the device id in _honker_x_meta", fn);
  return 1;
}

static void claim_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_outbox_claim";
  const char *outbox, *worker;
  int olen, wlen;
  int64_t n, timeout;
  if (hk_arg_text(ctx, argv, 0, fn, "outbox", &outbox, &olen)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "n", &n)) return;
  if (hk_arg_int(ctx, argv, 3, fn, "timeout_s", &timeout)) return;
  if (hk_check_range(ctx, fn, "n", n, 0, HK_MAX_BATCH)) return;
  if (hk_check_range(ctx, fn, "timeout_s", timeout, 0, HK_MAX_SECONDS)) return;
  int paused = 0;
  if (n > 0 && hk_paused(ctx, fn, "outbox", outbox, olen, &paused)) return;
  if (n == 0 || paused) {
    sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
    return;
  }
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  int64_t now = hk_now();
  int began = hk_savepoint_begin(ctx);
  char device[80];
  hk_outcome o;
  if (device_id(ctx, fn, device, sizeof device) ||
      hk_run(ctx, fn, HK_S_OUTBOX_EXHAUSTED_DEAD, EXHAUSTED_DEAD_SQL, &o, "ti", outbox, olen,
             now) ||
      (o.changes > 0 &&
       (hk_run(ctx, fn, HK_S_OUTBOX_EXHAUSTED_DEL, EXHAUSTED_DEL_SQL, &o, "ti", outbox, olen,
               now) ||
        hk_run(ctx, fn, HK_UNCACHED, REHEAD_SQL, &o, "t", outbox, olen)))) {
    hk_savepoint_end(ctx, began, 0);
    return;
  }
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_OUTBOX_CLAIM, CLAIM_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    hk_savepoint_end(ctx, began, 0);
    return;
  }
  sqlite3_bind_text(s.stmt, 1, outbox, olen, SQLITE_STATIC);
  sqlite3_bind_text(s.stmt, 2, worker, wlen, SQLITE_STATIC);
  sqlite3_bind_int64(s.stmt, 3, n);
  sqlite3_bind_int64(s.stmt, 4, timeout);
  sqlite3_bind_int64(s.stmt, 5, now);
  sqlite3_bind_text(s.stmt, 6, device, -1, SQLITE_TRANSIENT);
  hk_buf b;
  hk_buf_init(&b);
  rc = hk_json_rows(&b, s.stmt, CLAIM_KEYS, 6, 0, 1, NULL);
  if (rc != SQLITE_OK) hk_sql_error(ctx, fn, db, rc);
  hk_stmt_done(&s);
  hk_savepoint_end(ctx, began, rc == SQLITE_OK);
  if (rc != SQLITE_OK) {
    hk_buf_free(&b);
    return;
  }
  hk_result_buf(ctx, &b);
}

/* ---- settle --------------------------------------------------------------- */

enum { SETTLE_LOST = 0, SETTLE_DELIVERED = 1, SETTLE_PENDING = 2, SETTLE_DEAD = 3 };

/* Deletes a live row, first making the next row of its key the head. */
static int remove_row(sqlite3_context *ctx, const char *fn, int64_t id) {
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_OUTBOX_PROMOTE, PROMOTE_NEXT_SQL, &o, "i", id)) return 1;
  return hk_run(ctx, fn, HK_S_OUTBOX_DELETE, DELETE_SQL, &o, "i", id);
}

static int to_dead(sqlite3_context *ctx, const char *fn, int64_t id, const char *error,
                   int elen, int64_t now) {
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_OUTBOX_TO_DEAD, TO_DEAD_SQL, &o, "iTi", id, error, elen, now))
    return 1;
  return remove_row(ctx, fn, id);
}

/* outcome: 'delivered' | 'retry' | 'rejected' | 'release'. Returns 1
 * delivered (deleted), 2 back to pending, 3 dead, 0 not ours (claimed by
 * another worker since, settled already, or gone). */
static void settle_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_outbox_settle";
  int64_t id, delay;
  const char *worker, *outcome, *error;
  int wlen, outlen, elen;
  if (hk_arg_int(ctx, argv, 0, fn, "id", &id)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "worker_id", &worker, &wlen)) return;
  if (hk_arg_text(ctx, argv, 2, fn, "outcome", &outcome, &outlen)) return;
  if (hk_arg_int(ctx, argv, 3, fn, "delay_s", &delay)) return;
  if (hk_arg_text_or_null(ctx, argv, 4, fn, "error", &error, &elen)) return;
  if (hk_check_range(ctx, fn, "delay_s", delay, 0, HK_MAX_SECONDS)) return;
  int kind;
  if (strcmp(outcome, "delivered") == 0) {
    kind = 1;
  } else if (strcmp(outcome, "retry") == 0) {
    kind = 2;
  } else if (strcmp(outcome, "rejected") == 0) {
    kind = 3;
  } else if (strcmp(outcome, "release") == 0) {
    kind = 4;
  } else {
    hk_error(ctx,
             "%s: argument 3 (outcome) must be 'delivered', 'retry', 'rejected' or 'release', "
             "got '%.40s'",
             fn, outcome);
    return;
  }
  int64_t now = hk_now();
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_OUTBOX_OWNED, OWNED_SQL, &o, "it", id, worker, wlen)) return;
  if (!o.has_row) {
    sqlite3_result_int(ctx, SETTLE_LOST);
    return;
  }
  int last_attempt = o.first != 0;
  int began = hk_savepoint_begin(ctx);
  int err = 0, result = SETTLE_LOST;
  switch (kind) {
    case 1:
      err = hk_run(ctx, fn, HK_S_OUTBOX_STATS_BUMP, STATS_BUMP_SQL, &o, "ii", id, now) ||
            remove_row(ctx, fn, id);
      result = SETTLE_DELIVERED;
      break;
    case 2:
      if (last_attempt) {
        err = to_dead(ctx, fn, id, error, elen, now);
        result = SETTLE_DEAD;
      } else {
        err = hk_run(ctx, fn, HK_S_OUTBOX_RETRY, RETRY_SQL, &o, "iiiT", id, now, delay, error,
                     elen);
        result = SETTLE_PENDING;
      }
      break;
    case 3:
      err = to_dead(ctx, fn, id, error, elen, now);
      result = SETTLE_DEAD;
      break;
    default:
      err = hk_run(ctx, fn, HK_S_OUTBOX_RELEASE, RELEASE_SQL, &o, "iT", id, error, elen);
      result = SETTLE_PENDING;
  }
  hk_savepoint_end(ctx, began, !err);
  if (err) return;
  sqlite3_result_int(ctx, result);
}

/* ---- flush / ready_at / stats -------------------------------------------- */

static void flush_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_outbox_flush";
  const char *outbox;
  int olen;
  if (hk_arg_text(ctx, argv, 0, fn, "outbox", &outbox, &olen)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_OUTBOX_FLUSH, FLUSH_SQL, &o, "ti", outbox, olen, hk_now())) return;
  sqlite3_result_int(ctx, o.changes);
}

static void ready_at_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_outbox_ready_at";
  const char *outbox;
  int olen;
  if (hk_arg_text(ctx, argv, 0, fn, "outbox", &outbox, &olen)) return;
  int paused = 0;
  if (hk_paused(ctx, fn, "outbox", outbox, olen, &paused)) return;
  if (paused) {
    sqlite3_result_int64(ctx, 0);
    return;
  }
  int64_t now = hk_now();
  hk_outcome o;
  /* ?5 is now in both statements; ?2..?4 are unused (bound NULL). */
  if (hk_run(ctx, fn, HK_S_OUTBOX_PROBE, PROBE_SQL, &o, "tnnni", outbox, olen, now)) return;
  if (o.has_row) {
    sqlite3_result_int64(ctx, now);
    return;
  }
  if (hk_run(ctx, fn, HK_S_OUTBOX_NEXT, NEXT_SQL, &o, "tnnni", outbox, olen, now)) return;
  sqlite3_result_int64(ctx, o.first);
}

static void stats_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_x_outbox_stats";
  const char *outbox;
  int olen;
  if (hk_arg_text(ctx, argv, 0, fn, "outbox", &outbox, &olen)) return;
  int paused = 0;
  if (hk_paused(ctx, fn, "outbox", outbox, olen, &paused)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_OUTBOX_STATS, STATS_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_bind_text(s.stmt, 1, outbox, olen, SQLITE_STATIC);
  sqlite3_bind_int64(s.stmt, 2, hk_now());
  sqlite3_bind_int(s.stmt, 3, paused);
  hk_buf b;
  hk_buf_init(&b);
  rc = hk_json_rows(&b, s.stmt, STATS_KEYS, 7, 1u << STATS_PAUSED_COL, 0, NULL);
  if (rc != SQLITE_OK) hk_sql_error(ctx, fn, db, rc);
  hk_stmt_done(&s);
  if (rc != SQLITE_OK) {
    hk_buf_free(&b);
    return;
  }
  hk_result_buf(ctx, &b);
}

/* ---- dead letters --------------------------------------------------------- */

static void dead_op(sqlite3_context *ctx, sqlite3_value **argv, const char *fn, int redrive) {
  const char *outbox, *ids_json;
  int olen, jlen;
  int64_t limit;
  if (hk_args_dead_pick(ctx, argv, fn, "outbox", &outbox, &olen, &ids_json, &jlen, &limit))
    return;
  if (limit == 0) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  static const char *const redrive_ids[] = {REDRIVE(PICK_IDS), PURGE(PICK_IDS)};
  static const char *const redrive_all[] = {REDRIVE(PICK_ALL), PURGE(PICK_ALL)};
  static const char *const purge_ids[] = {PURGE(PICK_IDS)};
  static const char *const purge_all[] = {PURGE(PICK_ALL)};
  const char *const *sqls = redrive ? (ids_json ? redrive_ids : redrive_all)
                                    : (ids_json ? purge_ids : purge_all);
  int nsql = redrive ? 2 : 1;
  int began = hk_savepoint_begin(ctx);
  int err = 0, count = 0;
  for (int i = 0; i < nsql && !err; i++) {
    hk_outcome o;
    err = hk_run(ctx, fn, HK_UNCACHED, sqls[i], &o, "tTii", outbox, olen, ids_json, jlen, limit,
                 hk_now());
    if (!err && i == 0) count = o.changes;
  }
  if (!err && redrive && count > 0) {
    hk_outcome o;
    err = hk_run(ctx, fn, HK_UNCACHED, REHEAD_SQL, &o, "t", outbox, olen);
  }
  hk_savepoint_end(ctx, began, !err);
  if (err) return;
  sqlite3_result_int(ctx, count);
}

static void redrive_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  dead_op(ctx, argv, "honker_x_outbox_dead_redrive", 1);
}

static void purge_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  dead_op(ctx, argv, "honker_x_outbox_dead_purge", 0);
}

int hk_register_outbox(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_x_outbox_add", 4, add_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_claim", 4, claim_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_settle", 5, settle_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_flush", 1, flush_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_ready_at", 1, ready_at_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_stats", 1, stats_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_dead_redrive", 3, redrive_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_dead_purge", 3, purge_fn);
  return rc;
}
