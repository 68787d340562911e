/*
 * ldb — the LightningDB command-line tool, a thin program over the public C
 * API (core/include/lightningdb.h). It owns argument parsing and output
 * formatting only.
 *
 *   ldb PATH get KEY                 print the value (exit 1 when absent)
 *   ldb PATH put KEY VALUE           store VALUE under KEY (durable)
 *   ldb PATH del KEY                 delete KEY (durable)
 *   ldb PATH scan [options]          print key<TAB>value lines in order
 *       --prefix P --gte K --gt K --lte K --lt K --reverse --limit N
 *   ldb PATH count                   number of keys
 *   ldb PATH stats [--prometheus]    engine statistics
 *   ldb PATH check                   integrity check (exit 3 when corrupt;
 *                                    "ok: N pages", and a line naming
 *                                    damaged free pages: harmless)
 *   ldb PATH checkpoint              merge the log into the B+tree
 *   ldb PATH backup DEST             consistent snapshot into directory DEST
 *
 * Keys and values are taken as text; `--hex` makes every KEY/VALUE argument
 * and the output hexadecimal. Exit codes: 0 ok, 1 not found, 2 usage, 3 any
 * database error (the message names the LDB_* code).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lightningdb.h"

typedef struct {
  unsigned char *p;
  size_t n;
} bytes;

static int hex_mode;

static void usage(void) {
  fputs("usage: ldb [--hex] PATH get KEY | put KEY VALUE | del KEY | scan "
        "[--prefix P] [--gte K] [--gt K] [--lte K] [--lt K] [--reverse] "
        "[--limit N] | count | stats [--prometheus] | check | checkpoint | "
        "backup DEST\n",
        stderr);
}

static int fail(int rc, const char *what) {
  /* A miss sets no message (the read path stays cheap): the thread's text
   * would be an older call's, so none is printed for it. */
  const char *msg = rc == LDB_NOTFOUND ? "" : ldb_errmsg(NULL);
  fprintf(stderr, "ldb: %s: %s (%s)%s%s\n", what, ldb_strerror(rc),
          ldb_code_name(rc), *msg ? ": " : "", msg);
  return rc == LDB_NOTFOUND ? 1 : 3;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Parses an argument as text or (with --hex) hexadecimal. The returned
 * buffer is malloc'd; *ok is 0 when the hex is malformed. */
static bytes arg_bytes(const char *s, int *ok) {
  bytes b = {0, 0};
  size_t n = strlen(s);
  *ok = 1;
  if (!hex_mode) {
    b.p = malloc(n + 1);
    if (!b.p) {
      *ok = 0;
      return b;
    }
    memcpy(b.p, s, n);
    b.n = n;
    return b;
  }
  if (n % 2) {
    *ok = 0;
    return b;
  }
  b.p = malloc(n / 2 + 1);
  if (!b.p) {
    *ok = 0;
    return b;
  }
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      *ok = 0;
      free(b.p);
      b.p = NULL;
      return b;
    }
    b.p[i] = (unsigned char)(hi << 4 | lo);
  }
  b.n = n / 2;
  return b;
}

static void print_bytes(const void *p, size_t n) {
  const unsigned char *c = p;
  if (hex_mode) {
    for (size_t i = 0; i < n; i++)
      printf("%02x", c[i]);
  } else {
    fwrite(p, 1, n, stdout);
  }
}

