/*
 * test_contract.c — the contract tables of lightningdb.h against the structs
 * and functions they describe: every ldb_stats field has a row (offsets and
 * sizes cover the struct in order), every option row round-trips through
 * ldb_options_set / ldb_options_set_string into the right field with the
 * documented default and range, bad names and values are refused with a
 * message naming them (a misspelled name with the closest one), every error
 * code has a row that ldb_strerror and ldb_code_name agree with, and the
 * Prometheus exposition is well formed (checked by promtool when LDB_PROMTOOL
 * names it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lightningdb.h"

/* ---- stats table -------------------------------------------------------- */

static size_t stat_size(const ldb_stat_info *r) {
  return r->type == LDB_METRIC_HISTOGRAM ? sizeof(uint64_t) * LDB_HIST_BUCKETS
                                         : sizeof(uint64_t);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

static void test_stat_table_covers_struct(void **state) {
  (void)state;
  size_t n = 0;
  const ldb_stat_info *t = ldb_stat_table(&n);
  assert_non_null(t);
  assert_true(n > 0);
  /* In declaration order, back to back, covering the whole struct. */
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i].offset != off)
      fail_msg("row %s at offset %zu, expected %zu (a field without a row?)",
               t[i].name, t[i].offset, off);
    off += stat_size(&t[i]);
  }
  assert_int_equal(off, sizeof(ldb_stats));
  /* Spot checks against offsetof, first and last and the new fields. */
  assert_string_equal(t[0].name, "gets");
  assert_int_equal(t[0].offset, offsetof(ldb_stats, gets));
  assert_string_equal(t[n - 1].name, "corrupt_reads");
  assert_int_equal(t[n - 1].offset, offsetof(ldb_stats, corrupt_reads));
  int seen_bg = 0, seen_hist = 0;
  for (size_t i = 0; i < n; i++) {
    const ldb_stat_info *r = &t[i];
    if (!strcmp(r->name, "background_error")) {
      assert_int_equal(r->offset, offsetof(ldb_stats, background_error));
      seen_bg = 1;
    }
    if (!strcmp(r->name, "get_latency")) {
      assert_int_equal(r->offset, offsetof(ldb_stats, get_latency));
      assert_int_equal(r->type, LDB_METRIC_HISTOGRAM);
      seen_hist = 1;
    }
    assert_true(r->js_name && r->js_name[0]);
    assert_true(r->help && r->help[0]);
    assert_true(r->scale > 0);
    assert_true(r->type >= LDB_METRIC_COUNTER && r->type <= LDB_METRIC_SUM);
    assert_true(!strncmp(r->metric, "lightningdb_", 12));
    /* Prometheus naming: counters and only counters end in _total. */
    if (r->type == LDB_METRIC_COUNTER)
      assert_true(ends_with(r->metric, "_total"));
    else
      assert_false(ends_with(r->metric, "_total"));
    /* ns fields are exposed in seconds. */
    if (ends_with(r->name, "_ns") || r->type == LDB_METRIC_HISTOGRAM) {
      assert_true(ends_with(r->metric, "_seconds"));
      assert_true(r->scale == 1e-9);
    }
    if (r->type == LDB_METRIC_SUM) {
      int found = 0;
      for (size_t j = 0; j < n; j++)
        found |= t[j].type == LDB_METRIC_HISTOGRAM &&
                 !strcmp(t[j].metric, r->metric);
      if (!found) fail_msg("SUM row %s names no histogram", r->name);
    }
    for (size_t j = 0; j < i; j++) {
      assert_string_not_equal(t[j].name, r->name);
      assert_string_not_equal(t[j].js_name, r->js_name);
      if (r->type != LDB_METRIC_SUM && t[j].type != LDB_METRIC_SUM)
        assert_string_not_equal(t[j].metric, r->metric);
    }
  }
  assert_true(seen_bg && seen_hist);
  size_t n2 = 0;
  assert_ptr_equal(ldb_stat_table(&n2), t);
  assert_int_equal(n2, n);
  assert_ptr_equal(ldb_stat_table(NULL), t);
}

/* ---- option table ------------------------------------------------------- */

/* The test's own map of ldb_options' scalar fields, in declaration order:
 * the table must name exactly these. */
typedef struct {
  const char *name;
  size_t off, size;
  int is_signed;
} field;

