/*
 * pager.c — page I/O with checksums and the shared ARC page cache.
 *
 * Owns: the cache entries (resident T1/T2 with page buffers, ghost B1/B2
 * with page numbers only), the hash from page number to entry, pin counts
 * and the cache/I-O counters. Does not own the file (btree.c does).
 *
 * Locking: one mutex guards the hash, the lists and the counters. A miss
 * reads the page with the mutex released, then re-checks the hash before
 * inserting, so readers never wait on another reader's I/O. A pinned entry
 * is never evicted; when every resident page is pinned the cache runs over
 * its budget until pins are released.
 *
 * The mapping (see pager.h) takes no lock: a page under it whose verified
 * bit is set is returned at once; otherwise its checksum is computed in
 * place and the bit set (a release store, so a reader that sees the bit
 * also sees the page). The bits live in chunks of VCHUNK pages allocated
 * on first use and installed with a compare-and-swap; when a chunk cannot
 * be allocated the page is simply verified again next time. end_pages is
 * the file's length in pages as this pager knows it (its size at open,
 * raised by every write): the mapping serves only pages below it, so a
 * damaged page number never touches the mapping past the file's end.
 *
 * Residency of mapped reads: the cache's hit and miss counters never see a
 * mapped read, so a sample of them (1 in sample_every per thread, by a
 * thread-local countdown: no shared write on the other reads) asks the
 * store whether the page is in memory before it is read (its resident
 * method, mincore() for the posix store) and counts the answer in
 * map_resident / map_nonresident, relaxed atomics on a cache line of
 * their own so that these rare writes never evict the read-mostly fields
 * every mapped read loads.
 *
 * The mapping's resident set (the budget): under the mapping the ARC cache
 * holds almost nothing, and the mapped pages a process has touched count
 * in its RSS until the kernel reclaims them, so cacheSize would bound
 * nothing a user sees. The mapping therefore keeps its own CLOCK over
 * fixed-size chunks of its address range (aligned on addresses, since the
 * kernel's fault-around maps an aligned 64 KiB window; RCHUNK_MIN bytes,
 * or one page when pages are larger), with one state byte per chunk: R_OUT (not
 * counted resident: never touched, or released), R_REF (resident, referenced
 * since the hand passed) and R_COLD (resident, the hand passed it once). A
 * mapped read first looks at its chunk's byte and writes only when it is not
 * R_REF (so hot chunks cost no write); taking a chunk from R_OUT (a
 * compare-and-swap: one winner) adds it to res_chunks. The read that
 * takes res_chunks over res_limit (the cache's budget less what the ARC
 * lists hold, at least RCHUNK_FLOOR chunks, less a sixteenth kept for
 * pages the kernel maps past the counted chunks: the rest of a large
 * folio, see map_hand) runs the hand if no other thread is running it (a
 * try-lock; nobody waits): it turns R_REF into R_COLD and R_COLD into
 * R_OUT, releasing the latter through the store's release method
 * (madvise(MADV_DONTNEED) for the posix store), until the count is a
 * sixteenth below res_limit. Releasing a chunk of a
 * read-only shared file mapping drops only this process's page-table
 * entries: the file's bytes stay in the kernel's page cache, and a reader
 * that touches the chunk meanwhile faults the same bytes back in, so
 * readers stay lock-free and a released page stays verified (its bits do
 * not change). The count is an upper bound in the common case (a chunk
 * touched after its release was decided stays counted until the hand
 * comes back), and can miss at most chunks whose reader looked at the
 * byte as R_REF and was then delayed across two passes of the hand
 * (those are counted again at their next read). State bytes live in
 * groups of RGROUP chunks allocated on first touch (a group that cannot
 * be allocated leaves its chunks uncounted). Without a release method,
 * or with the bound turned off (pager_map_bound), nothing is tracked.
 */
#include "pager.h"

#include "store.h"

enum { L_NONE = 0, L_T1 = 1, L_T2 = 2, L_B1 = 3, L_B2 = 4 };
#define PIN_DETACHED 0x80000000u

struct pg_ent {
  uint64_t pgno;
  uint8_t *data; /* NULL for ghosts */
  /* Pin count, atomic: incremented only under the mutex, decremented
   * without it. PIN_DETACHED is set once the entry has left the hash and
   * lists while pinned; whoever drops the last pin of a detached entry
   * frees it. */
  uint32_t pins;
  uint8_t list;
  pg_ent *prev, *next; /* list links; head = MRU, tail = LRU */
  pg_ent *hnext;       /* hash chain */
};

static inline uint32_t pins_of(pg_ent *e) {
  return __atomic_load_n(&e->pins, __ATOMIC_ACQUIRE) & ~PIN_DETACHED;
}

typedef struct pg_list {
  pg_ent *head, *tail;
  uint64_t n;
} pg_list;