static int cmd_scan(ldb_db *db, int argc, char **argv) {
  ldb_iter_options o;
  memset(&o, 0, sizeof o);
  long long limit = -1;
  bytes held[3] = {{0, 0}, {0, 0}, {0, 0}};
  int nheld = 0, ok = 1, rc = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--reverse")) {
      o.reverse = 1;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "ldb: scan option '%s' needs a value\n", a);
      usage();
      rc = 2;
      goto out;
    }
    const char *v = argv[++i];
    if (!strcmp(a, "--limit")) {
      char *end = NULL;
      errno = 0;
      limit = strtoll(v, &end, 10);
      if (errno || end == v || *end || limit < 0 ||
          limit > 9007199254740991LL) {
        fprintf(stderr,
                "ldb: --limit must be an integer in 0..9007199254740991, "
                "got '%s'\n",
                v);
        rc = 2;
        goto out;
      }
      continue;
    }
    if (nheld == 3) {
      usage();
      rc = 2;
      goto out;
    }
    bytes b = arg_bytes(v, &ok);
    if (!ok) {
      fprintf(stderr, "ldb: bad hex '%s'\n", v);
      rc = 2;
      goto out;
    }
    held[nheld++] = b;
    if (!strcmp(a, "--prefix")) {
      o.prefix = b.p, o.prefix_len = b.n;
    } else if (!strcmp(a, "--gte") || !strcmp(a, "--gt")) {
      o.lower = b.p, o.lower_len = b.n, o.lower_exclusive = a[4] == 0;
    } else if (!strcmp(a, "--lte") || !strcmp(a, "--lt")) {
      o.upper = b.p, o.upper_len = b.n, o.upper_exclusive = a[4] == 0;
    } else {
      fprintf(stderr, "ldb: unknown scan option '%s'\n", a);
      usage();
      rc = 2;
      goto out;
    }
  }
  ldb_iter *it = NULL;
  int r = ldb_iter_create(db, NULL, &o, &it);
  if (r) {
    rc = fail(r, "scan");
    goto out;
  }
  long long n = 0;
  for (r = ldb_iter_first(it); r == LDB_OK && (limit < 0 || n < limit);
       r = ldb_iter_next(it), n++) {
    const void *k, *v;
    size_t kl, vl;
    if ((r = ldb_iter_key(it, &k, &kl)) || (r = ldb_iter_value(it, &v, &vl)))
      break;
    print_bytes(k, kl);
    putchar('\t');
    print_bytes(v, vl);
    putchar('\n');
  }
  if (r != LDB_OK && r != LDB_NOTFOUND) rc = fail(r, "scan");
  ldb_iter_destroy(it);
out:
  for (int i = 0; i < nheld; i++)
    free(held[i].p);
  return rc;
}

static int cmd_count(ldb_db *db) {
  ldb_iter *it = NULL;
  int r = ldb_iter_create(db, NULL, NULL, &it);
  if (r) return fail(r, "count");
  unsigned long long n = 0;
  for (r = ldb_iter_first(it); r == LDB_OK; r = ldb_iter_next(it))
    n++;
  ldb_iter_destroy(it);
  if (r != LDB_NOTFOUND) return fail(r, "count");
  printf("%llu\n", n);
  return 0;
}

/* "ok" and the pages checked; damaged free pages that no version reaches
 * are harmless (a crash may leave one torn) and leave the verdict ok: a
 * second line counts and names them. */
static int cmd_check(ldb_db *db) {
  ldb_check_result res;
  int r = ldb_check_report(db, &res);
  if (r) return fail(r, "check");
  printf("ok: %llu pages\n", (unsigned long long)res.pages);
  if (res.leaf_pages) {
    ldb_stats st;
    double cap = 0;
    if (ldb_stats_get(db, &st) == LDB_OK)
      cap = (double)res.leaf_pages * (double)(st.page_size - 16);
    printf("tree: %llu leaf page%s %.1f%% full, %llu branch, %llu overflow\n",
           (unsigned long long)res.leaf_pages, res.leaf_pages == 1 ? "" : "s",
           cap > 0 ? 100.0 * (double)res.leaf_bytes / cap : 0.0,
           (unsigned long long)res.branch_pages,
           (unsigned long long)res.overflow_pages);
  }
  if (res.free_skipped)
    puts("free pages not verified: a checkpoint ran meanwhile");
  if (!res.free_damaged) return 0;
  printf("%llu of %llu free pages damaged, harmless (torn by a crash, never "
         "read again): pages",
         (unsigned long long)res.free_damaged,
         (unsigned long long)res.free_checked);
  for (uint64_t i = 0; i < res.free_damaged && i < LDB_CHECK_LISTED; i++)
    printf(" %llu", (unsigned long long)res.free_damaged_pages[i]);
  puts(res.free_damaged > LDB_CHECK_LISTED ? " ..." : "");
  return 0;
}

/* Plain: one "name value" line per field of ldb_stat_table() (histograms
 * are summarised by their percentile fields). Prometheus: the core's
 * exposition, so every series has one definition. */
