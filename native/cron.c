/*
 * Schedules: a parser for honker's schedule expressions and a search for the
 * next fire time, plus honker_cron_next_after(expr, from_unix).
 *
 * Grammar (the expression is trimmed first):
 *   @every <n><unit>      n a positive integer (at most 9 digits), unit one of
 *                         s, m, h, d. Fires at from + n*unit: not aligned to
 *                         any boundary. Blanks after "@every" are allowed.
 *   @yearly, @annually    0 0 1 1 *
 *   @monthly              0 0 1 * *
 *   @weekly               0 0 * * 0
 *   @daily, @midnight     0 0 * * *
 *   @hourly               0 * * * *
 *   5 fields              minute hour day-of-month month day-of-week (second 0)
 *   6 fields              second minute hour day-of-month month day-of-week
 * Each field is a comma list of parts; a part is `*`, `a` or `a-b`,
 * optionally followed by `/step`. `*` with a step starts at the field's
 * minimum; `a/step` with no range runs from `a` to the field's maximum
 * (Vixie cron and cronie: `1/2` in minutes is 1,3,...,59; in day of week
 * the maximum is 7, Sunday). honker reads `a/step` as just `a`. Months accept
 * JAN-DEC and days of week SUN-SAT, case-insensitively; day of week 7 is
 * Sunday, like 0.
 *
 * Unlike Vixie cron, when both day-of-month and day-of-week are restricted a
 * day must match BOTH (honker's rule): `0 0 13 * 5` fires only on a Friday
 * the 13th, not on every 13th and every Friday. We keep honker's rule on
 * purpose: a task registered by either implementation on a shared file must
 * fire at the same times in both. Write two tasks to get Vixie's OR.
 *
 * Times are searched in the system's local time zone (TZ). A local time that
 * does not exist (skipped by a daylight-saving jump) is skipped; a local time
 * that occurs twice (clocks set back) fires once, at its earlier instant.
 *
 * The search walks the calendar field by field (jumping to the next
 * matching month, day, hour, minute, second) and every loop is bounded, so
 * even an expression that never matches (`0 0 31 2 *`) costs microseconds.
 * The parser takes untrusted text and is fuzzed: it never reads past the
 * terminating NUL, rejects numbers longer than 9 digits and never overflows.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "honker.h"

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

typedef struct field_info {
  const char *label;
  int lo, hi; /* accepted values; day of week also takes 7 (Sunday) */
} field_info;

static const field_info FIELDS[F_COUNT] = {
    {"second", 0, 59},       {"minute", 0, 59}, {"hour", 0, 23},
    {"day of month", 1, 31}, {"month", 1, 12},  {"day of week", 0, 7},
};

static const char *const MONTH_NAMES[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const DAY_NAMES[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct hk_cron {
  int every;        /* 1: @every interval */
  int64_t every_s;  /* interval in seconds when `every` */
  uint64_t mask[F_COUNT]; /* bit v set when value v matches (day of week 0-6) */
};

/* Longest accepted number: 9 digits always fits in an int. */
#define HK_CRON_MAX_DIGITS 9
/* How far the search looks before giving up, in years. */
#define HK_CRON_HORIZON_YEARS 100
/* Safety net on the search loop; a real search needs a few thousand steps. */
#define HK_CRON_MAX_STEPS 500000L
/* Supported `from` range: 0001-01-01 to 9999-12-31 (UTC). */
#define HK_CRON_MIN_T (-62135596800LL)
#define HK_CRON_MAX_T 253402300799LL

/* ---- parsing ------------------------------------------------------------- */

static int is_blank(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static char upper(char ch) { return (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch; }

/* Case-insensitive comparison of s[0..n) with the NUL-terminated word. */
static int same_word(const char *s, size_t n, const char *word) {
  size_t wn = strlen(word);
  if (n != wn) return 0;
  for (size_t i = 0; i < n; i++) {
    if (upper(s[i]) != upper(word[i])) return 0;
  }
  return 1;
}

/* Quoted text in messages is cut at this many bytes. */
#define QUOTE_MAX 80
static int qlen(size_t n) { return n > QUOTE_MAX ? QUOTE_MAX : (int)n; }

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Parses s[0..n) as a 1-9 digit number. Returns 1 and *out, 0 if it is not
 * digits only, -1 if it has too many digits. */
static int parse_digits(const char *s, size_t n, int *out) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i])) return 0;
  }
  if (n > HK_CRON_MAX_DIGITS) return -1;
  int v = 0;
  for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  *out = v;
  return 1;
}

