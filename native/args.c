/*
 * Argument checking and error reporting shared by every SQL function.
 * Messages always read "<function>: <argument> <problem>" so a user can
 * find the bad value without reading our source.
 */
#include <math.h>
#include <stdarg.h>
#include <time.h>

#include "honker.h"

static const char *type_name(int t) {
  switch (t) {
    case SQLITE_INTEGER:
      return "an integer";
    case SQLITE_FLOAT:
      return "a real";
    case SQLITE_TEXT:
      return "text";
    case SQLITE_BLOB:
      return "a blob";
    default:
      return "NULL";
  }
}

void hk_error(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (!msg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_free(msg);
}

void hk_sql_error(sqlite3_context *ctx, const char *fn, sqlite3 *db, int rc) {
  if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  hk_error(ctx, "%s: %s", fn, sqlite3_errmsg(db));
  /* Keep the primary code (SQLITE_BUSY, SQLITE_FULL...) so hosts can react. */
  sqlite3_result_error_code(ctx, rc);
}

/* The clock unixepoch() reads (the default VFS), so values we write agree
 * with column defaults; time() may lag it by a tick (coarse clock). */
int64_t hk_now(void) {
  sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
  if (vfs && vfs->iVersion >= 2 && vfs->xCurrentTimeInt64) {
    sqlite3_int64 ms = 0;
    if (vfs->xCurrentTimeInt64(vfs, &ms) == SQLITE_OK) return (int64_t)(ms / 1000 - 210866760000LL);
  }
  return (int64_t)time(NULL);
}

int hk_arg_text_or_null(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                        const char *name, const char **out, int *len) {
  int t = sqlite3_value_type(argv[i]);
  if (t == SQLITE_NULL) {
    *out = NULL;
    if (len) *len = 0;
    return 0;
  }
  if (t != SQLITE_TEXT) {
    hk_error(ctx, "%s: argument %d (%s) must be text, got %s", fn, i + 1, name, type_name(t));
    return 1;
  }
  *out = (const char *)sqlite3_value_text(argv[i]);
  if (!*out) {
    sqlite3_result_error_nomem(ctx);
    return 1;
  }
  if (len) *len = sqlite3_value_bytes(argv[i]);
  return 0;
}

int hk_arg_text(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                const char *name, const char **out, int *len) {
  if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
    hk_error(ctx, "%s: argument %d (%s) must be text, got NULL", fn, i + 1, name);
    return 1;
  }
  if (hk_arg_text_or_null(ctx, argv, i, fn, name, out, len)) return 1;
  if (**out == '\0') {
    hk_error(ctx, "%s: argument %d (%s) must not be empty", fn, i + 1, name);
    return 1;
  }
  return 0;
}

int hk_arg_int_or_null(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                       const char *name, int64_t *out, int *is_null) {
  int t = sqlite3_value_type(argv[i]);
  *is_null = 0;
  if (t == SQLITE_NULL) {
    *is_null = 1;
    *out = 0;
    return 0;
  }
  if (t == SQLITE_INTEGER) {
    *out = sqlite3_value_int64(argv[i]);
    return 0;
  }
  if (t == SQLITE_FLOAT) {
    /* JavaScript passes every number as a double: accept whole numbers. */
    double d = sqlite3_value_double(argv[i]);
    if (isfinite(d) && d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0) {
      *out = (int64_t)d;
      return 0;
    }
    hk_error(ctx, "%s: argument %d (%s) must be a whole number, got %!.15g", fn, i + 1, name,
             d);
    return 1;
  }
  hk_error(ctx, "%s: argument %d (%s) must be an integer, got %s", fn, i + 1, name,
           type_name(t));
  return 1;
}

int hk_arg_int(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
               const char *name, int64_t *out) {
  int is_null = 0;
  if (hk_arg_int_or_null(ctx, argv, i, fn, name, out, &is_null)) return 1;
  if (is_null) {
    hk_error(ctx, "%s: argument %d (%s) must be an integer, got NULL", fn, i + 1, name);
    return 1;
  }
  return 0;
}

int hk_check_range(sqlite3_context *ctx, const char *fn, const char *name, int64_t v,
                   int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    hk_error(ctx, "%s: %s must be between %lld and %lld, got %lld", fn, name, (long long)lo,
             (long long)hi, (long long)v);
    return 1;
  }
  return 0;
}

int hk_arg_json_or_null(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                        const char *name, const char **out, int *len) {
  int n = 0;
  if (hk_arg_text_or_null(ctx, argv, i, fn, name, out, &n)) return 1;
  if (*out && !hk_json_valid(*out, (size_t)n)) {
    hk_error(ctx, "%s: argument %d (%s) is not valid JSON text", fn, i + 1, name);
    return 1;
  }
  if (len) *len = n;
  return 0;
}

int hk_arg_json(sqlite3_context *ctx, sqlite3_value **argv, int i, const char *fn,
                const char *name, const char **out, int *len) {
  if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
    hk_error(ctx, "%s: argument %d (%s) must be JSON text, got NULL", fn, i + 1, name);
    return 1;
  }
  return hk_arg_json_or_null(ctx, argv, i, fn, name, out, len);
}

/* The (owner, ids_json or NULL, limit) arguments of the dead-letter redrive
 * and purge functions of queues and outboxes. *limit comes back 0 when there
 * is nothing to do (limit 0, or an empty id list). */
int hk_args_dead_pick(sqlite3_context *ctx, sqlite3_value **argv, const char *fn,
                      const char *owner_arg, const char **owner, int *olen,
                      const char **ids_json, int *jlen, int64_t *limit) {
  const char *why = NULL;
  if (hk_arg_text(ctx, argv, 0, fn, owner_arg, owner, olen)) return 1;
  if (hk_arg_text_or_null(ctx, argv, 1, fn, "ids_json", ids_json, jlen)) return 1;
  if (hk_arg_int(ctx, argv, 2, fn, "limit", limit)) return 1;
  if (hk_check_range(ctx, fn, "limit", *limit, 0, HK_MAX_BATCH)) return 1;
  if (*ids_json) {
    int64_t *ids = NULL;
    int count = hk_json_int_array(*ids_json, (size_t)*jlen, &ids, &why);
    sqlite3_free(ids);
    if (count < 0) {
      hk_error(ctx, "%s: argument 2 (ids_json) %s", fn, why);
      return 1;
    }
    if (count == 0) *limit = 0;
  }
  return 0;
}
