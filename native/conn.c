/*
 * Per-connection state: the prepared-statement cache and its release.
 *
 * Why a virtual table: sqlite3_close() refuses to close a connection that
 * still has prepared statements, and function destructors run only after
 * that check. The one hook SQLite calls *before* the check is xDisconnect
 * of connected virtual tables, eponymous ones included. So we register an
 * eponymous-only table, connect it once, and finalize the cache from its
 * xDisconnect. Closing then works in every host (better-sqlite3, the
 * sqlite3 shell, Python) without any cooperation from the host.
 */
#include <stdarg.h>
#include <string.h>

#include "honker.h"

typedef struct hk_cache_vtab {
  sqlite3_vtab base;
  hk_conn *conn;
} hk_cache_vtab;

typedef struct hk_cache_cursor {
  sqlite3_vtab_cursor base;
} hk_cache_cursor;

static const char *const CACHE_TABLE = "honker_x_statement_cache";

hk_conn *hk_conn_new(sqlite3 *db) {
  hk_conn *c = sqlite3_malloc(sizeof(hk_conn));
  if (!c) return NULL;
  memset(c, 0, sizeof(*c));
  c->db = db;
  return c;
}

void hk_conn_release_statements(hk_conn *c) {
  for (int i = 0; i < HK_SLOT_COUNT; i++) {
    if (c->slots[i]) {
      sqlite3_finalize(c->slots[i]);
      c->slots[i] = NULL;
    }
  }
}

static int cache_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **err) {
  (void)argc;
  (void)argv;
  (void)err;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(slot INTEGER)");
  if (rc != SQLITE_OK) return rc;
  hk_cache_vtab *v = sqlite3_malloc(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = aux;
  v->conn->armed = 1;
  *out = &v->base;
  return SQLITE_OK;
}

static int cache_disconnect(sqlite3_vtab *vt) {
  hk_cache_vtab *v = (hk_cache_vtab *)vt;
  hk_conn_release_statements(v->conn);
  v->conn->armed = 0;
  sqlite3_free(v);
  return SQLITE_OK;
}

static int cache_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
  (void)vt;
  info->estimatedCost = 1;
  info->estimatedRows = 0;
  return SQLITE_OK;
}

static int cache_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  hk_cache_cursor *cur = sqlite3_malloc(sizeof(*cur));
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, sizeof(*cur));
  *out = &cur->base;
  return SQLITE_OK;
}

static int cache_close(sqlite3_vtab_cursor *cur) {
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int cache_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxs, int argc,
                        sqlite3_value **argv) {
  (void)cur;
  (void)idx;
  (void)idxs;
  (void)argc;
  (void)argv;
  return SQLITE_OK;
}

static int cache_next(sqlite3_vtab_cursor *cur) {
  (void)cur;
  return SQLITE_OK;
}

static int cache_eof(sqlite3_vtab_cursor *cur) {
  (void)cur;
  return 1; /* the table is always empty */
}

static int cache_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  (void)cur;
  (void)col;
  sqlite3_result_null(ctx);
  return SQLITE_OK;
}

static int cache_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  (void)cur;
  *rowid = 0;
  return SQLITE_OK;
}

static const sqlite3_module cache_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only */
    .xConnect = cache_connect,
    .xBestIndex = cache_best_index,
    .xDisconnect = cache_disconnect,
    .xDestroy = NULL,
    .xOpen = cache_open,
    .xClose = cache_close,
    .xFilter = cache_filter,
    .xNext = cache_next,
    .xEof = cache_eof,
    .xColumn = cache_column,
    .xRowid = cache_rowid,
};

static void conn_free(void *p) {
  hk_conn *c = p;
  hk_conn_release_statements(c);
  sqlite3_free(c);
}

int hk_register_cache_module(sqlite3 *db, hk_conn *c) {
  return sqlite3_create_module_v2(db, CACHE_TABLE, &cache_module, c, conn_free);
}

/* Connects the eponymous table so its xDisconnect will run at close. */
static void arm(hk_conn *c) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(c->db, "SELECT slot FROM honker_x_statement_cache", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_finalize(st);
  }
}