/* One value of a range: a number or, for month / day of week, a name. */
static int parse_value(int f, const char *part, size_t part_n, const char *s, size_t n, int *out,
                       int *was_name, char *err, size_t errlen) {
  *was_name = 0;
  if (n == 0) {
    set_err(err, errlen, "cron field \"%.*s\" (%s): missing value", qlen(part_n), part,
            FIELDS[f].label);
    return 0;
  }
  int r = parse_digits(s, n, out);
  if (r < 0) {
    set_err(err, errlen, "cron field \"%.*s\" (%s): number \"%.*s\" has too many digits",
            qlen(part_n), part, FIELDS[f].label, qlen(n), s);
    return 0;
  }
  if (r == 0) {
    if (f == F_MON) {
      for (int i = 0; i < 12; i++) {
        if (same_word(s, n, MONTH_NAMES[i])) {
          *out = i + 1;
          *was_name = 1;
          return 1;
        }
      }
      set_err(err, errlen,
              "cron field \"%.*s\" (month): \"%.*s\" is neither a number nor a month name "
              "(JAN-DEC)",
              qlen(part_n), part, qlen(n), s);
      return 0;
    }
    if (f == F_DOW) {
      for (int i = 0; i < 7; i++) {
        if (same_word(s, n, DAY_NAMES[i])) {
          *out = i;
          *was_name = 1;
          return 1;
        }
      }
      set_err(err, errlen,
              "cron field \"%.*s\" (day of week): \"%.*s\" is neither a number nor a day name "
              "(SUN-SAT)",
              qlen(part_n), part, qlen(n), s);
      return 0;
    }
    set_err(err, errlen, "cron field \"%.*s\" (%s): \"%.*s\" is not an integer", qlen(part_n),
            part, FIELDS[f].label, qlen(n), s);
    return 0;
  }
  return 1;
}

/* One comma-separated part: `*`, `a`, `a-b`, each with an optional /step. */
static int parse_part(hk_cron *c, int f, const char *p, size_t n, char *err, size_t errlen) {
  const field_info *fi = &FIELDS[f];
  if (n == 0) {
    set_err(err, errlen, "cron field (%s) has an empty list element", fi->label);
    return 0;
  }
  size_t base_n = n;
  int step = 1;
  const char *slash = memchr(p, '/', n);
  if (slash) {
    base_n = (size_t)(slash - p);
    const char *st = slash + 1;
    size_t st_n = n - base_n - 1;
    int r = parse_digits(st, st_n, &step);
    if (r <= 0) {
      set_err(err, errlen, "cron step must be a positive integer (at most %d digits): \"%.*s\"",
              HK_CRON_MAX_DIGITS, qlen(n), p);
      return 0;
    }
    if (step == 0) {
      set_err(err, errlen, "cron step must be positive: \"%.*s\"", qlen(n), p);
      return 0;
    }
  }
  int lo, hi;
  if (base_n == 1 && p[0] == '*') {
    lo = fi->lo;
    hi = f == F_DOW ? 6 : fi->hi; /* 7 is Sunday again */
  } else {
    const char *dash = memchr(p, '-', base_n);
    int name_lo = 0, name_hi = 0;
    if (dash) {
      size_t a_n = (size_t)(dash - p);
      if (!parse_value(f, p, n, p, a_n, &lo, &name_lo, err, errlen)) return 0;
      if (!parse_value(f, p, n, dash + 1, base_n - a_n - 1, &hi, &name_hi, err, errlen))
        return 0;
      /* "FRI-SUN": a range ending on the name SUN means up to Sunday (7). */
      if (f == F_DOW && name_hi && hi == 0 && lo > 0) hi = 7;
    } else {
      if (!parse_value(f, p, n, p, base_n, &lo, &name_lo, err, errlen)) return 0;
      hi = slash ? fi->hi : lo; /* `a/step`: from a to the field's maximum */
    }
    if (lo < fi->lo || hi > fi->hi || lo > hi) {
      set_err(err, errlen, "cron field \"%.*s\" (%s) out of range [%d,%d] or inverted", qlen(n),
              p, fi->label, fi->lo, fi->hi);
      return 0;
    }
  }
  /* lo, hi <= 59 and step <= 999999999: v + step cannot overflow an int. */
  for (int v = lo; v <= hi; v += step) {
    int bit = (f == F_DOW && v == 7) ? 0 : v;
    c->mask[f] |= (uint64_t)1 << bit;
  }
  return 1;
}

