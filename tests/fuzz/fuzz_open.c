/*
 * fuzz_open.c — libFuzzer target: damaged database images must never
 * crash, hang or leak. A valid database (tree pages, overflow pages, meta
 * pages and a log tail) is built once at start-up; each input either
 * replaces a file outright (raw mode) or patches bytes of the valid images
 * (patch mode: far more likely to get past the checksums' neighbours and
 * into the parsers). The damaged store is then opened, a few operations
 * derived from the input are run, and ldb_check is called. Every call may
 * fail with a code; none may crash. Allocations go through a counting hook
 * so a leak is reported even where LeakSanitizer is off.
 *
 * Input: byte 0 = mode; raw: byte 1 picks the file, the rest is its bytes;
 * patch: records of [u8 file][u24 offset][u8 xor]. Bit 3 of byte 0 puts
 * the damaged files in a directory (tmpfs when there is one) on the posix
 * store instead of the memory store, so tree pages are read through the
 * memory mapping: a damaged page number, a short file and a bad page
 * under the mapping must fail the same way.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_alloc.h"
#include "store.h"

/* The data file and the log (its head and its one segment here). */
static const char *names[3] = {"data.ldb", "feed-00.log", "feed.head"};
static uint8_t *base[3];
static size_t base_len[3];

static void die(const char *what, int rc) {
  fprintf(stderr, "fuzz_open setup: %s: %s (%s)\n", what, ldb_code_name(rc),
          ldb_errmsg(NULL));
  abort();
}

static void opts(ldb_options *o, ldb_store *s) {
  ldb_options_default(o);
  o->store = s;
  o->page_size = 512;
  o->cache_size = 512 * 16;
  o->background_checkpoint = 0;
  o->sync_mode = LDB_SYNC_OFF;
  o->allocator = &fuzz_alloc_hook;
  /* Large enough to keep the base image's tail in the log; small enough
   * that the memtable's key filter (sized from it) stays cheap. */
  o->memtable_size = 1u << 20;
}

static void build_base(void) {
  ldb_store *s = NULL;
  ldb_db *db = NULL;
  ldb_options o;
  int rc;
  if ((rc = ldb_store_memory(&s))) die("store", rc);
  opts(&o, s);
  o.compression = LDB_COMPRESSION_LZ4;
  if ((rc = ldb_open("fuzz", &o, &db))) die("open", rc);
  uint8_t v[3000];
  for (int i = 0; i < 120; i++) {
    char k[32];
    snprintf(k, sizeof k, "key%04d", i * 7 % 120);
    size_t vl = i % 9 == 0 ? 1500 : (size_t)(10 + i);
    memset(v, 'a' + i % 26, vl);
    if ((rc = ldb_put(db, k, strlen(k), v, vl))) die("put", rc);
    if (i == 80 && (rc = ldb_checkpoint(db))) die("checkpoint", rc);
  }
  if ((rc = ldb_delete(db, "key0007", 7))) die("delete", rc);
  /* The images are taken before the close (which would checkpoint the log
   * tail away): what a crash after the last commit leaves, a valid
   * database whose open replays the log. */
  for (int i = 0; i < 3; i++) {
    ldb_file *f = NULL;
    uint64_t size;
    if (ldb_fopen(s, names[i], 0, &f)) continue;
    if (ldb_fsize(f, &size)) abort();
    base[i] = malloc(size ? size : 1);
    if (size && ldb_fread_full(f, 0, base[i], size)) abort();
    base_len[i] = size;
    ldb_fclose(f);
  }
  if ((rc = ldb_close(db))) die("close", rc);
  ldb_store_destroy(s);
  fprintf(stderr, "fuzz_open: base images: %s %zu bytes, %s %zu, %s %zu\n",
          names[0], base_len[0], names[1], base_len[1], names[2], base_len[2]);
}

static char posix_dir[64];

/* Empties posix_dir (files only: the engine makes no directories). */
static void clear_dir(void) {
  DIR *d = opendir(posix_dir);
  if (!d) return;
  struct dirent *e;
  char path[512];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", posix_dir, e->d_name);
    unlink(path);
  }
  closedir(d);
}

