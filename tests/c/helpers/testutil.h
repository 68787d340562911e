/*
 * testutil.h — shared utilities for the C tests: seeds and a PRNG (every
 * randomized test prints its seed; LDB_SEED replays it), iteration scaling
 * for the quick (sanitizer, emulated) run, temporary directories under
 * LDB_TEST_TMP, process and directory-store helpers that hide the
 * platform (posix or Windows), opening a test database and string
 * put/get checks (failures fail the cmocka test), a reference model of an
 * ordered key-value map, and an allocator that counts live allocations and can
 * fail the Nth one.
 */
#ifndef LDB_TESTUTIL_H
#define LDB_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "lightningdb.h"

/* ---- seeds and randomness ---------------------------------------------- */

/* The seed for a test: $LDB_SEED when set, else derived from the clock.
 * Prints "<name>: seed <n> (replay with LDB_SEED=<n>)". */
uint64_t tu_seed(const char *name);

typedef struct tu_rng {
  uint64_t s;
} tu_rng;

void tu_rng_init(tu_rng *r, uint64_t seed);
uint64_t tu_next(tu_rng *r);
/* A 64-bit mixing function (MurmurHash3's fmix64): a stateless hash of x,
 * for values derived from a seed and an index. */
uint64_t tu_mix(uint64_t x);
/* Uniform in [0, n); n == 0 gives 0. */
uint64_t tu_below(tu_rng *r, uint64_t n);
/* 1 with probability pct/100. */
int tu_chance(tu_rng *r, unsigned pct);
/* Fills buf with len random bytes. */
void tu_fill(tu_rng *r, void *buf, size_t len);

/* ---- scaling ----------------------------------------------------------- */

/* 1 when LDB_TEST_QUICK is set (the sanitizer run). */
int tu_quick(void);
/* n, or n/div (at least min) in the quick run. */
uint64_t tu_scale(uint64_t n, uint64_t div, uint64_t min);

/* ---- temporary directories --------------------------------------------- */

/* A new empty directory under $LDB_TEST_TMP (or /tmp; on Windows %TEMP%),
 * named after tag; malloc'd path, free() it. Aborts the test run if it
 * cannot be made. */
char *tu_tmpdir(const char *tag);
/* mkdir with mode 0755 (Windows: no mode); 0 or -1 with errno. */
int tu_mkdir(const char *path);
/* rm -rf path (best effort). */
void tu_rmrf(const char *path);
/* Size of a file in bytes, or -1. */
long long tu_file_size(const char *path);

/* ---- test databases (failures fail the running cmocka test) ----------- */

/* ldb_options_default() for a test database on store s: sync off and no
 * background checkpoint thread (checkpoints run when the test asks). */
void tu_mem_options(ldb_options *o, ldb_store *s);
/* ldb_open(name, o); on failure fails the test with ldb_errmsg. */
ldb_db *tu_open(const char *name, const ldb_options *o);
/* ldb_put of two C strings; must succeed. */
void tu_put_s(ldb_db *db, const char *k, const char *v);
/* ldb_get of the C string k: its value must be v, or absent when v is
 * NULL. */
void tu_expect_s(ldb_db *db, const char *k, const char *v);

/* ---- reference model --------------------------------------------------- */

/* An ordered map of byte strings (memcmp order, shorter first), the oracle
 * the randomized tests compare the database against. */
typedef struct tu_model tu_model;

tu_model *tu_model_new(void);
void tu_model_free(tu_model *m);
tu_model *tu_model_clone(const tu_model *m);
void tu_model_put(tu_model *m, const void *k, size_t kl, const void *v,
                  size_t vl);
void tu_model_del(tu_model *m, const void *k, size_t kl);
/* 1 and the value when present, else 0. */
int tu_model_get(const tu_model *m, const void *k, size_t kl, const void **v,
                 size_t *vl);
size_t tu_model_count(const tu_model *m);
/* Entry i in key order. */
void tu_model_at(const tu_model *m, size_t i, const void **k, size_t *kl,
                 const void **v, size_t *vl);
/* Index of the first key >= k (count when none). */
size_t tu_model_lower(const tu_model *m, const void *k, size_t kl);
/* memcmp order, shorter first. */
int tu_keycmp(const void *a, size_t an, const void *b, size_t bn);

/* ---- counting / failing allocator -------------------------------------- */

typedef struct tu_alloc {
  ldb_allocator a;      /* pass &x.a as ldb_options.allocator */
  uint64_t calls;       /* malloc + realloc calls so far */
  long long live;       /* allocations not yet freed */
  uint64_t fail_at;     /* fail the call with this number (1-based, counted
                           from tu_alloc_fail_nth); 0 = never */
  uint64_t armed_calls; /* calls since tu_alloc_fail_nth */
  int failed;           /* a failure was injected */
  int sticky;           /* keep failing after the first failure */
} tu_alloc;

void tu_alloc_init(tu_alloc *t);
/* Fails the nth allocation from now (0 disarms). */
void tu_alloc_fail_nth(tu_alloc *t, uint64_t nth, int sticky);
/* The thread-safe counters (atomic). */
long long tu_alloc_live(tu_alloc *t);

/* ---- platform ---------------------------------------------------------- */

/* The platform's directory store: ldb_store_posix, on Windows
 * ldb_store_win32 (same contract). */
int tu_store_dir(const char *dir, int create, ldb_store **out);
/* The path of the running test binary, for re-running it as a child. */
const char *tu_self_exe(void);
/* Runs argv[0] with argv (NULL-terminated) as a new process (posix: fork +
 * exec, so nothing of this process is inherited, through
 * $LDB_TEST_EMULATOR when set; Windows: _spawnv) and
 * waits for it: its exit status, or -1 when it could not run or did not
 * exit normally. */
int tu_run_wait(char *const argv[]);
/* This process's id. */
long tu_pid(void);
/* Sleeps for ms milliseconds. */
void tu_sleep_ms(unsigned ms);

/* ---- misc -------------------------------------------------------------- */

/* Prints the message and aborts the test binary (for setup failures). */
#ifdef __MINGW32__
void tu_die(const char *fmt, ...) __attribute__((format(gnu_printf, 1, 2)));
#else
void tu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif

#endif
