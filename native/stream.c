/*
 * Streams: an append-only log with one global offset sequence and
 * per-consumer offsets that only move forward.
 */
#include "honker.h"

static const char PUBLISH_SQL[] =
    "INSERT INTO _honker_stream (topic, key, payload) VALUES (?1, ?2, ?3)";

static const char READ_SQL[] =
    "SELECT created_at, key, offset, payload, topic FROM _honker_stream "
    "WHERE topic = +?1 AND offset > ?2 ORDER BY offset ASC LIMIT +?3";

static const char *const READ_KEYS[] = {"created_at", "key", "offset", "payload", "topic"};

static const char SAVE_OFFSET_SQL[] =
    "INSERT INTO _honker_stream_consumers (name, topic, offset) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(name, topic) DO UPDATE SET offset = excluded.offset "
    "WHERE excluded.offset > _honker_stream_consumers.offset";

static const char GET_OFFSET_SQL[] =
    "SELECT offset FROM _honker_stream_consumers WHERE name = ?1 AND topic = ?2";

static void publish_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_stream_publish";
  const char *topic, *key, *payload;
  int tlen, klen, plen;
  if (hk_arg_text(ctx, argv, 0, fn, "topic", &topic, &tlen)) return;
  if (hk_arg_text_or_null(ctx, argv, 1, fn, "key", &key, &klen)) return;
  if (hk_arg_json(ctx, argv, 2, fn, "payload", &payload, &plen)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_STREAM_PUBLISH, PUBLISH_SQL, &o, "tTt", topic, tlen, key, klen,
             payload, plen))
    return;
  sqlite3_result_int64(ctx, sqlite3_last_insert_rowid(sqlite3_context_db_handle(ctx)));
}

static void read_since_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_stream_read_since";
  const char *topic;
  int tlen;
  int64_t offset, limit;
  if (hk_arg_text(ctx, argv, 0, fn, "topic", &topic, &tlen)) return;
  if (hk_arg_int(ctx, argv, 1, fn, "offset", &offset)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "limit", &limit)) return;
  if (hk_check_range(ctx, fn, "offset", offset, 0, INT64_MAX)) return;
  if (hk_check_range(ctx, fn, "limit", limit, 0, HK_MAX_BATCH)) return;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt s;
  int rc = hk_stmt_get(ctx, HK_S_STREAM_READ, READ_SQL, &s);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return;
  }
  sqlite3_bind_text(s.stmt, 1, topic, tlen, SQLITE_STATIC);
  sqlite3_bind_int64(s.stmt, 2, offset);
  sqlite3_bind_int64(s.stmt, 3, limit);
  hk_buf b;
  hk_buf_init(&b);
  rc = hk_json_rows(&b, s.stmt, READ_KEYS, 5, 0, 1, NULL);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    hk_stmt_done(&s);
    hk_buf_free(&b);
    return;
  }
  hk_stmt_done(&s);
  hk_result_buf(ctx, &b);
}

static void save_offset_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_stream_save_offset";
  const char *consumer, *topic;
  int clen, tlen;
  int64_t offset;
  if (hk_arg_text(ctx, argv, 0, fn, "consumer", &consumer, &clen)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "topic", &topic, &tlen)) return;
  if (hk_arg_int(ctx, argv, 2, fn, "offset", &offset)) return;
  if (hk_check_range(ctx, fn, "offset", offset, 0, INT64_MAX)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_STREAM_SAVE_OFFSET, SAVE_OFFSET_SQL, &o, "tti", consumer, clen,
             topic, tlen, offset))
    return;
  sqlite3_result_int(ctx, o.changes > 0);
}

static void get_offset_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_stream_get_offset";
  const char *consumer, *topic;
  int clen, tlen;
  if (hk_arg_text(ctx, argv, 0, fn, "consumer", &consumer, &clen)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "topic", &topic, &tlen)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_STREAM_GET_OFFSET, GET_OFFSET_SQL, &o, "tt", consumer, clen, topic,
             tlen))
    return;
  sqlite3_result_int64(ctx, o.has_row ? o.first : 0);
}

int hk_register_stream(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_stream_publish", 3, publish_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_stream_read_since", 3, read_since_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_stream_save_offset", 3, save_offset_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_stream_get_offset", 2, get_offset_fn);
  return rc;
}
