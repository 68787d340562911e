/*
 * testutil.c — see testutil.h. Test-only code: it may abort on setup
 * failures, which the library itself never does, and its database helpers
 * fail the running cmocka test.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <direct.h>
#include <process.h>
#include <windows.h>
#else
#include <sys/wait.h>
#endif

#include <setjmp.h> /* cmocka.h needs setjmp.h, stdarg.h and stddef.h */
#include <stddef.h>

#include <cmocka.h>

void tu_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FATAL: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

/* ---- seeds ------------------------------------------------------------- */

uint64_t tu_seed(const char *name) {
  const char *e = getenv("LDB_SEED");
  uint64_t s;
  if (e && *e) {
    s = strtoull(e, NULL, 0);
  } else {
#ifdef _WIN32
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    s = ((uint64_t)time(NULL) * 1000003u) ^ (uint64_t)c.QuadPart ^
        ((uint64_t)tu_pid() << 32);
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^
        ((uint64_t)tu_pid() << 32);
#endif
    s %= 1000000007ull;
  }
  printf("%s: seed %llu (replay with LDB_SEED=%llu)\n", name,
         (unsigned long long)s, (unsigned long long)s);
  fflush(stdout);
  return s;
}

void tu_rng_init(tu_rng *r, uint64_t seed) {
  r->s = seed * 2654435761u + 1;
}

uint64_t tu_next(tu_rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t tu_below(tu_rng *r, uint64_t n) {
  return n ? tu_next(r) % n : 0;
}
int tu_chance(tu_rng *r, unsigned pct) {
  return tu_below(r, 100) < pct;
}

void tu_fill(tu_rng *r, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len >= 8) {
    uint64_t x = tu_next(r);
    memcpy(p, &x, 8);
    p += 8;
    len -= 8;
  }
  if (len) {
    uint64_t x = tu_next(r);
    memcpy(p, &x, len);
  }
}

/* ---- scaling ----------------------------------------------------------- */

int tu_quick(void) {
  const char *e = getenv("LDB_TEST_QUICK");
  return e && *e && strcmp(e, "0") != 0;
}

uint64_t tu_scale(uint64_t n, uint64_t div, uint64_t min) {
  if (!tu_quick()) return n;
  n /= div ? div : 1;
  return n < min ? min : n;
}

/* ---- temp dirs --------------------------------------------------------- */

int tu_mkdir(const char *path) {
#ifdef _WIN32
  return _mkdir(path);
#else
  return mkdir(path, 0755);
#endif
}

char *tu_tmpdir(const char *tag) {
  const char *base = getenv("LDB_TEST_TMP");
  char buf[4096];
#ifdef _WIN32
  if (!base || !*base) base = getenv("TEMP");
#endif
  if (!base || !*base) base = "/tmp";
  tu_mkdir(base);
#ifdef _WIN32
  /* No mkdtemp: random names until one is new. */
  static tu_rng r;
  if (!r.s) tu_rng_init(&r, (uint64_t)tu_pid() ^ GetTickCount64());
  for (int i = 0;; i++) {
    snprintf(buf, sizeof buf, "%s/%s-%06llx", base, tag,
             (unsigned long long)(tu_next(&r) & 0xffffff));
    if (tu_mkdir(buf) == 0) break;
    if (errno != EEXIST || i > 100)
      tu_die("mkdir %s: %s", buf, strerror(errno));
  }
#else
  snprintf(buf, sizeof buf, "%s/%s-XXXXXX", base, tag);
  if (!mkdtemp(buf)) tu_die("mkdtemp %s: %s", buf, strerror(errno));
#endif
  return strdup(buf);
}

void tu_rmrf(const char *path) {
  struct stat st;
#ifdef _WIN32
  if (stat(path, &st) != 0) return; /* no symbolic links followed here */
#else
  if (lstat(path, &st) != 0) return;
#endif
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        tu_rmrf(sub);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

long long tu_file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  return (long long)st.st_size;
}

/* ---- platform ---------------------------------------------------------- */

int tu_store_dir(const char *dir, int create, ldb_store **out) {
#ifdef _WIN32
  return ldb_store_win32(dir, create, out);
#else
  return ldb_store_posix(dir, create, out);
#endif
}

const char *tu_self_exe(void) {
  static char self[4096];
#ifdef _WIN32
  DWORD n = GetModuleFileNameA(NULL, self, sizeof self);
  if (n == 0 || n >= sizeof self) tu_die("GetModuleFileNameA failed");
#else
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "/proc/self/exe";
  self[n] = 0;
#endif
  return self;
}