static void remove_dir(void) {
  clear_dir();
  rmdir(posix_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  build_base();
  snprintf(posix_dir, sizeof posix_dir, "/dev/shm/ldb-fuzz-XXXXXX");
  if (!mkdtemp(posix_dir)) {
    snprintf(posix_dir, sizeof posix_dir, "/tmp/ldb-fuzz-XXXXXX");
    if (!mkdtemp(posix_dir)) abort();
  }
  atexit(remove_dir);
  return 0;
}

static void put_file(ldb_store *s, int i, const uint8_t *buf, size_t len) {
  ldb_file *f = NULL;
  if (ldb_fopen(s, names[i], LDB_STORE_CREATE, &f)) abort();
  if (len && ldb_fwrite(f, 0, buf, len)) abort();
  ldb_fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ldb_store *s = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  uint8_t *img[3];
  size_t len[3];
  if (size < 2) return 0;
  int posix = (data[0] >> 3) & 1;
  if (posix) {
    clear_dir();
    if (ldb_store_posix(posix_dir, 0, &s)) abort();
  } else if (ldb_store_memory(&s)) {
    abort();
  }
  for (int i = 0; i < 3; i++) {
    len[i] = base_len[i];
    img[i] = malloc(len[i] ? len[i] : 1);
    if (len[i]) memcpy(img[i], base[i], len[i]);
  }
  const uint8_t *ops = data + 1;
  size_t nops = size - 1;
  if (data[0] & 1) {
    /* raw: the input is one whole file */
    int fi = data[1] % 3;
    free(img[fi]);
    len[fi] = size - 2;
    img[fi] = malloc(len[fi] ? len[fi] : 1);
    memcpy(img[fi], data + 2, len[fi]);
    nops = 0;
  } else {
    size_t i = 0;
    for (; i + 5 <= nops && i < 5 * 64; i += 5) {
      int fi = ops[i] % 3;
      size_t off = (size_t)ops[i + 1] | (size_t)ops[i + 2] << 8 |
                   (size_t)ops[i + 3] << 16;
      if (!len[fi]) continue;
      if (ops[i] & 0x80) {
        /* truncate instead of flipping */
        len[fi] = off % len[fi];
        continue;
      }
      img[fi][off % len[fi]] ^= ops[i + 4] ? ops[i + 4] : 1;
    }
    ops += i;
    nops -= i;
  }
  for (int i = 0; i < 3; i++)
    if (base[i] || (data[0] & 1)) put_file(s, i, img[i], len[i]);
  opts(&o, s);
  o.read_only = (data[0] >> 1) & 1;
  fuzz_live_allocs = 0;
  if (ldb_open("fuzz", &o, &db) == LDB_OK) {
    /* A few operations; every result is acceptable except a crash. */
    void *v = NULL;
    size_t vl;
    ldb_get(db, "key0001", 7, &v, &vl);
    ldb_free(db, v);
    ldb_iter *it = NULL;
    ldb_iter_options io;
    memset(&io, 0, sizeof io);
    io.reverse = (data[0] >> 2) & 1;
    if (ldb_iter_create(db, NULL, &io, &it) == LDB_OK) {
      int n = 0;
      for (int rc = ldb_iter_first(it); rc == LDB_OK && n < 500;
           rc = ldb_iter_next(it), n++) {
        const void *k, *val;
        size_t kl, l;
        ldb_iter_key(it, &k, &kl);
        ldb_iter_value(it, &val, &l);
      }
      ldb_iter_destroy(it);
    }
    for (size_t i = 0; i + 2 <= nops && i < 40; i += 2) {
      char k[32];
      snprintf(k, sizeof k, "key%04d", ops[i] % 130);
      switch (ops[i + 1] % 4) {
      case 0: {
        static uint8_t val[256];
        memset(val, ops[i], sizeof val);
        ldb_put(db, k, strlen(k), val, ops[i + 1]);
        break;
      }
      case 1: ldb_delete(db, k, strlen(k)); break;
      case 2:
        v = NULL;
        ldb_get(db, k, strlen(k), &v, &vl);
        ldb_free(db, v);
        break;
      default: ldb_checkpoint(db); break;
      }
    }
    ldb_check(db);
    ldb_close(db);
  }
  if (fuzz_live_allocs != 0) {
    fprintf(stderr, "fuzz_open: %lld allocations leaked\n", fuzz_live_allocs);
    abort();
  }
  ldb_store_destroy(s);
  for (int i = 0; i < 3; i++)
    free(img[i]);
  return 0;
}
