/*
 * libFuzzer target for the schedule parser and next-time search in
 * native/cron.c: hk_cron_parse, hk_cron_next, hk_cron_free.
 *
 * The input bytes become a NUL-terminated string in a heap block of exactly
 * size + 1 bytes, so AddressSanitizer reports a read past the terminator.
 * Checks, for every input:
 *
 *  1. A failed parse returns NULL with a non-empty, terminated message; a
 *     parse with no message buffer (NULL, 0) or with a tiny heap buffer
 *     agrees with the normal one and never writes past the buffer.
 *  2. For a parsed schedule, in a few time zones (fixed and with daylight
 *     saving, including a 30-minute shift) and from a few fixed start times,
 *     hk_cron_next(c, t) is -1 or strictly greater than t.
 *  3. For a calendar schedule (not @every), if u = next(t) and u - 1 is
 *     still a supported start (<= HK_MAX_UNIX, 9999-12-31), then
 *     next(u - 1) == u: the search does not skip a fire time it reports.
 *
 * Build: see scripts/fuzz.sh.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "honker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "fuzz_cron: invariant failed: " #cond "\n  ");   \
      fprintf(stderr, __VA_ARGS__);                                     \
      fprintf(stderr, "\n");                                            \
      abort();                                                          \
    }                                                                   \
  } while (0)

/* POSIX TZ strings: no tzdata files needed, same result on every machine. */
static const char *const ZONES[] = {
    "UTC0",
    "EST5EDT,M3.2.0,M11.1.0",           /* US Eastern: 1-hour DST */
    "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", /* Lord Howe: 30-minute DST */
};
#define NZONES (sizeof(ZONES) / sizeof(ZONES[0]))

static const int64_t STARTS[] = {
    0,                  /* 1970-01-01 */
    -1,                 /* one second before the epoch */
    1700000000,         /* 2023-11-14 */
    1710050400,         /* 2024-03-10 06:00 UTC: an hour before a US gap */
    1730605200,         /* 2024-11-03 03:40 UTC: near a US overlap */
    -62135596800LL,     /* 0001-01-01, the smallest supported */
    253402300799LL,     /* 9999-12-31 23:59:59, the largest supported */
};
#define NSTARTS (sizeof(STARTS) / sizeof(STARTS[0]))

static int blank(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* "@every" after leading blanks, case-insensitively: an interval schedule. */
static int is_interval(const char *s) {
  while (blank(*s)) s++;
  static const char word[] = "@every";
  for (size_t i = 0; i < sizeof(word) - 1; i++) {
    char ch = s[i];
    if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    if (ch != word[i]) return 0;
  }
  return 1;
}

static void check_messages(const char *expr, int parsed, size_t size) {
  hk_cron *c = hk_cron_parse(expr, NULL, 0);
  CHECK((c != NULL) == parsed, "parse without a message buffer gave %d, with one %d",
        c != NULL, parsed);
  hk_cron_free(c);

  size_t small = 1 + size % 16;
  char *err = malloc(small);
  if (!err) abort();
  c = hk_cron_parse(expr, err, small);
  CHECK((c != NULL) == parsed, "parse with a %zu-byte buffer gave %d, normal %d", small,
        c != NULL, parsed);
  CHECK(memchr(err, '\0', small) != NULL, "message in a %zu-byte buffer not terminated", small);
  hk_cron_free(c);
  free(err);
}

static void check_next(const hk_cron *c, int interval, const char *expr) {
  for (size_t z = 0; z < NZONES; z++) {
    if (setenv("TZ", ZONES[z], 1) != 0) abort();
    tzset();
    for (size_t k = 0; k < NSTARTS; k++) {
      int64_t t = STARTS[k];
      int64_t u = hk_cron_next(c, t);
      CHECK(u == -1 || u > t, "next(\"%s\", %lld) = %lld in TZ=%s", expr, (long long)t,
            (long long)u, ZONES[z]);
      /* Starts past 9999-12-31 are outside the supported range (-1). */
      if (u == -1 || interval || u - 1 > HK_MAX_UNIX) continue;
      int64_t again = hk_cron_next(c, u - 1);
      CHECK(again == u, "next(\"%s\", %lld) = %lld but next(%lld) = %lld in TZ=%s", expr,
            (long long)t, (long long)u, (long long)(u - 1), (long long)again, ZONES[z]);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0; /* a schedule is one short line */
  char *expr = malloc(size + 1);
  if (!expr) abort();
  if (size) memcpy(expr, data, size);
  expr[size] = '\0';

  char err[256];
  memset(err, 'x', sizeof(err));
  hk_cron *c = hk_cron_parse(expr, err, sizeof(err));
  CHECK(memchr(err, '\0', sizeof(err)) != NULL, "message not terminated");
  if (!c) {
    CHECK(err[0] != '\0', "parse of \"%s\" failed without a message", expr);
  } else {
    check_next(c, is_interval(expr), expr);
  }
  check_messages(expr, c != NULL, size);
  hk_cron_free(c);
  free(expr);
  return 0;
}
