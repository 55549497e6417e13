/*
 * The scheduler: named tasks in `_honker_scheduler_tasks` that enqueue a job
 * into `_honker_live` at every boundary of their schedule (see cron.c).
 *
 *   honker_scheduler_register(name, queue, cron_expr, payload, priority,
 *                             expires_s[, max_attempts])          -> 1
 *   honker_scheduler_unregister(name)                              -> 0/1
 *   honker_scheduler_pause(name) / _resume(name)                   -> 0/1
 *   honker_scheduler_soonest()              -> earliest next_fire_at or 0
 *   honker_scheduler_list()                 -> JSON array, ordered by name
 *   honker_scheduler_tick(now)  -> JSON [{fire_at, job_id, name, queue}]
 *   honker_scheduler_update(name, cron_expr, payload, priority, expires_s,
 *                           touch_expires[, max_attempts, touch_max_attempts])
 *
 * Semantics follow honker 0.5.1: re-registering keeps `enabled`, resume does
 * not recompute next_fire_at (the next tick catches up), a tick fires every
 * missed boundary up to 64 per task and then skips ahead to the first
 * boundary after `now`. These functions are not hot, so statements are
 * prepared per call on the caller's connection (they join its transaction).
 */
#include <string.h>

#include "honker.h"

#define HK_SCHED_MAX_FIRES 64
#define HK_SCHED_MAX_ATTEMPTS 1000000
#define HK_SCHED_MAX_PRIORITY 1000000000LL

static int prepare(sqlite3_context *ctx, const char *fn, const char *sql, sqlite3_stmt **st) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    sqlite3_finalize(*st);
    *st = NULL;
    return 1;
  }
  return 0;
}

/* Runs a statement to the end (hk_step_all); sets the error on failure. */
static int run(sqlite3_context *ctx, const char *fn, sqlite3_stmt *st) {
  int rc = hk_step_all(st);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, sqlite3_context_db_handle(ctx), rc);
    return 1;
  }
  return 0;
}

/* Parses a schedule argument and computes its first fire time after `from`.
 * On failure the error names the function and the argument. */
static int schedule_next(sqlite3_context *ctx, const char *fn, int argi, const char *name,
                         const char *expr, int len, int64_t from, int64_t *next) {
  if (strlen(expr) != (size_t)len) {
    hk_error(ctx, "%s: argument %d (%s) contains a NUL character", fn, argi, name);
    return 1;
  }
  char err[256];
  hk_cron *c = hk_cron_parse(expr, err, sizeof(err));
  if (!c) {
    hk_error(ctx, "%s: argument %d (%s) is not a valid schedule: %s", fn, argi, name, err);
    return 1;
  }
  *next = hk_cron_next(c, from);
  hk_cron_free(c);
  if (*next == -1) {
    hk_error(ctx,
             "%s: argument %d (%s) \"%s\" never fires: no schedule match found within 100 "
             "years after %lld",
             fn, argi, name, expr, (long long)from);
    return 1;
  }
  return 0;
}

static int64_t clamp_attempts(int64_t v) { return v < 1 ? 1 : v; }

/* ---- register ------------------------------------------------------------ */

static const char SQL_REGISTER[] =
    "INSERT INTO _honker_scheduler_tasks (name, queue, cron_expr, payload, priority, "
    "expires_s, next_fire_at, max_attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT(name) DO UPDATE SET queue = excluded.queue, cron_expr = excluded.cron_expr, "
    "payload = excluded.payload, priority = excluded.priority, expires_s = excluded.expires_s, "
    "next_fire_at = excluded.next_fire_at, max_attempts = excluded.max_attempts";