int tu_run_wait(char *const argv[]) {
  fflush(stdout);
  fflush(stderr);
#ifdef _WIN32
  /* _spawnv joins its arguments with spaces, unquoted: quote each one as
   * the C runtime's command-line parser expects (backslashes before a
   * quote are doubled). */
  char *q[64];
  int n = 0, st;
  for (; argv[n] && n < 63; n++) {
    const char *a = argv[n];
    char *o = malloc(strlen(a) * 2 + 3), *w = o;
    if (!o) tu_die("out of memory");
    *w++ = '"';
    for (size_t bs = 0;; a++) {
      if (*a == '\\') {
        bs++;
        continue;
      }
      /* Backslashes before a quote or the closing quote are doubled. */
      size_t k = (*a == '"' || !*a) ? bs * 2 : bs;
      while (k--)
        *w++ = '\\';
      bs = 0;
      if (!*a) break;
      if (*a == '"') *w++ = '\\';
      *w++ = *a;
    }
    *w++ = '"';
    *w = 0;
    q[n] = o;
  }
  q[n] = NULL;
  st = (int)_spawnv(_P_WAIT, argv[0], (const char *const *)q);
  while (n--)
    free(q[n]);
  return st < 0 ? -1 : st;
#else
  /* Under an emulator (cross builds: qemu-user, which the kernel cannot
   * run a foreign binary without) the child runs through it too:
   * $LDB_TEST_EMULATOR is its command line, words split at spaces. */
  char *args[96], emu[1024] = "";
  int n = 0;
  const char *e = getenv("LDB_TEST_EMULATOR");
  if (e && *e && strlen(e) < sizeof emu) {
    strcpy(emu, e);
    for (char *w = strtok(emu, " "); w && n < 32; w = strtok(NULL, " "))
      args[n++] = w;
  }
  for (int i = 0; argv[i] && n < 95; i++)
    args[n++] = argv[i];
  args[n] = NULL;
  pid_t c = fork();
  if (c < 0) return -1;
  if (c == 0) {
    execvp(args[0], args);
    _exit(127);
  }
  int st = 0;
  if (waitpid(c, &st, 0) != c) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
#endif
}

long tu_pid(void) {
#ifdef _WIN32
  return (long)GetCurrentProcessId();
#else
  return (long)getpid();
#endif
}

void tu_sleep_ms(unsigned ms) {
#ifdef _WIN32
  Sleep(ms);
#else
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
#endif
}

/* ---- model ------------------------------------------------------------- */

/* Entries share refcounted blobs, so cloning a model (a transaction's
 * view, a snapshot) copies pointers, not values. */
typedef struct tu_blob {
  size_t refs, len;
  uint8_t data[];
} tu_blob;

typedef struct tu_ent {
  tu_blob *k, *v;
} tu_ent;

struct tu_model {
  tu_ent *e;
  size_t n, cap;
};

int tu_keycmp(const void *a, size_t an, const void *b, size_t bn) {
  size_t n = an < bn ? an : bn;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c;
  return an < bn ? -1 : an > bn ? 1 : 0;
}

static tu_blob *blob_new(const void *p, size_t n) {
  tu_blob *b = malloc(sizeof *b + (n ? n : 1));
  if (!b) tu_die("out of memory");
  b->refs = 1;
  b->len = n;
  if (n) memcpy(b->data, p, n);
  return b;
}

static void blob_unref(tu_blob *b) {
  if (b && --b->refs == 0) free(b);
}

tu_model *tu_model_new(void) {
  tu_model *m = calloc(1, sizeof *m);
  if (!m) tu_die("out of memory");
  return m;
}

void tu_model_free(tu_model *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) {
    blob_unref(m->e[i].k);
    blob_unref(m->e[i].v);
  }
  free(m->e);
  free(m);
}

tu_model *tu_model_clone(const tu_model *m) {
  tu_model *c = tu_model_new();
  c->cap = m->n ? m->n : 1;
  c->e = malloc(c->cap * sizeof *c->e);
  if (!c->e) tu_die("out of memory");
  for (size_t i = 0; i < m->n; i++) {
    c->e[i] = m->e[i];
    c->e[i].k->refs++;
    c->e[i].v->refs++;
  }
  c->n = m->n;
  return c;
}

