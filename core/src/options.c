/*
 * options.c — the option table (options.def), defaults, validation and
 * setting options by name. Everything about an option that a host needs
 * (name, type, default, range, doc) comes from the table; ldb_open's
 * validation walks the same rows, so the documented range is the enforced
 * one.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "engine.h"

/* The NULL of an absent enum name list, from a constant "" in the row. */
#define OPT_VALUES(v) (sizeof(v) > 1 ? (v) : NULL)

static const ldb_option_info opt_table[] = {
#define LDB_OPTION(c, js, type, def, min, max, values, unit, doc)              \
  {#c,                                                                         \
   #js,                                                                        \
   LDB_OPT_##type,                                                             \
   UINT64_C(def),                                                              \
   UINT64_C(min),                                                              \
   UINT64_C(max),                                                              \
   OPT_VALUES(values),                                                         \
   unit,                                                                       \
   doc},
#include "options.def"
#undef LDB_OPTION
};

#define OPT_COUNT (sizeof opt_table / sizeof opt_table[0])

/* Where each row's field lives, and whether it is a signed int. */
#define OPT_FIELD(c) (((ldb_options *)0)->c)
static const struct {
  size_t off, size;
  int is_signed;
} opt_fields[] = {
#define LDB_OPTION(c, js, type, def, min, max, values, unit, doc)              \
  {offsetof(ldb_options, c), sizeof OPT_FIELD(c),                              \
   _Generic(OPT_FIELD(c), int : 1, default : 0)},
#include "options.def"
#undef LDB_OPTION
};

_Static_assert(sizeof opt_fields / sizeof opt_fields[0] == OPT_COUNT,
               "one field per option row");

const ldb_option_info *ldb_option_table(size_t *count) {
  if (count) *count = OPT_COUNT;
  return opt_table;
}

/* Reads row i's field. Returns 0 when the (signed) field is negative. */
static int opt_read(const ldb_options *o, size_t i, uint64_t *v) {
  const unsigned char *p = (const unsigned char *)o + opt_fields[i].off;
  if (opt_fields[i].size == 8) {
    uint64_t x;
    memcpy(&x, p, 8);
    *v = x;
    return 1;
  }
  if (opt_fields[i].is_signed) {
    int x;
    memcpy(&x, p, sizeof x);
    *v = x < 0 ? 0 : (uint64_t)x;
    return x >= 0;
  }
  uint32_t x;
  memcpy(&x, p, 4);
  *v = x;
  return 1;
}

/* Writes v (already in the row's range, so it fits) into row i's field. */
static void opt_write(ldb_options *o, size_t i, uint64_t v) {
  unsigned char *p = (unsigned char *)o + opt_fields[i].off;
  if (opt_fields[i].size == 8) {
    memcpy(p, &v, 8);
  } else if (opt_fields[i].is_signed) {
    int x = (int)v;
    memcpy(p, &x, sizeof x);
  } else {
    uint32_t x = (uint32_t)v;
    memcpy(p, &x, 4);
  }
}

/* The allowed values of row r, as text for a message. */
static void opt_range(const ldb_option_info *r, char *buf, size_t cap) {
  if (r->type == LDB_OPT_ENUM)
    snprintf(buf, cap, "one of %s (or 0..%" PRIu64 ")", r->values, r->max);
  else if (r->type == LDB_OPT_BOOL)
    snprintf(buf, cap, "true or false (1 or 0)");
  else
    snprintf(buf, cap, "%" PRIu64 "..%" PRIu64 "%s%s", r->min, r->max,
             r->unit[0] ? " " : "", r->unit);
}

/* Checks a value for row i beyond its range (page_size: a power of two). */
static int opt_valid(size_t i, uint64_t v) {
  const ldb_option_info *r = &opt_table[i];
  if (v < r->min || v > r->max) return 0;
  if (opt_fields[i].off == offsetof(ldb_options, page_size) && (v & (v - 1)))
    return 0;
  return 1;
}

static int opt_refuse(size_t i, const char *value) {
  const ldb_option_info *r = &opt_table[i];
  char range[160];
  opt_range(r, range, sizeof range);
  return ldb_err(LDB_INVALID, "option %s (%s): %s is invalid; allowed: %s%s",
                 r->name, r->js_name, value, range,
                 opt_fields[i].off == offsetof(ldb_options, page_size)
                     ? ", a power of two"
                     : "");
}