static void register_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_scheduler_register";
  const char *name, *queue, *expr, *payload;
  int name_n = 0, queue_n = 0, expr_n = 0, payload_n = 0, exp_null = 0;
  int64_t priority, expires = 0, max_attempts = 3, next;
  if (hk_arg_text(ctx, argv, 0, fn, "name", &name, &name_n)) return;
  if (hk_arg_text(ctx, argv, 1, fn, "queue", &queue, &queue_n)) return;
  if (hk_arg_text(ctx, argv, 2, fn, "cron_expr", &expr, &expr_n)) return;
  if (hk_arg_json(ctx, argv, 3, fn, "payload", &payload, &payload_n)) return;
  if (hk_arg_int(ctx, argv, 4, fn, "priority", &priority)) return;
  if (hk_arg_int_or_null(ctx, argv, 5, fn, "expires_s", &expires, &exp_null)) return;
  if (argc == 7 && hk_arg_int(ctx, argv, 6, fn, "max_attempts", &max_attempts)) return;
  if (hk_check_range(ctx, fn, "argument 5 (priority)", priority, -HK_SCHED_MAX_PRIORITY,
                     HK_SCHED_MAX_PRIORITY))
    return;
  if (!exp_null && hk_check_range(ctx, fn, "argument 6 (expires_s)", expires, 0, HK_MAX_SECONDS))
    return;
  max_attempts = clamp_attempts(max_attempts); /* honker: 0 becomes 1 */
  if (hk_check_range(ctx, fn, "argument 7 (max_attempts)", max_attempts, 1,
                     HK_SCHED_MAX_ATTEMPTS))
    return;
  if (schedule_next(ctx, fn, 3, "cron_expr", expr, expr_n, hk_now(), &next)) return;

  sqlite3_stmt *st;
  if (prepare(ctx, fn, SQL_REGISTER, &st)) return;
  sqlite3_bind_text(st, 1, name, name_n, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, queue, queue_n, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, expr, expr_n, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, payload, payload_n, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, priority);
  if (exp_null) {
    sqlite3_bind_null(st, 6);
  } else {
    sqlite3_bind_int64(st, 6, expires);
  }
  sqlite3_bind_int64(st, 7, next);
  sqlite3_bind_int64(st, 8, max_attempts);
  int failed = run(ctx, fn, st);
  sqlite3_finalize(st);
  if (!failed) sqlite3_result_int(ctx, 1);
}

/* ---- one-name statements: unregister, pause, resume ---------------------- */

static void by_name(sqlite3_context *ctx, sqlite3_value **argv, const char *fn,
                    const char *sql) {
  const char *name;
  int name_n = 0;
  if (hk_arg_text(ctx, argv, 0, fn, "name", &name, &name_n)) return;
  sqlite3_stmt *st;
  if (prepare(ctx, fn, sql, &st)) return;
  sqlite3_bind_text(st, 1, name, name_n, SQLITE_STATIC);
  int failed = run(ctx, fn, st);
  sqlite3_finalize(st);
  if (!failed) sqlite3_result_int(ctx, sqlite3_changes(sqlite3_context_db_handle(ctx)) > 0);
}

static void unregister_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  by_name(ctx, argv, "honker_scheduler_unregister",
          "DELETE FROM _honker_scheduler_tasks WHERE name = ?1");
}

static void pause_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  by_name(ctx, argv, "honker_scheduler_pause",
          "UPDATE _honker_scheduler_tasks SET enabled = 0 WHERE name = ?1 AND enabled = 1");
}

static void resume_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  by_name(ctx, argv, "honker_scheduler_resume",
          "UPDATE _honker_scheduler_tasks SET enabled = 1 WHERE name = ?1 AND enabled = 0");
}

/* ---- soonest ------------------------------------------------------------- */

static void soonest_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_scheduler_soonest";
  (void)argc;
  (void)argv;
  sqlite3_stmt *st;
  if (prepare(ctx, fn,
              "SELECT COALESCE(MIN(next_fire_at), 0) FROM _honker_scheduler_tasks "
              "WHERE enabled = 1",
              &st))
    return;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    sqlite3_result_int64(ctx, sqlite3_column_int64(st, 0));
  } else {
    hk_sql_error(ctx, fn, sqlite3_context_db_handle(ctx), rc);
  }
  sqlite3_finalize(st);
}

/* ---- list ---------------------------------------------------------------- */

static const char *const LIST_KEYS[] = {"cron_expr", "enabled",      "expires_s",
                                        "max_attempts", "name",   "next_fire_at",
                                        "payload",   "priority",     "queue"};

static void list_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_scheduler_list";
  (void)argc;
  (void)argv;
  sqlite3_stmt *st;
  /* Columns in LIST_KEYS' (alphabetical) order; `enabled` is a boolean. */
  if (prepare(ctx, fn,
              "SELECT cron_expr, enabled, expires_s, COALESCE(max_attempts, 3), name, "
              "next_fire_at, payload, priority, queue FROM _honker_scheduler_tasks ORDER BY name",
              &st))
    return;
  hk_buf b;
  hk_buf_init(&b);
  int rc = hk_json_rows(&b, st, LIST_KEYS, 9, 1u << 1, 1, NULL);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, sqlite3_context_db_handle(ctx), rc);
    hk_buf_free(&b);
  } else {
    hk_result_buf(ctx, &b);
  }
  sqlite3_finalize(st);
}

