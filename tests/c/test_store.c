/*
 * test_store.c — unit tests of the store seam implementations: memory,
 * the directory store (posix, or win32 on Windows: the "posix" tests run
 * against whichever the platform has) and the faulty wrapper (overlay of
 * unsynced writes, simulated power loss in DROP and TEAR mode, fail-nth with
 * sticky mode and partial sector writes, counters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <cmocka.h>
#include <pthread.h>

#include "helpers/store_faulty.h"
#include "helpers/testutil.h"

#ifdef _WIN32
#define SEP "\\"
#else
#define SEP "/"
#endif

/* The same contract checks for every store. */
static void check_basic_contract(ldb_store *s) {
  ldb_file *f = NULL, *g = NULL;
  uint8_t buf[10000], rd[10000];
  size_t got;
  uint64_t size;

  assert_int_equal(ldb_fopen(s, "missing.ldb", 0, &f), LDB_NOTFOUND);
  assert_null(f);
  assert_int_equal(ldb_fopen(s, "a/b", LDB_STORE_CREATE, &f), LDB_INVALID);
  assert_int_equal(ldb_fopen(s, "", LDB_STORE_CREATE, &f), LDB_INVALID);

  assert_int_equal(ldb_fopen(s, "data.ldb", LDB_STORE_CREATE, &f), LDB_OK);
  assert_int_equal(ldb_fsize(f, &size), LDB_OK);
  assert_int_equal(size, 0);
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)(i * 7 + 3);
  /* A write past the end extends the file with zeros before it. */
  assert_int_equal(ldb_fwrite(f, 100, buf, 5000), LDB_OK);
  assert_int_equal(ldb_fsize(f, &size), LDB_OK);
  assert_int_equal(size, 5100);
  assert_int_equal(ldb_fread(f, 0, rd, 200, &got), LDB_OK);
  assert_int_equal(got, 200);
  for (int i = 0; i < 100; i++)
    assert_int_equal(rd[i], 0);
  assert_memory_equal(rd + 100, buf, 100);
  /* Short read only at end of file. */
  assert_int_equal(ldb_fread(f, 5000, rd, 1000, &got), LDB_OK);
  assert_int_equal(got, 100);
  assert_int_equal(ldb_fread(f, 9000, rd, 10, &got), LDB_OK);
  assert_int_equal(got, 0);
  assert_int_equal(ldb_fread_full(f, 5050, rd, 100), LDB_CORRUPT);
  assert_int_equal(ldb_fread_full(f, 100, rd, 5000), LDB_OK);
  assert_memory_equal(rd, buf, 5000);
  assert_int_equal(ldb_fsync(f), LDB_OK);

  /* Truncate shrinks, and re-extending gives zeros, not old bytes. */
  assert_int_equal(ldb_ftruncate(f, 200), LDB_OK);
  assert_int_equal(ldb_ftruncate(f, 300), LDB_OK);
  assert_int_equal(ldb_fsize(f, &size), LDB_OK);
  assert_int_equal(size, 300);
  assert_int_equal(ldb_fread_full(f, 100, rd, 200), LDB_OK);
  assert_memory_equal(rd, buf, 100);
  for (int i = 100; i < 200; i++)
    assert_int_equal(rd[i], 0);
  assert_int_equal(ldb_fsync(f), LDB_OK);

  /* A second handle on the same file sees the same bytes. */
  assert_int_equal(ldb_fopen(s, "data.ldb", 0, &g), LDB_OK);
  assert_int_equal(ldb_fwrite(g, 0, "hello", 5), LDB_OK);
  assert_int_equal(ldb_fread_full(f, 0, rd, 5), LDB_OK);
  assert_memory_equal(rd, "hello", 5);
  assert_int_equal(ldb_fsync(g), LDB_OK);
  assert_int_equal(ldb_fclose(g), LDB_OK);
  assert_int_equal(ldb_fclose(f), LDB_OK);

  /* Files persist across close. */
  assert_int_equal(ldb_fopen(s, "data.ldb", 0, &f), LDB_OK);
  assert_int_equal(ldb_fsize(f, &size), LDB_OK);
  assert_int_equal(size, 300);
  assert_int_equal(ldb_fread_full(f, 0, rd, 5), LDB_OK);
  assert_memory_equal(rd, "hello", 5);
  assert_int_equal(ldb_fclose(f), LDB_OK);

  /* remove: gone afterwards; removing a missing file is fine. */
  assert_int_equal(s->methods->remove(s, "data.ldb"), LDB_OK);
  assert_int_equal(s->methods->remove(s, "data.ldb"), LDB_OK);
  assert_int_equal(ldb_fopen(s, "data.ldb", 0, &f), LDB_NOTFOUND);
}

