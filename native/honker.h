/*
 * honker-electron native extension: shared declarations.
 *
 * Every SQL function receives the per-connection `hk_conn` as its user data.
 * It owns a cache of prepared statements so that a hot call (enqueue, claim,
 * ack) costs one bind+step instead of a prepare. See conn.c for how the
 * cache is released before the connection closes.
 */
#ifndef HONKER_H
#define HONKER_H

#include <stddef.h>
#include <stdint.h>

#include "sqlite3ext.h"

/* Defined once in extension.c; every other file refers to it. */
#ifndef HONKER_API_DEFINED
SQLITE_EXTENSION_INIT3
#endif

#define HK_FORMAT_VERSION 2
#define HK_VERSION "0.1.0"

/* Hard bounds that keep one call's work and memory finite. */
#define HK_MAX_BATCH 10000
#define HK_MAX_SECONDS 315360000LL /* ten years: bounds any duration argument */
#define HK_MAX_UNIX 253402300799LL /* 9999-12-31: bounds any timestamp argument */

/* Cached statement slots. Each file owns the slots it names. */
typedef enum hk_slot {
  HK_S_ENQUEUE,
  HK_S_CLAIM,
  HK_S_CLAIM_EXHAUSTED_PROBE,
  HK_S_DEADLETTER_EXHAUSTED,
  HK_S_DELETE_EXHAUSTED,
  HK_S_ACK,
  HK_S_ACK_BATCH,
  HK_S_RETRY_PENDING,
  HK_S_MOVE_TO_DEAD,
  HK_S_DELETE_CLAIMED,
  HK_S_HEARTBEAT,
  HK_S_CANCEL,
  HK_S_GET_JOB,
  HK_S_NEXT_CLAIM_AT,
  HK_S_CLAIMABLE,
  HK_S_NOTIFY,
  HK_S_STREAM_PUBLISH,
  HK_S_STREAM_READ,
  HK_S_STREAM_SAVE_OFFSET,
  HK_S_STREAM_GET_OFFSET,
  HK_S_RESULT_SAVE,
  HK_S_RESULT_GET,
  HK_S_LOCK_ACQUIRE,
  HK_S_LOCK_DROP_EXPIRED,
  HK_S_LOCK_RENEW,
  HK_S_RATE_TRY,
  HK_S_HISTORY_EXHAUSTED,
  HK_S_PROGRESS_DEL_EXHAUSTED,
  HK_S_DEDUP_DEL_EXHAUSTED,
  HK_S_HISTORY_ACK,
  HK_S_PROGRESS_DEL_ACK,
  HK_S_DEDUP_DEL_ACK,
  HK_S_HISTORY_ACK_BATCH,
  HK_S_PROGRESS_DEL_ACK_BATCH,
  HK_S_DEDUP_DEL_ACK_BATCH,
  HK_S_HISTORY_DEAD,
  HK_S_PROGRESS_DEL_CLAIMED,
  HK_S_DEDUP_DEL_CLAIMED,
  HK_S_HISTORY_CANCEL,
  HK_S_PROGRESS_DEL_CANCEL,
  HK_S_DEDUP_DEL_CANCEL,
  HK_S_DEDUP_LOOKUP,
  HK_S_DEDUP_RECORD,
  HK_S_PROGRESS_SET,
  HK_S_X_GET_JOB,
  HK_S_OUTBOX_ADD,
  HK_S_OUTBOX_DEVICE_GET,
  HK_S_OUTBOX_DEVICE_SET,
  HK_S_OUTBOX_EXHAUSTED_DEAD,
  HK_S_OUTBOX_EXHAUSTED_DEL,
  HK_S_OUTBOX_CLAIM,
  HK_S_OUTBOX_OWNED,
  HK_S_OUTBOX_STATS_BUMP,
  HK_S_OUTBOX_DELETE,
  HK_S_OUTBOX_PROMOTE,
  HK_S_OUTBOX_TO_DEAD,
  HK_S_OUTBOX_RETRY,
  HK_S_OUTBOX_RELEASE,
  HK_S_OUTBOX_FLUSH,
  HK_S_OUTBOX_PROBE,
  HK_S_OUTBOX_NEXT,
  HK_S_OUTBOX_STATS,
  HK_S_PAUSED,
  HK_S_SAVEPOINT,
  HK_S_SAVEPOINT_RELEASE,
  HK_S_SAVEPOINT_ROLLBACK,
  HK_SLOT_COUNT,
  HK_UNCACHED = -1 /* prepare, run and finalize: for cold statements */
} hk_slot;