struct pager {
  ldb_file *file;
  const ldb_allocator *a;
  uint32_t ps;
  uint64_t c;      /* capacity in pages: budget less the loan (mu) */
  uint64_t budget; /* cache_bytes at open, in pages (at least 16) */
  uint64_t loan;   /* pages of the budget lent out (pager_borrow; mu) */
  uint64_t target; /* ARC's p: target size of T1 */
  ldb_mutex mu;
  pg_ent **hash;
  uint64_t hmask;
  pg_list l[5]; /* index by L_* (0 unused) */
  uint64_t hits, misses, evictions, bytes_read, bytes_written, syncs;
  /* the mapping (NULL: none); fixed after pager_open */
  const uint8_t *map;
  uint64_t map_len, map_pages;
  const uint64_t *map_faults; /* the store's counter, atomic */
  uint64_t end_pages;         /* atomic */
  uint64_t **vbits;           /* [map_pages / VCHUNK] chunk pointers, atomic */
  uint32_t sample_every;      /* mapped reads per residency sample */
  /* the resident-set CLOCK (see the opening comment); rstate NULL: off */
  uint8_t **rstate; /* [rgroups] groups of RGROUP state bytes, atomic */
  uint64_t rgroups, rchunks;
  uint64_t rbase;         /* the mapping's first chunk: its address >> rshift */
  uint32_t rshift;        /* log2 of the chunk size in bytes */
  uint64_t rbudget_bytes; /* the cache's byte budget less the loan, atomic */
  char pad_[64];
  uint64_t map_resident, map_nonresident; /* sampled, atomic (relaxed) */
  char pad2_[64 - 2 * sizeof(uint64_t)];
  /* written on chunk transitions and by the hand only */
  uint64_t res_chunks; /* chunks counted resident, atomic */
  uint64_t res_limit;  /* chunks allowed now (the hand updates it) */
  uint64_t released;   /* chunks released, atomic */
  uint64_t hand;       /* next chunk the hand looks at (hand_busy) */
  uint32_t hand_busy;  /* the hand's try-lock */
  char pad3_[64 - 4 * sizeof(uint64_t) - sizeof(uint32_t)];
};

enum { R_OUT = 0, R_REF = 1, R_COLD = 2 };
#define RCHUNK_MIN_SHIFT 16 /* 64 KiB: the kernel's default fault-around */
#define RGROUP_SHIFT 16     /* chunks per group of state bytes */
#define RCHUNK_FLOOR 16     /* the hand never aims below this many chunks */
#define RREGION_SHIFT 21    /* 2 MiB: the largest folio a fault maps */

#define VCHUNK_SHIFT 16 /* pages per chunk of verified bits: 65536 */
#define VCHUNK_WORDS ((1u << VCHUNK_SHIFT) / 64)

static uint64_t hash_pg(uint64_t pgno) {
  pgno ^= pgno >> 29;
  pgno *= 0xbf58476d1ce4e5b9ull;
  pgno ^= pgno >> 32;
  return pgno;
}

void pager_seal(uint8_t *page, uint32_t ps, uint64_t pgno) {
  uint8_t no[8];
  ldb_put64(no, pgno);
  uint32_t crc = ldb_crc32c(ldb_crc32c(0, no, 8), page + 4, ps - 4);
  ldb_put32(page, crc);
}

bool pager_verify(const uint8_t *page, uint32_t ps, uint64_t pgno) {
  uint8_t no[8];
  ldb_put64(no, pgno);
  uint32_t crc = ldb_crc32c(ldb_crc32c(0, no, 8), page + 4, ps - 4);
  return crc == ldb_get32(page);
}

/* ---- the mapping -------------------------------------------------------- */

static inline bool map_broken(const pager *p) {
  return __atomic_load_n(p->map_faults, __ATOMIC_ACQUIRE) != 0;
}

static inline bool map_serves(const pager *p, uint64_t pgno) {
  return p->map && pgno < p->map_pages &&
         pgno < __atomic_load_n(&p->end_pages, __ATOMIC_ACQUIRE) &&
         !map_broken(p);
}

static inline bool vbit_get(const pager *p, uint64_t pgno) {
  uint64_t *c =
      __atomic_load_n(&p->vbits[pgno >> VCHUNK_SHIFT], __ATOMIC_ACQUIRE);
  if (!c) return false;
  uint64_t w =
      __atomic_load_n(&c[(pgno >> 6) & (VCHUNK_WORDS - 1)], __ATOMIC_ACQUIRE);
  return (w >> (pgno & 63)) & 1;
}

static void vbit_set(pager *p, uint64_t pgno) {
  uint64_t **slot = &p->vbits[pgno >> VCHUNK_SHIFT];
  uint64_t *c = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!c) {
    uint64_t *n = ldb_calloc(p->a, VCHUNK_WORDS * sizeof *n);
    if (!n) return; /* verified again next time */
    uint64_t *expect = NULL;
    if (__atomic_compare_exchange_n(slot, &expect, n, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      c = n;
    } else {
      ldb_mfree(p->a, n);
      c = expect;
    }
  }
  __atomic_fetch_or(&c[(pgno >> 6) & (VCHUNK_WORDS - 1)], 1ull << (pgno & 63),
                    __ATOMIC_RELEASE);
}

static void vbit_clear(pager *p, uint64_t pgno) {
  if (!p->map || pgno >= p->map_pages) return;
  uint64_t *c =
      __atomic_load_n(&p->vbits[pgno >> VCHUNK_SHIFT], __ATOMIC_ACQUIRE);
  if (c)
    __atomic_fetch_and(&c[(pgno >> 6) & (VCHUNK_WORDS - 1)],
                       ~(1ull << (pgno & 63)), __ATOMIC_RELEASE);
}

/* Sets up the resident-set CLOCK over the mapping when the store can
 * release mapped ranges; silently none when the group table cannot be
 * allocated (the mapping then works as if unbounded). */
static uint64_t map_limit(pager *p, uint64_t held);