size_t tu_model_lower(const tu_model *m, const void *k, size_t kl) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (tu_keycmp(m->e[mid].k->data, m->e[mid].k->len, k, kl) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int at_key(const tu_model *m, size_t i, const void *k, size_t kl) {
  return i < m->n && !tu_keycmp(m->e[i].k->data, m->e[i].k->len, k, kl);
}

void tu_model_put(tu_model *m, const void *k, size_t kl, const void *v,
                  size_t vl) {
  size_t i = tu_model_lower(m, k, kl);
  if (at_key(m, i, k, kl)) {
    blob_unref(m->e[i].v);
    m->e[i].v = blob_new(v, vl);
    return;
  }
  if (m->n == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 64;
    m->e = realloc(m->e, m->cap * sizeof *m->e);
    if (!m->e) tu_die("out of memory");
  }
  memmove(m->e + i + 1, m->e + i, (m->n - i) * sizeof *m->e);
  m->e[i].k = blob_new(k, kl);
  m->e[i].v = blob_new(v, vl);
  m->n++;
}

void tu_model_del(tu_model *m, const void *k, size_t kl) {
  size_t i = tu_model_lower(m, k, kl);
  if (!at_key(m, i, k, kl)) return;
  blob_unref(m->e[i].k);
  blob_unref(m->e[i].v);
  memmove(m->e + i, m->e + i + 1, (m->n - i - 1) * sizeof *m->e);
  m->n--;
}

int tu_model_get(const tu_model *m, const void *k, size_t kl, const void **v,
                 size_t *vl) {
  size_t i = tu_model_lower(m, k, kl);
  if (!at_key(m, i, k, kl)) return 0;
  if (v) *v = m->e[i].v->data;
  if (vl) *vl = m->e[i].v->len;
  return 1;
}

size_t tu_model_count(const tu_model *m) {
  return m->n;
}

void tu_model_at(const tu_model *m, size_t i, const void **k, size_t *kl,
                 const void **v, size_t *vl) {
  if (k) *k = m->e[i].k->data;
  if (kl) *kl = m->e[i].k->len;
  if (v) *v = m->e[i].v->data;
  if (vl) *vl = m->e[i].v->len;
}

/* ---- allocator --------------------------------------------------------- */

/* Each block carries a 16-byte header with its size, so realloc can be
 * emulated and live bytes tracked. Counters are atomic: engines allocate
 * from background threads too. */
#define HDR 16

static int should_fail(tu_alloc *t) {
  uint64_t n = __atomic_add_fetch(&t->armed_calls, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&t->calls, 1, __ATOMIC_SEQ_CST);
  uint64_t at = __atomic_load_n(&t->fail_at, __ATOMIC_SEQ_CST);
  if (!at) return 0;
  if (n == at || (t->sticky && n > at)) {
    __atomic_store_n(&t->failed, 1, __ATOMIC_SEQ_CST);
    return 1;
  }
  return 0;
}

static void *ta_malloc(void *ctx, size_t n) {
  tu_alloc *t = ctx;
  if (should_fail(t)) return NULL;
  uint8_t *p = malloc(n + HDR);
  if (!p) return NULL;
  memcpy(p, &n, sizeof n);
  __atomic_add_fetch(&t->live, 1, __ATOMIC_SEQ_CST);
  return p + HDR;
}

static void *ta_realloc(void *ctx, void *ptr, size_t n) {
  tu_alloc *t = ctx;
  if (!ptr) return ta_malloc(ctx, n);
  if (should_fail(t)) return NULL;
  uint8_t *p = realloc((uint8_t *)ptr - HDR, n + HDR);
  if (!p) return NULL;
  memcpy(p, &n, sizeof n);
  return p + HDR;
}

static void ta_free(void *ctx, void *ptr) {
  tu_alloc *t = ctx;
  if (!ptr) return;
  __atomic_sub_fetch(&t->live, 1, __ATOMIC_SEQ_CST);
  free((uint8_t *)ptr - HDR);
}

void tu_alloc_init(tu_alloc *t) {
  memset(t, 0, sizeof *t);
  t->a.malloc = ta_malloc;
  t->a.realloc = ta_realloc;
  t->a.free = ta_free;
  t->a.ctx = t;
}

void tu_alloc_fail_nth(tu_alloc *t, uint64_t nth, int sticky) {
  __atomic_store_n(&t->fail_at, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&t->armed_calls, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&t->failed, 0, __ATOMIC_SEQ_CST);
  t->sticky = sticky;
  __atomic_store_n(&t->fail_at, nth, __ATOMIC_SEQ_CST);
}

long long tu_alloc_live(tu_alloc *t) {
  return __atomic_load_n(&t->live, __ATOMIC_SEQ_CST);
}

/* ---- test databases ---------------------------------------------------- */

void tu_mem_options(ldb_options *o, ldb_store *s) {
  ldb_options_default(o);
  o->store = s;
  o->sync_mode = LDB_SYNC_OFF;
  o->background_checkpoint = 0;
}

ldb_db *tu_open(const char *name, const ldb_options *o) {
  ldb_db *db = NULL;
  int rc = ldb_open(name, o, &db);
  if (rc)
    fail_msg("open %s: %s (%s)", name, ldb_code_name(rc), ldb_errmsg(NULL));
  return db;
}

void tu_put_s(ldb_db *db, const char *k, const char *v) {
  assert_int_equal(ldb_put(db, k, strlen(k), v, strlen(v)), LDB_OK);
}

void tu_expect_s(ldb_db *db, const char *k, const char *v) {
  void *val = NULL;
  size_t n = 0;
  int rc = ldb_get(db, k, strlen(k), &val, &n);
  if (!v) {
    assert_int_equal(rc, LDB_NOTFOUND);
    return;
  }
  assert_int_equal(rc, LDB_OK);
  assert_int_equal(n, strlen(v));
  assert_memory_equal(val, v, n);
  ldb_free(db, val);
}

uint64_t tu_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}