typedef struct hk_conn {
  sqlite3 *db;
  sqlite3_stmt *slots[HK_SLOT_COUNT];
  int armed; /* the statement-cache vtab is connected; see conn.c */
  int busy_timeout_ms;      /* busy.c */
  int64_t busy_started_us;  /* busy.c: when the current wait began */
  int wal_watching;         /* wal.c: honker_x_wal_watch() installed its hook */
  int wal_auto_pages;       /* wal.c: checkpoint at this many frames (0: never) */
  int wal_frames;           /* wal.c: frames in the WAL after this connection's last commit */
} hk_conn;

/* A prepared statement borrowed from the cache, or a private one when the
 * cached copy is already running (re-entrant call from a trigger). */
typedef struct hk_stmt {
  sqlite3_stmt *stmt;
  int owned;
} hk_stmt;

/* conn.c */
hk_conn *hk_conn_new(sqlite3 *db);
void hk_conn_release_statements(hk_conn *c);
int hk_register_cache_module(sqlite3 *db, hk_conn *c);
int hk_stmt_get(sqlite3_context *ctx, hk_slot slot, const char *sql, hk_stmt *out);
void hk_statement_stats_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void hk_stmt_done(hk_stmt *s);
/* Steps a bound statement until it is done, ignoring any rows. Returns
 * SQLITE_OK, or the statement's error code (the one way to run a statement
 * to completion; hk_run and hk_run_steps use it). */
int hk_step_all(sqlite3_stmt *st);

/* One value to bind, for hk_run_steps. */
typedef struct hk_bind {
  char type; /* 'i' int64, 't' text (NULL pointer binds NULL) */
  int64_t i;
  const char *t;
  int n;
} hk_bind;

/* One statement of a multi-statement write. */
typedef struct hk_step {
  hk_slot slot; /* HK_UNCACHED: prepared for this call only */
  const char *sql;
} hk_step;

/*
 * Runs `steps` in order inside one savepoint, binding binds[k] to parameter
 * ?k+1 of each statement that has it. The first statement run is the
 * gate: when it changes nothing, the rest are skipped. *gate and *last
 * receive the changes of the gate and of the last statement (0 when
 * skipped). Statements naming a _honker_x_ table are skipped, from the
 * first one whose table is missing on (a file honker made, or one not
 * bootstrapped since our format changed): honker's own statements still
 * run, so honker's functions keep honker's behaviour on such files. On failure sets an SQL
 * error prefixed with fn, rolls the savepoint back and returns non-zero.
 */
int hk_run_steps(sqlite3_context *ctx, const char *fn, const hk_step *steps, int nsteps, const hk_bind *binds,
                 int nbinds, int *gate, int *last);

/* The outcome of one statement run by hk_run. */
typedef struct hk_outcome {
  int changes;      /* sqlite3_changes() after the statement */
  int has_row;      /* the statement returned at least one row */
  int64_t first;    /* column 0 of the first row, as an integer */
  int first_null;   /* column 0 of the first row was NULL */
} hk_outcome;

/*
 * Binds `types` (one letter a parameter: 'i' int64_t, 't' text as
 * (const char *, int len), 'T' text or NULL (NULL pointer), 'n' NULL),
 * runs the statement to completion and fills *out. On failure sets an SQL
 * error prefixed with fn and returns non-zero.
 */
int hk_run(sqlite3_context *ctx, const char *fn, hk_slot slot, const char *sql,
           hk_outcome *out, const char *types, ...);
int hk_savepoint_begin(sqlite3_context *ctx);
/* True when preparing failed (rc) because one of our own _honker_x_ tables
 * is missing: a file that honker made, or one our older format never
 * bootstrapped again. */
int hk_missing_x_table(sqlite3 *db, int rc);
void hk_savepoint_end(sqlite3_context *ctx, int began, int ok);

/* args.c: argument checking. Each returns 0 on success; on failure it has
 * already set an SQL error naming the function and the argument. */
int hk_arg_text(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                const char *name, const char **out, int *len);
int hk_arg_text_or_null(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                        const char *name, const char **out, int *len);
int hk_arg_int(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
               const char *name, int64_t *out);
int hk_arg_int_or_null(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                       const char *name, int64_t *out, int *is_null);
int hk_arg_json(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                const char *name, const char **out, int *len);
int hk_arg_json_or_null(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                        const char *name, const char **out, int *len);
int hk_check_range(sqlite3_context *ctx, const char *fn, const char *name, int64_t v,
                   int64_t lo, int64_t hi);