static void rset_open(pager *p) {
  if (!p->file->store->methods->release) return;
  uint32_t shift = RCHUNK_MIN_SHIFT;
  while ((1u << shift) < p->ps)
    shift++;
  uintptr_t lo = (uintptr_t)p->map, hi = lo + (uintptr_t)p->map_len - 1;
  uint64_t chunks = (uint64_t)((hi >> shift) - (lo >> shift)) + 1;
  uint64_t groups = (chunks + (1ull << RGROUP_SHIFT) - 1) >> RGROUP_SHIFT;
  p->rstate = ldb_calloc(p->a, groups * sizeof *p->rstate);
  if (!p->rstate) return;
  p->rshift = shift;
  p->rbase = (uint64_t)(lo >> shift);
  p->rchunks = chunks;
  p->rgroups = groups;
  __atomic_store_n(&p->rbudget_bytes, p->c * p->ps, __ATOMIC_RELAXED);
  p->res_limit = map_limit(p, 0);
}

static void rset_close(pager *p) {
  if (!p->rstate) return;
  for (uint64_t i = 0; i < p->rgroups; i++)
    ldb_mfree(p->a, p->rstate[i]);
  ldb_mfree(p->a, p->rstate);
  p->rstate = NULL;
  p->res_chunks = 0;
}

/* Maps up to map_bytes of the file (fewer when the address space refuses
 * that much). Without a mapping the pager works through the cache alone,
 * so every failure here is silent. */
static void map_open(pager *p, uint64_t map_bytes) {
  const ldb_store_methods *m = p->file->store->methods;
  uint64_t size;
  if (!map_bytes || !m->map || !m->unmap || ldb_fsize(p->file, &size)) return;
  uint64_t len = map_bytes / p->ps * p->ps;
  if (len > (uint64_t)SIZE_MAX / 2)
    len = (uint64_t)SIZE_MAX / 2 / p->ps * p->ps;
  const void *base = NULL;
  const uint64_t *faults = NULL;
  /* Less address space may be available than asked for (LDB_NOMEM):
   * try 1/16 and 1/256 of it. */
  for (int tries = 0; tries < 3 && len >= 16ull * p->ps; tries++) {
    int rc = m->map(p->file, len, &base, &faults);
    if (rc == LDB_OK) break;
    base = NULL;
    if (rc != LDB_NOMEM) break;
    len = len / 16 / p->ps * p->ps;
  }
  if (!base) return;
  uint64_t pages = len / p->ps;
  uint64_t nchunks = (pages + (1ull << VCHUNK_SHIFT) - 1) >> VCHUNK_SHIFT;
  p->vbits = ldb_calloc(p->a, nchunks * sizeof *p->vbits);
  if (!p->vbits) {
    m->unmap(p->file, base, len);
    return;
  }
  p->map = base;
  p->map_len = len;
  p->map_pages = pages;
  p->map_faults = faults;
  p->end_pages = size / p->ps;
  rset_open(p);
}

static void map_close(pager *p) {
  if (!p->map) return;
  rset_close(p);
  p->file->store->methods->unmap(p->file, p->map, p->map_len);
  uint64_t nchunks =
      (p->map_pages + (1ull << VCHUNK_SHIFT) - 1) >> VCHUNK_SHIFT;
  for (uint64_t i = 0; i < nchunks; i++)
    ldb_mfree(p->a, p->vbits[i]);
  ldb_mfree(p->a, p->vbits);
  p->map = NULL;
}

void pager_map_bound(pager *p, bool on) {
  if (!p->map) return;
  if (!on)
    rset_close(p);
  else if (!p->rstate)
    rset_open(p);
}

uint64_t pager_map_faults(const pager *p) {
  return p->map ? __atomic_load_n(p->map_faults, __ATOMIC_ACQUIRE) : 0;
}

int pager_map_check(const pager *p, uint64_t before, int rc) {
  if (!p->map || __atomic_load_n(p->map_faults, __ATOMIC_ACQUIRE) == before)
    return rc;
  return ldb_err(LDB_IOERR,
                 "data file: a page could not be read through the memory "
                 "mapping (the file was truncated by another process, or "
                 "the device failed)");
}

/* Mapped reads left before this thread's next residency sample; 0: the
 * next one is sampled (so a thread's first mapped read is). */
static _Thread_local uint32_t tl_map_countdown;

/* Asks the store whether pg is in memory and counts the answer; a store
 * without the method, or one that fails, counts nothing. */
static void map_sample(pager *p, const uint8_t *pg) {
  tl_map_countdown = p->sample_every - 1;
  int (*resident)(ldb_file *, const void *, uint64_t, int *) =
      p->file->store->methods->resident;
  int yes = 0;
  if (!resident || resident(p->file, pg, p->ps, &yes) != LDB_OK) return;
  __atomic_fetch_add(yes ? &p->map_resident : &p->map_nonresident, 1,
                     __ATOMIC_RELAXED);
}

/* ---- the mapping's resident set (CLOCK over chunks) ---------------------- */

/* The state byte of chunk ch, allocating its group when make; NULL when
 * the group is absent (or cannot be allocated). */
static uint8_t *rstate_of(pager *p, uint64_t ch, bool make) {
  uint8_t **slot = &p->rstate[ch >> RGROUP_SHIFT];
  uint8_t *g = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!g && make) {
    uint8_t *n = ldb_calloc(p->a, (size_t)1 << RGROUP_SHIFT);
    if (!n) return NULL; /* this chunk goes uncounted */
    uint8_t *expect = NULL;
    if (__atomic_compare_exchange_n(slot, &expect, n, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      g = n;
    } else {
      ldb_mfree(p->a, n);
      g = expect;
    }
  }
  return g ? &g[ch & ((1u << RGROUP_SHIFT) - 1)] : NULL;
}

/* Spans the hand has decided to release, passed to the store 64 at a
 * time (one call: the posix store makes it one TLB flush). */
typedef struct rel_batch {
  ldb_span s[64];
  size_t n;
} rel_batch;