static int parse_field(hk_cron *c, int f, const char *s, size_t n, char *err, size_t errlen) {
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == ',') {
      if (!parse_part(c, f, s + start, i - start, err, errlen)) return 0;
      start = i + 1;
    }
  }
  return c->mask[f] != 0;
}

/* Splits s[0..n) on blanks into 5 or 6 fields. */
static int parse_fields(hk_cron *c, const char *s, size_t n, char *err, size_t errlen) {
  const char *tok[6];
  size_t tok_n[6];
  int count = 0;
  size_t i = 0;
  while (i < n) {
    while (i < n && is_blank(s[i])) i++;
    if (i >= n) break;
    size_t start = i;
    while (i < n && !is_blank(s[i])) i++;
    if (count < 6) {
      tok[count] = s + start;
      tok_n[count] = i - start;
    }
    if (count < 1000) count++;
  }
  if (count != 5 && count != 6) {
    set_err(err, errlen,
            "schedule expression requires 5 or 6 cron fields, a macro such as @daily, or "
            "'@every <n><unit>'; got %d: \"%.*s\"",
            count, qlen(n), s);
    return 0;
  }
  int first = 0;
  if (count == 5) {
    c->mask[F_SEC] = 1; /* second 0 */
    first = F_MIN;
  }
  for (int k = 0; k < count; k++) {
    if (!parse_field(c, first + k, tok[k], tok_n[k], err, errlen)) return 0;
  }
  return 1;
}

static int parse_every(hk_cron *c, const char *s, size_t n, char *err, size_t errlen) {
  while (n > 0 && is_blank(*s)) {
    s++;
    n--;
  }
  if (n == 0) {
    set_err(err, errlen, "interval expression must be '@every <n><unit>'");
    return 0;
  }
  size_t digits = 0;
  while (digits < n && is_digit(s[digits])) digits++;
  if (digits == 0 || n - digits != 1) {
    set_err(err, errlen, "interval expression must be '@every <n><unit>'; got \"%.*s\"", qlen(n),
            s);
    return 0;
  }
  int64_t unit;
  switch (s[digits]) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      set_err(err, errlen, "unsupported interval unit \"%c\"; expected one of s, m, h, d",
              s[digits]);
      return 0;
  }
  int count = 0;
  if (parse_digits(s, digits, &count) < 0) {
    set_err(err, errlen, "interval count is too large (at most %d digits): \"%.*s\"",
            HK_CRON_MAX_DIGITS, qlen(n), s);
    return 0;
  }
  if (count <= 0) {
    set_err(err, errlen, "interval count must be positive: \"%.*s\"", qlen(n), s);
    return 0;
  }
  c->every = 1;
  c->every_s = (int64_t)count * unit; /* < 10^9 * 86400: no overflow */
  return 1;
}

typedef struct macro {
  const char *name;
  const char *expr;
} macro;