int hk_stmt_get(sqlite3_context *ctx, hk_slot slot, const char *sql, hk_stmt *out) {
  hk_conn *c = sqlite3_user_data(ctx);
  out->stmt = NULL;
  out->owned = 0;
  if (!c->armed) arm(c);
  sqlite3_stmt *cached = c->slots[slot];
  if (cached && !sqlite3_stmt_busy(cached)) {
    out->stmt = cached;
    return SQLITE_OK;
  }
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  if (!cached && c->armed) {
    c->slots[slot] = st;
  } else {
    out->owned = 1; /* a re-entrant call or no way to release: private copy */
  }
  out->stmt = st;
  return SQLITE_OK;
}

/* honker_x_statement_stats(): counters summed over the cached statements,
 * as JSON {fullscan_steps, reprepares, sorts, vm_steps}. Tests use it to pin the hot
 * statements' behaviour: a statement whose bound values steer its plan
 * (LIMIT ?, some `column = ?` terms) is recompiled on every call that
 * changes them, and a claim that sorts has lost its index. */
void hk_statement_stats_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  hk_conn *c = sqlite3_user_data(ctx);
  sqlite3_int64 fullscan = 0, reprepares = 0, sorts = 0, vm_steps = 0;
  for (int i = 0; i < HK_SLOT_COUNT; i++) {
    sqlite3_stmt *st = c->slots[i];
    if (!st) continue;
    fullscan += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
    reprepares += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_REPREPARE, 0);
    sorts += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_SORT, 0);
    vm_steps += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
  }
  char *out = sqlite3_mprintf(
      "{\"fullscan_steps\":%lld,\"reprepares\":%lld,\"sorts\":%lld,\"vm_steps\":%lld}", fullscan,
      reprepares, sorts, vm_steps);
  if (!out) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, out, -1, sqlite3_free);
}

void hk_stmt_done(hk_stmt *s) {
  if (!s->stmt) return;
  if (s->owned) {
    sqlite3_finalize(s->stmt);
  } else {
    sqlite3_reset(s->stmt);
    sqlite3_clear_bindings(s->stmt);
  }
  s->stmt = NULL;
}

/* Runs a cached statement that takes no parameters (the savepoint ones). */
static int run_cached(sqlite3_context *ctx, hk_slot slot, const char *sql) {
  hk_stmt s;
  int rc = hk_stmt_get(ctx, slot, sql, &s);
  if (rc != SQLITE_OK) return rc;
  rc = hk_step_all(s.stmt);
  hk_stmt_done(&s);
  return rc;
}

/*
 * A function that writes more than one statement wraps them in a savepoint
 * so a failure half way leaves nothing behind. SQLite refuses a savepoint
 * while another writing statement is running (e.g. INSERT ... SELECT
 * honker_retry(...)); then the enclosing statement's own rollback covers us.
 * The three statements are cached: ack and the other exit paths take one
 * savepoint per call, and preparing them each time cost more than the
 * statements inside.
 */
int hk_savepoint_begin(sqlite3_context *ctx) {
  return run_cached(ctx, HK_S_SAVEPOINT, "SAVEPOINT honker_fn") == SQLITE_OK;
}

void hk_savepoint_end(sqlite3_context *ctx, int began, int ok) {
  if (!began) return;
  if (!ok) run_cached(ctx, HK_S_SAVEPOINT_ROLLBACK, "ROLLBACK TO honker_fn");
  run_cached(ctx, HK_S_SAVEPOINT_RELEASE, "RELEASE honker_fn");
}

