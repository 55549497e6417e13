/*
 * honker_bootstrap(): creates honker's tables (byte-identical DDL, so a file
 * made by us looks to honker exactly like one it made) plus our own
 * `_honker_x_` indexes and the `_honker_x_meta` format record.
 */
#include "honker.h"

/* honker's own layout, kept to the byte (sqlite_master stores it). */
static const char NOTIFY_DDL[] =
    "CREATE TABLE IF NOT EXISTS _honker_notifications (\n"
    "           id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "           channel TEXT NOT NULL,\n"
    "           payload TEXT NOT NULL,\n"
    "           created_at INTEGER NOT NULL DEFAULT (unixepoch())\n"
    "         );\n"
    "         CREATE INDEX IF NOT EXISTS _honker_notifications_recent\n"
    "           ON _honker_notifications(channel, id);";

static const char HONKER_DDL[] =
    "\n"
    "    CREATE TABLE IF NOT EXISTS _honker_live (\n"
    "      id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "      queue TEXT NOT NULL,\n"
    "      payload TEXT NOT NULL,\n"
    "      state TEXT NOT NULL DEFAULT 'pending',\n"
    "      priority INTEGER NOT NULL DEFAULT 0,\n"
    "      run_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "      worker_id TEXT,\n"
    "      claim_expires_at INTEGER,\n"
    "      attempts INTEGER NOT NULL DEFAULT 0,\n"
    "      max_attempts INTEGER NOT NULL DEFAULT 3,\n"
    "      created_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "      expires_at INTEGER\n"
    "    );\n"
    "    CREATE INDEX IF NOT EXISTS _honker_live_claim\n"
    "      ON _honker_live(queue, priority DESC, run_at, id)\n"
    "      WHERE state IN ('pending', 'processing');\n"
    "    CREATE INDEX IF NOT EXISTS _honker_live_pending_deadline\n"
    "      ON _honker_live(queue, run_at)\n"
    "      WHERE state = 'pending';\n"
    "    CREATE INDEX IF NOT EXISTS _honker_live_processing_deadline\n"
    "      ON _honker_live(queue, claim_expires_at)\n"
    "      WHERE state = 'processing';\n"
    "    CREATE TABLE IF NOT EXISTS _honker_dead (\n"
    "      id INTEGER PRIMARY KEY,\n"
    "      queue TEXT NOT NULL,\n"
    "      payload TEXT NOT NULL,\n"
    "      priority INTEGER NOT NULL DEFAULT 0,\n"
    "      run_at INTEGER NOT NULL DEFAULT 0,\n"
    "      attempts INTEGER NOT NULL DEFAULT 0,\n"
    "      max_attempts INTEGER NOT NULL DEFAULT 0,\n"
    "      last_error TEXT,\n"
    "      created_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "      died_at INTEGER NOT NULL DEFAULT (unixepoch())\n"
    "    );\n"
    "    CREATE TABLE IF NOT EXISTS _honker_locks (\n"
    "      name TEXT PRIMARY KEY,\n"
    "      owner TEXT NOT NULL,\n"
    "      expires_at INTEGER NOT NULL\n"
    "    );\n"
    "    CREATE TABLE IF NOT EXISTS _honker_rate_limits (\n"
    "      name TEXT NOT NULL,\n"
    "      window_start INTEGER NOT NULL,\n"
    "      count INTEGER NOT NULL DEFAULT 0,\n"
    "      PRIMARY KEY (name, window_start)\n"
    "    );\n"
    "    CREATE TABLE IF NOT EXISTS _honker_scheduler_tasks (\n"
    "      name TEXT PRIMARY KEY,\n"
    "      queue TEXT NOT NULL,\n"
    "      cron_expr TEXT NOT NULL,\n"
    "      payload TEXT NOT NULL,\n"
    "      priority INTEGER NOT NULL DEFAULT 0,\n"
    "      expires_s INTEGER,\n"
    "      next_fire_at INTEGER NOT NULL,\n"
    "      enabled INTEGER NOT NULL DEFAULT 1,\n"
    "      max_attempts INTEGER NOT NULL DEFAULT 3\n"
    "    );\n"
    "    CREATE TABLE IF NOT EXISTS _honker_results (\n"
    "      job_id INTEGER PRIMARY KEY,\n"
    "      value TEXT,\n"
    "      created_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "      expires_at INTEGER\n"
    "    );\n"
    "    CREATE TABLE IF NOT EXISTS _honker_stream (\n"
    "      offset INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "      topic TEXT NOT NULL,\n"
    "      key TEXT,\n"
    "      payload TEXT NOT NULL,\n"
    "      created_at INTEGER NOT NULL DEFAULT (unixepoch())\n"
    "    );\n"
    "    CREATE INDEX IF NOT EXISTS _honker_stream_topic\n"
    "      ON _honker_stream(topic, offset);\n"
    "    CREATE TABLE IF NOT EXISTS _honker_stream_consumers (\n"
    "      name TEXT NOT NULL,\n"
    "      topic TEXT NOT NULL,\n"
    "      offset INTEGER NOT NULL DEFAULT 0,\n"
    "      PRIMARY KEY (name, topic)\n"
    "    );\n"
    "  ";