#define F_U32(f)                                                               \
  { #f, offsetof(ldb_options, f), 4, 0 }
#define F_U64(f)                                                               \
  { #f, offsetof(ldb_options, f), 8, 0 }
#define F_INT(f)                                                               \
  { #f, offsetof(ldb_options, f), sizeof(int), 1 }
static const field fields[] = {
    F_U32(page_size),
    F_U64(cache_size),
    F_INT(compression),
    F_INT(compression_level),
    F_INT(sync_mode),
    F_U32(sync_interval_ms),
    F_INT(create_if_missing),
    F_INT(error_if_exists),
    F_INT(read_only),
    F_U64(memtable_size),
    F_INT(background_checkpoint),
    F_U32(max_active_txns),
    F_U64(log_retention_bytes),
    F_U64(log_retention_ms),
    F_INT(salvage),
    F_U64(mmap_size),
    F_INT(mmap_bounded),
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static uint64_t get_field(const ldb_options *o, const field *f) {
  const unsigned char *p = (const unsigned char *)o + f->off;
  if (f->size == 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  if (f->is_signed) {
    int v;
    memcpy(&v, p, sizeof v);
    assert_true(v >= 0);
    return (uint64_t)v;
  }
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void test_option_table_matches_struct(void **state) {
  (void)state;
  size_t n = 0;
  const ldb_option_info *t = ldb_option_table(&n);
  assert_int_equal(n, NFIELDS);
  ldb_options d;
  ldb_options_default(&d);
  for (size_t i = 0; i < n; i++) {
    const ldb_option_info *r = &t[i];
    assert_string_equal(r->name, fields[i].name);
    assert_true(r->js_name && r->js_name[0] && r->doc && r->doc[0]);
    assert_true(r->unit != NULL);
    assert_true(r->min <= r->def && r->def <= r->max);
    /* Every host can hold every value (JavaScript numbers: 2^53 - 1). */
    assert_true(r->max <= 9007199254740991ull);
    if (fields[i].size == 4 && !fields[i].is_signed)
      assert_true(r->max <= UINT32_MAX);
    if (fields[i].is_signed) assert_true(r->max <= 2147483647ull);
    switch (r->type) {
    case LDB_OPT_BOOL:
      assert_true(r->min == 0 && r->max == 1 && r->values == NULL);
      break;
    case LDB_OPT_ENUM: {
      assert_non_null(r->values);
      size_t names = 1;
      for (const char *p = r->values; *p; p++)
        names += *p == '|';
      assert_int_equal(r->min, 0);
      assert_int_equal(r->max + 1, names);
      break;
    }
    case LDB_OPT_UINT: assert_null(r->values); break;
    default: fail_msg("option %s has type %d", r->name, r->type);
    }
    /* ldb_options_default comes from the table. */
    assert_int_equal(get_field(&d, &fields[i]), r->def);
  }
}

/* Sets row r to v through both spellings and checks the field. */
static void roundtrip(const ldb_option_info *r, const field *f, uint64_t v) {
  ldb_options o;
  ldb_options_default(&o);
  assert_int_equal(ldb_options_set(&o, r->name, v), LDB_OK);
  assert_int_equal(get_field(&o, f), v);
  ldb_options_default(&o);
  assert_int_equal(ldb_options_set(&o, r->js_name, v), LDB_OK);
  assert_int_equal(get_field(&o, f), v);
  char text[32];
  snprintf(text, sizeof text, "%llu", (unsigned long long)v);
  ldb_options_default(&o);
  assert_int_equal(ldb_options_set_string(&o, r->name, text), LDB_OK);
  assert_int_equal(get_field(&o, f), v);
}

static void test_option_roundtrip(void **state) {
  (void)state;
  size_t n = 0;
  const ldb_option_info *t = ldb_option_table(&n);
  for (size_t i = 0; i < n; i++) {
    const ldb_option_info *r = &t[i];
    roundtrip(r, &fields[i], r->min);
    roundtrip(r, &fields[i], r->max);
    roundtrip(r, &fields[i], r->def);
    ldb_options o;
    if (r->type == LDB_OPT_ENUM) {
      /* Each name sets its index. */
      uint64_t k = 0;
      for (const char *p = r->values; p; k++) {
        const char *end = strchr(p, '|');
        char name[64];
        size_t len = end ? (size_t)(end - p) : strlen(p);
        assert_true(len > 0 && len < sizeof name);
        memcpy(name, p, len);
        name[len] = 0;
        ldb_options_default(&o);
        assert_int_equal(ldb_options_set_string(&o, r->js_name, name), LDB_OK);
        assert_int_equal(get_field(&o, &fields[i]), k);
        p = end ? end + 1 : NULL;
      }
      assert_int_equal(k, r->max + 1);
    }
    if (r->type == LDB_OPT_BOOL) {
      ldb_options_default(&o);
      assert_int_equal(ldb_options_set_string(&o, r->name, "true"), LDB_OK);
      assert_int_equal(get_field(&o, &fields[i]), 1);
      assert_int_equal(ldb_options_set_string(&o, r->name, "false"), LDB_OK);
      assert_int_equal(get_field(&o, &fields[i]), 0);
    }
  }
  /* A set option is what ldb_open uses. */
  ldb_store *s = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  assert_int_equal(ldb_options_set_string(&o, "pageSize", "8192"), LDB_OK);
  assert_int_equal(ldb_options_set_string(&o, "syncMode", "off"), LDB_OK);
  assert_int_equal(ldb_options_set(&o, "background_checkpoint", 0), LDB_OK);
  ldb_db *db = NULL;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_OK);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.page_size, 8192);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

/* The message of the last failure contains every needle. */
static void msg_has(const char *a, const char *b, const char *c) {
  const char *m = ldb_errmsg(NULL);
  const char *needles[] = {a, b, c};
  for (int i = 0; i < 3; i++)
    if (needles[i] && !strstr(m, needles[i]))
      fail_msg("message \"%s\" lacks \"%s\"", m, needles[i]);
}

static void refused_unchanged(const char *name, const char *value) {
  ldb_options o, before;
  ldb_options_default(&o);
  before = o;
  assert_int_equal(ldb_options_set_string(&o, name, value), LDB_INVALID);
  assert_memory_equal(&o, &before, sizeof o);
}

/* An unknown name is refused with the closest spelling, in the caller's
 * style (C names for snake_case, JS names for camelCase), the way the JS
 * side's checkOptionKeys() does; a name close to none gets no guess. */
static void test_option_did_you_mean(void **state) {
  (void)state;
  static const struct {
    const char *given, *suggested;
  } cases[] = {
      {"cachesize", "cache_size"},  /* case and '_' only */
      {"cache_sise", "cache_size"}, /* one letter */
      {"cacheSzie", "cacheSize"},   /* two letters swapped, camelCase */
      {"pagesize", "page_size"},
      {"page-size", "page_size"},
      {"syncmode", "sync_mode"},
      {"SyncMode", "syncMode"},
      {"max_active_txn", "max_active_txns"},
      {"maxActiveTransaction", "maxActiveTransactions"},
      {"mmap_szie", "mmap_size"},
      {"readonly", "read_only"},
      {"logRetentionByte", "logRetentionBytes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ldb_options o, before;
    ldb_options_default(&o);
    before = o;
    assert_int_equal(ldb_options_set(&o, cases[i].given, 1), LDB_INVALID);
    assert_memory_equal(&o, &before, sizeof o);
    char want[128];
    snprintf(want, sizeof want, "unknown option \"%s\" (did you mean \"%s\"?)",
             cases[i].given, cases[i].suggested);
    if (strcmp(ldb_errmsg(NULL), want))
      fail_msg("%s: message \"%s\", expected \"%s\"", cases[i].given,
               ldb_errmsg(NULL), want);
    /* ldb_options_set_string gives the same hint. */
    assert_int_equal(ldb_options_set_string(&o, cases[i].given, "1"),
                     LDB_INVALID);
    assert_string_equal(ldb_errmsg(NULL), want);
  }
  /* Nothing close: no guess, but a pointer to the table. */
  static const char *far[] = {"no_such_option", "x", "compressor_kind", ""};
  for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
    ldb_options o;
    ldb_options_default(&o);
    assert_int_equal(ldb_options_set(&o, far[i], 1), LDB_INVALID);
    if (strstr(ldb_errmsg(NULL), "did you mean"))
      fail_msg("%s: unexpected guess in \"%s\"", far[i], ldb_errmsg(NULL));
    msg_has(far[i], "ldb_option_table()", NULL);
  }
  /* A name longer than any row is compared with nothing. */
  char long_name[200];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = 0;
  ldb_options o;
  ldb_options_default(&o);
  assert_int_equal(ldb_options_set(&o, long_name, 1), LDB_INVALID);
  assert_null(strstr(ldb_errmsg(NULL), "did you mean"));
}

static void test_option_refusals(void **state) {
  (void)state;
  ldb_options o, before;
  ldb_options_default(&o);
  before = o;
  assert_int_equal(ldb_options_set(&o, "no_such_option", 1), LDB_INVALID);
  msg_has("no_such_option", NULL, NULL);
  assert_int_equal(ldb_options_set(&o, NULL, 1), LDB_INVALID);
  assert_int_equal(ldb_options_set(NULL, "page_size", 4096), LDB_INVALID);
  assert_int_equal(ldb_options_set(&o, "cache_size_", 1), LDB_INVALID);
  /* Out of range: the message names the option, the value and the range. */
  assert_int_equal(ldb_options_set(&o, "page_size", 131072), LDB_INVALID);
  msg_has("page_size", "131072", "512..65536");
  assert_int_equal(ldb_options_set(&o, "pageSize", 1000), LDB_INVALID);
  msg_has("pageSize", "1000", "power of two");
  assert_int_equal(ldb_options_set(&o, "sync_mode", 3), LDB_INVALID);
  msg_has("sync_mode", "3", "full|normal|off");
  assert_int_equal(ldb_options_set(&o, "read_only", 2), LDB_INVALID);
  msg_has("read_only", "2", "true or false");
  assert_int_equal(ldb_options_set(&o, "memtable_size", 0), LDB_INVALID);
  assert_int_equal(ldb_options_set(&o, "cacheSize", 1ull << 60), LDB_INVALID);
  assert_int_equal(ldb_options_set(&o, "max_active_txns", 1ull << 32),
                   LDB_INVALID);
  assert_memory_equal(&o, &before, sizeof o);
  /* Text that is none of the accepted forms. */
  refused_unchanged("syncMode", "fast");
  refused_unchanged("syncMode", "Normal");
  refused_unchanged("syncMode", "");
  refused_unchanged("readOnly", "yes");
  refused_unchanged("readOnly", "2");
  refused_unchanged("cacheSize", "-1");
  refused_unchanged("cacheSize", " 1");
  refused_unchanged("cacheSize", "1k");
  refused_unchanged("cacheSize", "0x10");
  refused_unchanged("cacheSize", "99999999999999999999999");
  refused_unchanged("pageSize", "true");
  refused_unchanged("compression", "gzip");
  refused_unchanged("compressionLevel", "23");
  refused_unchanged("nope", "1");
  msg_has("nope", NULL, NULL);
  assert_int_equal(ldb_options_set_string(&o, "cacheSize", NULL), LDB_INVALID);
  assert_int_equal(ldb_options_set_string(&o, "syncMode", "fast"), LDB_INVALID);
  msg_has("syncMode", "fast", "full|normal|off");

  /* ldb_open enforces the same ranges on a struct set by hand. */
  ldb_store *s = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = NULL;
  struct {
    size_t off;
    int value;
    const char *name;
  } bad[] = {
      {offsetof(ldb_options, sync_mode), 7, "sync_mode"},
      {offsetof(ldb_options, sync_mode), -1, "sync_mode"},
      {offsetof(ldb_options, compression), 5, "compression"},
      {offsetof(ldb_options, compression_level), -5, "compression_level"},
      {offsetof(ldb_options, read_only), 2, "read_only"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ldb_options_default(&o);
    o.store = s;
    memcpy((unsigned char *)&o + bad[i].off, &bad[i].value, sizeof(int));
    assert_int_equal(ldb_open("mem", &o, &db), LDB_INVALID);
    assert_null(db);
    msg_has(bad[i].name, NULL, NULL);
  }
  ldb_options_default(&o);
  o.store = s;
  o.page_size = 3000;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_INVALID);
  msg_has("page_size", "3000", NULL);
  o.page_size = 4096;
  o.memtable_size = 0;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_INVALID);
  msg_has("memtable_size", NULL, NULL);
  ldb_store_destroy(s);
}

/* ---- error table -------------------------------------------------------- */

static void test_error_table(void **state) {
  (void)state;
  size_t n = 0;
  const ldb_error_info *t = ldb_error_table(&n);
  assert_int_equal(n, LDB_CODE_COUNT);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(t[i].code, (int)i);
    assert_string_equal(t[i].name, ldb_code_name((int)i));
    assert_string_equal(t[i].message, ldb_strerror((int)i));
    assert_true(t[i].message[0]);
    for (const char *p = t[i].name; *p; p++)
      assert_true((*p >= 'A' && *p <= 'Z') || *p == '_');
    for (size_t j = 0; j < i; j++) {
      assert_string_not_equal(t[j].name, t[i].name);
      assert_string_not_equal(t[j].message, t[i].message);
    }
  }
  const struct {
    int code;
    const char *name;
  } want[] = {{LDB_OK, "OK"},
              {LDB_NOTFOUND, "NOT_FOUND"},
              {LDB_CONFLICT, "CONFLICT"},
              {LDB_BUSY, "BUSY"},
              {LDB_CORRUPT, "CORRUPT"},
              {LDB_IOERR, "IO"},
              {LDB_FULL, "FULL"},
              {LDB_NOMEM, "NO_MEMORY"},
              {LDB_INVALID, "INVALID_ARGUMENT"},
              {LDB_CLOSED, "CLOSED"},
              {LDB_READONLY, "READ_ONLY"},
              {LDB_INTERNAL, "INTERNAL"},
              {LDB_TIMEOUT, "TIMEOUT"},
              {LDB_ABORTED, "ABORTED"},
              {LDB_SETUP, "SETUP"},
              {LDB_COMPACTED, "COMPACTED"},
              {LDB_OWNER_LOST, "OWNER_LOST"},
              {LDB_DECODE, "DECODE"}};
  assert_int_equal(sizeof want / sizeof want[0], LDB_CODE_COUNT);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    assert_string_equal(ldb_code_name(want[i].code), want[i].name);
  assert_string_equal(ldb_code_name(LDB_CODE_COUNT), "UNKNOWN");
  assert_string_equal(ldb_code_name(-1), "UNKNOWN");
  assert_string_equal(ldb_strerror(LDB_CODE_COUNT), "unknown error");
  assert_string_equal(ldb_strerror(-7), "unknown error");
}

/* ---- Prometheus exposition ---------------------------------------------- */

static char *exposition(const ldb_stats *s, const char *labels) {
  size_t len = 0, len2 = 0;
  assert_int_equal(ldb_stats_prometheus(s, labels, NULL, 0, &len), LDB_OK);
  assert_true(len > 0);
  char *buf = malloc(len + 1);
  assert_non_null(buf);
  assert_int_equal(ldb_stats_prometheus(s, labels, buf, len + 1, &len2),
                   LDB_OK);
  assert_int_equal(len2, len);
  assert_int_equal(strlen(buf), len);
  return buf;
}

/* The value of the sample line that starts with `prefix ` (labels
 * included), or -1. */
static double sample(const char *text, const char *prefix) {
  size_t n = strlen(prefix);
  for (const char *p = text; p && *p;) {
    if (!strncmp(p, prefix, n) && p[n] == ' ') return strtod(p + n + 1, NULL);
    p = strchr(p, '\n');
    if (p) p++;
  }
  return -1;
}

/* Runs promtool check metrics on text when LDB_PROMTOOL names it. */
static void promtool_check(const char *text) {
  const char *tool = getenv("LDB_PROMTOOL");
  if (!tool || !*tool) {
    fprintf(stderr, "test_contract: LDB_PROMTOOL unset, promtool not run\n");
    return;
  }
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' check metrics", tool);
  FILE *p = popen(cmd, "w");
  assert_non_null(p);
  fputs(text, p);
  int rc = pclose(p);
  if (rc != 0) fail_msg("promtool check metrics failed (status %d)", rc);
}

static void test_prometheus(void **state) {
  (void)state;
  ldb_store *st = NULL;
  assert_int_equal(ldb_store_memory(&st), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = st;
  o.sync_mode = LDB_SYNC_OFF;
  ldb_db *db = NULL;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_OK);
  char k[16];
  for (int i = 0; i < 200; i++) {
    int n = snprintf(k, sizeof k, "k%05d", i);
    assert_int_equal(ldb_put(db, k, (size_t)n, "v", 1), LDB_OK);
    size_t vl;
    char v[4];
    assert_int_equal(ldb_get_buf(db, k, (size_t)n, v, sizeof v, &vl), LDB_OK);
  }
  ldb_stats s;
  assert_int_equal(ldb_stats_get(db, &s), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(st);

  /* Percentiles are the histograms' own. */
  assert_int_equal(s.get_p50_ns,
                   (uint64_t)(ldb_hist_percentile(s.get_latency, 50) + 0.5));
  assert_int_equal(s.commit_p99_ns,
                   (uint64_t)(ldb_hist_percentile(s.commit_latency, 99) + 0.5));
  assert_true(s.commit_p50_ns > 0 && s.commit_p50_ns <= s.commit_p99_ns);
  assert_true(s.commit_latency_sum_ns > 0);

  char *text = exposition(&s, NULL);
  size_t n = 0;
  const ldb_stat_info *t = ldb_stat_table(&n);
  static const char *const types[] = {"", "counter", "gauge", "histogram"};
  for (size_t i = 0; i < n; i++) {
    char line[256];
    if (t[i].type == LDB_METRIC_SUM) {
      snprintf(line, sizeof line, "%s_sum", t[i].metric);
      uint64_t v;
      memcpy(&v, (const unsigned char *)&s + t[i].offset, sizeof v);
      double got = sample(text, line);
      assert_true(got >= 0);
      assert_true(got > (double)v * 1e-9 * 0.999999 - 1e-12 &&
                  got < (double)v * 1e-9 * 1.000001 + 1e-12);
      continue;
    }
    snprintf(line, sizeof line, "# TYPE %s %s\n", t[i].metric,
             types[t[i].type]);
    if (!strstr(text, line)) fail_msg("no \"%s\"", line);
    if (t[i].type == LDB_METRIC_HISTOGRAM) {
      const uint64_t *h =
          (const uint64_t *)(const void *)((const unsigned char *)&s +
                                           t[i].offset);
      uint64_t total = 0;
      for (int b = 0; b < LDB_HIST_BUCKETS; b++)
        total += h[b];
      snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"}", t[i].metric);
      assert_true(sample(text, line) == (double)total);
      snprintf(line, sizeof line, "%s_count", t[i].metric);
      assert_true(sample(text, line) == (double)total);
      continue;
    }
    if (t[i].scale == 1) {
      uint64_t v;
      memcpy(&v, (const unsigned char *)&s + t[i].offset, sizeof v);
      assert_true(sample(text, t[i].metric) == (double)v);
    }
  }
  assert_true(sample(text, "lightningdb_puts_total") == 200);
  assert_true(sample(text, "lightningdb_gets_total") == 200);
  assert_true(strstr(text, "\n# TYPE lightningdb_last_seq gauge\n") != NULL);
  assert_true(sample(text, "lightningdb_last_seq") == 200);
  promtool_check(text);

  /* Labels go on every sample, before le. */
  char *lt = exposition(&s, "db=\"main\",path=\"/a \\\"b\\\"\"");
  assert_true(sample(lt, "lightningdb_puts_total{db=\"main\",path=\"/a "
                         "\\\"b\\\"\"}") == 200);
  assert_non_null(strstr(lt, "lightningdb_get_latency_seconds_bucket{db=\""
                             "main\",path=\"/a \\\"b\\\"\",le=\"+Inf\"}"));
  for (const char *p = lt; *p; p = strchr(p, '\n') + 1)
    if (*p != '#')
      assert_true(strncmp(p, "lightningdb_", 12) == 0 && strchr(p, '{') &&
                  strchr(p, '{') < strchr(p, ' '));
  promtool_check(lt);
  free(lt);

  /* A short buffer: truncated, terminated, full length reported. */
  char small[64];
  size_t len = 0;
  memset(small, 'x', sizeof small);
  assert_int_equal(ldb_stats_prometheus(&s, NULL, small, sizeof small, &len),
                   LDB_OK);
  assert_int_equal(len, strlen(text));
  assert_int_equal(small[sizeof small - 1], 0);
  assert_memory_equal(small, text, sizeof small - 1);
  free(text);

  /* Bad arguments. */
  const char *bad_labels[] = {"db=main",  "db=\"x",   "=\"x\"",
                              "1a=\"x\"", "a=\"x\",", "a=\"x\" b=\"y\"",
                              "a=\"\\q\""};
  for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++)
    assert_int_equal(ldb_stats_prometheus(&s, bad_labels[i], NULL, 0, &len),
                     LDB_INVALID);
  assert_int_equal(ldb_stats_prometheus(NULL, NULL, NULL, 0, &len),
                   LDB_INVALID);
  assert_int_equal(ldb_stats_prometheus(&s, NULL, NULL, 0, NULL), LDB_INVALID);
  assert_int_equal(ldb_stats_prometheus(&s, NULL, NULL, 10, &len), LDB_INVALID);
}

/* ---- counters: every write path counted the same way --------------------- */

typedef struct {
  uint64_t gets, puts, deletes, batches, commits, conflicts, aborts;
} counts;

static counts now(ldb_db *db) {
  ldb_stats s;
  assert_int_equal(ldb_stats_get(db, &s), LDB_OK);
  counts c = {s.gets,    s.puts,      s.deletes, s.batches,
              s.commits, s.conflicts, s.aborts};
  return c;
}

/* The counters moved by exactly the given deltas since `before`. */
#define EXPECT_DELTA(db, before, g, p, d, b, c, x, a)                          \
  do {                                                                         \
    counts n_ = now(db);                                                       \
    assert_int_equal(n_.gets - (before).gets, g);                              \
    assert_int_equal(n_.puts - (before).puts, p);                              \
    assert_int_equal(n_.deletes - (before).deletes, d);                        \
    assert_int_equal(n_.batches - (before).batches, b);                        \
    assert_int_equal(n_.commits - (before).commits, c);                        \
    assert_int_equal(n_.conflicts - (before).conflicts, x);                    \
    assert_int_equal(n_.aborts - (before).aborts, a);                          \
    (before) = n_;                                                             \
  } while (0)

static void test_counters_every_path(void **state) {
  (void)state;
  ldb_store *st = NULL;
  assert_int_equal(ldb_store_memory(&st), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = st;
  o.sync_mode = LDB_SYNC_OFF;
  o.background_checkpoint = 0;
  ldb_db *db = NULL;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_OK);
  counts c = now(db);
  EXPECT_DELTA(db, c, 0, 0, 0, 0, 0, 0, 0);

  /* Single operations: one op and one commit each. */
  assert_int_equal(ldb_put(db, "a", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_put(db, "b", 1, "2", 1), LDB_OK);
  assert_int_equal(ldb_put(db, "a", 1, "3", 1), LDB_OK);
  assert_int_equal(ldb_delete(db, "zz", 2), LDB_OK); /* absent: still one */
  EXPECT_DELTA(db, c, 0, 3, 1, 0, 4, 0, 0);
  /* Refused calls count nothing. */
  static const char big_key[LDB_MAX_KEY_SIZE + 1];
  assert_int_equal(ldb_put(db, big_key, sizeof big_key, "1", 1), LDB_INVALID);
  assert_int_equal(ldb_delete(db, NULL, 1), LDB_INVALID);
  EXPECT_DELTA(db, c, 0, 0, 0, 0, 0, 0, 0);

  /* A batch of 1,000 puts and 10 deletes: 1,000 puts, 10 deletes, one
   * batch, one commit. Repeated keys count every op. */
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  char k[16];
  for (int i = 0; i < 1000; i++) {
    int n = snprintf(k, sizeof k, "k%04d", i % 900);
    assert_int_equal(ldb_batch_put(b, k, (size_t)n, "v", 1), LDB_OK);
  }
  for (int i = 0; i < 10; i++) {
    int n = snprintf(k, sizeof k, "d%d", i);
    assert_int_equal(ldb_batch_delete(b, k, (size_t)n), LDB_OK);
  }
  assert_int_equal(ldb_write(db, b), LDB_OK);
  EXPECT_DELTA(db, c, 0, 1000, 10, 1, 1, 0, 0);
  assert_int_equal(ldb_write(db, b), LDB_OK); /* applied again */
  EXPECT_DELTA(db, c, 0, 1000, 10, 1, 1, 0, 0);
  ldb_batch_clear(b);
  assert_int_equal(ldb_write(db, b), LDB_OK); /* empty: nothing */
  EXPECT_DELTA(db, c, 0, 0, 0, 0, 0, 0, 0);
  ldb_batch_destroy(b);

  /* A transaction counts the keys its commit writes, at commit. */
  ldb_txn *t = NULL;
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "x", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "x", 1, "2", 1), LDB_OK); /* same key */
  assert_int_equal(ldb_txn_put(t, "y", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_delete(t, "a", 1), LDB_OK);
  EXPECT_DELTA(db, c, 0, 0, 0, 0, 0, 0, 0); /* buffered, not applied */
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  EXPECT_DELTA(db, c, 0, 2, 1, 0, 1, 0, 0);
  /* Aborted: its buffered writes count nothing; one abort. */
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "q", 1, "1", 1), LDB_OK);
  ldb_txn_abort(t);
  EXPECT_DELTA(db, c, 0, 0, 0, 0, 0, 0, 1);
  /* Read-only and empty transactions commit nothing. */
  assert_int_equal(ldb_txn_begin(db, LDB_TXN_READONLY, &t), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  EXPECT_DELTA(db, c, 0, 0, 0, 0, 0, 0, 0);
  /* A conflict: counted as such, its writes not at all. */
  ldb_txn *t2 = NULL;
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, 0, &t2), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "c", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "c", 1, "2", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  assert_int_equal(ldb_txn_commit(t2), LDB_CONFLICT);
  EXPECT_DELTA(db, c, 0, 1, 0, 0, 1, 1, 0);

  /* Lookups: every point read, found or not, outside or inside a
   * transaction; iterators are not lookups. */
  void *v = NULL;
  size_t vl = 0;
  char buf[8];
  assert_int_equal(ldb_get(db, "b", 1, &v, &vl), LDB_OK);
  ldb_free(db, v);
  assert_int_equal(ldb_get(db, "nope", 4, &v, &vl), LDB_NOTFOUND);
  assert_int_equal(ldb_get_buf(db, "b", 1, buf, sizeof buf, &vl), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, LDB_TXN_READONLY, &t), LDB_OK);
  assert_int_equal(ldb_txn_get(t, "b", 1, &v, &vl), LDB_OK);
  ldb_free(db, v);
  assert_int_equal(ldb_txn_get_buf(t, "zz", 2, buf, sizeof buf, &vl),
                   LDB_NOTFOUND);
  ldb_iter *it = NULL;
  assert_int_equal(ldb_iter_create(db, t, NULL, &it), LDB_OK);
  assert_int_equal(ldb_iter_first(it), LDB_OK);
  ldb_iter_destroy(it);
  ldb_txn_abort(t);
  EXPECT_DELTA(db, c, 5, 0, 0, 0, 0, 0, 1);

  /* The exposition says the same. */
  ldb_stats s;
  assert_int_equal(ldb_stats_get(db, &s), LDB_OK);
  char *text = exposition(&s, NULL);
  assert_true(sample(text, "lightningdb_puts_total") == (double)s.puts);
  assert_true(s.puts == 3 + 2000 + 2 + 1);
  assert_true(sample(text, "lightningdb_deletes_total") == 1 + 20 + 1);
  assert_true(sample(text, "lightningdb_batches_total") == 2);
  assert_true(sample(text, "lightningdb_commits_total") == 4 + 2 + 1 + 1);
  free(text);

  /* Another handle on the same engine shares its counters. */
  ldb_db *db2 = NULL;
  assert_int_equal(ldb_open("mem", &o, &db2), LDB_OK);
  assert_int_equal(ldb_put(db2, "h", 1, "1", 1), LDB_OK);
  EXPECT_DELTA(db, c, 0, 1, 0, 0, 1, 0, 0);
  assert_int_equal(ldb_close(db2), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stat_table_covers_struct),
      cmocka_unit_test(test_option_table_matches_struct),
      cmocka_unit_test(test_option_roundtrip),
      cmocka_unit_test(test_option_refusals),
      cmocka_unit_test(test_option_did_you_mean),
      cmocka_unit_test(test_error_table),
      cmocka_unit_test(test_prometheus),
      cmocka_unit_test(test_counters_every_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