static void rel_flush(pager *p, rel_batch *b) {
  if (b->n) p->file->store->methods->release(p->file, b->s, b->n);
  b->n = 0;
}

/* Adds chunks [first, first + n) to the batch (the first and the last
 * chunk of the mapping may be partial). */
static void map_release(pager *p, rel_batch *b, uint64_t first, uint64_t n) {
  uintptr_t lo = (uintptr_t)(p->rbase + first) << p->rshift;
  uintptr_t hi = (uintptr_t)(p->rbase + first + n) << p->rshift;
  uintptr_t mlo = (uintptr_t)p->map, mhi = mlo + (uintptr_t)p->map_len;
  if (lo < mlo) lo = mlo;
  if (hi > mhi) hi = mhi;
  if (hi <= lo) return;
  if (b->n == sizeof b->s / sizeof b->s[0]) rel_flush(p, b);
  b->s[b->n].addr = (const void *)lo;
  b->s[b->n].len = hi - lo;
  b->n++;
}

/* The chunks that may be counted resident: the cache's bytes less what
 * the ARC lists hold (at least RCHUNK_FLOOR chunks), less a sixteenth
 * left for what the kernel maps beyond the counted chunks (the rest of a
 * large folio that a read faulted in). */
static uint64_t map_limit(pager *p, uint64_t held) {
  uint64_t budget = __atomic_load_n(&p->rbudget_bytes, __ATOMIC_RELAXED);
  uint64_t bytes = budget > held ? budget - held : 0;
  uint64_t lim = bytes >> p->rshift;
  if (lim < RCHUNK_FLOOR) lim = RCHUNK_FLOOR;
  return lim - lim / 16;
}

/* The hand: second chance for referenced chunks, release for cold ones,
 * until the count is a sixteenth below res_limit. Readers may reference
 * chunks again faster than the hand turns, so on a third turn it releases
 * referenced chunks too: the bound holds whatever the readers do. Runs in
 * one thread at a time; callers that find it busy go on reading (the
 * running hand sees their chunks, since it works until the count is
 * low enough).
 *
 * A release also covers the uncounted (R_OUT) chunks next to a released
 * one, within its RREGION: a kernel that maps a whole large folio on a
 * fault (Linux 6.18 does, up to 2 MiB, when the page cache holds one) maps
 * pages of neighbouring chunks that no read counted; they are dropped with
 * the chunk whose read mapped them. It also joins releases into one call
 * (one TLB flush) across R_OUT gaps. */
static uint64_t map_hand_run(pager *p) {
  ldb_mutex_lock(&p->mu);
  uint64_t held = (p->l[L_T1].n + p->l[L_T2].n) * p->ps;
  ldb_mutex_unlock(&p->mu);
  uint64_t lim = map_limit(p, held);
  __atomic_store_n(&p->res_limit, lim, __ATOMIC_RELAXED);
  uint64_t goal = lim - (lim / 16 ? lim / 16 : 1);
  const uint64_t none = UINT64_MAX;
  const uint32_t rs = RREGION_SHIFT > p->rshift ? RREGION_SHIFT - p->rshift : 0;
  /* [run_lo, run_hi): the range to release next (none: no run open);
   * run_end: the end of the region of its last released chunk; out_lo:
   * where the current stretch of R_OUT chunks began (none: not in one). */
  uint64_t run_lo = none, run_hi = 0, run_end = 0, out_lo = none, dropped = 0;
  rel_batch rb;
  rb.n = 0;
  uint64_t h = p->hand;
  for (uint64_t seen = 0; seen < 3 * p->rchunks; seen++, h++) {
    if (h >= p->rchunks) { /* wrap: runs never cross it */
      if (run_lo != none) map_release(p, &rb, run_lo, run_hi - run_lo);
      run_lo = out_lo = none;
      h = 0;
    }
    if (run_lo != none && h >= run_end) {
      map_release(p, &rb, run_lo, run_hi - run_lo);
      run_lo = none;
    }
    if (__atomic_load_n(&p->res_chunks, __ATOMIC_RELAXED) <= goal) break;
    uint8_t *b = rstate_of(p, h, false);
    if (!b) { /* a whole absent group: skip it */
      uint64_t next = ((h >> RGROUP_SHIFT) + 1) << RGROUP_SHIFT;
      if (run_lo != none) map_release(p, &rb, run_lo, run_hi - run_lo);
      run_lo = out_lo = none;
      seen += next - h - 1;
      h = next - 1;
      continue;
    }
    uint8_t v = __atomic_load_n(b, __ATOMIC_RELAXED);
    if (v == R_OUT) {
      if (out_lo == none) out_lo = h;
      if (run_lo != none && run_hi == h) run_hi = h + 1;
      continue;
    }
    /* A reader that marks a cold chunk R_REF first keeps it; one that
     * comes after sees R_OUT and counts it again. */
    bool force = seen >= 2 * p->rchunks;
    if ((v == R_COLD || (force && v == R_REF)) &&
        __atomic_compare_exchange_n(b, &v, R_OUT, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED)) {
      __atomic_fetch_sub(&p->res_chunks, 1, __ATOMIC_RELAXED);
      dropped++;
      uint64_t region = (h + p->rbase) >> rs << rs;
      if (run_lo == none || run_hi != h) {
        if (run_lo != none) map_release(p, &rb, run_lo, run_hi - run_lo);
        run_lo = h;
        if (out_lo != none && out_lo + p->rbase >= region)
          run_lo = out_lo;
        else if (out_lo != none)
          run_lo = region - p->rbase;
      }
      run_hi = h + 1;
      run_end = region + (1ull << rs) - p->rbase;
      out_lo = none;
      continue;
    }
    if (v == R_REF)
      __atomic_compare_exchange_n(b, &v, R_COLD, false, __ATOMIC_RELAXED,
                                  __ATOMIC_RELAXED);
    /* kept: it ends any run and any R_OUT stretch */
    if (run_lo != none) map_release(p, &rb, run_lo, run_hi - run_lo);
    run_lo = out_lo = none;
  }
  if (run_lo != none) map_release(p, &rb, run_lo, run_hi - run_lo);
  rel_flush(p, &rb);
  __atomic_fetch_add(&p->released, dropped, __ATOMIC_RELAXED);
  p->hand = h >= p->rchunks ? 0 : h;
  return lim;
}