int hk_run(sqlite3_context *ctx, const char *fn, hk_slot slot, const char *sql,
           hk_outcome *out, const char *types, ...) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  hk_stmt s = {NULL, 1};
  int rc;
  if (slot == HK_UNCACHED) {
    rc = sqlite3_prepare_v2(db, sql, -1, &s.stmt, NULL);
  } else {
    rc = hk_stmt_get(ctx, slot, sql, &s);
  }
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    return 1;
  }
  va_list ap;
  va_start(ap, types);
  for (int i = 0; types[i]; i++) {
    int idx = i + 1;
    switch (types[i]) {
      case 'i':
        sqlite3_bind_int64(s.stmt, idx, va_arg(ap, int64_t));
        break;
      case 't':
      case 'T': {
        const char *t = va_arg(ap, const char *);
        int n = va_arg(ap, int);
        if (t) {
          sqlite3_bind_text(s.stmt, idx, t, n, SQLITE_STATIC);
        } else {
          sqlite3_bind_null(s.stmt, idx);
        }
        break;
      }
      default:
        sqlite3_bind_null(s.stmt, idx);
    }
  }
  va_end(ap);
  memset(out, 0, sizeof(*out));
  rc = sqlite3_step(s.stmt);
  if (rc == SQLITE_ROW) {
    out->has_row = 1;
    out->first_null = sqlite3_column_type(s.stmt, 0) == SQLITE_NULL;
    out->first = sqlite3_column_int64(s.stmt, 0);
    rc = hk_step_all(s.stmt);
  } else {
    rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(s.stmt);
  }
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, db, rc);
    hk_stmt_done(&s);
    return 1;
  }
  out->changes = sqlite3_changes(db);
  hk_stmt_done(&s);
  return 0;
}

int hk_step_all(sqlite3_stmt *st) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
  }
  return rc == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(st);
}

static void bind_all(sqlite3_stmt *st, const hk_bind *binds, int nbinds) {
  int count = sqlite3_bind_parameter_count(st);
  for (int k = 0; k < nbinds && k < count; k++) {
    const hk_bind *b = &binds[k];
    if (b->type == 'i') {
      sqlite3_bind_int64(st, k + 1, b->i);
    } else if (b->t) {
      sqlite3_bind_text(st, k + 1, b->t, b->n, SQLITE_STATIC);
    } else {
      sqlite3_bind_null(st, k + 1);
    }
  }
}

int hk_missing_x_table(sqlite3 *db, int rc) {
  if (rc != SQLITE_ERROR) return 0;
  const char *msg = sqlite3_errmsg(db);
  return strncmp(msg, "no such table: _honker_x_", 25) == 0 ||
         strncmp(msg, "no such table: main._honker_x_", 30) == 0;
}

int hk_run_steps(sqlite3_context *ctx, const char *fn, const hk_step *steps, int nsteps,
                 const hk_bind *binds, int nbinds, int *gate, int *last) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  *gate = 0;
  *last = 0;
  int began = hk_savepoint_begin(ctx);
  int rc = SQLITE_OK;
  int gated = 0;     /* a statement has played the gate */
  int honker_only = 0; /* our tables are missing: do what honker does */
  for (int i = 0; i < nsteps && rc == SQLITE_OK; i++) {
    int ours = strstr(steps[i].sql, "_honker_x_") != NULL;
    if (ours && honker_only) continue;
    hk_stmt s = {NULL, 1};
    if (steps[i].slot == HK_UNCACHED) {
      rc = sqlite3_prepare_v2(db, steps[i].sql, -1, &s.stmt, NULL);
    } else {
      rc = hk_stmt_get(ctx, steps[i].slot, steps[i].sql, &s);
    }
    if (rc != SQLITE_OK && ours && hk_missing_x_table(db, rc)) {
      honker_only = 1;
      rc = SQLITE_OK;
      continue;
    }
    if (rc != SQLITE_OK) break;
    bind_all(s.stmt, binds, nbinds);
    rc = hk_step_all(s.stmt);
    int changes = sqlite3_changes(db);
    hk_stmt_done(&s);
    if (rc != SQLITE_OK) break;
    if (i == nsteps - 1) *last = changes;
    if (!gated) {
      gated = 1;
      *gate = changes;
      if (changes == 0) break;
    }
  }
  if (rc != SQLITE_OK) {
    *gate = 0;
    *last = 0;
    hk_sql_error(ctx, fn, db, rc); /* before the rollback replaces the message */
  }
  hk_savepoint_end(ctx, began, rc == SQLITE_OK);
  return rc != SQLITE_OK;
}