/* ---- tick ---------------------------------------------------------------- */

typedef struct due_task {
  char *name, *queue, *expr, *payload;
  int name_n, queue_n, payload_n;
  int64_t priority, expires_s, next_fire_at, max_attempts;
  int expires_null;
} due_task;

static char *copy_column(sqlite3_stmt *st, int col, int *len) {
  const unsigned char *t = sqlite3_column_text(st, col);
  int n = sqlite3_column_bytes(st, col);
  if (!t) {
    t = (const unsigned char *)"";
    n = 0;
  }
  char *out = sqlite3_malloc64((sqlite3_uint64)n + 1);
  if (!out) return NULL;
  memcpy(out, t, (size_t)n);
  out[n] = '\0';
  if (len) *len = n;
  return out;
}

static void free_tasks(due_task *tasks, int n) {
  for (int i = 0; i < n; i++) {
    sqlite3_free(tasks[i].name);
    sqlite3_free(tasks[i].queue);
    sqlite3_free(tasks[i].expr);
    sqlite3_free(tasks[i].payload);
  }
  sqlite3_free(tasks);
}

/* Reads every due, enabled task into memory first, so the writes that
 * follow never run while a scan of the same table is open. Returns the
 * count, or -1 with the error set. */
static int load_due(sqlite3_context *ctx, const char *fn, int64_t now, due_task **out) {
  *out = NULL;
  sqlite3_stmt *st;
  if (prepare(ctx, fn,
              "SELECT name, queue, cron_expr, payload, priority, expires_s, next_fire_at, "
              "COALESCE(max_attempts, 3) FROM _honker_scheduler_tasks "
              "WHERE next_fire_at <= ?1 AND enabled = 1",
              &st))
    return -1;
  sqlite3_bind_int64(st, 1, now);
  due_task *tasks = NULL;
  int n = 0, cap = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      int ncap = cap ? cap * 2 : 8;
      if (ncap > 100000000) {
        rc = SQLITE_NOMEM;
        break;
      }
      due_task *grown = sqlite3_realloc64(tasks, (sqlite3_uint64)ncap * sizeof(due_task));
      if (!grown) {
        rc = SQLITE_NOMEM;
        break;
      }
      tasks = grown;
      cap = ncap;
    }
    due_task *t = &tasks[n];
    memset(t, 0, sizeof(*t));
    n++;
    t->name = copy_column(st, 0, &t->name_n);
    t->queue = copy_column(st, 1, &t->queue_n);
    t->expr = copy_column(st, 2, NULL);
    t->payload = copy_column(st, 3, &t->payload_n);
    if (!t->name || !t->queue || !t->expr || !t->payload) {
      rc = SQLITE_NOMEM;
      break;
    }
    t->priority = sqlite3_column_int64(st, 4);
    t->expires_null = sqlite3_column_type(st, 5) == SQLITE_NULL;
    t->expires_s = sqlite3_column_int64(st, 5);
    t->next_fire_at = sqlite3_column_int64(st, 6);
    t->max_attempts = sqlite3_column_int64(st, 7);
  }
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_NOMEM) {
      sqlite3_result_error_nomem(ctx);
    } else {
      hk_sql_error(ctx, fn, sqlite3_context_db_handle(ctx), rc);
    }
    sqlite3_finalize(st);
    free_tasks(tasks, n);
    return -1;
  }
  sqlite3_finalize(st);
  *out = tasks;
  return n;
}

/* The claim: moves next_fire_at only if nobody else moved it since we read
 * it, so two processes ticking at once cannot both fire one boundary. */
static const char SQL_CLAIM[] =
    "UPDATE _honker_scheduler_tasks SET next_fire_at = ?3 "
    "WHERE name = ?1 AND next_fire_at = ?2 AND enabled = 1";

static const char SQL_FIRE[] =
    "INSERT INTO _honker_live (queue, payload, run_at, priority, max_attempts, expires_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";

static int64_t add_saturating(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
  return a + b;
}

/* Fires one task: computes its due boundaries, claims them, enqueues one
 * job per boundary and appends the fires to `out`. Returns 0 on success. */
