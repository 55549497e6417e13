/*
 * Smoke harness for a prebuilt extension: links SQLite's amalgamation,
 * loads the library with sqlite3_load_extension and runs a small SQL suite
 * through the extension's main areas, checking every result.
 *
 *   harness <path-to-honker-library> <database-file>
 *
 * Prints "ok <n> checks" and exits 0, or prints the first mismatch and exits 1.
 * Built per target by harness.mjs and run natively, under qemu or under Wine.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite3.h"

/* One statement, its single expected value as text, or the expected error. */
typedef struct {
  const char *sql;
  const char *want;  /* expected text of the first column of the first row */
  int want_error;    /* 1: the statement must fail with message `want` */
} check;

static const check CHECKS[] = {
    {"SELECT honker_bootstrap()", "1", 0},
    {"SELECT length(honker_x_version()) > 0", "1", 0},
    {"SELECT honker_enqueue('ship', '{\"order\":7}', NULL, NULL, 0, 3, NULL)", "1", 0},
    {"SELECT json_extract(honker_claim_batch('ship', 'w1', 10, 30), '$[0].payload')",
     "{\"order\":7}", 0},
    {"SELECT honker_claim_batch('ship', 'w1', 10, 30)", "[]", 0},
    {"SELECT honker_ack(1, 'w1')", "1", 0},
    {"SELECT honker_get_job(1)", "", 0},
    {"SELECT honker_stream_publish('activity', 'k', '{\"s\":1}')", "1", 0},
    {"SELECT json_extract(honker_stream_read_since('activity', 0, 10), '$[0].payload')",
     "{\"s\":1}", 0},
    {"SELECT honker_stream_save_offset('c1', 'activity', 1)", "1", 0},
    {"SELECT honker_stream_get_offset('c1', 'activity')", "1", 0},
    {"SELECT notify('orders', '{\"id\":1}')", "1", 0},
    {"SELECT channel || ' ' || payload FROM _honker_notifications WHERE id = 1",
     "orders {\"id\":1}", 0},
    {"SELECT honker_cron_next_after('0 * * * *', 1700000000)", "1700002800", 0},
    {"SELECT honker_cron_next_after('@every 5m', 1000)", "1300", 0},
    {"SELECT honker_claim_batch('ship', 'w1', -1, 30)",
     "honker_claim_batch: n must be between 0 and 10000, got -1", 1},
    {"SELECT honker_enqueue('ship', 'not json', NULL, NULL, 0, 3, NULL)",
     "honker_enqueue: argument 2 (payload) is not valid JSON text", 1},
};

/* Runs one check; returns 0 when it holds, else prints why and returns 1. */
static int run_check(sqlite3 *db, const check *c) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(db, c->sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  char got[512] = "";
  int failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
  if (failed) {
    snprintf(got, sizeof got, "%s", sqlite3_errmsg(db));
  } else if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
    snprintf(got, sizeof got, "%s", (const char *)sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  if (failed == c->want_error && strcmp(got, c->want) == 0) return 0;
  printf("FAIL: %s\n  want %s: %s\n  got  %s: %s\n", c->sql, c->want_error ? "error" : "value",
         c->want, failed ? "error" : "value", got);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: harness <honker-library> <database-file>\n");
    return 2;
  }
  sqlite3 *db = NULL;
  if (sqlite3_open(argv[2], &db) != SQLITE_OK) {
    printf("FAIL: cannot open %s: %s\n", argv[2], sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_enable_load_extension(db, 1);
  char *err = NULL;
  if (sqlite3_load_extension(db, argv[1], NULL, &err) != SQLITE_OK) {
    printf("FAIL: sqlite3_load_extension(%s): %s\n", argv[1], err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
    return 1;
  }
  int n = (int)(sizeof CHECKS / sizeof CHECKS[0]);
  for (int i = 0; i < n; i++) {
    if (run_check(db, &CHECKS[i])) {
      sqlite3_close(db);
      return 1;
    }
  }
  sqlite3_close(db);
  printf("ok %d checks (SQLite %s)\n", n, sqlite3_libversion());
  return 0;
}