static const macro MACROS[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

hk_cron *hk_cron_parse(const char *expr, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!expr) {
    set_err(err, errlen, "schedule expression is NULL");
    return NULL;
  }
  const char *s = expr;
  size_t n = strlen(expr);
  while (n > 0 && is_blank(*s)) {
    s++;
    n--;
  }
  while (n > 0 && is_blank(s[n - 1])) n--;
  if (n == 0) {
    set_err(err, errlen, "schedule expression is empty");
    return NULL;
  }
  hk_cron *c = malloc(sizeof(*c));
  if (!c) {
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  memset(c, 0, sizeof(*c));
  int ok;
  if (s[0] == '@') {
    static const char every[] = "@every";
    size_t en = sizeof(every) - 1;
    if (n >= en && same_word(s, en, every)) {
      ok = parse_every(c, s + en, n - en, err, errlen);
    } else {
      const char *m = NULL;
      for (size_t i = 0; i < sizeof(MACROS) / sizeof(MACROS[0]); i++) {
        if (same_word(s, n, MACROS[i].name)) m = MACROS[i].expr;
      }
      if (m) {
        ok = parse_fields(c, m, strlen(m), err, errlen);
      } else {
        set_err(err, errlen,
                "unsupported schedule macro \"%.*s\"; expected @yearly, @annually, @monthly, "
                "@weekly, @daily, @midnight, @hourly or '@every <n><unit>'",
                qlen(n), s);
        ok = 0;
      }
    }
  } else {
    ok = parse_fields(c, s, n, err, errlen);
  }
  if (!ok) {
    if (err && errlen && err[0] == '\0') set_err(err, errlen, "invalid schedule expression");
    free(c);
    return NULL;
  }
  return c;
}

void hk_cron_free(hk_cron *c) { free(c); }

/* ---- calendar arithmetic ------------------------------------------------- */

typedef struct civil {
  int64_t y;
  int mo, d, h, mi, s;
} civil;

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return (m == 2 && is_leap(y)) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int weekday(const civil *cv) {
  int64_t w = (days_from_civil(cv->y, cv->mo, cv->d) + 4) % 7; /* 1970-01-01: Thursday */
  return (int)(w < 0 ? w + 7 : w);
}

/* The civil time read as if it were UTC. */
static int64_t civil_seconds(const civil *cv) {
  return days_from_civil(cv->y, cv->mo, cv->d) * 86400 + cv->h * 3600 + cv->mi * 60 + cv->s;
}

static void refresh_zone(void) {
#ifdef _WIN32
  _tzset();
#else
  tzset();
#endif
}

/* Local civil time of unix second u. */
static int to_local(int64_t u, civil *out) {
  time_t t = (time_t)u;
  if ((int64_t)t != u) return 0;
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
#ifdef _WIN32
  if (localtime_s(&tm, &t) != 0) return 0;
#else
  if (!localtime_r(&t, &tm)) return 0;
#endif
  out->y = (int64_t)tm.tm_year + 1900;
  out->mo = tm.tm_mon + 1;
  out->d = tm.tm_mday;
  out->h = tm.tm_hour;
  out->mi = tm.tm_min;
  out->s = tm.tm_sec > 59 ? 59 : tm.tm_sec; /* no leap seconds here */
  if (out->mo < 1 || out->mo > 12 || out->d < 1 || out->d > 31 || out->h < 0 || out->h > 23 ||
      out->mi < 0 || out->mi > 59 || out->s < 0)
    return 0;
  return 1;
}

/* Local UTC offset in seconds at unix second u. */
static int offset_at(int64_t u, int64_t *off) {
  civil cv;
  if (!to_local(u, &cv)) return 0;
  *off = civil_seconds(&cv) - u;
  return 1;
}

/*
 * Maps a local civil time to unix seconds without mktime (whose handling of
 * ambiguous times and tm_isdst differs between C libraries). Candidate
 * offsets are the zone's offsets a day before, at, and a day after; a
 * candidate u is real when the offset at u is the one that produced it.
 * Returns 1 with the earliest real instant, 0 for a nonexistent time with
 * *out = the first instant after the gap (or -1 if unknown), -1 on failure.
 */
static int resolve(const civil *cv, int64_t *out) {
  int64_t g = civil_seconds(cv);
  int64_t probes[3] = {g - 86400, g, g + 86400};
  int64_t offs[3];
  int n = 0;
  for (int i = 0; i < 3; i++) {
    int64_t o;
    if (!offset_at(probes[i], &o)) return -1;
    int dup = 0;
    for (int k = 0; k < n; k++) dup |= offs[k] == o;
    if (!dup) offs[n++] = o;
  }
  int found = 0;
  int64_t best = 0;
  for (int i = 0; i < n; i++) {
    int64_t u = g - offs[i], o;
    if (!offset_at(u, &o)) return -1;
    if (o == offs[i] && (!found || u < best)) {
      best = u;
      found = 1;
    }
  }
  if (found) {
    *out = best;
    return 1;
  }
  /* A gap: clocks jumped from offset `before` to a larger `after`. The
   * first instant past the gap is the transition itself; find it by
   * bisection on "local time at u is later than g". */
  *out = -1;
  int64_t before, after;
  if (!offset_at(g - 86400, &before) || !offset_at(g + 86400, &after)) return -1;
  if (after <= before) return 0;
  int64_t lo = g - after, hi = g - before, o;
  if (!offset_at(hi, &o) || hi + o <= g) return 0;
  for (int i = 0; i < 64 && hi - lo > 1; i++) {
    int64_t mid = lo + (hi - lo) / 2;
    if (!offset_at(mid, &o)) return -1;
    if (mid + o > g) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  *out = hi;
  return 0;
}

enum { LV_SEC, LV_MIN, LV_HOUR, LV_DAY, LV_MONTH };

/* Moves to the start of the next second/minute/hour/day/month. */
static void bump(civil *cv, int level) {
  if (level <= LV_SEC && ++cv->s < 60) return;
  cv->s = 0;
  if (level <= LV_MIN && ++cv->mi < 60) return;
  cv->mi = 0;
  if (level <= LV_HOUR && ++cv->h < 24) return;
  cv->h = 0;
  if (level <= LV_DAY && ++cv->d <= days_in_month(cv->y, cv->mo)) return;
  cv->d = 1;
  if (++cv->mo <= 12) return;
  cv->mo = 1;
  cv->y++;
}

/* Smallest v in [from, hi] whose bit is set, or -1. */
static int next_bit(uint64_t mask, int from, int hi) {
  for (int v = from; v <= hi && v < 64; v++) {
    if ((mask >> v) & 1) return v;
  }
  return -1;
}

static int has(const hk_cron *c, int f, int v) { return (int)((c->mask[f] >> v) & 1); }

int64_t hk_cron_next(const hk_cron *c, int64_t after) {
  if (!c) return -1;
  if (c->every) {
    if (after > INT64_MAX - c->every_s) return -1;
    return after + c->every_s;
  }
  if (after < HK_CRON_MIN_T || after > HK_CRON_MAX_T) return -1;
  refresh_zone();
  civil cv;
  if (!to_local(after + 1, &cv)) return -1;
  const int64_t last_year = cv.y + HK_CRON_HORIZON_YEARS;
  for (long step = 0; step < HK_CRON_MAX_STEPS; step++) {
    if (cv.y > last_year) return -1;
    if (!has(c, F_MON, cv.mo)) {
      int m = next_bit(c->mask[F_MON], cv.mo + 1, 12);
      if (m < 0) {
        cv.y++;
        m = next_bit(c->mask[F_MON], 1, 12);
        if (m < 0) return -1;
      }
      cv.mo = m;
      cv.d = 1;
      cv.h = cv.mi = cv.s = 0;
      continue;
    }
    int dim = days_in_month(cv.y, cv.mo);
    if (cv.d > dim) {
      bump(&cv, LV_MONTH);
      continue;
    }
    if (!has(c, F_DOM, cv.d)) {
      int d = next_bit(c->mask[F_DOM], cv.d + 1, dim);
      if (d < 0) {
        bump(&cv, LV_MONTH);
      } else {
        cv.d = d;
        cv.h = cv.mi = cv.s = 0;
      }
      continue;
    }
    if (!has(c, F_DOW, weekday(&cv))) {
      bump(&cv, LV_DAY);
      continue;
    }
    if (!has(c, F_HOUR, cv.h)) {
      int h = next_bit(c->mask[F_HOUR], cv.h + 1, 23);
      if (h < 0) {
        bump(&cv, LV_DAY);
      } else {
        cv.h = h;
        cv.mi = cv.s = 0;
      }
      continue;
    }
    if (!has(c, F_MIN, cv.mi)) {
      int mi = next_bit(c->mask[F_MIN], cv.mi + 1, 59);
      if (mi < 0) {
        bump(&cv, LV_HOUR);
      } else {
        cv.mi = mi;
        cv.s = 0;
      }
      continue;
    }
    if (!has(c, F_SEC, cv.s)) {
      int s = next_bit(c->mask[F_SEC], cv.s + 1, 59);
      if (s < 0) {
        bump(&cv, LV_MIN);
      } else {
        cv.s = s;
      }
      continue;
    }
    int64_t u;
    int r = resolve(&cv, &u);
    if (r < 0) return -1;
    if (r == 1) {
      /* A repeated local time whose first instant is not after `after`
       * has already had its one fire. */
      if (u > after) return u;
      bump(&cv, LV_SEC);
    } else if (u > after) {
      /* Nonexistent local time: continue from the end of the gap. */
      civil next;
      if (!to_local(u, &next) || civil_seconds(&next) <= civil_seconds(&cv)) {
        bump(&cv, LV_SEC);
      } else {
        cv = next;
      }
    } else {
      bump(&cv, LV_SEC);
    }
  }
  return -1;
}

/* ---- SQL: honker_cron_next_after(expr, from_unix) ------------------------ */

static void cron_free_cb(void *p) { hk_cron_free(p); }

static void cron_next_after_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *fn = "honker_cron_next_after";
  (void)argc;
  const char *expr;
  int len = 0;
  int64_t from;
  if (hk_arg_text(ctx, argv, 0, fn, "expr", &expr, &len)) return;
  if (hk_arg_int(ctx, argv, 1, fn, "from_unix", &from)) return;
  if (strlen(expr) != (size_t)len) {
    hk_error(ctx, "%s: argument 1 (expr) contains a NUL character", fn);
    return;
  }
  if (hk_check_range(ctx, fn, "argument 2 (from_unix)", from, HK_CRON_MIN_T, HK_CRON_MAX_T))
    return;
  /* The parsed form is kept while expr stays the same (a constant). */
  hk_cron *c = sqlite3_get_auxdata(ctx, 0);
  int fresh = 0;
  if (!c) {
    char err[256];
    c = hk_cron_parse(expr, err, sizeof(err));
    if (!c) {
      hk_error(ctx, "%s: argument 1 (expr) is not a valid schedule: %s", fn, err);
      return;
    }
    fresh = 1;
  }
  int64_t next = hk_cron_next(c, from);
  if (next == -1) {
    civil cv;
    if (to_local(from, &cv)) {
      hk_error(ctx,
               "%s: no schedule match found within %d years after local datetime "
               "%04lld-%02d-%02dT%02d:%02d:%02d for argument 1 (expr) \"%s\"",
               fn, HK_CRON_HORIZON_YEARS, (long long)cv.y, cv.mo, cv.d, cv.h, cv.mi, cv.s,
               expr);
    } else {
      hk_error(ctx, "%s: no schedule match found within %d years after %lld for argument 1 "
               "(expr) \"%s\"", fn, HK_CRON_HORIZON_YEARS, (long long)from, expr);
    }
  } else {
    sqlite3_result_int64(ctx, next);
  }
  /* SQLite may free the data at once, so this comes after its last use. */
  if (fresh) sqlite3_set_auxdata(ctx, 0, c, cron_free_cb);
}

int hk_register_cron(sqlite3 *db, hk_conn *c) {
  return sqlite3_create_function_v2(db, "honker_cron_next_after", 2,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC, c, cron_next_after_fn,
                                    NULL, NULL, NULL);
}
