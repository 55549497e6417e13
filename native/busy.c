/*
 * honker_busy_timeout(ms): a busy handler that retries the lock every
 * ~50-200 microseconds instead of SQLite's default 1, 2, 5 ... 100 ms
 * sleeps. Commits in WAL mode take tens of microseconds, so the default
 * schedule turns a brief wait into a multi-millisecond stall of the host's
 * event loop; short polls hand the lock over almost as soon as it is free.
 * honker_busy_timeout() with no argument returns the current timeout.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif
#include <time.h>

#include "honker.h"

#if defined(_WIN32)
#include <windows.h>
static int64_t now_us(void) { return (int64_t)GetTickCount64() * 1000; }
static void sleep_us(int us) { Sleep(us >= 1000 ? (DWORD)(us / 1000) : 0); }
#else
static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static void sleep_us(int us) {
  struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}
#endif

static int busy_handler(void *arg, int count) {
  hk_conn *c = arg;
  int64_t t = now_us();
  if (count == 0) c->busy_started_us = t;
  if (t - c->busy_started_us >= (int64_t)c->busy_timeout_ms * 1000) return 0;
  /* 50 us for the first couple of ms, then back off to at most 2 ms. */
  int us = count < 40 ? 50 : count < 100 ? 200 : 2000;
  sleep_us(us);
  return 1;
}

static void busy_timeout_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_busy_timeout";
  hk_conn *c = sqlite3_user_data(ctx);
  if (argc == 0) {
    sqlite3_result_int64(ctx, c->busy_timeout_ms);
    return;
  }
  int64_t ms;
  if (hk_arg_int(ctx, argv, 0, fn, "ms", &ms)) return;
  if (hk_check_range(ctx, fn, "ms", ms, 0, 3600000)) return;
  c->busy_timeout_ms = (int)ms;
  int rc = ms > 0 ? sqlite3_busy_handler(c->db, busy_handler, c)
                  : sqlite3_busy_handler(c->db, NULL, NULL);
  if (rc != SQLITE_OK) {
    hk_sql_error(ctx, fn, c->db, rc);
    return;
  }
  sqlite3_result_int(ctx, 1);
}

int hk_register_busy(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_busy_timeout", 1, busy_timeout_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_busy_timeout", 0, busy_timeout_fn);
  return rc;
}