void ldb_options_default(ldb_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  for (size_t i = 0; i < OPT_COUNT; i++)
    opt_write(o, i, opt_table[i].def);
  if (!ldb_threads_available()) o->background_checkpoint = 0;
}

int options_check(const ldb_options *o) {
  for (size_t i = 0; i < OPT_COUNT; i++) {
    uint64_t v;
    char text[32];
    if (!opt_read(o, i, &v)) {
      int x;
      memcpy(&x, (const unsigned char *)o + opt_fields[i].off, sizeof x);
      snprintf(text, sizeof text, "%d", x);
      return opt_refuse(i, text);
    }
    if (!opt_valid(i, v)) {
      snprintf(text, sizeof text, "%" PRIu64, v);
      return opt_refuse(i, text);
    }
  }
  if (!ldb_codec_available(o->compression))
    return ldb_err(LDB_INVALID, "compression %d is not compiled in",
                   o->compression);
  return LDB_OK;
}

/* Rows that belong to one open, not to the engine: a second open of a
 * database already open in this process may set them freely (page_size is
 * only used when creating, which that open does not do; read_only and
 * error_if_exists are checked by ldb_open itself). Every other row is the
 * engine's, shared by all its handles. */
static int opt_per_open(size_t i) {
  size_t off = opt_fields[i].off;
  return off == offsetof(ldb_options, page_size) ||
         off == offsetof(ldb_options, create_if_missing) ||
         off == offsetof(ldb_options, error_if_exists) ||
         off == offsetof(ldb_options, read_only) ||
         off == offsetof(ldb_options, salvage);
}

/* Row i's value v as text: an ENUM's name, else the number. */
static void opt_text(size_t i, uint64_t v, char *buf, size_t cap) {
  const char *names = opt_table[i].values;
  if (opt_table[i].type == LDB_OPT_ENUM && names) {
    for (uint64_t k = 0; k < v && names; k++) {
      names = strchr(names, '|');
      if (names) names++;
    }
    if (names) {
      size_t n = strcspn(names, "|");
      snprintf(buf, cap, "'%.*s'", (int)n, names);
      return;
    }
  }
  if (opt_table[i].type == LDB_OPT_BOOL)
    snprintf(buf, cap, "%s", v ? "true" : "false");
  else
    snprintf(buf, cap, "%" PRIu64, v);
}

int options_match(const ldb_options *run, const ldb_options *o,
                  const char *path) {
  for (size_t i = 0; i < OPT_COUNT; i++) {
    uint64_t a, b;
    if (opt_per_open(i)) continue;
    opt_read(run, i, &a);
    opt_read(o, i, &b);
    if (a == b) continue;
    char have[48], want[48];
    opt_text(i, a, have, sizeof have);
    opt_text(i, b, want, sizeof want);
    return ldb_err(LDB_INVALID,
                   "database %s is already open in this process with option "
                   "%s (%s) %s, and this open asks for %s; open it with the "
                   "same engine options or close the other handles first",
                   path, opt_table[i].name, opt_table[i].js_name, have, want);
  }
  return LDB_OK;
}

static int opt_find(const char *name, size_t *i) {
  if (name)
    for (size_t k = 0; k < OPT_COUNT; k++)
      if (!strcmp(name, opt_table[k].name) ||
          !strcmp(name, opt_table[k].js_name)) {
        *i = k;
        return 1;
      }
  return 0;
}

/* Longest name the "did you mean" search compares (option names are far
 * shorter); a longer one gets no suggestion. */
#define OPT_NAME_MAX 48

/* name lowercased without '_' and '-' into out (OPT_NAME_MAX + 1 bytes), so
 * "cache_size", "cacheSize" and "CACHE-SIZE" compare equal; 0 when it is
 * longer than OPT_NAME_MAX. */
static int opt_norm(const char *name, char *out) {
  size_t n = 0;
  for (; *name; name++) {
    char c = *name;
    if (c == '_' || c == '-') continue;
    if (n == OPT_NAME_MAX) return 0;
    out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  out[n] = 0;
  return 1;
}

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions) of a and b, both at most OPT_NAME_MAX long: the same
 * measure as the JS side's closestKey (js/options.ts). */
