/*
 * libFuzzer target for the untrusted-input JSON code in native/json.c:
 * hk_json_valid, hk_json_int_array and hk_buf_json_string.
 *
 * The input is passed with its exact length and no terminating NUL, so
 * AddressSanitizer reports any read past the end. Besides memory safety it
 * checks invariants that hold for every input:
 *
 *  1. Surrounding a document with JSON whitespace never changes whether it
 *     is valid.
 *  2. When hk_json_int_array accepts the input, writing the ids back out as
 *     "[a,b,...]" gives valid JSON that parses to the same ids.
 *  3. hk_buf_json_string(input) is valid JSON exactly when the input is
 *     well-formed UTF-8 (checked by an independent decoder below), because
 *     the escaper passes bytes >= 0x80 through and the validator checks them.
 *  4. Whatever hk_json_int_array returns is freed (LeakSanitizer checks).
 *
 * Build: see scripts/fuzz.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "honker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                       \
  do {                                                         \
    if (!(cond)) {                                             \
      fprintf(stderr, "fuzz_json: invariant failed: " #cond "\n  "); \
      fprintf(stderr, __VA_ARGS__);                            \
      fprintf(stderr, "\n");                                   \
      abort();                                                 \
    }                                                          \
  } while (0)

/* Independent UTF-8 check (RFC 3629): no overlongs, no surrogates, at most
 * U+10FFFF. Written as a table of valid second-byte ranges. */
static int utf8_ok(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = s[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b == 0xE0) {
      len = 3;
      lo = 0xA0;
    } else if (b == 0xED) {
      len = 3;
      hi = 0x9F;
    } else if (b >= 0xE1 && b <= 0xEF) {
      len = 3;
    } else if (b == 0xF0) {
      len = 4;
      lo = 0x90;
    } else if (b == 0xF4) {
      len = 4;
      hi = 0x8F;
    } else if (b >= 0xF1 && b <= 0xF3) {
      len = 4;
    } else {
      return 0;
    }
    if (n - i < len) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k < len; k++) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
    }
    i += len;
  }
  return 1;
}

/* A private heap copy of exactly n bytes, so ASan guards both ends. */
static char *copy_exact(const char *s, size_t n) {
  char *p = malloc(n ? n : 1);
  if (!p) abort();
  if (n) memcpy(p, s, n);
  return p;
}

static void check_whitespace(const char *s, size_t n, int valid) {
  static const char pre[] = " \t\n\r";
  static const char post[] = "\r\n\t ";
  size_t pn = sizeof(pre) - 1, qn = sizeof(post) - 1;
  size_t tn = pn + n + qn;
  char *t = malloc(tn);
  if (!t) abort();
  memcpy(t, pre, pn);
  if (n) memcpy(t + pn, s, n);
  memcpy(t + pn + n, post, qn);
  int wrapped = hk_json_valid(t, tn);
  free(t);
  CHECK(wrapped == valid, "valid=%d but with whitespace around it valid=%d (%zu bytes)", valid,
        wrapped, n);
}

static void check_int_array(const char *s, size_t n) {
  int64_t *ids = (int64_t *)0x1; /* must be overwritten */
  const char *err = NULL;
  int count = hk_json_int_array(s, n, &ids, &err);
  if (count < 0) {
    CHECK(ids == NULL, "failed parse left *out=%p", (void *)ids);
    CHECK(err != NULL && err[0] != '\0', "failed parse without a message");
    return;
  }
  CHECK(count <= HK_MAX_BATCH, "count %d above HK_MAX_BATCH", count);
  CHECK(count == 0 || ids != NULL, "count %d with NULL array", count);

  /* Round trip through the output buffer: exercises hk_buf_* and the
   * shim's sqlite3_snprintf("%lld"). */
  hk_buf b;
  hk_buf_init(&b);
  hk_buf_putc(&b, '[');
  for (int i = 0; i < count; i++) {
    if (i) hk_buf_putc(&b, ',');
    hk_buf_int(&b, ids[i]);
  }
  hk_buf_putc(&b, ']');
  CHECK(!b.oom, "output buffer ran out of memory");
  CHECK(b.data && b.len == strlen(b.data), "buffer length %zu disagrees with its text", b.len);
  CHECK(hk_json_valid(b.data, b.len), "re-serialised ids are not valid JSON: %s", b.data);

  int64_t *again = NULL;
  const char *err2 = NULL;
  int count2 = hk_json_int_array(b.data, b.len, &again, &err2);
  CHECK(count2 == count, "re-parse gave %d ids, first parse %d (%s)", count2, count,
        err2 ? err2 : "");
  for (int i = 0; i < count; i++) {
    CHECK(again[i] == ids[i], "id %d changed from %lld to %lld", i, (long long)ids[i],
          (long long)again[i]);
  }
  sqlite3_free(again);
  hk_buf_free(&b);
  sqlite3_free(ids);
}

static void check_string_escape(const char *s, size_t n) {
  hk_buf b;
  hk_buf_init(&b);
  hk_buf_json_string(&b, s, n);
  CHECK(!b.oom, "output buffer ran out of memory");
  CHECK(b.data != NULL && b.len >= n + 2, "escaped %zu bytes into %zu", n, b.len);
  CHECK(b.data[0] == '"' && b.data[b.len - 1] == '"', "escaped string is not quoted");
  int ok = utf8_ok((const uint8_t *)s, n);
  int valid = hk_json_valid(b.data, b.len);
  CHECK(valid == ok, "escaped string valid=%d but input utf8_ok=%d", valid, ok);
  hk_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;

  int valid = hk_json_valid(s, size);
  check_whitespace(s, size, valid);
  check_int_array(s, size);

  /* The escaper grows its buffer as it goes; keep the input it sees small
   * enough that the check stays cheap. */
  if (size <= 4096) {
    char *c = copy_exact(s, size);
    check_string_escape(c, size);
    free(c);
  }
  return 0;
}
