/*
 * honker_x_wal_watch(auto_pages): a WAL hook on this connection that
 * remembers how many frames the WAL holds after each of its commits
 * (honker_x_wal_frames() reads it back) and, with auto_pages > 0,
 * checkpoints (PASSIVE) once the WAL holds that many frames, as SQLite's
 * automatic checkpoint does. It takes the place of PRAGMA
 * wal_autocheckpoint, which in turn replaces it (both functions then
 * notice, leave the app's setting in place and return -1). With no
 * argument it returns auto_pages, or -1 while the hook is not installed.
 *
 * Why: the host checkpoints from a thread and must know the WAL's live
 * size. The -wal file's size stops saying it once checkpoints let writers
 * rewind the WAL in place: after a checkpoint that copied every frame, the
 * next writer starts again at the front of the file instead of at the end
 * of a truncated one, so the file keeps its size (bounded by
 * journal_size_limit) and no commit pays for a new file's first fsync.
 */
#include <stdint.h>
#include <string.h>

#include "honker.h"

static int wal_hook(void *arg, sqlite3 *db, const char *zdb, int frames) {
  hk_conn *c = arg;
  if (zdb == NULL || strcmp(zdb, "main") != 0) return SQLITE_OK;
  c->wal_frames = frames;
  /* As SQLite's own hook: a checkpoint that fails (busy) is tried again
   * after the next commit; the commit itself has succeeded. */
  if (c->wal_auto_pages > 0 && frames >= c->wal_auto_pages) sqlite3_wal_checkpoint(db, zdb);
  return SQLITE_OK;
}

/*
 * Is our hook still the connection's? PRAGMA wal_autocheckpoint (or
 * sqlite3_wal_autocheckpoint) replaces it; SQLite offers no getter, so put
 * ours back to read the previous argument and, if it was not ours, restore
 * what the app set (SQLite's own hook with its page count) and stop
 * reporting: the frame count would be stale from then on.
 */
static int still_watching(hk_conn *c) {
  if (!c->wal_watching) return 0;
  void *prev = sqlite3_wal_hook(c->db, wal_hook, c);
  if (prev == c) return 1;
  sqlite3_wal_autocheckpoint(c->db, (int)(intptr_t)prev);
  c->wal_watching = 0;
  return 0;
}

static void wal_watch_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_x_wal_watch";
  hk_conn *c = sqlite3_user_data(ctx);
  if (argc == 0) {
    sqlite3_result_int64(ctx, still_watching(c) ? c->wal_auto_pages : -1);
    return;
  }
  int64_t pages;
  if (hk_arg_int(ctx, argv, 0, fn, "auto_pages", &pages)) return;
  if (hk_check_range(ctx, fn, "auto_pages", pages, 0, 1 << 30)) return;
  c->wal_auto_pages = (int)pages;
  c->wal_watching = 1;
  sqlite3_wal_hook(c->db, wal_hook, c);
  sqlite3_result_int(ctx, 1);
}

static void wal_frames_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  hk_conn *c = sqlite3_user_data(ctx);
  sqlite3_result_int64(ctx, still_watching(c) ? c->wal_frames : -1);
}

int hk_register_wal(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_x_wal_watch", 1, wal_watch_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_wal_watch", 0, wal_watch_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_wal_frames", 0, wal_frames_fn);
  return rc;
}