static void map_hand(pager *p) {
  while (!__atomic_exchange_n(&p->hand_busy, 1, __ATOMIC_ACQUIRE)) {
    uint64_t lim = map_hand_run(p);
    __atomic_store_n(&p->hand_busy, 0, __ATOMIC_RELEASE);
    /* Chunks counted after the hand's last check, by readers that found
     * it busy (and so did not run it), are its caller's to release. */
    if (__atomic_load_n(&p->res_chunks, __ATOMIC_RELAXED) <= lim) break;
  }
}

/* A mapped read is about to touch chunk ch: mark it referenced, count it
 * when it was out, and run the hand when that crosses the budget. */
static inline void map_touch_chunk(pager *p, uint64_t ch) {
  uint8_t *b = rstate_of(p, ch, true);
  if (!b) return;
  uint8_t v = __atomic_load_n(b, __ATOMIC_RELAXED);
  if (__builtin_expect(v == R_REF, 1)) return;
  for (;;) {
    if (__atomic_compare_exchange_n(b, &v, R_REF, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED))
      break;
    if (v == R_REF) return;
  }
  if (v != R_OUT) return;
  uint64_t n = __atomic_add_fetch(&p->res_chunks, 1, __ATOMIC_RELAXED);
  if (n > __atomic_load_n(&p->res_limit, __ATOMIC_RELAXED)) map_hand(p);
}

/* Chunks are aligned on virtual addresses (the kernel's fault-around maps
 * an aligned window around a fault), so a page may straddle two. */
static inline void map_touch(pager *p, const uint8_t *pg) {
  uint64_t first = ((uintptr_t)pg >> p->rshift) - p->rbase;
  uint64_t last = (((uintptr_t)pg + p->ps - 1) >> p->rshift) - p->rbase;
  map_touch_chunk(p, first);
  if (last != first) map_touch_chunk(p, last);
}

/* pager_get's mapped path: the page in place, verified once. */
static int map_get(pager *p, uint64_t pgno, const uint8_t **data) {
  const uint8_t *pg = p->map + pgno * p->ps;
  if (p->rstate) map_touch(p, pg);
  if (__builtin_expect(tl_map_countdown == 0, 0))
    map_sample(p, pg);
  else
    tl_map_countdown--;
  if (!vbit_get(p, pgno)) {
    bool ok = pager_verify(pg, p->ps, pgno);
    if (map_broken(p)) return pager_map_check(p, 0, LDB_OK);
    if (!ok)
      return ldb_err(LDB_CORRUPT, "page %llu: checksum mismatch",
                     (unsigned long long)pgno);
    vbit_set(p, pgno);
  }
  *data = pg;
  return LDB_OK;
}

void pager_prefetch(const pager *p, uint64_t pgno, uint32_t off, uint32_t len) {
  if (!map_serves(p, pgno) || off >= p->ps) return;
  if (len > p->ps - off) len = p->ps - off;
  const uint8_t *pg = p->map + pgno * p->ps;
  /* A prefetch never faults: a page the kernel has not mapped (or a chunk
   * the bound released) is simply not loaded. */
  for (uint32_t o = off & ~63u; o < off + len; o += 64)
    __builtin_prefetch(pg + o);
}

/* ---- open/close ---------------------------------------------------------- */

int pager_open(ldb_file *file, uint32_t ps, uint64_t cache_bytes,
               uint64_t map_bytes, const ldb_allocator *a, pager **out) {
  *out = NULL;
  if (ps < LDB_MIN_PAGE_SIZE || ps > LDB_MAX_PAGE_SIZE || (ps & (ps - 1)))
    return ldb_err(LDB_INVALID,
                   "page size %u is not a power of two in "
                   "512..65536",
                   ps);
  pager *p = ldb_calloc(a, sizeof *p);
  if (!p) return LDB_NOMEM;
  p->file = file;
  p->a = a;
  p->ps = ps;
  p->c = cache_bytes / ps;
  if (p->c < 16) p->c = 16;
  p->budget = p->c;
  /* Resident + ghost entries stay near 2c; keep chains short. */
  uint64_t nb = 64;
  while (nb < p->c * 2 && nb < (1ull << 26))
    nb <<= 1;
  p->hash = ldb_calloc(a, nb * sizeof *p->hash);
  if (!p->hash) {
    ldb_mfree(a, p);
    return LDB_NOMEM;
  }
  p->hmask = nb - 1;
  p->sample_every = PAGER_MAP_SAMPLE;
  ldb_mutex_init(&p->mu);
  map_open(p, map_bytes);
  *out = p;
  return LDB_OK;
}

static void free_ent(pager *p, pg_ent *e) {
  if (e->data) ldb_mfree(p->a, e->data);
  ldb_mfree(p->a, e);
}

