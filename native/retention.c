/*
 * Retention (our addition; honker lets these tables grow forever). Each
 * call deletes at most `limit` rows through an index range, so a host can
 * run it on a timer without ever holding the write lock for long. Each
 * returns the number of rows deleted; call again while it returns `limit`.
 *
 *   honker_prune_notifications(older_than_s, keep_last, limit)
 *   honker_prune_stream(topic, older_than_s, keep_last, limit)   topic NULL = all
 *   honker_prune_dead(older_than_s, limit)
 *   honker_x_history_prune(max_age_s, max_count, limit)   finished-job history
 *   honker_x_outbox_dead_prune(max_age_s, max_count, limit)   dead outbox messages;
 *                                                  max_count is per outbox
 *
 * older_than_s / keep_last may be NULL to skip that rule.
 */
#include "honker.h"

static const char NOTIFY_AGE_SQL[] =
    "DELETE FROM _honker_notifications WHERE id IN (SELECT id FROM _honker_notifications "
    "WHERE created_at < ?1 ORDER BY created_at LIMIT +?2)";

static const char NOTIFY_COUNT_SQL[] =
    "DELETE FROM _honker_notifications WHERE id IN (SELECT id FROM _honker_notifications "
    "WHERE id <= (SELECT id FROM _honker_notifications ORDER BY id DESC LIMIT 1 OFFSET ?1) "
    "ORDER BY id LIMIT +?2)";

static const char STREAM_AGE_SQL[] =
    "DELETE FROM _honker_stream WHERE offset IN (SELECT offset FROM _honker_stream "
    "WHERE created_at < ?1 AND (?3 IS NULL OR topic = ?3) ORDER BY created_at LIMIT +?2)";

static const char STREAM_COUNT_TOPIC_SQL[] =
    "DELETE FROM _honker_stream WHERE offset IN (SELECT offset FROM _honker_stream "
    "WHERE topic = ?3 AND offset <= (SELECT offset FROM _honker_stream WHERE topic = ?3 "
    "ORDER BY offset DESC LIMIT 1 OFFSET ?1) ORDER BY offset LIMIT +?2)";

static const char STREAM_COUNT_ALL_SQL[] =
    "DELETE FROM _honker_stream WHERE offset IN (SELECT offset FROM _honker_stream "
    "WHERE offset <= (SELECT offset FROM _honker_stream ORDER BY offset DESC LIMIT 1 OFFSET ?1) "
    "ORDER BY offset LIMIT +?2)";

static const char DEAD_AGE_SQL[] =
    "DELETE FROM _honker_dead WHERE id IN (SELECT id FROM _honker_dead "
    "WHERE died_at < ?1 ORDER BY died_at LIMIT +?2)";

/* History of finished jobs (_honker_x_history), oldest first through
 * _honker_x_history_finished, whose order is (finished_at, id). */
static const char HISTORY_AGE_SQL[] =
    "DELETE FROM _honker_x_history WHERE id IN (SELECT id FROM _honker_x_history "
    "WHERE finished_at < ?1 ORDER BY finished_at, id LIMIT +?2)";

/* Rows at or below the (max_count+1)-th newest (finished_at, id): a row
 * value, so the scan is one index range in order with no sort. */
static const char HISTORY_COUNT_SQL[] =
    "DELETE FROM _honker_x_history WHERE id IN (SELECT id FROM _honker_x_history "
    "WHERE (finished_at, id) <= (SELECT finished_at, id FROM _honker_x_history "
    "ORDER BY finished_at DESC, id DESC LIMIT 1 OFFSET ?1) "
    "ORDER BY finished_at, id LIMIT +?2)";

/* Dead outbox messages that died before ?1, oldest first. The table is
 * kept small by the count rule, so the walk is short. */
static const char OUTBOX_DEAD_AGE_SQL[] =
    "DELETE FROM _honker_x_outbox_dead WHERE id IN (SELECT id FROM _honker_x_outbox_dead "
    "WHERE died_at < ?1 ORDER BY died_at, id LIMIT +?2)";

/* Per outbox, the rows at or below its (max_count+1)-th newest id: for each
 * outbox one probe down _honker_x_outbox_dead_name (outbox, id). */
static const char OUTBOX_DEAD_COUNT_SQL[] =
    "DELETE FROM _honker_x_outbox_dead WHERE id IN (SELECT d.id FROM "
    "(SELECT DISTINCT outbox FROM _honker_x_outbox_dead) b "
    "JOIN _honker_x_outbox_dead d ON d.outbox = b.outbox AND d.id <= (SELECT x.id FROM "
    "_honker_x_outbox_dead x WHERE x.outbox = b.outbox ORDER BY x.id DESC LIMIT 1 OFFSET ?1) "
    "LIMIT +?2)";

/* Reads an optional non-negative whole number; -1 stands for NULL. */
static int opt_count(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                     const char *name, int64_t max, int64_t *out) {
  int is_null = 0;
  if (hk_arg_int_or_null(ctx, argv, i, fn, name, out, &is_null)) return 1;
  if (is_null) {
    *out = -1;
    return 0;
  }
  return hk_check_range(ctx, fn, name, *out, 0, max);
}