/*
 * Our additions, each named _honker_x_*: tables honker never reads, and
 * indexes on honker's tables (honker's writers keep working). The indexes
 * make claim cost independent of the backlog and keep every retention pass
 * an index range scan.
 *
 * Format versions (_honker_x_meta.format_version):
 *   1  meta, dedup, progress, the indexes
 *   2  _honker_x_history (finished jobs) and _honker_x_dedup_job; later the
 *      outbox tables (_honker_x_outbox*) and _honker_x_paused (paused
 *      queues and outboxes, pause.c), added without a bump: a format-2
 *      file that lacks them gets them from the next bootstrap (see
 *      bootstrap_fn), and an older extension ignores them (so it does not
 *      honour a pause either)
 * Every statement is CREATE ... IF NOT EXISTS, so migrating from any older
 * version is running all of it again.
 */
static const char EXTRA_DDL[] =
    "CREATE TABLE IF NOT EXISTS _honker_x_meta (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS _honker_x_dedup (\n"
    "  queue TEXT NOT NULL,\n"
    "  key TEXT NOT NULL,\n"
    "  job_id INTEGER NOT NULL,\n"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "  PRIMARY KEY (queue, key)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS _honker_x_progress (\n"
    "  job_id INTEGER PRIMARY KEY,\n"
    "  progress TEXT NOT NULL,\n"
    "  updated_at INTEGER NOT NULL DEFAULT (unixepoch())\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_dedup_job\n"
    "  ON _honker_x_dedup(job_id);\n"
    "CREATE TABLE IF NOT EXISTS _honker_x_history (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  queue TEXT NOT NULL,\n"
    "  state TEXT NOT NULL,\n"
    "  payload TEXT NOT NULL,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  max_attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  priority INTEGER NOT NULL DEFAULT 0,\n"
    "  run_at INTEGER NOT NULL DEFAULT 0,\n"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "  finished_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "  progress TEXT,\n"
    "  error TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_history_finished\n"
    "  ON _honker_x_history(finished_at);\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_history_queue\n"
    "  ON _honker_x_history(queue, finished_at);\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_live_exhausted\n"
    "  ON _honker_live(queue) WHERE attempts >= max_attempts;\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_live_expiry\n"
    "  ON _honker_live(queue, expires_at) WHERE expires_at IS NOT NULL;\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_dead_died\n"
    "  ON _honker_dead(died_at);\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_dead_queue\n"
    "  ON _honker_dead(queue, id);\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_notifications_created\n"
    "  ON _honker_notifications(created_at);\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_stream_created\n"
    "  ON _honker_stream(created_at);\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_rate_window\n"
    "  ON _honker_rate_limits(window_start);\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_results_expiry\n"
    "  ON _honker_results(expires_at) WHERE expires_at IS NOT NULL;\n"
    "CREATE TABLE IF NOT EXISTS _honker_x_outbox (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  outbox TEXT NOT NULL,\n"
    "  key TEXT,\n"
    "  payload TEXT NOT NULL,\n"
    "  state TEXT NOT NULL DEFAULT 'pending',\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  max_attempts INTEGER NOT NULL DEFAULT 20,\n"
    "  run_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "  claimed_by TEXT,\n"
    "  claim_expires_at INTEGER,\n"
    "  last_error TEXT,\n"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "  is_head INTEGER NOT NULL DEFAULT 1\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_outbox_heads\n"
    "  ON _honker_x_outbox(outbox) WHERE is_head = 1;\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_outbox_due\n"
    "  ON _honker_x_outbox(outbox, run_at) WHERE state = 'pending';\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_outbox_inflight\n"
    "  ON _honker_x_outbox(outbox, claim_expires_at) WHERE state = 'inflight';\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_outbox_key\n"
    "  ON _honker_x_outbox(outbox, key, id) WHERE key IS NOT NULL;\n"
    "CREATE TABLE IF NOT EXISTS _honker_x_outbox_dead (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  outbox TEXT NOT NULL,\n"
    "  key TEXT,\n"
    "  payload TEXT NOT NULL,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  max_attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  error TEXT,\n"
    "  created_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "  died_at INTEGER NOT NULL DEFAULT (unixepoch())\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS _honker_x_outbox_dead_name\n"
    "  ON _honker_x_outbox_dead(outbox, id);\n"
    "CREATE TABLE IF NOT EXISTS _honker_x_outbox_stats (\n"
    "  outbox TEXT PRIMARY KEY,\n"
    "  delivered INTEGER NOT NULL DEFAULT 0,\n"
    "  last_delivered_at INTEGER\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS _honker_x_paused (\n"
    "  kind TEXT NOT NULL,\n"
    "  name TEXT NOT NULL,\n"
    "  paused_at INTEGER NOT NULL DEFAULT (unixepoch()),\n"
    "  PRIMARY KEY (kind, name)\n"
    ") WITHOUT ROWID;\n";