static int cmd_stats(ldb_db *db, int prometheus) {
  ldb_stats s;
  int r = ldb_stats_get(db, &s);
  if (r) return fail(r, "stats");
  if (prometheus) {
    size_t len = 0;
    if ((r = ldb_stats_prometheus(&s, NULL, NULL, 0, &len)))
      return fail(r, "stats");
    char *text = malloc(len + 1);
    if (!text) return fail(LDB_NOMEM, "stats");
    r = ldb_stats_prometheus(&s, NULL, text, len + 1, &len);
    if (!r) fputs(text, stdout);
    free(text);
    return r ? fail(r, "stats") : 0;
  }
  size_t n = 0;
  const ldb_stat_info *t = ldb_stat_table(&n);
  for (size_t i = 0; i < n; i++) {
    if (t[i].type == LDB_METRIC_HISTOGRAM) continue;
    uint64_t v;
    memcpy(&v, (const unsigned char *)&s + t[i].offset, sizeof v);
    printf("%-22s %llu\n", t[i].name, (unsigned long long)v);
  }
  return 0;
}

int main(int argc, char **argv) {
  int i = 1;
  if (i < argc && !strcmp(argv[i], "--hex")) hex_mode = 1, i++;
  /* An option before PATH other than --hex is a mistake, not a path (a
   * path that begins with '-' can be written ./-name). */
  if (i < argc && argv[i][0] == '-' && argv[i][1]) {
    fprintf(stderr, "ldb: unknown option '%s'%s\n", argv[i],
            !strncmp(argv[i], "--h", 3) ? " (did you mean --hex?)" : "");
    usage();
    return 2;
  }
  if (argc - i < 2) {
    usage();
    return 2;
  }
  const char *path = argv[i], *cmd = argv[i + 1];
  char **rest = argv + i + 2;
  int nrest = argc - i - 2;

  int readonly = !strcmp(cmd, "get") || !strcmp(cmd, "scan") ||
                 !strcmp(cmd, "count") || !strcmp(cmd, "stats") ||
                 !strcmp(cmd, "check") || !strcmp(cmd, "backup");
  ldb_options o;
  ldb_options_default(&o);
  o.create_if_missing = !strcmp(cmd, "put");
  o.read_only = readonly;
  o.sync_mode = LDB_SYNC_FULL;
  o.background_checkpoint = 0;
  ldb_db *db = NULL;
  int r = ldb_open(path, &o, &db);
  if (r) {
    char what[64 + 4096];
    snprintf(what, sizeof what, "open %s", path);
    fail(r, what);
    return 3; /* a missing database is an error, not an absent key */
  }

  int rc = 0, ok = 1;
  if (!strcmp(cmd, "get") && nrest == 1) {
    bytes k = arg_bytes(rest[0], &ok);
    void *v = NULL;
    size_t vl = 0;
    if (!ok) {
      rc = 2;
      fprintf(stderr, "ldb: bad hex key\n");
    } else if ((r = ldb_get(db, k.p, k.n, &v, &vl)))
      rc = fail(r, "get");
    else {
      print_bytes(v, vl);
      putchar('\n');
      ldb_free(db, v);
    }
    free(k.p);
  } else if (!strcmp(cmd, "put") && nrest == 2) {
    int ok2 = 1;
    bytes k = arg_bytes(rest[0], &ok), v = arg_bytes(rest[1], &ok2);
    if (!ok || !ok2) {
      rc = 2;
      fprintf(stderr, "ldb: bad hex argument\n");
    } else if ((r = ldb_put(db, k.p, k.n, v.p, v.n)))
      rc = fail(r, "put");
    free(k.p);
    free(v.p);
  } else if (!strcmp(cmd, "del") && nrest == 1) {
    bytes k = arg_bytes(rest[0], &ok);
    if (!ok) {
      rc = 2;
      fprintf(stderr, "ldb: bad hex key\n");
    } else if ((r = ldb_delete(db, k.p, k.n)))
      rc = fail(r, "del");
    free(k.p);
  } else if (!strcmp(cmd, "scan")) {
    rc = cmd_scan(db, nrest, rest);
  } else if (!strcmp(cmd, "count") && nrest == 0) {
    rc = cmd_count(db);
  } else if (!strcmp(cmd, "stats") && nrest <= 1) {
    rc = cmd_stats(db, nrest == 1 && !strcmp(rest[0], "--prometheus"));
  } else if (!strcmp(cmd, "check") && nrest == 0) {
    rc = cmd_check(db);
  } else if (!strcmp(cmd, "checkpoint") && nrest == 0) {
    if ((r = ldb_checkpoint(db))) rc = fail(r, "checkpoint");
  } else if (!strcmp(cmd, "backup") && nrest == 1) {
    if ((r = ldb_backup(db, rest[0]))) rc = fail(r, "backup");
  } else {
    usage();
    rc = 2;
  }
  r = ldb_close(db);
  if (r && !rc) rc = fail(r, "close");
  return rc;
}