static void check_lock_contract(ldb_store *s) {
  char holder[64];
  assert_int_equal(s->methods->lock(s, 1, holder, sizeof holder), LDB_OK);
  assert_int_equal(s->methods->unlock(s), LDB_OK);
  assert_int_equal(s->methods->lock(s, 0, holder, sizeof holder), LDB_OK);
  assert_int_equal(s->methods->unlock(s), LDB_OK);
}

/* ---- memory ------------------------------------------------------------ */

static void test_memory_basic(void **state) {
  (void)state;
  ldb_store *s = NULL, *t = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  assert_int_equal(ldb_store_memory(&t), LDB_OK);
  assert_non_null(s->id);
  assert_non_null(t->id);
  assert_string_not_equal(s->id, t->id);
  check_basic_contract(s);
  check_lock_contract(s);
  ldb_store_destroy(s);
  ldb_store_destroy(t);
  ldb_store_destroy(NULL);
}

static void test_memory_lock(void **state) {
  (void)state;
  ldb_store *s = NULL;
  char holder[96] = "";
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  assert_int_equal(s->methods->lock(s, 1, holder, sizeof holder), LDB_OK);
  assert_int_equal(s->methods->lock(s, 1, holder, sizeof holder), LDB_BUSY);
  assert_true(strlen(holder) > 0);
  assert_int_equal(s->methods->lock(s, 0, holder, sizeof holder), LDB_BUSY);
  assert_int_equal(s->methods->unlock(s), LDB_OK);
  /* Shared locks coexist and keep a writer out. */
  assert_int_equal(s->methods->lock(s, 0, holder, sizeof holder), LDB_OK);
  assert_int_equal(s->methods->lock(s, 0, holder, sizeof holder), LDB_OK);
  assert_int_equal(s->methods->lock(s, 1, holder, sizeof holder), LDB_BUSY);
  assert_int_equal(s->methods->unlock(s), LDB_OK);
  assert_int_equal(s->methods->unlock(s), LDB_OK);
  assert_int_equal(s->methods->lock(s, 1, holder, sizeof holder), LDB_OK);
  assert_int_equal(s->methods->unlock(s), LDB_OK);
  ldb_store_destroy(s);
}

/* A removed file stays usable through a handle that is still open. */
static void test_memory_remove_open(void **state) {
  (void)state;
  ldb_store *s = NULL;
  ldb_file *f = NULL, *g = NULL;
  uint8_t rd[4];
  uint64_t size;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  assert_int_equal(ldb_fopen(s, "x", LDB_STORE_CREATE, &f), LDB_OK);
  assert_int_equal(ldb_fwrite(f, 0, "abcd", 4), LDB_OK);
  assert_int_equal(s->methods->remove(s, "x"), LDB_OK);
  assert_int_equal(ldb_fread_full(f, 0, rd, 4), LDB_OK);
  assert_memory_equal(rd, "abcd", 4);
  assert_int_equal(ldb_fopen(s, "x", LDB_STORE_CREATE, &g), LDB_OK);
  assert_int_equal(ldb_fsize(g, &size), LDB_OK);
  assert_int_equal(size, 0);
  assert_int_equal(ldb_fclose(f), LDB_OK);
  assert_int_equal(ldb_fclose(g), LDB_OK);
  ldb_store_destroy(s);
}

