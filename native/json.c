/*
 * JSON: a growable output buffer, string escaping, a strict validator for
 * payloads (RFC 8259, any top-level value) and a parser for arrays of ids.
 * The validator and the id parser take untrusted input and are fuzzed
 * (fuzz/).
 */
#include <string.h>

#include "honker.h"

#define HK_JSON_MAX_DEPTH 512

void hk_buf_init(hk_buf *b) { memset(b, 0, sizeof(*b)); }

void hk_buf_free(hk_buf *b) {
  sqlite3_free(b->data);
  hk_buf_init(b);
}

static int grow(hk_buf *b, size_t extra) {
  if (b->oom) return 0;
  if (b->len + extra + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)1 << 40)) {
      b->oom = 1;
      return 0;
    }
    cap *= 2;
  }
  char *d = sqlite3_realloc64(b->data, cap);
  if (!d) {
    b->oom = 1;
    return 0;
  }
  b->data = d;
  b->cap = cap;
  return 1;
}

void hk_buf_append(hk_buf *b, const char *s, size_t n) {
  if (!grow(b, n)) return;
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void hk_buf_puts(hk_buf *b, const char *s) { hk_buf_append(b, s, strlen(s)); }

void hk_buf_putc(hk_buf *b, char ch) { hk_buf_append(b, &ch, 1); }

void hk_buf_int(hk_buf *b, int64_t v) {
  char tmp[32];
  sqlite3_snprintf((int)sizeof(tmp), tmp, "%lld", (long long)v);
  hk_buf_puts(b, tmp);
}

void hk_buf_json_string(hk_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (!grow(b, n + 2)) return;
  hk_buf_putc(b, '"');
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    hk_buf_append(b, s + start, i - start);
    start = i + 1;
    switch (ch) {
      case '"':
        hk_buf_puts(b, "\\\"");
        break;
      case '\\':
        hk_buf_puts(b, "\\\\");
        break;
      case '\n':
        hk_buf_puts(b, "\\n");
        break;
      case '\r':
        hk_buf_puts(b, "\\r");
        break;
      case '\t':
        hk_buf_puts(b, "\\t");
        break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
        hk_buf_append(b, esc, 6);
      }
    }
  }
  hk_buf_append(b, s + start, n - start);
  hk_buf_putc(b, '"');
}

static void put_double(hk_buf *b, double d) {
  char tmp[40];
  sqlite3_snprintf((int)sizeof(tmp), tmp, "%!.17g", d);
  /* JSON has no Inf/NaN: SQLite stores those only from arithmetic. */
  if (strchr(tmp, 'I') || strchr(tmp, 'N') || strchr(tmp, 'n')) {
    hk_buf_puts(b, "null");
    return;
  }
  hk_buf_puts(b, tmp);
}

void hk_buf_json_value(hk_buf *b, sqlite3_value *v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      hk_buf_int(b, sqlite3_value_int64(v));
      break;
    case SQLITE_FLOAT:
      put_double(b, sqlite3_value_double(v));
      break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const char *t = (const char *)sqlite3_value_text(v);
      hk_buf_json_string(b, t ? t : "", t ? (size_t)sqlite3_value_bytes(v) : 0);
      break;
    }
    default:
      hk_buf_puts(b, "null");
  }
}

void hk_buf_json_column(hk_buf *b, sqlite3_stmt *st, int col) {
  switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
      hk_buf_int(b, sqlite3_column_int64(st, col));
      break;
    case SQLITE_FLOAT:
      put_double(b, sqlite3_column_double(st, col));
      break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const char *t = (const char *)sqlite3_column_text(st, col);
      hk_buf_json_string(b, t ? t : "", t ? (size_t)sqlite3_column_bytes(st, col) : 0);
      break;
    }
    default:
      hk_buf_puts(b, "null");
  }
}