static int fire_task(sqlite3_context *ctx, const char *fn, const due_task *t, int64_t now,
                     int64_t real_now, sqlite3_stmt *claim, sqlite3_stmt *fire, hk_buf *out,
                     int *first) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  char err[256];
  hk_cron *c = hk_cron_parse(t->expr, err, sizeof(err));
  if (!c) {
    hk_error(ctx, "%s: task \"%s\" has an invalid cron_expr: %s (fix it with "
             "honker_scheduler_update or remove it with honker_scheduler_unregister)",
             fn, t->name, err);
    return 1;
  }
  int64_t fires[HK_SCHED_MAX_FIRES];
  int nf = 0;
  int64_t next = t->next_fire_at;
  while (next <= now) {
    if (nf >= HK_SCHED_MAX_FIRES) {
      /* Too far behind: drop the rest of the backlog. */
      next = hk_cron_next(c, now);
      break;
    }
    fires[nf++] = next;
    next = hk_cron_next(c, next);
    if (next == -1) break;
  }
  hk_cron_free(c);
  if (next == -1) {
    hk_error(ctx, "%s: task \"%s\": cron_expr \"%s\" has no fire time within 100 years", fn,
             t->name, t->expr);
    return 1;
  }

  sqlite3_bind_text(claim, 1, t->name, t->name_n, SQLITE_STATIC);
  sqlite3_bind_int64(claim, 2, t->next_fire_at);
  sqlite3_bind_int64(claim, 3, next);
  int rc = hk_step_all(claim);
  sqlite3_reset(claim);
  sqlite3_clear_bindings(claim);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return 1;
  }
  if (sqlite3_changes(db) == 0) return 0; /* another ticker fired it */

  int64_t expires_at = t->expires_null ? 0 : add_saturating(real_now, t->expires_s);
  for (int i = 0; i < nf; i++) {
    sqlite3_bind_text(fire, 1, t->queue, t->queue_n, SQLITE_STATIC);
    sqlite3_bind_text(fire, 2, t->payload, t->payload_n, SQLITE_STATIC);
    sqlite3_bind_int64(fire, 3, real_now);
    sqlite3_bind_int64(fire, 4, t->priority);
    sqlite3_bind_int64(fire, 5, t->max_attempts);
    if (t->expires_null) {
      sqlite3_bind_null(fire, 6);
    } else {
      sqlite3_bind_int64(fire, 6, expires_at);
    }
    int64_t id = 0;
    rc = sqlite3_step(fire);
    if (rc == SQLITE_ROW) {
      id = sqlite3_column_int64(fire, 0);
      rc = hk_step_all(fire);
    } else {
      rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(fire);
    }
    sqlite3_reset(fire);
    sqlite3_clear_bindings(fire);
    if (rc != SQLITE_OK) {
      hk_sql_error(ctx, fn, db, rc);
      return 1;
    }
    if (!*first) hk_buf_putc(out, ',');
    *first = 0;
    hk_buf_puts(out, "{\"fire_at\":");
    hk_buf_int(out, fires[i]);
    hk_buf_puts(out, ",\"job_id\":");
    hk_buf_int(out, id);
    hk_buf_puts(out, ",\"name\":");
    hk_buf_json_string(out, t->name, (size_t)t->name_n);
    hk_buf_puts(out, ",\"queue\":");
    hk_buf_json_string(out, t->queue, (size_t)t->queue_n);
    hk_buf_putc(out, '}');
  }
  return 0;
}

static void tick_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_scheduler_tick";
  (void)argc;
  int64_t now;
  if (hk_arg_int(ctx, argv, 0, fn, "now_unix", &now)) return;
  due_task *tasks;
  int n = load_due(ctx, fn, now, &tasks);
  if (n < 0) return;
  if (n == 0) {
    sqlite3_free(tasks);
    sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
    return;
  }
  /* All claims and enqueues of this tick commit or roll back together. */
  int began = hk_savepoint_begin(ctx);
  int ok = 0;
  sqlite3_stmt *claim = NULL, *fire = NULL;
  hk_buf out;
  hk_buf_init(&out);
  hk_buf_putc(&out, '[');
  if (!prepare(ctx, fn, SQL_CLAIM, &claim) && !prepare(ctx, fn, SQL_FIRE, &fire)) {
    int64_t real_now = hk_now(); /* jobs are due now, whatever `now` says */
    int first = 1;
    ok = 1;
    for (int i = 0; i < n && ok; i++) {
      if (fire_task(ctx, fn, &tasks[i], now, real_now, claim, fire, &out, &first)) ok = 0;
    }
  }
  sqlite3_finalize(claim);
  sqlite3_finalize(fire);
  free_tasks(tasks, n);
  if (ok && out.oom) {
    /* No result to report: keep nothing, so no fire goes unreported. */
    sqlite3_result_error_nomem(ctx);
    ok = 0;
  }
  hk_savepoint_end(ctx, began, ok);
  if (!ok) {
    hk_buf_free(&out);
    return;
  }
  hk_buf_putc(&out, ']');
  hk_result_buf(ctx, &out);
}