/* Columns honker added after its first release (files made by old honker). */
static const char *const MIGRATIONS[][2] = {
    {"enabled", "ALTER TABLE _honker_scheduler_tasks ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1"},
    {"max_attempts",
     "ALTER TABLE _honker_scheduler_tasks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3"},
};

int hk_create_notify_table(sqlite3 *db) { return sqlite3_exec(db, NOTIFY_DDL, NULL, NULL, NULL); }

static int has_column(sqlite3 *db, const char *table, const char *column, int *found) {
  sqlite3_stmt *st = NULL;
  *found = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1,
                              &st, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *found = 1;
  rc = sqlite3_finalize(st);
  return rc;
}

static int create_all(sqlite3 *db) {
  int rc = sqlite3_exec(db, NOTIFY_DDL, NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, HONKER_DDL, NULL, NULL, NULL);
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]); i++) {
    int found = 0;
    rc = has_column(db, "_honker_scheduler_tasks", MIGRATIONS[i][0], &found);
    if (rc == SQLITE_OK && !found) rc = sqlite3_exec(db, MIGRATIONS[i][1], NULL, NULL, NULL);
  }
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, EXTRA_DDL, NULL, NULL, NULL);
  if (rc == SQLITE_OK) {
    char *sql = sqlite3_mprintf(
        "INSERT INTO _honker_x_meta (key, value) VALUES ('format_version', '%d') "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value "
        "WHERE CAST(value AS INTEGER) < %d",
        HK_FORMAT_VERSION, HK_FORMAT_VERSION);
    if (!sql) return SQLITE_NOMEM;
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
  }
  return rc;
}

/* The file's format version: 0 when it has none (no _honker_x_meta table
 * or no row). Returns rc. */
static int read_format_version(sqlite3 *db, int64_t *version) {
  *version = 0;
  int found = 0;
  int rc = has_column(db, "_honker_x_meta", "value", &found);
  if (rc != SQLITE_OK || !found) return rc;
  sqlite3_stmt *st = NULL;
  rc = sqlite3_prepare_v2(db,
                          "SELECT CAST(value AS INTEGER) FROM _honker_x_meta "
                          "WHERE key = 'format_version'",
                          -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *version = sqlite3_column_int64(st, 0);
  rc = sqlite3_finalize(st);
  return rc;
}

static void newer_error(sqlite3_context *ctx, int64_t version) {
  hk_error(ctx,
           "honker_bootstrap: format version %lld is newer than this extension supports (%d); "
           "upgrade honker-electron, or open the file read-only",
           (long long)version, HK_FORMAT_VERSION);
}

/*
 * Safe when several processes bootstrap at once: in autocommit mode we take
 * the write lock up front (BEGIN IMMEDIATE waits through busy_timeout), so
 * no process can fail half way on a stale read snapshot. The version is
 * read again under the lock.
 *
 * When the file already has our current format, bootstrap writes nothing,
 * so read-only files (and read-only mounts) still open. A file whose format
 * is newer than ours is refused and left untouched.
 */
static void bootstrap_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  static const char *fn = "honker_bootstrap";
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  int64_t version = 0;
  int rc = read_format_version(db, &version);
  if (rc == SQLITE_OK && version > HK_FORMAT_VERSION) {
    newer_error(ctx, version);
    return;
  }
  if (rc == SQLITE_OK && version == HK_FORMAT_VERSION) {
    /* The outbox and pause tables came within format 2: a file made
     * before them gets them now (unless it is read-only: the outbox
     * functions then report the missing table, and nothing is paused). */
    int found = 0, found_paused = 0;
    rc = has_column(db, "_honker_x_outbox_stats", "outbox", &found);
    if (rc == SQLITE_OK) rc = has_column(db, "_honker_x_paused", "kind", &found_paused);
    if (rc == SQLITE_OK && ((found && found_paused) || sqlite3_db_readonly(db, "main") == 1)) {
      sqlite3_result_int(ctx, 1);
      return;
    }
  }
  int own = sqlite3_get_autocommit(db) &&
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
  int began_sp = 0;
  if (!own) began_sp = hk_savepoint_begin(ctx);
  rc = read_format_version(db, &version);
  int newer = rc == SQLITE_OK && version > HK_FORMAT_VERSION;
  if (rc == SQLITE_OK && !newer) rc = create_all(db);
  if (rc != SQLITE_OK || newer) {
    if (newer) {
      newer_error(ctx, version);
    } else {
      hk_sql_error(ctx, fn, db, rc);
    }
    if (own) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    hk_savepoint_end(ctx, began_sp, 0);
    return;
  }
  if (own) {
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
      hk_sql_error(ctx, fn, db, rc);
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return;
    }
  }
  hk_savepoint_end(ctx, began_sp, 1);
  sqlite3_result_int(ctx, 1);
}

/* honker_x_format_version(): the file's format version (0 if none); a
 * read, so a host can choose read-only access to a newer file. */
static void format_version_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  int64_t version = 0;
  int rc = read_format_version(db, &version);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, "honker_x_format_version", db, rc);
    return;
  }
  sqlite3_result_int64(ctx, version);
}

int hk_register_schema(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_bootstrap", 0, bootstrap_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_format_version", 0, format_version_fn);
  return rc;
}