int hk_json_rows(hk_buf *b, sqlite3_stmt *st, const char *const *keys, int ncols,
                 unsigned bool_cols, int as_array, int *rows) {
  int rc, n = 0;
  if (as_array) hk_buf_putc(b, '[');
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n++) hk_buf_putc(b, ',');
    hk_buf_putc(b, '{');
    for (int col = 0; col < ncols; col++) {
      if (col) hk_buf_putc(b, ',');
      hk_buf_putc(b, '"');
      hk_buf_puts(b, keys[col]);
      hk_buf_puts(b, "\":");
      if (col < 32 && (bool_cols >> col) & 1u) {
        hk_buf_puts(b, sqlite3_column_int64(st, col) != 0 ? "true" : "false");
      } else {
        hk_buf_json_column(b, st, col);
      }
    }
    hk_buf_putc(b, '}');
    if (!as_array) break;
  }
  if (as_array) hk_buf_putc(b, ']');
  if (rows) *rows = n;
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return SQLITE_OK;
  return sqlite3_reset(st);
}

void hk_result_buf(sqlite3_context *ctx, hk_buf *b) {
  if (b->oom) {
    hk_buf_free(b);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (!b->data) {
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
    return;
  }
  sqlite3_result_text64(ctx, b->data, b->len, sqlite3_free, SQLITE_UTF8);
  hk_buf_init(b); /* ownership moved to SQLite */
}

/* ---- strict validator ---------------------------------------------------- */

typedef struct jp {
  const unsigned char *s;
  size_t n;
  size_t i;
  int depth;
} jp;

static void ws(jp *p) {
  while (p->i < p->n) {
    unsigned char ch = p->s[p->i];
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
    p->i++;
  }
}

static int hexval(unsigned char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Validates one UTF-8 sequence starting at p->i (already known >= 0x80). */
static int utf8_seq(jp *p) {
  const unsigned char *s = p->s + p->i;
  size_t left = p->n - p->i;
  unsigned char c0 = s[0];
  size_t need;
  unsigned cp;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    need = 1;
    cp = c0 & 0x1F;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    need = 2;
    cp = c0 & 0x0F;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    need = 3;
    cp = c0 & 0x07;
  } else {
    return 0;
  }
  if (left < need + 1) return 0;
  for (size_t k = 1; k <= need; k++) {
    if ((s[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  p->i += need + 1;
  return 1;
}

static int string_(jp *p) {
  p->i++; /* opening quote */
  while (p->i < p->n) {
    unsigned char ch = p->s[p->i];
    if (ch == '"') {
      p->i++;
      return 1;
    }
    if (ch < 0x20) return 0;
    if (ch == '\\') {
      if (++p->i >= p->n) return 0;
      ch = p->s[p->i];
      if (ch == 'u') {
        if (p->n - p->i < 5) return 0;
        for (int k = 1; k <= 4; k++) {
          if (hexval(p->s[p->i + (size_t)k]) < 0) return 0;
        }
        p->i += 5;
      } else if (strchr("\"\\/bfnrt", ch) && ch) {
        p->i++;
      } else {
        return 0;
      }
      continue;
    }
    if (ch >= 0x80) {
      if (!utf8_seq(p)) return 0;
      continue;
    }
    p->i++;
  }
  return 0;
}

static int digits(jp *p) {
  size_t start = p->i;
  while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
  return p->i > start;
}

static int number_(jp *p) {
  if (p->s[p->i] == '-') p->i++;
  if (p->i >= p->n) return 0;
  if (p->s[p->i] == '0') {
    p->i++;
  } else if (!digits(p)) {
    return 0;
  }
  if (p->i < p->n && p->s[p->i] == '.') {
    p->i++;
    if (!digits(p)) return 0;
  }
  if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
    p->i++;
    if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
    if (!digits(p)) return 0;
  }
  return 1;
}

static int literal(jp *p, const char *word) {
  size_t n = strlen(word);
  if (p->n - p->i < n || memcmp(p->s + p->i, word, n) != 0) return 0;
  p->i += n;
  return 1;
}

static int value_(jp *p);

static int container(jp *p, unsigned char close) {
  if (++p->depth > HK_JSON_MAX_DEPTH) return 0;
  p->i++;
  ws(p);
  if (p->i < p->n && p->s[p->i] == close) {
    p->i++;
    p->depth--;
    return 1;
  }
  for (;;) {
    if (close == '}') {
      ws(p);
      if (p->i >= p->n || p->s[p->i] != '"' || !string_(p)) return 0;
      ws(p);
      if (p->i >= p->n || p->s[p->i] != ':') return 0;
      p->i++;
    }
    if (!value_(p)) return 0;
    ws(p);
    if (p->i >= p->n) return 0;
    if (p->s[p->i] == ',') {
      p->i++;
      continue;
    }
    if (p->s[p->i] == close) {
      p->i++;
      p->depth--;
      return 1;
    }
    return 0;
  }
}

static int value_(jp *p) {
  ws(p);
  if (p->i >= p->n) return 0;
  switch (p->s[p->i]) {
    case '{':
      return container(p, '}');
    case '[':
      return container(p, ']');
    case '"':
      return string_(p);
    case 't':
      return literal(p, "true");
    case 'f':
      return literal(p, "false");
    case 'n':
      return literal(p, "null");
    default:
      return number_(p);
  }
}

int hk_json_valid(const char *s, size_t n) {
  jp p = {(const unsigned char *)s, n, 0, 0};
  if (!value_(&p)) return 0;
  ws(&p);
  return p.i == p.n;
}

/* ---- arrays of ids ------------------------------------------------------- */

int hk_json_int_array(const char *s, size_t n, int64_t **out, const char **err) {
  jp p = {(const unsigned char *)s, n, 0, 0};
  int64_t *ids = NULL;
  int count = 0, cap = 0;
  *out = NULL;
  ws(&p);
  if (p.i >= p.n || p.s[p.i] != '[') {
    *err = "must be a JSON array of integers";
    return -1;
  }
  p.i++;
  ws(&p);
  if (p.i < p.n && p.s[p.i] == ']') {
    p.i++;
    goto tail;
  }
  for (;;) {
    ws(&p);
    int neg = 0;
    if (p.i < p.n && p.s[p.i] == '-') {
      neg = 1;
      p.i++;
    }
    size_t start = p.i;
    uint64_t v = 0;
    while (p.i < p.n && p.s[p.i] >= '0' && p.s[p.i] <= '9') {
      if (v > (UINT64_C(9223372036854775807) - 9) / 10) {
        *err = "holds an integer out of range";
        goto fail;
      }
      v = v * 10 + (uint64_t)(p.s[p.i] - '0');
      p.i++;
    }
    if (p.i == start) {
      *err = "must be a JSON array of integers";
      goto fail;
    }
    /* Accept 12.0 (JSON.stringify never writes it, other clients might). */
    if (p.i < p.n && p.s[p.i] == '.') {
      p.i++;
      size_t fs = p.i;
      while (p.i < p.n && p.s[p.i] == '0') p.i++;
      if (p.i == fs || (p.i < p.n && p.s[p.i] >= '1' && p.s[p.i] <= '9')) {
        *err = "must hold whole numbers only";
        goto fail;
      }
    }
    if (count >= HK_MAX_BATCH) {
      *err = "holds too many ids (at most 10000)";
      goto fail;
    }
    if (count == cap) {
      cap = cap ? cap * 2 : 16;
      int64_t *grown = sqlite3_realloc64(ids, (sqlite3_uint64)cap * sizeof(int64_t));
      if (!grown) {
        *err = "out of memory";
        goto fail;
      }
      ids = grown;
    }
    ids[count++] = neg ? -(int64_t)v : (int64_t)v;
    ws(&p);
    if (p.i < p.n && p.s[p.i] == ',') {
      p.i++;
      continue;
    }
    if (p.i < p.n && p.s[p.i] == ']') {
      p.i++;
      break;
    }
    *err = "must be a JSON array of integers";
    goto fail;
  }
tail:
  ws(&p);
  if (p.i != p.n) {
    *err = "has text after the closing bracket";
    goto fail;
  }
  *out = ids;
  return count;
fail:
  sqlite3_free(ids);
  return -1;
}