/* ---- update -------------------------------------------------------------- */

/* One statement, so the change is atomic without a savepoint. */
static const char SQL_UPDATE[] =
    "UPDATE _honker_scheduler_tasks SET "
    "cron_expr = COALESCE(?2, cron_expr), "
    "next_fire_at = COALESCE(?3, next_fire_at), "
    "payload = COALESCE(?4, payload), "
    "priority = COALESCE(?5, priority), "
    "expires_s = CASE WHEN ?6 THEN ?7 ELSE expires_s END, "
    "max_attempts = CASE WHEN ?8 THEN ?9 ELSE max_attempts END "
    "WHERE name = ?1";

static void update_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_scheduler_update";
  const char *name, *expr, *payload;
  int name_n = 0, expr_n = 0, payload_n = 0;
  int prio_null = 0, exp_null = 0, max_null = 1;
  int64_t priority = 0, expires = 0, touch_exp = 0, max_attempts = 0, touch_max = 0, next = 0;
  if (hk_arg_text(ctx, argv, 0, fn, "name", &name, &name_n)) return;
  if (hk_arg_text_or_null(ctx, argv, 1, fn, "cron_expr", &expr, &expr_n)) return;
  if (hk_arg_json_or_null(ctx, argv, 2, fn, "payload", &payload, &payload_n)) return;
  if (hk_arg_int_or_null(ctx, argv, 3, fn, "priority", &priority, &prio_null)) return;
  if (hk_arg_int_or_null(ctx, argv, 4, fn, "expires_s", &expires, &exp_null)) return;
  if (hk_arg_int(ctx, argv, 5, fn, "touch_expires", &touch_exp)) return;
  if (argc == 8) {
    if (hk_arg_int_or_null(ctx, argv, 6, fn, "max_attempts", &max_attempts, &max_null)) return;
    if (hk_arg_int(ctx, argv, 7, fn, "touch_max_attempts", &touch_max)) return;
  }
  if (!prio_null && hk_check_range(ctx, fn, "argument 4 (priority)", priority,
                                   -HK_SCHED_MAX_PRIORITY, HK_SCHED_MAX_PRIORITY))
    return;
  if (touch_exp && !exp_null &&
      hk_check_range(ctx, fn, "argument 5 (expires_s)", expires, 0, HK_MAX_SECONDS))
    return;
  if (touch_max) {
    max_attempts = max_null ? 3 : clamp_attempts(max_attempts);
    if (hk_check_range(ctx, fn, "argument 7 (max_attempts)", max_attempts, 1,
                       HK_SCHED_MAX_ATTEMPTS))
      return;
  }
  if (!expr && !payload && prio_null && !touch_exp && !touch_max) {
    sqlite3_result_int(ctx, 0); /* nothing to change */
    return;
  }
  if (expr && schedule_next(ctx, fn, 2, "cron_expr", expr, expr_n, hk_now(), &next)) return;

  sqlite3_stmt *st;
  if (prepare(ctx, fn, SQL_UPDATE, &st)) return;
  sqlite3_bind_text(st, 1, name, name_n, SQLITE_STATIC);
  if (expr) {
    sqlite3_bind_text(st, 2, expr, expr_n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, next);
  }
  if (payload) sqlite3_bind_text(st, 4, payload, payload_n, SQLITE_STATIC);
  if (!prio_null) sqlite3_bind_int64(st, 5, priority);
  sqlite3_bind_int(st, 6, touch_exp != 0);
  if (touch_exp && !exp_null) sqlite3_bind_int64(st, 7, expires);
  sqlite3_bind_int(st, 8, touch_max != 0);
  if (touch_max) sqlite3_bind_int64(st, 9, max_attempts);
  int failed = run(ctx, fn, st);
  sqlite3_finalize(st);
  if (!failed) sqlite3_result_int(ctx, sqlite3_changes(sqlite3_context_db_handle(ctx)) > 0);
}

/* ---- registration -------------------------------------------------------- */

int hk_register_scheduler(sqlite3 *db, hk_conn *c) {
  int rc = SQLITE_OK;
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_register", 6, register_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_register", 7, register_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_unregister", 1, unregister_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_tick", 1, tick_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_soonest", 0, soonest_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_pause", 1, pause_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_resume", 1, resume_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_list", 0, list_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_update", 6, update_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_scheduler_update", 8, update_fn);
  return rc;
}