void pager_close(pager *p) {
  if (!p) return;
  map_close(p);
  for (uint64_t i = 0; i <= p->hmask; i++) {
    pg_ent *e = p->hash[i];
    while (e) {
      pg_ent *n = e->hnext;
      free_ent(p, e);
      e = n;
    }
  }
  ldb_mfree(p->a, p->hash);
  ldb_mutex_destroy(&p->mu);
  ldb_mfree(p->a, p);
}

uint32_t pager_page_size(const pager *p) {
  return p->ps;
}

/* ---- lists and hash (caller holds mu) ----------------------------------- */

static void l_remove(pager *p, pg_ent *e) {
  pg_list *l = &p->l[e->list];
  if (e->prev)
    e->prev->next = e->next;
  else
    l->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    l->tail = e->prev;
  e->prev = e->next = NULL;
  l->n--;
  e->list = L_NONE;
}

static void l_push(pager *p, pg_ent *e, int which) {
  pg_list *l = &p->l[which];
  e->list = (uint8_t)which;
  e->prev = NULL;
  e->next = l->head;
  if (l->head)
    l->head->prev = e;
  else
    l->tail = e;
  l->head = e;
  l->n++;
}

static pg_ent *h_find(pager *p, uint64_t pgno) {
  pg_ent *e = p->hash[hash_pg(pgno) & p->hmask];
  while (e && e->pgno != pgno)
    e = e->hnext;
  return e;
}

static void h_insert(pager *p, pg_ent *e) {
  pg_ent **b = &p->hash[hash_pg(e->pgno) & p->hmask];
  e->hnext = *b;
  *b = e;
}

static void h_remove(pager *p, pg_ent *e) {
  pg_ent **b = &p->hash[hash_pg(e->pgno) & p->hmask];
  while (*b && *b != e)
    b = &(*b)->hnext;
  if (*b) *b = e->hnext;
  e->hnext = NULL;
}

/* Drops a ghost entry entirely. */
static void drop_ghost(pager *p, pg_ent *e) {
  l_remove(p, e);
  h_remove(p, e);
  free_ent(p, e);
}

/* LRU-most unpinned entry of a resident list, or NULL. */
static pg_ent *victim(pager *p, int which) {
  pg_ent *e = p->l[which].tail;
  while (e && pins_of(e))
    e = e->prev;
  return e;
}

/* ARC's REPLACE: moves an unpinned LRU page of T1 or T2 to its ghost list.
 * Returns false when every resident page is pinned. */
static bool arc_replace(pager *p, bool hit_in_b2) {
  pg_ent *v1 = victim(p, L_T1), *v2 = victim(p, L_T2);
  pg_ent *v;
  int ghost;
  bool prefer_t1 =
      p->l[L_T1].n > 0 &&
      (p->l[L_T1].n > p->target || (hit_in_b2 && p->l[L_T1].n == p->target));
  if ((prefer_t1 && v1) || !v2) {
    v = v1;
    ghost = L_B1;
  } else {
    v = v2;
    ghost = L_B2;
  }
  if (!v) return false;
  l_remove(p, v);
  ldb_mfree(p->a, v->data);
  v->data = NULL;
  l_push(p, v, ghost);
  p->evictions++;
  return true;
}

/* Makes room for one more resident page per ARC, then trims the ghost
 * directory to c entries per side. ghost_list is the list the requested
 * page was found in (L_B1/L_B2) or L_NONE on a complete miss. */
static void arc_make_room(pager *p, int ghost_list) {
  uint64_t c = p->c;
  if (ghost_list == L_NONE) {
    uint64_t l1 = p->l[L_T1].n + p->l[L_B1].n;
    uint64_t total = l1 + p->l[L_T2].n + p->l[L_B2].n;
    if (l1 >= c) {
      if (p->l[L_B1].n > 0) {
        drop_ghost(p, p->l[L_B1].tail);
      } else {
        pg_ent *v = victim(p, L_T1);
        if (v) { /* T1 alone fills the cache: evict without a ghost */
          l_remove(p, v);
          h_remove(p, v);
          free_ent(p, v);
          p->evictions++;
        }
      }
    } else if (total >= 2 * c && p->l[L_B2].n > 0) {
      drop_ghost(p, p->l[L_B2].tail);
    }
  }
  while (p->l[L_T1].n + p->l[L_T2].n >= c) {
    if (!arc_replace(p, ghost_list == L_B2)) break;
  }
  /* Ghost directory bound (also after pins let the cache run over). */
  while (p->l[L_T1].n + p->l[L_B1].n > c && p->l[L_B1].n > 0)
    drop_ghost(p, p->l[L_B1].tail);
  while (p->l[L_T1].n + p->l[L_T2].n + p->l[L_B1].n + p->l[L_B2].n > 2 * c &&
         p->l[L_B2].n > 0)
    drop_ghost(p, p->l[L_B2].tail);
}

/* Inserts a resident page (data owned by the cache from now on); an entry
 * for pgno must not be resident. Returns the entry, or NULL on NOMEM (data
 * is then freed). */
