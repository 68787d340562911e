/*
 * fuzz_alloc.h — the counting allocator hook shared by the fuzz targets:
 * every allocation the engine makes goes through it, and fuzz_live_allocs
 * must be back to zero after each run (a leak aborts the target). Each
 * target is its own program, so the static state is per target.
 */
#ifndef LDB_FUZZ_ALLOC_H
#define LDB_FUZZ_ALLOC_H

#include <stdlib.h>

#include "lightningdb.h"

static long long fuzz_live_allocs;

static void *fuzz_malloc(void *c, size_t n) {
  (void)c;
  void *p = malloc(n);
  if (p) __atomic_add_fetch(&fuzz_live_allocs, 1, __ATOMIC_RELAXED);
  return p;
}

static void *fuzz_realloc(void *c, void *p, size_t n) {
  if (!p) return fuzz_malloc(c, n);
  return realloc(p, n);
}

static void fuzz_free(void *c, void *p) {
  (void)c;
  if (p) __atomic_sub_fetch(&fuzz_live_allocs, 1, __ATOMIC_RELAXED);
  free(p);
}

static const ldb_allocator fuzz_alloc_hook = {fuzz_malloc, fuzz_realloc,
                                              fuzz_free, NULL};

#endif /* LDB_FUZZ_ALLOC_H */