static int limit_arg(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                     int64_t *out) {
  if (hk_arg_int(ctx, argv, i, fn, "limit", out)) return 1;
  return hk_check_range(ctx, fn, "limit", *out, 0, HK_MAX_BATCH * 10);
}

static void prune_notifications_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_prune_notifications";
  int64_t age, keep, limit;
  if (opt_count(ctx, argv, 0, fn, "older_than_s", HK_MAX_SECONDS, &age)) return;
  if (opt_count(ctx, argv, 1, fn, "keep_last", INT32_MAX, &keep)) return;
  if (limit_arg(ctx, argv, 2, fn, &limit)) return;
  hk_outcome o;
  int64_t total = 0;
  if (age >= 0) {
    if (hk_run(ctx, fn, HK_UNCACHED, NOTIFY_AGE_SQL, &o, "ii", hk_now() - age, limit)) return;
    total += o.changes;
  }
  if (keep >= 0 && total < limit) {
    if (hk_run(ctx, fn, HK_UNCACHED, NOTIFY_COUNT_SQL, &o, "ii", keep, limit - total)) return;
    total += o.changes;
  }
  sqlite3_result_int64(ctx, total);
}

static void prune_stream_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_prune_stream";
  const char *topic;
  int tlen;
  int64_t age, keep, limit;
  if (hk_arg_text_or_null(ctx, argv, 0, fn, "topic", &topic, &tlen)) return;
  if (opt_count(ctx, argv, 1, fn, "older_than_s", HK_MAX_SECONDS, &age)) return;
  if (opt_count(ctx, argv, 2, fn, "keep_last", INT32_MAX, &keep)) return;
  if (limit_arg(ctx, argv, 3, fn, &limit)) return;
  hk_outcome o;
  int64_t total = 0;
  if (age >= 0) {
    if (hk_run(ctx, fn, HK_UNCACHED, STREAM_AGE_SQL, &o, "iiT", hk_now() - age, limit, topic,
               tlen))
      return;
    total += o.changes;
  }
  if (keep >= 0 && total < limit) {
    const char *sql = topic ? STREAM_COUNT_TOPIC_SQL : STREAM_COUNT_ALL_SQL;
    int err = topic ? hk_run(ctx, fn, HK_UNCACHED, sql, &o, "iit", keep, limit - total, topic,
                             tlen)
                    : hk_run(ctx, fn, HK_UNCACHED, sql, &o, "ii", keep, limit - total);
    if (err) return;
    total += o.changes;
  }
  sqlite3_result_int64(ctx, total);
}

static void prune_dead_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_prune_dead";
  int64_t age, limit;
  if (hk_arg_int(ctx, argv, 0, fn, "older_than_s", &age)) return;
  if (hk_check_range(ctx, fn, "older_than_s", age, 0, HK_MAX_SECONDS)) return;
  if (limit_arg(ctx, argv, 1, fn, &limit)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_UNCACHED, DEAD_AGE_SQL, &o, "ii", hk_now() - age, limit)) return;
  sqlite3_result_int64(ctx, o.changes);
}

/* honker_x_history_prune and honker_x_outbox_dead_prune, (max_age_s,
 * max_count, limit), like honker_prune_notifications: the age rule first,
 * then the count rule with what is left of `limit`, in one savepoint. */
static void age_count_prune(sqlite3_context *ctx, sqlite3_value **argv, const char *fn,
                            const char *age_sql, const char *count_sql) {
  int64_t age, keep, limit;
  if (opt_count(ctx, argv, 0, fn, "max_age_s", HK_MAX_SECONDS, &age)) return;
  if (opt_count(ctx, argv, 1, fn, "max_count", INT32_MAX, &keep)) return;
  if (limit_arg(ctx, argv, 2, fn, &limit)) return;
  hk_outcome o;
  int64_t total = 0;
  int began = hk_savepoint_begin(ctx);
  int err = 0;
  if (age >= 0 && limit > 0) {
    err = hk_run(ctx, fn, HK_UNCACHED, age_sql, &o, "ii", hk_now() - age, limit);
    if (!err) total += o.changes;
  }
  if (!err && keep >= 0 && total < limit) {
    err = hk_run(ctx, fn, HK_UNCACHED, count_sql, &o, "ii", keep, limit - total);
    if (!err) total += o.changes;
  }
  hk_savepoint_end(ctx, began, !err);
  if (!err) sqlite3_result_int64(ctx, total);
}

static void history_prune_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  age_count_prune(ctx, argv, "honker_x_history_prune", HISTORY_AGE_SQL, HISTORY_COUNT_SQL);
}

/* The count rule keeps the newest max_count rows of each outbox. */
static void outbox_dead_prune_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  age_count_prune(ctx, argv, "honker_x_outbox_dead_prune", OUTBOX_DEAD_AGE_SQL,
                  OUTBOX_DEAD_COUNT_SQL);
}

int hk_register_retention(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_prune_notifications", 3, prune_notifications_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_prune_stream", 4, prune_stream_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_prune_dead", 2, prune_dead_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_history_prune", 3, history_prune_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_outbox_dead_prune", 3, outbox_dead_prune_fn);
  return rc;
}