/* Threads on one memory store: each appends to its own file while
 * reading the others' (the store serializes with its mutex). */
typedef struct mt_arg {
  ldb_store *s;
  int id;
  int bad;
} mt_arg;

static void *mem_thread(void *p) {
  mt_arg *a = p;
  char name[16];
  ldb_file *f = NULL, *g = NULL;
  snprintf(name, sizeof name, "t%d", a->id);
  if (ldb_fopen(a->s, name, LDB_STORE_CREATE, &f)) {
    a->bad = 1;
    return NULL;
  }
  snprintf(name, sizeof name, "t%d", (a->id + 1) % 4);
  for (int i = 0; i < 2000; i++) {
    uint8_t b[64], r[64];
    memset(b, a->id + i, sizeof b);
    if (ldb_fwrite(f, (uint64_t)i * 64, b, 64)) a->bad = 1;
    if (ldb_fread_full(f, (uint64_t)i * 64, r, 64) || memcmp(b, r, 64))
      a->bad = 1;
    if (!g) ldb_fopen(a->s, name, 0, &g);
    if (g) {
      uint64_t size;
      size_t got;
      if (ldb_fsize(g, &size) ||
          ldb_fread(g, size > 64 ? size - 64 : 0, r, 64, &got))
        a->bad = 1;
    }
  }
  if (g) ldb_fclose(g);
  ldb_fclose(f);
  return NULL;
}