static size_t opt_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t rows[3][OPT_NAME_MAX + 1];
  size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= lb; j++)
    prev[j] = j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      size_t v = prev[j] + 1;
      if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
      if (prev[j - 1] + cost < v) v = prev[j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          prev2[j - 2] + 1 < v)
        v = prev2[j - 2] + 1;
      cur[j] = v;
    }
    size_t *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb];
}

/* The option spelling closest to `name`, when one is close enough to be
 * what was meant: compared without case, '_' and '-', within one edit per
 * three letters (at least two), as on the JS side. Of a row's two
 * spellings the C name is given unless `name` has an uppercase letter
 * (camelCase: the JS name is given). NULL when none is close. */
static const char *opt_closest(const char *name) {
  char key[OPT_NAME_MAX + 1], cand[OPT_NAME_MAX + 1];
  if (!opt_norm(name, key)) return NULL;
  size_t best_d = (strlen(key) / 3 > 2 ? strlen(key) / 3 : 2) + 1;
  const char *best = NULL;
  int camel = 0;
  for (const char *p = name; *p; p++)
    if (*p >= 'A' && *p <= 'Z') camel = 1;
  for (size_t k = 0; k < OPT_COUNT; k++) {
    /* Both spellings: they differ in more than case (max_active_txns,
     * maxActiveTransactions). */
    for (int js = 0; js < 2; js++) {
      if (!opt_norm(js ? opt_table[k].js_name : opt_table[k].name, cand))
        continue;
      size_t d = opt_distance(key, cand);
      if (d < best_d) {
        best_d = d;
        best = camel ? opt_table[k].js_name : opt_table[k].name;
      }
    }
  }
  return best;
}

/* LDB_INVALID for a name no row has: "unknown option \"cachesize\" (did
 * you mean \"cache_size\"?)", or without the hint when no name is close. */
static int opt_unknown(const char *name) {
  if (!name) return ldb_err(LDB_INVALID, "unknown option (NULL)");
  const char *near = opt_closest(name);
  if (near)
    return ldb_err(LDB_INVALID, "unknown option \"%s\" (did you mean \"%s\"?)",
                   name, near);
  return ldb_err(LDB_INVALID,
                 "unknown option \"%s\" (see ldb_option_table() for the "
                 "names)",
                 name);
}

int ldb_options_set(ldb_options *opts, const char *name, uint64_t value) {
  size_t i;
  if (!opts) return ldb_err(LDB_INVALID, "ldb_options_set: opts is NULL");
  if (!opt_find(name, &i)) return opt_unknown(name);
  if (!opt_valid(i, value)) {
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, value);
    return opt_refuse(i, text);
  }
  opt_write(opts, i, value);
  return LDB_OK;
}

/* A decimal number without sign, spaces or overflow. */
static int parse_decimal(const char *s, uint64_t *v) {
  uint64_t x = 0;
  if (!*s) return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    unsigned d = (unsigned)(*s - '0');
    if (x > (UINT64_MAX - d) / 10) return 0;
    x = x * 10 + d;
  }
  *v = x;
  return 1;
}

/* The index of `name` in a '|'-separated list. */
static int enum_index(const char *list, const char *name, uint64_t *v) {
  size_t n = strlen(name);
  uint64_t k = 0;
  for (const char *p = list; p && *p; k++) {
    const char *end = strchr(p, '|');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && !memcmp(p, name, n)) {
      *v = k;
      return 1;
    }
    p = end ? end + 1 : NULL;
  }
  return 0;
}

int ldb_options_set_string(ldb_options *opts, const char *name,
                           const char *value) {
  size_t i;
  uint64_t v = 0;
  if (!opts)
    return ldb_err(LDB_INVALID, "ldb_options_set_string: opts is NULL");
  if (!opt_find(name, &i)) return opt_unknown(name);
  if (!value) return opt_refuse(i, "(NULL)");
  const ldb_option_info *r = &opt_table[i];
  int ok = parse_decimal(value, &v);
  if (!ok && r->type == LDB_OPT_BOOL) {
    ok = !strcmp(value, "true") || !strcmp(value, "false");
    v = value[0] == 't';
  }
  if (!ok && r->type == LDB_OPT_ENUM) ok = enum_index(r->values, value, &v);
  if (!ok || !opt_valid(i, v)) {
    char text[48];
    snprintf(text, sizeof text, "\"%.40s\"", value);
    return opt_refuse(i, text);
  }
  opt_write(opts, i, v);
  return LDB_OK;
}