static pg_ent *arc_insert(pager *p, uint64_t pgno, uint8_t *data) {
  pg_ent *e = h_find(p, pgno);
  int gl = L_NONE;
  if (e) {
    gl = e->list;
    if (gl == L_B1) {
      uint64_t d = p->l[L_B1].n ? p->l[L_B2].n / p->l[L_B1].n : 1;
      if (d < 1) d = 1;
      p->target = p->target + d > p->c ? p->c : p->target + d;
    } else if (gl == L_B2) {
      uint64_t d = p->l[L_B2].n ? p->l[L_B1].n / p->l[L_B2].n : 1;
      if (d < 1) d = 1;
      p->target = p->target > d ? p->target - d : 0;
    }
    /* Take the ghost out while making room so it is not dropped. */
    l_remove(p, e);
    h_remove(p, e);
  }
  arc_make_room(p, gl);
  if (!e) {
    e = ldb_calloc(p->a, sizeof *e);
    if (!e) {
      ldb_mfree(p->a, data);
      return NULL;
    }
    e->pgno = pgno;
  }
  e->data = data;
  e->pins = 0;
  h_insert(p, e);
  l_push(p, e, gl == L_NONE ? L_T1 : L_T2);
  return e;
}

/* ---- public ------------------------------------------------------------- */

int pager_read_direct(pager *p, uint64_t pgno, uint8_t *buf) {
  int rc = ldb_fread_full(p->file, pgno * p->ps, buf, p->ps);
  if (rc == LDB_CORRUPT)
    return ldb_err(LDB_CORRUPT, "page %llu: short read (file ends first)",
                   (unsigned long long)pgno);
  if (rc != LDB_OK) return rc;
  __atomic_fetch_add(&p->bytes_read, p->ps, __ATOMIC_RELAXED);
  if (!pager_verify(buf, p->ps, pgno))
    return ldb_err(LDB_CORRUPT, "page %llu: checksum mismatch",
                   (unsigned long long)pgno);
  return LDB_OK;
}

int pager_get_mapped(pager *p, uint64_t pgno, const uint8_t **data) {
  return map_serves(p, pgno) ? map_get(p, pgno, data) : LDB_NOTFOUND;
}

int pager_get(pager *p, uint64_t pgno, const uint8_t **data, pg_ent **ent) {
  if (map_serves(p, pgno)) {
    *ent = NULL;
    return map_get(p, pgno, data);
  }
  ldb_mutex_lock(&p->mu);
  pg_ent *e = h_find(p, pgno);
  if (e && e->data) {
    __atomic_fetch_add(&e->pins, 1, __ATOMIC_ACQ_REL);
    p->hits++;
    if (e->list == L_T1 || e->list == L_T2) {
      if (e != p->l[L_T2].head) {
        l_remove(p, e);
        l_push(p, e, L_T2);
      }
    }
    ldb_mutex_unlock(&p->mu);
    *data = e->data;
    *ent = e;
    return LDB_OK;
  }
  p->misses++;
  ldb_mutex_unlock(&p->mu);

  uint8_t *buf = ldb_malloc(p->a, p->ps);
  if (!buf) return LDB_NOMEM;
  int rc = pager_read_direct(p, pgno, buf);
  if (rc != LDB_OK) {
    ldb_mfree(p->a, buf);
    return rc;
  }
  ldb_mutex_lock(&p->mu);
  e = h_find(p, pgno);
  if (e && e->data) { /* another thread loaded it meanwhile */
    ldb_mfree(p->a, buf);
  } else {
    e = arc_insert(p, pgno, buf);
    if (!e) {
      ldb_mutex_unlock(&p->mu);
      return LDB_NOMEM;
    }
  }
  __atomic_fetch_add(&e->pins, 1, __ATOMIC_ACQ_REL);
  ldb_mutex_unlock(&p->mu);
  *data = e->data;
  *ent = e;
  return LDB_OK;
}

void pager_unpin(pager *p, pg_ent *e) {
  if (!e) return;
  /* Lock-free: the cache trims itself back to budget on its next insert. */
  uint32_t old = __atomic_fetch_sub(&e->pins, 1, __ATOMIC_ACQ_REL);
  if (old == (PIN_DETACHED | 1)) free_ent(p, e);
}

/* Caller holds mu. Detaches any entry for pgno: ghosts and unpinned pages
 * are freed, a pinned page lives on until its last unpin. */
static void forget_locked(pager *p, uint64_t pgno) {
  pg_ent *e = h_find(p, pgno);
  if (!e) return;
  l_remove(p, e);
  h_remove(p, e);
  uint32_t old = __atomic_fetch_or(&e->pins, PIN_DETACHED, __ATOMIC_ACQ_REL);
  if ((old & ~PIN_DETACHED) == 0) free_ent(p, e);
}

void pager_forget(pager *p, uint64_t pgno) {
  vbit_clear(p, pgno);
  ldb_mutex_lock(&p->mu);
  forget_locked(p, pgno);
  ldb_mutex_unlock(&p->mu);
}

int pager_write(pager *p, uint64_t pgno, uint8_t *buf, bool cache_it) {
  return pager_write_run(p, pgno, buf, 1, cache_it);
}

