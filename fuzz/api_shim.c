/*
 * A stand-in for the SQLite host, so that json.c and cron.c can run inside a
 * libFuzzer binary without linking SQLite.
 *
 * The extension calls SQLite through the `sqlite3_api` routine table (see
 * sqlite3ext.h). This file defines that pointer and fills the slots the
 * fuzzed code really reaches:
 *
 *   json.c  free, realloc64, xsnprintf ("%lld", "%!.17g")
 *   cron.c  none on the parse / next-time path (it uses malloc and free)
 *
 * (check with: clang -E ... native/json.c | grep -o 'sqlite3_api->[a-z0-9_]*')
 * plus malloc, malloc64, realloc, msize, mprintf, vmprintf and xvsnprintf for
 * safety. Every other slot stays NULL: the targets never touch a database,
 * so reaching one is a bug in the harness and crashes loudly.
 *
 * The allocator forwards to the C library so that AddressSanitizer and
 * LeakSanitizer see every allocation the extension makes.
 *
 * Helpers from other extension files that json.c / cron.c reference only from
 * their SQL-function wrappers (never from the parsers) are provided as weak
 * stubs that abort, so the fuzzers link with just json.c + cron.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3ext.h"

/* ---- allocator ----------------------------------------------------------- */

static void *shim_malloc(int n) { return n > 0 ? malloc((size_t)n) : NULL; }

static void *shim_malloc64(sqlite3_uint64 n) {
  if (n == 0 || n > (sqlite3_uint64)0x7fffff00) return NULL; /* SQLite's cap */
  return malloc((size_t)n);
}

static void *shim_realloc(void *p, int n) {
  if (n <= 0) {
    free(p);
    return NULL;
  }
  return realloc(p, (size_t)n);
}

static void *shim_realloc64(void *p, sqlite3_uint64 n) {
  if (n == 0) {
    free(p);
    return NULL;
  }
  if (n > (sqlite3_uint64)0x7fffff00) return NULL;
  return realloc(p, (size_t)n);
}

static void shim_free(void *p) { free(p); }

static sqlite3_uint64 shim_msize(void *p) {
  (void)p;
  return 0; /* unknown; nothing in the fuzzed code asks */
}

/* ---- printf family ------------------------------------------------------- */

/*
 * Rewrites a SQLite printf format into a C one: the SQLite-only "alternate
 * form 2" flag `!` (as in "%!.17g") is dropped. SQLite's own conversions
 * (%q %Q %w %z %T %S %r) have no C equivalent; meeting one aborts, because
 * the harness would otherwise print something different from SQLite.
 * Returns a malloc'ed string.
 */
static char *c_format(const char *fmt) {
  size_t n = strlen(fmt);
  char *out = malloc(n + 1);
  if (!out) abort();
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    out[o++] = fmt[i];
    if (fmt[i] != '%') continue;
    if (fmt[i + 1] == '%') {
      out[o++] = fmt[++i];
      continue;
    }
    /* flags, width, precision, length, then the conversion letter */
    size_t j = i + 1;
    while (fmt[j] && strchr("-+ #0!", fmt[j])) {
      if (fmt[j] != '!') out[o++] = fmt[j];
      j++;
    }
    while (fmt[j] && strchr("0123456789.*hlLjt", fmt[j])) out[o++] = fmt[j++];
    /* `z` is C's size_t length modifier before an integer conversion, and
     * SQLite's "free the string after use" conversion otherwise. */
    if (fmt[j] == 'z' && fmt[j + 1] && strchr("diouxX", fmt[j + 1])) out[o++] = fmt[j++];
    if (!fmt[j]) break;
    if (strchr("qQwzTSr", fmt[j])) {
      fprintf(stderr, "api_shim: SQLite-only conversion %%%c in \"%s\"\n", fmt[j], fmt);
      abort();
    }
    out[o++] = fmt[j];
    i = j;
  }
  out[o] = '\0';
  return out;
}

static char *shim_vsnprintf(int n, char *buf, const char *fmt, va_list ap) {
  if (n <= 0) return buf; /* SQLite writes nothing then */
  char *f = c_format(fmt);
  vsnprintf(buf, (size_t)n, f, ap);
  free(f);
  return buf;
}

static char *shim_snprintf(int n, char *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  shim_vsnprintf(n, buf, fmt, ap);
  va_end(ap);
  return buf;
}

static char *shim_vmprintf(const char *fmt, va_list ap) {
  char *f = c_format(fmt);
  va_list again;
  va_copy(again, ap);
  int len = vsnprintf(NULL, 0, f, ap);
  char *out = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (out) vsnprintf(out, (size_t)len + 1, f, again);
  va_end(again);
  free(f);
  return out;
}

static char *shim_mprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = shim_vmprintf(fmt, ap);
  va_end(ap);
  return out;
}

/* ---- the routine table --------------------------------------------------- */

static const sqlite3_api_routines shim_api = {
    .free = shim_free,
    .malloc = shim_malloc,
    .realloc = shim_realloc,
    .malloc64 = shim_malloc64,
    .realloc64 = shim_realloc64,
    .msize = shim_msize,
    .xsnprintf = shim_snprintf,
    .xvsnprintf = shim_vsnprintf,
    .mprintf = shim_mprintf,
    .vmprintf = shim_vmprintf,
};

const sqlite3_api_routines *sqlite3_api = &shim_api;

/* ---- weak stubs for helpers defined in files the fuzzers do not build ---- */

#define HK_SHIM_STUB(name)                                                         \
  __attribute__((weak, noreturn)) void name(void);                                 \
  __attribute__((weak, noreturn)) void name(void) {                                \
    fprintf(stderr, "api_shim: %s reached; the fuzz harness does not provide it\n", \
            #name);                                                                \
    abort();                                                                       \
  }

/* args.c: used by the SQL wrappers in cron.c, never by the parser. The
 * stubs are declared without the real parameter lists (this file does not
 * include honker.h): only the symbol name matters for linking, and reaching
 * one aborts before any argument is read. */
HK_SHIM_STUB(hk_arg_text)
HK_SHIM_STUB(hk_arg_text_or_null)
HK_SHIM_STUB(hk_arg_int)
HK_SHIM_STUB(hk_arg_int_or_null)
HK_SHIM_STUB(hk_arg_json)
HK_SHIM_STUB(hk_arg_json_or_null)
HK_SHIM_STUB(hk_check_range)
HK_SHIM_STUB(hk_error)
HK_SHIM_STUB(hk_sql_error)
HK_SHIM_STUB(hk_now)
