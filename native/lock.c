/*
 * TTL locks. Unlike honker, renew only extends a lock that is still live
 * and held by the caller: a lapsed lock may already belong to someone else
 * in spirit, so reviving it would let two owners both think they hold it.
 */
#include "honker.h"

static const char DROP_EXPIRED_SQL[] =
    "DELETE FROM _honker_locks WHERE name = ?1 AND expires_at <= ?2";

static const char ACQUIRE_SQL[] =
    "INSERT OR IGNORE INTO _honker_locks (name, owner, expires_at) VALUES (?1, ?2, ?3 + ?4) "
    "RETURNING 1";

static const char HOLDER_SQL[] = "SELECT owner = ?2 FROM _honker_locks WHERE name = ?1";

static const char RELEASE_SQL[] = "DELETE FROM _honker_locks WHERE name = ?1 AND owner = ?2";

static const char RENEW_SQL[] =
    "UPDATE _honker_locks SET expires_at = ?3 + ?4 "
    "WHERE name = ?1 AND owner = ?2 AND expires_at > ?3";

static int lock_args(sqlite3_context *ctx, sqlite3_value **argv, const char *fn,
                     const char **name, int *nlen, const char **owner, int *olen) {
  if (hk_arg_text(ctx, argv, 0, fn, "name", name, nlen)) return 1;
  return hk_arg_text(ctx, argv, 1, fn, "owner", owner, olen);
}

static int ttl_arg(sqlite3_context *ctx, sqlite3_value **argv, const char *fn, int64_t *ttl) {
  if (hk_arg_int(ctx, argv, 2, fn, "ttl_s", ttl)) return 1;
  return hk_check_range(ctx, fn, "ttl_s", *ttl, 1, HK_MAX_SECONDS);
}

static void acquire_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_lock_acquire";
  const char *name, *owner;
  int nlen, olen;
  int64_t ttl;
  if (lock_args(ctx, argv, fn, &name, &nlen, &owner, &olen) || ttl_arg(ctx, argv, fn, &ttl))
    return;
  int64_t now = hk_now();
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_LOCK_DROP_EXPIRED, DROP_EXPIRED_SQL, &o, "ti", name, nlen, now)) return;
  if (hk_run(ctx, fn, HK_S_LOCK_ACQUIRE, ACQUIRE_SQL, &o, "ttii", name, nlen, owner, olen, now,
             ttl))
    return;
  if (o.has_row) {
    sqlite3_result_int(ctx, 1);
    return;
  }
  /* Already held: by us (re-entrant, TTL unchanged as in honker) or not. */
  if (hk_run(ctx, fn, HK_UNCACHED, HOLDER_SQL, &o, "tt", name, nlen, owner, olen)) return;
  sqlite3_result_int(ctx, o.has_row && o.first == 1);
}

static void release_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_lock_release";
  const char *name, *owner;
  int nlen, olen;
  if (lock_args(ctx, argv, fn, &name, &nlen, &owner, &olen)) return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_UNCACHED, RELEASE_SQL, &o, "tt", name, nlen, owner, olen)) return;
  sqlite3_result_int(ctx, o.changes > 0);
}

static void renew_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  static const char *fn = "honker_lock_renew";
  const char *name, *owner;
  int nlen, olen;
  int64_t ttl;
  if (lock_args(ctx, argv, fn, &name, &nlen, &owner, &olen) || ttl_arg(ctx, argv, fn, &ttl))
    return;
  hk_outcome o;
  if (hk_run(ctx, fn, HK_S_LOCK_RENEW, RENEW_SQL, &o, "ttii", name, nlen, owner, olen, hk_now(),
             ttl))
    return;
  sqlite3_result_int(ctx, o.changes > 0);
}

int hk_register_lock(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_lock_acquire", 3, acquire_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_lock_release", 2, release_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_lock_renew", 3, renew_fn);
  return rc;
}