int pager_write_run(pager *p, uint64_t pgno, uint8_t *buf, uint32_t n,
                    bool cache_it) {
  size_t ps = p->ps;
  /* Drop the old images before the write so no reader can pick up a
   * stale copy afterwards (only unreferenced page numbers are ever
   * written): as pager_forget, under one lock for the run. */
  for (uint32_t i = 0; i < n; i++) {
    pager_seal(buf + i * ps, p->ps, pgno + i);
    vbit_clear(p, pgno + i);
  }
  ldb_mutex_lock(&p->mu);
  for (uint32_t i = 0; i < n; i++)
    forget_locked(p, pgno + i);
  ldb_mutex_unlock(&p->mu);
  int rc = ldb_fwrite(p->file, pgno * ps, buf, n * ps);
  if (rc != LDB_OK) return rc;
  __atomic_fetch_add(&p->bytes_written, n * ps, __ATOMIC_RELAXED);
  if (p->map) {
    uint64_t last = pgno + n - 1;
    uint64_t end = __atomic_load_n(&p->end_pages, __ATOMIC_RELAXED);
    while (end <= last &&
           !__atomic_compare_exchange_n(&p->end_pages, &end, last + 1, false,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    }
  }
  /* A page the mapping serves needs no cached copy. */
  for (uint32_t i = 0; cache_it && i < n; i++) {
    if (map_serves(p, pgno + i)) continue;
    uint8_t *copy = ldb_malloc(p->a, ps);
    if (!copy) return LDB_OK; /* caching is optional */
    memcpy(copy, buf + i * ps, ps);
    ldb_mutex_lock(&p->mu);
    forget_locked(p, pgno + i);
    arc_insert(p, pgno + i, copy);
    ldb_mutex_unlock(&p->mu);
  }
  return LDB_OK;
}

int pager_truncate(pager *p, uint64_t pages) {
  uint64_t size;
  int rc = ldb_fsize(p->file, &size);
  if (rc || size <= pages * p->ps) return rc;
  uint64_t end = __atomic_load_n(&p->end_pages, __ATOMIC_RELAXED);
  while (end > pages &&
         !__atomic_compare_exchange_n(&p->end_pages, &end, pages, false,
                                      __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
  }
  return ldb_ftruncate(p->file, pages * p->ps);
}

int pager_sync(pager *p) {
  __atomic_fetch_add(&p->syncs, 1, __ATOMIC_RELAXED);
  return ldb_fsync(p->file);
}

/* ---- lending the budget ------------------------------------------------ */

/* Caller holds mu. The capacity follows the loan; ARC's target stays
 * within it, and the mapping's resident set shrinks or grows with it (the
 * hand's limit now, rather than at its next run). */
static void loan_set(pager *p, uint64_t loan) {
  p->loan = loan;
  p->c = p->budget - loan;
  if (p->target > p->c) p->target = p->c;
  __atomic_store_n(&p->rbudget_bytes, p->c * p->ps, __ATOMIC_RELAXED);
  if (p->rstate) {
    uint64_t held = (p->l[L_T1].n + p->l[L_T2].n) * p->ps;
    __atomic_store_n(&p->res_limit, map_limit(p, held), __ATOMIC_RELAXED);
  }
}

uint64_t pager_borrow(pager *p, uint64_t want) {
  uint64_t pages = want / p->ps + (want % p->ps != 0);
  ldb_mutex_lock(&p->mu);
  /* In use: the resident pages and, when the mapping is bounded, the
   * mapped chunks counted resident; never below the 16-page floor. */
  uint64_t used = p->l[L_T1].n + p->l[L_T2].n;
  if (p->rstate) {
    uint64_t mapped = __atomic_load_n(&p->res_chunks, __ATOMIC_RELAXED)
                      << p->rshift;
    used += (mapped + p->ps - 1) / p->ps;
  }
  if (used < 16) used = 16;
  uint64_t spare = p->c > used ? p->c - used : 0;
  if (pages > spare) pages = spare;
  if (pages) loan_set(p, p->loan + pages);
  ldb_mutex_unlock(&p->mu);
  return pages * p->ps;
}

void pager_repay(pager *p, uint64_t bytes) {
  uint64_t pages = bytes / p->ps;
  ldb_mutex_lock(&p->mu);
  loan_set(p, p->loan - (pages < p->loan ? pages : p->loan));
  ldb_mutex_unlock(&p->mu);
}

void pager_stats_get(pager *p, pager_stats *o) {
  ldb_mutex_lock(&p->mu);
  /* The cache's own lookups: reads through the mapping are not counted
   * here (a shared counter would be the one write readers contend on);
   * map_resident / map_nonresident count a sample of them. */
  o->hits = p->hits;
  o->misses = p->misses;
  o->evictions = p->evictions;
  o->cache_bytes = (p->l[L_T1].n + p->l[L_T2].n) * p->ps;
  o->cache_capacity = p->budget * p->ps;
  o->cache_lent = p->loan * p->ps;
  ldb_mutex_unlock(&p->mu);
  o->map_bytes = p->map && !map_broken(p) ? p->map_len : 0;
  o->map_resident = __atomic_load_n(&p->map_resident, __ATOMIC_RELAXED);
  o->map_nonresident = __atomic_load_n(&p->map_nonresident, __ATOMIC_RELAXED);
  o->map_resident_bytes =
      p->rstate ? __atomic_load_n(&p->res_chunks, __ATOMIC_RELAXED) << p->rshift
                : 0;
  o->map_released_bytes =
      p->rstate ? __atomic_load_n(&p->released, __ATOMIC_RELAXED) << p->rshift
                : 0;
  o->bytes_read = __atomic_load_n(&p->bytes_read, __ATOMIC_RELAXED);
  o->bytes_written = __atomic_load_n(&p->bytes_written, __ATOMIC_RELAXED);
  o->syncs = __atomic_load_n(&p->syncs, __ATOMIC_RELAXED);
}

#ifdef LDB_PAGER_INTROSPECTION
int pager_debug_list(pager *p, uint64_t pgno) {
  ldb_mutex_lock(&p->mu);
  pg_ent *e = h_find(p, pgno);
  int r = e ? e->list : 0;
  ldb_mutex_unlock(&p->mu);
  return r;
}

uint64_t pager_debug_target(pager *p) {
  ldb_mutex_lock(&p->mu);
  uint64_t t = p->target;
  ldb_mutex_unlock(&p->mu);
  return t;
}

void pager_debug_sample_every(pager *p, uint32_t n) {
  p->sample_every = n ? n : 1;
  tl_map_countdown = 0;
}
#endif