static void test_memory_threads(void **state) {
  (void)state;
  ldb_store *s = NULL;
  pthread_t th[4];
  mt_arg a[4];
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  for (int i = 0; i < 4; i++) {
    a[i].s = s;
    a[i].id = i;
    a[i].bad = 0;
    assert_int_equal(pthread_create(&th[i], NULL, mem_thread, &a[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(a[i].bad, 0);
  }
  for (int i = 0; i < 4; i++) {
    char name[16];
    ldb_file *f = NULL;
    uint64_t size;
    snprintf(name, sizeof name, "t%d", i);
    assert_int_equal(ldb_fopen(s, name, 0, &f), LDB_OK);
    assert_int_equal(ldb_fsize(f, &size), LDB_OK);
    assert_int_equal(size, 2000 * 64);
    ldb_fclose(f);
  }
  ldb_store_destroy(s);
}

/* ---- posix ------------------------------------------------------------- */

static void test_posix_basic(void **state) {
  (void)state;
  char *dir = tu_tmpdir("store");
  char sub[4200], path[4300];
  ldb_store *s = NULL;
  snprintf(sub, sizeof sub, "%s/db/nested", dir);
  assert_int_equal(tu_store_dir(sub, 0, &s), LDB_NOTFOUND);
  assert_null(s);
  assert_int_equal(tu_store_dir(sub, 1, &s), LDB_OK);
  assert_non_null(s->id);
  /* The id is the canonical path, whichever spelling was used. */
  snprintf(path, sizeof path, "%s/db/../db/nested/", dir);
  ldb_store *t = NULL;
  assert_int_equal(tu_store_dir(path, 0, &t), LDB_OK);
  assert_string_equal(s->id, t->id);
  ldb_store_destroy(t);
  check_basic_contract(s);
  check_lock_contract(s);
  /* A file where a directory is expected. */
  snprintf(path, sizeof path, "%s/plain", dir);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fclose(fp);
  assert_int_equal(tu_store_dir(path, 1, &t), LDB_INVALID);
  /* An OS error becomes LDB_IOERR naming the path and the cause. */
  char sub2[4300];
  snprintf(sub2, sizeof sub2, "%s%sadir", s->id, SEP);
  assert_int_equal(tu_mkdir(sub2), 0);
  ldb_file *f = NULL;
  assert_int_equal(ldb_fopen(s, "adir", LDB_STORE_CREATE, &f), LDB_IOERR);
  assert_null(f);
  assert_non_null(strstr(ldb_errmsg(NULL), sub2));
  assert_non_null(strstr(ldb_errmsg(NULL), "directory"));
  ldb_store_destroy(s);
  tu_rmrf(dir);
  free(dir);
}

/* The other process of test_posix_lock_other_process (this binary run
 * with --lock-child): "busy" expects both lock kinds refused, naming
 * `want` as the holder and the LOCK file naming `parent`; "free" expects
 * the writer lock. Exit status 0 when so. */
static int lock_child_checks(ldb_store *c, const char *mode, const char *dir,
                             const char *want, const char *parent) {
  char h[64] = "", path[4200];
  if (!strcmp(mode, "free")) return c->methods->lock(c, 1, h, sizeof h);
  if (c->methods->lock(c, 1, h, sizeof h) != LDB_BUSY) return 3;
  if (strcmp(h, want) != 0) {
    fprintf(stderr, "holder \"%s\", want \"%s\"\n", h, want);
    return 4;
  }
  if (c->methods->lock(c, 0, h, sizeof h) != LDB_BUSY) return 5;
  if (!strstr(ldb_errmsg(NULL), "locked")) return 6;
  /* The LOCK file names the holder. (Read it here: closing any descriptor
   * of LOCK in the parent would drop the parent's fcntl lock.) */
  snprintf(path, sizeof path, "%s/LOCK", dir);
  FILE *fp = fopen(path, "r");
  long pid = 0;
  int ok = fp && fscanf(fp, "%ld", &pid) == 1 && pid == atol(parent);
  if (fp) fclose(fp);
  return ok ? 0 : 7;
}

static int lock_child(const char *mode, const char *dir, const char *want,
                      const char *parent) {
  ldb_store *c = NULL;
  if (tu_store_dir(dir, 0, &c) != LDB_OK) return 2;
  int rc = lock_child_checks(c, mode, dir, want, parent);
  ldb_store_destroy(c);
  return rc;
}

static int run_lock_child(const char *mode, const char *dir, const char *want) {
  char parent[32];
  snprintf(parent, sizeof parent, "%ld", tu_pid());
  char *argv[] = {
      (char *)tu_self_exe(), "--lock-child", (char *)mode, (char *)dir,
      (char *)want,          parent,         NULL};
  return tu_run_wait(argv);
}

static void test_posix_lock_other_process(void **state) {
  (void)state;
  char *dir = tu_tmpdir("storelock");
  ldb_store *s = NULL;
  char holder[64] = "", want[64];
  assert_int_equal(tu_store_dir(dir, 1, &s), LDB_OK);
  assert_int_equal(s->methods->lock(s, 1, holder, sizeof holder), LDB_OK);
  snprintf(want, sizeof want, "pid %ld", tu_pid());
  /* A second process: both lock kinds conflict with our writer lock. */
  assert_int_equal(run_lock_child("busy", dir, want), 0);

  /* In the same process, a second store on the same directory is refused
   * too (fcntl alone would not see the conflict; LockFileEx locks belong
   * to a handle, so Windows sees it by itself). */
  ldb_store *t = NULL;
  assert_int_equal(tu_store_dir(dir, 0, &t), LDB_OK);
  assert_int_equal(t->methods->lock(t, 1, holder, sizeof holder), LDB_BUSY);
  assert_int_equal(t->methods->lock(t, 0, holder, sizeof holder), LDB_BUSY);
  assert_int_equal(s->methods->unlock(s), LDB_OK);
  assert_int_equal(t->methods->lock(t, 1, holder, sizeof holder), LDB_OK);
  ldb_store_destroy(t); /* destroy releases the lock */

  /* After release, another process can take the lock. */
  assert_int_equal(run_lock_child("free", dir, ""), 0);

  /* Shared locks from two stores in one process coexist. */
  assert_int_equal(tu_store_dir(dir, 0, &t), LDB_OK);
  assert_int_equal(s->methods->lock(s, 0, holder, sizeof holder), LDB_OK);
  assert_int_equal(t->methods->lock(t, 0, holder, sizeof holder), LDB_OK);
  assert_int_equal(s->methods->unlock(s), LDB_OK);
  assert_int_equal(t->methods->unlock(t), LDB_OK);
  ldb_store_destroy(t);
  ldb_store_destroy(s);
  tu_rmrf(dir);
  free(dir);
}

#ifndef _WIN32
/* In a child that may not write the database's directory: ldb_open fails
 * with a message that says why (the store's "Permission denied", not only
 * "I/O error"). Exit 0 when it does. */
static int open_denied(const char *dir) {
  ldb_options o;
  ldb_options_default(&o);
  ldb_db *db = NULL;
  int rc = ldb_open(dir, &o, &db);
  const char *m = ldb_errmsg(NULL);
  if (rc == LDB_OK) {
    ldb_close(db);
    return 2;
  }
  if (!m || !strstr(m, "Permission denied")) {
    fprintf(stderr, "open_denied: %s: %s\n", ldb_code_name(rc), m ? m : "");
    return 3;
  }
  return 0;
}

static void test_posix_open_permission_denied(void **state) {
  (void)state;
  char *dir = tu_tmpdir("permdenied");
  ldb_options o;
  ldb_options_default(&o);
  ldb_db *db = NULL;
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  tu_put_s(db, "a", "1");
  assert_int_equal(ldb_close(db), LDB_OK);
  char lock[600];
  snprintf(lock, sizeof lock, "%s/LOCK", dir);
  assert_int_equal(chmod(dir, 0555), 0);
  assert_int_equal(chmod(lock, 0444), 0);
  int code;
  if (getuid() == 0) {
    /* root may write anything: the child becomes nobody */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      if (setgid(65534) != 0 || setuid(65534) != 0) _exit(4);
      _exit(open_denied(dir));
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    code = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
  } else {
    code = open_denied(dir);
  }
  chmod(dir, 0755);
  chmod(lock, 0644);
  if (code == 4) {
    print_message("cannot become nobody: skipped\n");
  } else {
    assert_int_equal(code, 0);
  }
  tu_rmrf(dir);
  free(dir);
}
#endif

/* ---- faulty ------------------------------------------------------------ */

static void make_faulty(ldb_store **inner, ldb_store **fs) {
  assert_int_equal(ldb_store_memory(inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(*inner, fs), LDB_OK);
  assert_non_null((*fs)->id);
  assert_string_not_equal((*fs)->id, (*inner)->id);
}

static void test_faulty_basic(void **state) {
  (void)state;
  ldb_store *inner, *fs;
  make_faulty(&inner, &fs);
  check_basic_contract(fs);
  check_lock_contract(fs);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

/* Reads see unsynced writes; only sync moves them to the inner store;
 * a DROP crash loses exactly the unsynced ones. */
static void test_faulty_overlay_drop(void **state) {
  (void)state;
  ldb_store *inner, *fs;
  ldb_file *f, *g;
  uint8_t rd[16];
  uint64_t size;
  make_faulty(&inner, &fs);
  assert_int_equal(ldb_fopen(fs, "f", LDB_STORE_CREATE, &f), LDB_OK);
  assert_int_equal(ldb_fwrite(f, 0, "AAAA", 4), LDB_OK);
  assert_int_equal(ldb_fread_full(f, 0, rd, 4), LDB_OK);
  assert_memory_equal(rd, "AAAA", 4);
  assert_int_equal(ldb_fopen(inner, "f", 0, &g), LDB_OK);
  assert_int_equal(ldb_fsize(g, &size), LDB_OK);
  assert_int_equal(size, 0); /* not synced yet */
  assert_int_equal(ldb_fsync(f), LDB_OK);
  assert_int_equal(ldb_fsize(g, &size), LDB_OK);
  assert_int_equal(size, 4);
  assert_int_equal(ldb_fclose(g), LDB_OK);
  assert_int_equal(ldb_fwrite(f, 2, "BBBB", 4), LDB_OK);
  assert_int_equal(ldb_ftruncate(f, 3), LDB_OK);
  /* Closing does not sync; a reopen still sees the page-cache state. */
  assert_int_equal(ldb_fclose(f), LDB_OK);
  assert_int_equal(ldb_fopen(fs, "f", 0, &f), LDB_OK);
  assert_int_equal(ldb_fsize(f, &size), LDB_OK);
  assert_int_equal(size, 3);
  assert_int_equal(ldb_fread_full(f, 0, rd, 3), LDB_OK);
  assert_memory_equal(rd, "AAB", 3);
  assert_int_equal(ldb_faulty_crashed(fs), 0);
  ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 1);
  assert_int_equal(ldb_faulty_crashed(fs), 1);
  /* Dead after the crash... */
  size_t got;
  assert_int_equal(ldb_fread(f, 0, rd, 4, &got), LDB_IOERR);
  assert_int_equal(ldb_fwrite(f, 0, "x", 1), LDB_IOERR);
  assert_int_equal(ldb_fsync(f), LDB_IOERR);
  g = NULL;
  assert_int_equal(ldb_fopen(fs, "f", 0, &g), LDB_IOERR);
  assert_null(g);
  /* ...and the inner store holds the synced image. */
  assert_int_equal(ldb_fopen(inner, "f", 0, &g), LDB_OK);
  assert_int_equal(ldb_fsize(g, &size), LDB_OK);
  assert_int_equal(size, 4);
  assert_int_equal(ldb_fread_full(g, 0, rd, 4), LDB_OK);
  assert_memory_equal(rd, "AAAA", 4);
  assert_int_equal(ldb_fclose(g), LDB_OK);
  assert_int_equal(ldb_fclose(f), LDB_OK); /* close still frees */
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

/* TEAR: every sector of the result is either the old or a new version of
 * that sector, the outcome depends only on the seed, and over many seeds
 * both "kept" and "lost" happen. */
static void tear_once(uint64_t seed, uint8_t *out, size_t *out_size) {
  ldb_store *inner, *fs;
  ldb_file *f;
  uint8_t buf[4096];
  make_faulty(&inner, &fs);
  assert_int_equal(ldb_fopen(fs, "f", LDB_STORE_CREATE, &f), LDB_OK);
  memset(buf, 'o', sizeof buf);
  assert_int_equal(ldb_fwrite(f, 0, buf, sizeof buf), LDB_OK);
  assert_int_equal(ldb_fsync(f), LDB_OK);
  for (int w = 0; w < 8; w++) {
    memset(buf, 'a' + w, 1024);
    assert_int_equal(ldb_fwrite(f, (uint64_t)w * 512, buf, 1024), LDB_OK);
  }
  ldb_faulty_crash_now(fs, LDB_CRASH_TEAR, seed);
  ldb_fclose(f);
  assert_int_equal(ldb_fopen(inner, "f", 0, &f), LDB_OK);
  uint64_t size;
  assert_int_equal(ldb_fsize(f, &size), LDB_OK);
  *out_size = (size_t)size;
  assert_true(size <= 8192);
  assert_int_equal(ldb_fread_full(f, 0, out, (size_t)size), LDB_OK);
  ldb_fclose(f);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

static void test_faulty_tear(void **state) {
  (void)state;
  uint8_t a[8192], b[8192];
  size_t an, bn;
  int saw_old = 0, saw_new = 0;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    tear_once(seed, a, &an);
    tear_once(seed, b, &bn);
    assert_int_equal(an, bn);
    assert_memory_equal(a, b, an); /* deterministic per seed */
    for (size_t sec = 0; sec < an / 512; sec++) {
      uint8_t c = a[sec * 512];
      for (size_t i = 1; i < 512; i++)
        assert_int_equal(a[sec * 512 + i], c); /* whole sectors */
      if (c == 'o')
        saw_old = 1;
      else
        saw_new = 1;
      assert_true(c == 'o' || (c >= 'a' && c <= 'h'));
    }
  }
  assert_true(saw_old && saw_new);
}

static void test_faulty_fail_nth(void **state) {
  (void)state;
  ldb_store *inner, *fs;
  ldb_file *f;
  uint8_t buf[2048], rd[2048];
  size_t got;
  make_faulty(&inner, &fs);
  assert_int_equal(ldb_fopen(fs, "f", LDB_STORE_CREATE, &f), LDB_OK);
  uint64_t w0 = ldb_faulty_count(fs, LDB_FAULT_WRITE);
  assert_int_equal(w0, 0);
  assert_int_equal(ldb_faulty_count(fs, LDB_FAULT_OPEN), 1);

  /* Non-sticky: only the 3rd write fails. */
  ldb_faulty_fail_nth(fs, 3, LDB_FAULT_WRITE, LDB_IOERR, 0);
  assert_int_equal(ldb_fwrite(f, 0, "a", 1), LDB_OK);
  assert_int_equal(ldb_fread(f, 0, rd, 1, &got), LDB_OK); /* not a write */
  assert_int_equal(ldb_fwrite(f, 1, "b", 1), LDB_OK);
  assert_int_equal(ldb_fwrite(f, 2, "c", 1), LDB_IOERR);
  assert_non_null(strstr(ldb_errmsg(NULL), "injected"));
  assert_int_equal(ldb_fwrite(f, 2, "c", 1), LDB_OK);
  assert_int_equal(ldb_faulty_count(fs, LDB_FAULT_WRITE), 4);
  assert_int_equal(ldb_faulty_count(fs, LDB_FAULT_WRITE | LDB_FAULT_READ), 5);

  /* Sticky FULL: a multi-sector write leaves a whole-sector prefix. */
  memset(buf, 'z', sizeof buf);
  ldb_faulty_fail_nth(fs, 1, LDB_FAULT_WRITE | LDB_FAULT_SYNC, LDB_FULL, 1);
  assert_int_equal(ldb_fwrite(f, 0, buf, sizeof buf), LDB_FULL);
  uint64_t size;
  assert_int_equal(ldb_fsize(f, &size), LDB_OK); /* not in the mask */
  assert_true(size > 3 && size < sizeof buf && size % 512 == 0);
  assert_int_equal(ldb_fwrite(f, 0, "q", 1), LDB_FULL);
  assert_int_equal(ldb_fsync(f), LDB_FULL);
  ldb_faulty_clear(fs);
  assert_int_equal(ldb_fwrite(f, 0, buf, sizeof buf), LDB_OK);
  assert_int_equal(ldb_fsync(f), LDB_OK);
  assert_int_equal(ldb_fread_full(f, 0, rd, sizeof rd), LDB_OK);
  assert_memory_equal(rd, buf, sizeof buf);

  /* Every kind can be targeted. */
  int kinds[] = {LDB_FAULT_READ, LDB_FAULT_SYNC, LDB_FAULT_SIZE,
                 LDB_FAULT_TRUNCATE, LDB_FAULT_OPEN};
  for (int i = 0; i < 5; i++) {
    ldb_file *g = NULL;
    ldb_faulty_fail_nth(fs, 1, kinds[i], LDB_IOERR, 0);
    int rc;
    switch (kinds[i]) {
    case LDB_FAULT_READ: rc = ldb_fread(f, 0, rd, 1, &got); break;
    case LDB_FAULT_SYNC: rc = ldb_fsync(f); break;
    case LDB_FAULT_SIZE: rc = ldb_fsize(f, &size); break;
    case LDB_FAULT_TRUNCATE: rc = ldb_ftruncate(f, 10); break;
    default: rc = ldb_fopen(fs, "f", 0, &g); break;
    }
    assert_int_equal(rc, LDB_IOERR);
    assert_null(g);
  }
  ldb_fclose(f);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

static void test_faulty_crash_at_sync(void **state) {
  (void)state;
  ldb_store *inner, *fs;
  ldb_file *f, *g;
  uint8_t rd[8];
  make_faulty(&inner, &fs);
  assert_int_equal(ldb_fopen(fs, "log", LDB_STORE_CREATE, &f), LDB_OK);
  assert_int_equal(ldb_fopen(fs, "data", LDB_STORE_CREATE, &g), LDB_OK);
  ldb_faulty_crash_at_sync(fs, 2, LDB_CRASH_DROP, 7);
  assert_int_equal(ldb_fwrite(f, 0, "one", 3), LDB_OK);
  assert_int_equal(ldb_fwrite(g, 0, "DATA", 4), LDB_OK);
  assert_int_equal(ldb_fsync(f), LDB_OK); /* sync 1 happens */
  assert_int_equal(ldb_fwrite(f, 3, "two", 3), LDB_OK);
  assert_int_equal(ldb_fsync(f), LDB_IOERR); /* sync 2: power cut */
  assert_true(ldb_faulty_crashed(fs));
  assert_int_equal(ldb_faulty_count(fs, LDB_FAULT_SYNC), 2);
  char name[16];
  assert_int_equal(ldb_faulty_sync_file(fs, 1, name, sizeof name), LDB_OK);
  assert_string_equal(name, "log");
  assert_int_equal(ldb_faulty_sync_file(fs, 3, name, sizeof name),
                   LDB_NOTFOUND);
  ldb_fclose(f);
  ldb_fclose(g);
  ldb_store_destroy(fs);
  /* log holds "one" only; data was never synced, so it is empty. */
  uint64_t size;
  assert_int_equal(ldb_fopen(inner, "log", 0, &f), LDB_OK);
  assert_int_equal(ldb_fsize(f, &size), LDB_OK);
  assert_int_equal(size, 3);
  assert_int_equal(ldb_fread_full(f, 0, rd, 3), LDB_OK);
  assert_memory_equal(rd, "one", 3);
  ldb_fclose(f);
  assert_int_equal(ldb_fopen(inner, "data", 0, &g), LDB_OK);
  assert_int_equal(ldb_fsize(g, &size), LDB_OK);
  assert_int_equal(size, 0);
  ldb_fclose(g);
  ldb_store_destroy(inner);
}

/* The faulty store on top of a posix store. */
static void test_faulty_over_posix(void **state) {
  (void)state;
  char *dir = tu_tmpdir("faultyposix");
  ldb_store *inner, *fs;
  assert_int_equal(tu_store_dir(dir, 1, &inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  check_basic_contract(fs);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
  tu_rmrf(dir);
  free(dir);
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "--lock-child"))
    return lock_child(argv[2], argv[3], argv[4], argv[5]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memory_basic),
      cmocka_unit_test(test_memory_lock),
      cmocka_unit_test(test_memory_remove_open),
      cmocka_unit_test(test_memory_threads),
      cmocka_unit_test(test_posix_basic),
      cmocka_unit_test(test_posix_lock_other_process),
#ifndef _WIN32
      cmocka_unit_test(test_posix_open_permission_denied),
#endif
      cmocka_unit_test(test_faulty_basic),
      cmocka_unit_test(test_faulty_overlay_drop),
      cmocka_unit_test(test_faulty_tear),
      cmocka_unit_test(test_faulty_fail_nth),
      cmocka_unit_test(test_faulty_crash_at_sync),
      cmocka_unit_test(test_faulty_over_posix),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