int hk_args_dead_pick(sqlite3_context *ctx, sqlite3_value **argv, const char *fn,
                      const char *owner_arg, const char **owner, int *olen,
                      const char **ids_json, int *jlen, int64_t *limit);
void hk_error(sqlite3_context *ctx, const char *fmt, ...);
void hk_sql_error(sqlite3_context *ctx, const char *fn, sqlite3 *db, int rc);
int64_t hk_now(void);

/* json.c */
typedef struct hk_buf {
  char *data;
  size_t len;
  size_t cap;
  int oom;
} hk_buf;
void hk_buf_init(hk_buf *b);
void hk_buf_free(hk_buf *b);
void hk_buf_append(hk_buf *b, const char *s, size_t n);
void hk_buf_puts(hk_buf *b, const char *s);
void hk_buf_putc(hk_buf *b, char ch);
void hk_buf_int(hk_buf *b, int64_t v);
void hk_buf_json_string(hk_buf *b, const char *s, size_t n);
void hk_buf_json_value(hk_buf *b, sqlite3_value *v);
void hk_buf_json_column(hk_buf *b, sqlite3_stmt *st, int col);
void hk_result_buf(sqlite3_context *ctx, hk_buf *b);
/*
 * The one JSON-rows builder: steps `st` and appends each row as an object
 * whose key i (keys[i], alphabetical order: the SELECT lists its columns in
 * that order) holds column i. Columns whose bit is set in `bool_cols` are
 * written true/false. as_array: `[{...},...]` over every row; otherwise the
 * first row only, as `{...}` (nothing appended when there is no row).
 * Returns SQLITE_OK or the statement's error code; *rows gets the count.
 */
int hk_json_rows(hk_buf *b, sqlite3_stmt *st, const char *const *keys, int ncols,
                 unsigned bool_cols, int as_array, int *rows);
int hk_json_valid(const char *s, size_t n);
/* Parses a JSON array of integers into a freshly sqlite3_malloc'ed array.
 * Returns the count, or -1 with *err set to a static message. */
int hk_json_int_array(const char *s, size_t n, int64_t **out, const char **err);

/* cron.c */
typedef struct hk_cron hk_cron;
/* Parses `expr`; on failure returns NULL and writes a reason to err. */
hk_cron *hk_cron_parse(const char *expr, char *err, size_t errlen);
void hk_cron_free(hk_cron *c);
/* Next fire time strictly after `after` (unix seconds), or -1 if none
 * exists within the search horizon. */
int64_t hk_cron_next(const hk_cron *c, int64_t after);

/* pause.c: *paused = 1 when the queue or outbox (kind "queue" or
 * "outbox") is paused in this file; 0 when it is not, or when the file has
 * no _honker_x_paused table (made by honker, not bootstrapped since).
 * Returns non-zero with the error set. */
int hk_paused(sqlite3_context *ctx, const char *fn, const char *kind, const char *name, int len,
              int *paused);

/* schema.c: honker creates the notifications table when it loads; we create
 * it on first notify() so a file nobody bootstrapped still takes notify. */
int hk_create_notify_table(sqlite3 *db);

/* Registration, one per area. */
int hk_register_schema(sqlite3 *db, hk_conn *c);
int hk_register_queue(sqlite3 *db, hk_conn *c);
int hk_register_notify(sqlite3 *db, hk_conn *c);
int hk_register_stream(sqlite3 *db, hk_conn *c);
int hk_register_result(sqlite3 *db, hk_conn *c);
int hk_register_lock(sqlite3 *db, hk_conn *c);
int hk_register_ratelimit(sqlite3 *db, hk_conn *c);
int hk_register_cron(sqlite3 *db, hk_conn *c);
int hk_register_scheduler(sqlite3 *db, hk_conn *c);
int hk_register_retention(sqlite3 *db, hk_conn *c);
int hk_register_dead(sqlite3 *db, hk_conn *c);
int hk_register_busy(sqlite3 *db, hk_conn *c);
int hk_register_outbox(sqlite3 *db, hk_conn *c);
int hk_register_pause(sqlite3 *db, hk_conn *c);
int hk_register_wal(sqlite3 *db, hk_conn *c);

/* Functions are not DIRECTONLY on purpose: an app may enqueue or notify
 * from its own triggers (the outbox pattern). They are never DETERMINISTIC
 * or INNOCUOUS because they write. */
#define HK_FUNC_FLAGS SQLITE_UTF8
int hk_fn(sqlite3 *db, hk_conn *c, const char *name, int nargs,
          void (*fn)(sqlite3_context *, int, sqlite3_value **));

#endif
