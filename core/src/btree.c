/*
 * btree.c — the data file "data.ldb": meta pages, the copy-on-write B+tree,
 * overflow chains, compression of values, the free-page list, tree
 * versions and the integrity check. Implements btree.h on top of pager.h.
 *
 * File layout (all integers little-endian; every page starts with the
 * pager's crc32c, which covers the page number):
 *   page 0, 1   meta slots, written alternately; the valid one with the
 *               larger counter is current.
 *   others      leaf, branch, overflow and free-list pages, or free.
 * Common page header (16 bytes): [0,4) crc, [4] type, [5] 0, [6,8) cell
 * count, [8,12) next page (overflow/free-list chains), [12,16) bytes or
 * entries used in this page (overflow/free-list).
 * Leaf/branch pages: [8,10) holds plen, the length of the prefix every key
 * of the page shares (branch: keys of cells 1..n-1). A slot array at 16
 * has per cell a u16 offset (cells are packed from the end of the page)
 * and a u32 hint: the 4 key bytes after the shared prefix, big-endian,
 * zero-padded. Searches compare hints first and touch a cell only when
 * hints tie, which saves most cache misses on large trees.
 *   leaf cell:   flags u8, klen u16, kloc u16, vlen u32,
 *                [codec u8, raw_len u32 when F_COMP], key[kloc],
 *                [key-overflow u32 when F_KOVF],
 *                value[vlen] | value-overflow u32 when F_VOVF
 *   branch cell: child u32, flags u8, klen u16, kloc u16, key[kloc],
 *                [key-overflow u32]. Cell 0 has klen 0 and means -inf;
 *                cell i covers keys >= key_i (and < key_{i+1}).
 * A leaf cell's klen may be 0: the empty key, the smallest of all keys
 * (allowed since format 1 was written; older files simply never hold one).
 * A cell never takes more than a quarter of a page, so a page always
 * splits; keys longer than fits keep a prefix in the cell and the rest in
 * an overflow chain, large values go to a chain whole. vlen is the stored
 * (possibly compressed) length.
 *
 * Merges (checkpoints) work on decoded in-memory copies of the pages they
 * touch ("dirty nodes"): a page is copied once per merge, later changes
 * edit the copy, and bt_merge_commit writes every dirty node to a newly
 * allocated page bottom-up. Committed pages are never written again while
 * any version or durable meta can reach them.
 *
 * Free pages: pages released by the merge that produced version v (the
 * old copies) wait in a pending batch tagged v until no reader holds a
 * version older than v AND a newer meta page (v+1) is durable; they are
 * then reusable. The second condition keeps the previous version whole on
 * disk for as long as its meta page is the fallback: if the newest meta
 * page is damaged, recovery opens the older one, and every page that one
 * reaches is still intact (the log above this layer keeps the commits
 * needed to replay from it). The meta page of every version points at a
 * free-list chain listing every free page (reusable and pending); its last
 * fl_recent entries are the pages the version's own merge released, which
 * a reopen keeps pending in the same way.
 */
#include "btree.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "pager.h"
#include "store.h"

#define BT_MAGIC 0x3141544144424c4cull /* "LLBDDATA1" -ish tag */
#define BT_MAX_HEIGHT 32
#define HDR 16
#define SLOT 6 /* slot entry: u16 cell offset + u32 key hint */

enum { PT_META = 1, PT_LEAF = 2, PT_BRANCH = 3, PT_OVFL = 4, PT_FREE = 5 };
enum { F_KOVF = 1, F_VOVF = 2, F_COMP = 4 };

/* ---- small vectors ------------------------------------------------------ */

typedef struct u32vec {
  uint32_t *v;
  size_t n, cap;
} u32vec;

static int vpush(const ldb_allocator *a, u32vec *v, uint32_t x) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 64;
    uint32_t *nv = ldb_realloc(a, v->v, v->cap * sizeof *nv, nc * sizeof *nv);
    if (!nv) return LDB_NOMEM;
    v->v = nv;
    v->cap = nc;
  }
  v->v[v->n++] = x;
  return LDB_OK;
}

static int vappend(const ldb_allocator *a, u32vec *v, const u32vec *w) {
  if (v->n + w->n > v->cap) {
    size_t nc = v->cap ? v->cap : 64;
    while (nc < v->n + w->n)
      nc *= 2;
    uint32_t *nv = ldb_realloc(a, v->v, v->cap * sizeof *nv, nc * sizeof *nv);
    if (!nv) return LDB_NOMEM;
    v->v = nv;
    v->cap = nc;
  }
  if (w->n) memcpy(v->v + v->n, w->v, w->n * sizeof *w->v);
  v->n += w->n;
  return LDB_OK;
}

static void vfree(const ldb_allocator *a, u32vec *v) {
  ldb_mfree(a, v->v);
  v->v = NULL;
  v->n = v->cap = 0;
}

static int cmp_desc(const void *x, const void *y) {
  uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
  return a < b ? 1 : a > b ? -1 : 0;
}

/* Sorts a set of free pages highest first: allocation pops the lowest page
 * from the end, and the highest ones, at the front, are what a commit can
 * cut off the end of the file. */
static void sort_free(u32vec *v) {
  if (v->n > 1) qsort(v->v, v->n, sizeof *v->v, cmp_desc);
}

/* ---- structures --------------------------------------------------------- */

typedef struct pend_batch {
  uint64_t version; /* reusable once no live version is older than this */
  u32vec pages;
  struct pend_batch *next;
} pend_batch;

struct bt_tree {
  bt_file *f;
  /* Atomic. Taken without a lock by whoever already holds one (or, under
   * f->mu, for f->current, which holds the file's own); the last release
   * takes f->mu to unlink and free the version. */
  uint64_t refs;
  uint64_t version, root, count, seq;
  uint32_t height;
  bt_tree *prev, *next; /* live list */
};

struct bt_file {
  ldb_file *file;
  pager *pg;
  const ldb_allocator *a;
  uint32_t ps;
  uint32_t cap;     /* bytes for slots + cells: ps - HDR */
  uint32_t maxcell; /* max cell bytes (slot not included) */
  uint32_t kmax;    /* max key bytes kept in a cell */
  int codec, level, read_only;
  /* values of at least LDB_COMPRESS_MIN bytes written while compression
   * was on, by the codec stored: [0] raw (did not pay), then per codec */
  _Atomic uint64_t codec_values[4];
  _Atomic uint64_t reads_corrupt; /* reader calls that met damage */
  ldb_mutex mu; /* current, live list, free-page state, merging */
  bt_tree *current;
  bt_tree *live;
  uint64_t counter;         /* meta counter of current */
  uint64_t page_count;      /* logical end of file, in pages */
  uint64_t meta_page_count; /* page count recorded in the current meta */
  uint64_t fl_head, fl_count;
  u32vec fl_pages;   /* pages holding the current persisted free list */
  int meta_bad;      /* at open: the slot whose meta page was invalid while
                        the other was valid (-1: none) */
  ldb_mutex meta_mu; /* held while a commit writes and installs a meta
                        page and while bt_check reads both meta pages and
                        the previous version (lock order: meta_mu, mu) */
  u32vec reusable;
  pend_batch *pend, *pend_tail;
  int merging;
  uint64_t merges; /* merges begun (under mu): bt_check tells whether one
                      wrote pages while it read the free ones */
};

typedef struct cinfo {
  uint8_t flags, codec;
  uint32_t klen, kloc, vlen, raw, kovf, vovf, child, size;
  const uint8_t *key, *val;
} cinfo;

/* ---- cell parsing ------------------------------------------------------- */

static int bad_cell(uint64_t pgno, uint32_t i) {
  return ldb_err(LDB_CORRUPT, "page %llu: cell %u is malformed",
                 (unsigned long long)pgno, i);
}

/* Parses a leaf cell at c with avail bytes to the end of the page; -1 when
 * malformed. */
static int parse_leaf(const uint8_t *c, size_t avail, cinfo *ci) {
  if (avail < 9) return -1;
  ci->flags = c[0];
  ci->klen = ldb_get16(c + 1);
  ci->kloc = ldb_get16(c + 3);
  ci->vlen = ldb_get32(c + 5);
  size_t off = 9;
  ci->codec = 0;
  ci->raw = ci->vlen;
  if (ci->flags & ~(F_KOVF | F_VOVF | F_COMP)) return -1;
  if (ci->flags & F_COMP) {
    if (avail < 14) return -1;
    ci->codec = c[9];
    ci->raw = ldb_get32(c + 10);
    off = 14;
  }
  if (ci->klen > LDB_MAX_KEY_SIZE || ci->kloc > ci->klen) return -1;
  if (!(ci->flags & F_KOVF) != (ci->kloc == ci->klen)) return -1;
  ci->key = c + off;
  off += ci->kloc;
  ci->kovf = ci->vovf = 0;
  if (ci->flags & F_KOVF) {
    if (off + 4 > avail) return -1;
    ci->kovf = ldb_get32(c + off);
    off += 4;
  }
  if (ci->flags & F_VOVF) {
    if (off + 4 > avail) return -1;
    ci->vovf = ldb_get32(c + off);
    ci->val = NULL;
    off += 4;
  } else {
    ci->val = c + off;
    off += ci->vlen;
  }
  if (off > avail) return -1;
  ci->size = (uint32_t)off;
  return 0;
}

static int parse_branch(const uint8_t *c, size_t avail, cinfo *ci) {
  if (avail < 9) return -1;
  ci->child = ldb_get32(c);
  ci->flags = c[4];
  ci->klen = ldb_get16(c + 5);
  ci->kloc = ldb_get16(c + 7);
  if (ci->flags & ~F_KOVF) return -1;
  if (ci->klen > LDB_MAX_KEY_SIZE || ci->kloc > ci->klen) return -1;
  if (!(ci->flags & F_KOVF) != (ci->kloc == ci->klen)) return -1;
  ci->key = c + 9;
  size_t off = 9 + (size_t)ci->kloc;
  ci->kovf = 0;
  if (ci->flags & F_KOVF) {
    if (off + 4 > avail) return -1;
    ci->kovf = ldb_get32(c + off);
    off += 4;
  }
  if (off > avail) return -1;
  ci->size = (uint32_t)off;
  ci->val = NULL;
  ci->vovf = 0;
  ci->vlen = ci->raw = 0;
  return 0;
}

static inline uint32_t pg_n(const uint8_t *pg) {
  return ldb_get16(pg + 6);
}

/* Checks the header of a tree page read for the layer above. */
static int check_page(const bt_file *f, const uint8_t *pg, uint64_t pgno,
                      int type) {
  if (pg[4] != type)
    return ldb_err(LDB_CORRUPT, "page %llu: type %u where %s expected",
                   (unsigned long long)pgno, pg[4],
                   type == PT_LEAF ? "leaf" : "branch");
  uint32_t n = pg_n(pg);
  if (HDR + SLOT * (size_t)n > f->ps || (type == PT_BRANCH && n == 0))
    return ldb_err(LDB_CORRUPT, "page %llu: bad cell count %u",
                   (unsigned long long)pgno, n);
  return LDB_OK;
}

static int cell_at(const bt_file *f, const uint8_t *pg, uint64_t pgno,
                   uint32_t i, int leaf, cinfo *ci) {
  uint32_t n = pg_n(pg);
  uint32_t off = ldb_get16(pg + HDR + SLOT * i);
  if (off < HDR + SLOT * n || off >= f->ps) return bad_cell(pgno, i);
  int r = leaf ? parse_leaf(pg + off, f->ps - off, ci)
               : parse_branch(pg + off, f->ps - off, ci);
  if (r) return bad_cell(pgno, i);
  return LDB_OK;
}

/* ---- overflow chains ---------------------------------------------------- */

static uint32_t ovfl_payload(const bt_file *f) {
  return f->ps - HDR;
}

/* Reads the chain of len bytes starting at pgno, copying them into dst
 * (when non-NULL); also appends the chain's pages to pages when non-NULL.
 * Pages come from the mapping when it serves them (in place, verified
 * once per page version, as leaves are), else one pread each into a
 * buffer; with direct always the latter (the integrity check reads what
 * the file holds now). A read through the mapping that faulted meanwhile
 * (the file was truncated under it) makes the chain LDB_IOERR: its bytes
 * were zeros. */
static int read_chain_from(bt_file *f, uint32_t pgno, uint64_t len,
                           uint8_t *dst, u32vec *pages, bool direct) {
  uint8_t *buf = NULL; /* for pages the mapping does not serve */
  int rc = LDB_OK;
  uint64_t done = 0;
  uint64_t maxpages = len / ovfl_payload(f) + 2;
  uint64_t seen = 0;
  uint64_t faults = pager_map_faults(f->pg);
  while (done < len) {
    if (pgno < 2 || pgno >= __atomic_load_n(&f->page_count, __ATOMIC_RELAXED) ||
        ++seen > maxpages) {
      rc = ldb_err(LDB_CORRUPT, "overflow chain points at page %u", pgno);
      goto out;
    }
    const uint8_t *pg;
    rc = direct ? LDB_NOTFOUND : pager_get_mapped(f->pg, pgno, &pg);
    if (rc == LDB_NOTFOUND) {
      if (!buf && !(buf = ldb_malloc(f->a, f->ps))) {
        rc = LDB_NOMEM;
        goto out;
      }
      rc = pager_read_direct(f->pg, pgno, buf);
      pg = buf;
    }
    if (rc) goto out;
    uint32_t used = ldb_get32(pg + 12);
    if (pg[4] != PT_OVFL || used == 0 || used > ovfl_payload(f) ||
        used > len - done) {
      rc = ldb_err(LDB_CORRUPT, "page %u: bad overflow page", pgno);
      goto out;
    }
    if (pages && (rc = vpush(f->a, pages, pgno))) goto out;
    if (dst) memcpy(dst + done, pg + HDR, used);
    done += used;
    pgno = ldb_get32(pg + 8);
  }
out:
  ldb_mfree(f->a, buf);
  return pager_map_check(f->pg, faults, rc);
}

static int read_chain(bt_file *f, uint32_t pgno, uint64_t len, uint8_t *dst,
                      u32vec *pages) {
  return read_chain_from(f, pgno, len, dst, pages, false);
}

/* read_chain with every page read from the file (the integrity check). */
static int read_chain_direct(bt_file *f, uint32_t pgno, uint64_t len,
                             u32vec *pages) {
  return read_chain_from(f, pgno, len, NULL, pages, true);
}

/* Full key of a page cell into buf (LDB_MAX_KEY_SIZE bytes). */
static int full_key(bt_file *f, const cinfo *ci, uint8_t *buf) {
  memcpy(buf, ci->key, ci->kloc);
  if (!(ci->flags & F_KOVF)) return LDB_OK;
  return read_chain(f, ci->kovf, ci->klen - ci->kloc, buf + ci->kloc, NULL);
}

/* Compares key with a page cell's key into *res. */
static int cmp_cell(bt_file *f, const void *key, size_t klen, const cinfo *ci,
                    int *res) {
  if (!(ci->flags & F_KOVF)) {
    *res = ldb_keycmp(key, klen, ci->key, ci->klen);
    return LDB_OK;
  }
  size_t n = klen < ci->kloc ? klen : ci->kloc;
  int c = n ? memcmp(key, ci->key, n) : 0;
  if (c || klen <= ci->kloc) {
    *res = c ? c : -1; /* cell key is longer than kloc */
    return LDB_OK;
  }
  uint8_t kb[LDB_MAX_KEY_SIZE];
  int rc = full_key(f, ci, kb);
  if (rc) return rc;
  *res = ldb_keycmp(key, klen, kb, ci->klen);
  return LDB_OK;
}

/* The key part of cell i only (the hot path of searches): fills
 * ci->flags, klen, kloc, key, and for leaves ci->kovf. -1 when malformed;
 * the full parse (cell_at) validates the rest when the cell is used. */
static inline int key_at(const bt_file *f, const uint8_t *pg, uint32_t n,
                         uint32_t i, int leaf, cinfo *ci) {
  uint32_t off = ldb_get16(pg + HDR + SLOT * i);
  if (off < HDR + SLOT * n || off + 9 > f->ps) return -1;
  const uint8_t *c = pg + off;
  uint32_t koff;
  if (leaf) {
    ci->flags = c[0];
    ci->klen = ldb_get16(c + 1);
    ci->kloc = ldb_get16(c + 3);
    koff = (ci->flags & F_COMP) ? 14 : 9;
  } else {
    ci->flags = c[4];
    ci->klen = ldb_get16(c + 5);
    ci->kloc = ldb_get16(c + 7);
    koff = 9;
  }
  if (ci->kloc > ci->klen || ci->klen > LDB_MAX_KEY_SIZE ||
      off + koff + ci->kloc + ((ci->flags & F_KOVF) ? 4 : 0) > f->ps ||
      !(ci->flags & F_KOVF) != (ci->kloc == ci->klen))
    return -1;
  ci->key = c + koff;
  if (ci->flags & F_KOVF) ci->kovf = ldb_get32(c + koff + ci->kloc);
  return 0;
}

static inline uint32_t hint_of(const uint8_t *k, size_t klen, size_t plen) {
  uint32_t h = 0;
  for (size_t j = plen; j < plen + 4; j++)
    h = (h << 8) | (j < klen ? k[j] : 0);
  return h;
}

static inline uint32_t slot_hint(const uint8_t *pg, uint32_t i) {
  return ldb_get32(pg + HDR + SLOT * i + 2);
}

/* Compares key with the shared prefix of the keys [first, n) of a page:
 * *side < 0 when key sorts before all of them, > 0 after all, 0 when it
 * starts with the prefix (then *hk is its hint). *side is 2 when the
 * prefix is not readable from the cell (spilled key): search without
 * hints. */
static int prefix_side(bt_file *f, const uint8_t *pg, uint64_t pgno, uint32_t n,
                       uint32_t first, int leaf, const void *key, size_t klen,
                       int *side, uint32_t *hk) {
  uint32_t plen = ldb_get16(pg + 8);
  cinfo ci;
  if (key_at(f, pg, n, first, leaf, &ci)) return bad_cell(pgno, first);
  if (plen > ci.kloc) {
    *side = plen > ci.klen ? -2 : 2;
    if (*side == -2)
      return ldb_err(LDB_CORRUPT, "page %llu: bad key prefix length",
                     (unsigned long long)pgno);
    return LDB_OK;
  }
  size_t mn = klen < plen ? klen : plen;
  int c = mn ? memcmp(key, ci.key, mn) : 0;
  if (c == 0 && klen < plen) c = -1;
  *side = c < 0 ? -1 : c > 0 ? 1 : 0;
  *hk = hint_of(key, klen, plen);
  return LDB_OK;
}

/* Compares key with cell i (c: key - cell). */
static inline int cmp_at(bt_file *f, const uint8_t *pg, uint64_t pgno,
                         uint32_t n, uint32_t i, int leaf, const void *key,
                         size_t klen, int *c) {
  cinfo ci;
  if (key_at(f, pg, n, i, leaf, &ci)) return bad_cell(pgno, i);
  if (!(ci.flags & F_KOVF)) {
    *c = ldb_keycmp(key, klen, ci.key, ci.klen);
    return LDB_OK;
  }
  return cmp_cell(f, key, klen, &ci, c);
}

/* Within [lo, hi) of a page whose keys sort ascending: the first index
 * whose key is > key (upper) or >= key; *eq when some key equals it. */
static int page_bound(bt_file *f, const uint8_t *pg, uint64_t pgno, uint32_t n,
                      uint32_t lo, uint32_t hi, int leaf, const void *key,
                      size_t klen, bool upper, bool hints, uint32_t hk,
                      uint32_t *out, bool *eq) {
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c;
    uint32_t h = hints ? slot_hint(pg, mid) : hk;
    if (h < hk) {
      c = 1;
    } else if (h > hk) {
      c = -1;
    } else {
      int rc = cmp_at(f, pg, pgno, n, mid, leaf, key, klen, &c);
      if (rc) return rc;
      if (c == 0) *eq = true;
    }
    if (c > 0 || (upper && c == 0))
      lo = mid + 1;
    else
      hi = mid;
  }
  *out = lo;
  return LDB_OK;
}

/* Branch: index of the child covering key. */
static int branch_find(bt_file *f, const uint8_t *pg, uint64_t pgno,
                       const void *key, size_t klen, uint32_t *idx) {
  uint32_t n = pg_n(pg), hk = 0, ub;
  int side = 0, rc;
  bool eq = false;
  if (n < 2) {
    *idx = 0;
    return LDB_OK;
  }
  if ((rc = prefix_side(f, pg, pgno, n, 1, 0, key, klen, &side, &hk)))
    return rc;
  if (side == -1) {
    *idx = 0;
    return LDB_OK;
  }
  if (side == 1) {
    *idx = n - 1;
    return LDB_OK;
  }
  if ((rc = page_bound(f, pg, pgno, n, 1, n, 0, key, klen, true, side == 0, hk,
                       &ub, &eq)))
    return rc;
  *idx = ub - 1;
  return LDB_OK;
}

/* Leaf: first index whose key >= key (or > key with upper), *eq when equal. */
static int leaf_find(bt_file *f, const uint8_t *pg, uint64_t pgno,
                     const void *key, size_t klen, bool upper, uint32_t *idx,
                     bool *eq) {
  uint32_t n = pg_n(pg), hk = 0;
  int side = 0, rc;
  *eq = false;
  if (n == 0) {
    *idx = 0;
    return LDB_OK;
  }
  if ((rc = prefix_side(f, pg, pgno, n, 0, 1, key, klen, &side, &hk)))
    return rc;
  if (side == -1 || side == 1) {
    *idx = side < 0 ? 0 : n;
    return LDB_OK;
  }
  return page_bound(f, pg, pgno, n, 0, n, 1, key, klen, upper, side == 0, hk,
                    idx, eq);
}

/* Value of a leaf cell: into buf, which holds at least ci->raw bytes; or,
 * with whole non-NULL, into an allocated copy in *whole (caller frees; buf
 * unused). */
static int cell_value(bt_file *f, const cinfo *ci, void *buf, uint8_t **whole) {
  int rc = LDB_OK;
  uint8_t *stored = NULL, *raw = NULL;
  const uint8_t *sv = ci->val;
  if (!whole && !(ci->flags & F_COMP)) {
    if (!(ci->flags & F_VOVF)) {
      if (ci->vlen) memcpy(buf, ci->val, ci->vlen);
      return LDB_OK;
    }
    return read_chain(f, ci->vovf, ci->vlen, buf, NULL);
  }
  if (ci->flags & F_VOVF) {
    stored = ldb_malloc(f->a, ci->vlen ? ci->vlen : 1);
    if (!stored) return LDB_NOMEM;
    if ((rc = read_chain(f, ci->vovf, ci->vlen, stored, NULL))) goto out;
    sv = stored;
  }
  if (!(ci->flags & F_COMP)) { /* whole: the chain's copy is the value */
    if (!stored) {             /* inline */
      if (!(stored = ldb_malloc(f->a, ci->vlen ? ci->vlen : 1)))
        return LDB_NOMEM;
      if (ci->vlen) memcpy(stored, ci->val, ci->vlen);
    }
    *whole = stored;
    return LDB_OK;
  }
  if (ci->raw > LDB_MAX_VALUE_SIZE) {
    rc = ldb_err(LDB_CORRUPT, "compressed value claims %u bytes", ci->raw);
    goto out;
  }
  if (!whole) {
    rc = ldb_decompress(f->a, ci->codec, sv, ci->vlen, buf, ci->raw);
    goto out;
  }
  raw = ldb_malloc(f->a, ci->raw ? ci->raw : 1);
  if (!raw) {
    rc = LDB_NOMEM;
    goto out;
  }
  if ((rc = ldb_decompress(f->a, ci->codec, sv, ci->vlen, raw, ci->raw)))
    goto out;
  *whole = raw;
  raw = NULL;
out:
  ldb_mfree(f->a, stored);
  ldb_mfree(f->a, raw);
  return rc;
}

/* ---- versions ----------------------------------------------------------- */

bt_tree *bt_current(bt_file *f) {
  ldb_mutex_lock(&f->mu);
  bt_tree *t = f->current;
  __atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
  ldb_mutex_unlock(&f->mu);
  return t;
}

void bt_tree_acquire(bt_tree *t) {
  __atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
}

/* Caller holds f->mu and a reference, which it drops. */
static void tree_unref_locked(bt_tree *t) {
  bt_file *f = t->f;
  if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL)) return;
  if (t->prev)
    t->prev->next = t->next;
  else
    f->live = t->next;
  if (t->next) t->next->prev = t->prev;
  ldb_mfree(f->a, t);
}

void bt_tree_release(bt_tree *t) {
  if (!t) return;
  /* Not the last reference: no lock. The last one can only be dropped
   * here once no one else holds the version, so nobody can take it again
   * (f->current keeps the file's own reference). */
  uint64_t refs = __atomic_load_n(&t->refs, __ATOMIC_RELAXED);
  while (refs > 1)
    if (__atomic_compare_exchange_n(&t->refs, &refs, refs - 1, false,
                                    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
      return;
  bt_file *f = t->f;
  ldb_mutex_lock(&f->mu);
  tree_unref_locked(t);
  ldb_mutex_unlock(&f->mu);
}

uint64_t bt_tree_seq(const bt_tree *t) {
  return t->seq;
}
uint64_t bt_tree_count(const bt_tree *t) {
  return t->count;
}
uint32_t bt_page_size(const bt_file *f) {
  return f->ps;
}

static bt_tree *tree_new(bt_file *f, uint64_t version, uint64_t root,
                         uint32_t height, uint64_t count, uint64_t seq) {
  bt_tree *t = ldb_calloc(f->a, sizeof *t);
  if (!t) return NULL;
  t->f = f;
  t->refs = 1;
  t->version = version;
  t->root = root;
  t->height = height;
  t->count = count;
  t->seq = seq;
  return t;
}

/* Caller holds f->mu. Makes pending batches reusable when no live version
 * is older than the batch and a meta page newer than the batch's version
 * is durable (so the batch's pages are no longer reachable from the older
 * of the two meta pages either). */
static int promote_pending(bt_file *f) {
  uint64_t oldest = UINT64_MAX;
  bool promoted = false;
  for (bt_tree *t = f->live; t; t = t->next)
    if (t->version < oldest) oldest = t->version;
  while (f->pend && f->pend->version <= oldest &&
         f->pend->version < f->counter) {
    pend_batch *b = f->pend;
    int rc = vappend(f->a, &f->reusable, &b->pages);
    if (rc) return rc;
    f->pend = b->next;
    if (!f->pend) f->pend_tail = NULL;
    vfree(f->a, &b->pages);
    ldb_mfree(f->a, b);
    promoted = true;
  }
  if (promoted) sort_free(&f->reusable);
  return LDB_OK;
}

/* ---- point lookup ------------------------------------------------------- */

static int tree_get(bt_tree *t, const void *key, size_t klen, void *buf,
                    size_t cap, size_t *len) {
  bt_file *f = t->f;
  if (t->root == 0) return LDB_NOTFOUND;
  uint64_t pgno = t->root;
  for (uint32_t level = t->height; level > 1; level--) {
    const uint8_t *pg;
    pg_ent *e;
    int rc = pager_get(f->pg, pgno, &pg, &e);
    if (rc) return rc;
    uint32_t idx = 0;
    cinfo ci = {0};
    if (!(rc = check_page(f, pg, pgno, PT_BRANCH)) &&
        !(rc = branch_find(f, pg, pgno, key, klen, &idx)))
      rc = cell_at(f, pg, pgno, idx, 0, &ci);
    pager_unpin(f->pg, e);
    if (rc) return rc;
    pgno = ci.child;
  }
  const uint8_t *pg;
  pg_ent *e;
  int rc = pager_get(f->pg, pgno, &pg, &e);
  if (rc) return rc;
  uint32_t idx;
  bool eq;
  cinfo ci = {0};
  if ((rc = check_page(f, pg, pgno, PT_LEAF)) ||
      (rc = leaf_find(f, pg, pgno, key, klen, false, &idx, &eq)))
    goto out;
  if (!eq) {
    rc = LDB_NOTFOUND;
    goto out;
  }
  if ((rc = cell_at(f, pg, pgno, idx, 1, &ci))) goto out;
  *len = ci.raw;
  if (!(ci.flags & (F_VOVF | F_COMP))) {
    size_t n = cap < ci.vlen ? cap : ci.vlen;
    if (n) memcpy(buf, ci.val, n);
  } else if (cap >= ci.raw) {
    rc = cell_value(f, &ci, buf, NULL);
  }
  /* else nothing: a prefix of a value on overflow pages or compressed
   * costs reading (or decompressing) it, and a caller whose buffer was
   * too small calls again with one of *len bytes (see btree.h). */
out:
  pager_unpin(f->pg, e);
  return rc;
}

/* A reader's result: LDB_CORRUPT (a damaged page on the read path) is
 * counted for the stats, whose health rules must see damage that only
 * reads meet (checkpoints and ldb_check report theirs themselves). */
static int read_rc(bt_file *f, int rc) {
  if (rc == LDB_CORRUPT)
    atomic_fetch_add_explicit(&f->reads_corrupt, 1, memory_order_relaxed);
  return rc;
}

int bt_get(bt_tree *t, const void *key, size_t klen, void *buf, size_t cap,
           size_t *len) {
  uint64_t faults = pager_map_faults(t->f->pg);
  return read_rc(t->f, pager_map_check(t->f->pg, faults,
                                       tree_get(t, key, klen, buf, cap, len)));
}

/* ---- cursors ------------------------------------------------------------ */

struct bt_cursor {
  bt_tree *t;
  bt_file *f;
  int depth; /* levels on the stack (height when positioned) */
  bool valid;
  struct {
    pg_ent *e;
    const uint8_t *pg;
    uint64_t pgno;
    uint32_t idx;
  } st[BT_MAX_HEIGHT];
  uint64_t faults; /* the pager's mapping faults when the cursor opened */
  bool ci_ok;      /* ci is the parsed current cell (until the next move) */
  bool ci_copied;  /* ci's key and value point at their copy in mbuf */
  cinfo ci;
  uint8_t *vbuf; /* value copy when not inline */
  uint8_t *mbuf; /* copy of a mapped leaf's plain cell (key and value),
                    or of the inline value of another mapped cell */
  size_t mcap;
  uint8_t kbuf[LDB_MAX_KEY_SIZE];
};

int bt_cursor_open(bt_tree *t, bt_cursor **out) {
  /* kbuf is written before it is read (full_key): zero only the rest, as
   * iterators open one cursor per seek. */
  bt_cursor *c = ldb_malloc(t->f->a, sizeof *c);
  if (!c) return LDB_NOMEM;
  memset(c, 0, offsetof(bt_cursor, kbuf));
  c->faults = pager_map_faults(t->f->pg);
  bt_tree_acquire(t);
  c->t = t;
  c->f = t->f;
  *out = c;
  return LDB_OK;
}

static void cur_unwind(bt_cursor *c, int keep) {
  while (c->depth > keep) {
    c->depth--;
    pager_unpin(c->f->pg, c->st[c->depth].e);
    c->st[c->depth].e = NULL;
  }
}

static void cur_reset(bt_cursor *c) {
  cur_unwind(c, 0);
  c->valid = false;
  c->ci_ok = false;
  ldb_mfree(c->f->a, c->vbuf);
  c->vbuf = NULL;
}

void bt_cursor_close(bt_cursor *c) {
  if (!c) return;
  cur_reset(c);
  ldb_mfree(c->f->a, c->mbuf);
  bt_tree_release(c->t);
  ldb_mfree(c->f->a, c);
}

/* Pushes page pgno at the current depth (level from the top). */
static int cur_push(bt_cursor *c, uint64_t pgno) {
  if (c->depth >= (int)c->t->height || c->depth >= BT_MAX_HEIGHT)
    return ldb_err(LDB_CORRUPT, "tree deeper than its height");
  const uint8_t *pg;
  pg_ent *e;
  int rc = pager_get(c->f->pg, pgno, &pg, &e);
  if (rc) return rc;
  int leaf = c->depth == (int)c->t->height - 1;
  if ((rc = check_page(c->f, pg, pgno, leaf ? PT_LEAF : PT_BRANCH))) {
    pager_unpin(c->f->pg, e);
    return rc;
  }
  c->st[c->depth].e = e;
  c->st[c->depth].pg = pg;
  c->st[c->depth].pgno = pgno;
  c->st[c->depth].idx = 0;
  c->depth++;
  return LDB_OK;
}

/* Descends from level depth-1 (a branch whose idx is set) to a leaf,
 * taking the first (dir>0) or last (dir<0) child at each level below. */
static int cur_descend_edge(bt_cursor *c, int dir) {
  while (c->depth < (int)c->t->height) {
    int d = c->depth - 1;
    cinfo ci = {0};
    int rc = cell_at(c->f, c->st[d].pg, c->st[d].pgno, c->st[d].idx, 0, &ci);
    if (rc || (rc = cur_push(c, ci.child))) return rc;
    uint32_t n = pg_n(c->st[c->depth - 1].pg);
    c->st[c->depth - 1].idx = dir > 0 ? 0 : (n ? n - 1 : 0);
  }
  return LDB_OK;
}

/* Starts loading [from, to) of a page into the CPU caches (a hint). */
static void prefetch_bytes(const uint8_t *pg, uint32_t from, uint32_t to) {
  for (uint32_t o = from & ~63u; o < to; o += 64)
    __builtin_prefetch(pg + o);
}

/* A scan that reached the middle of its leaf will most likely go on to
 * the next (dir > 0) or previous leaf: when the parent holds that leaf,
 * start loading it from the mapping now, so that its cache and TLB misses
 * overlap the work on the rest of this leaf instead of stalling the step
 * onto it. Reads the parent's slot and cell header only within the page;
 * the leaf is verified when pager_get reaches it, as always. */
static void cur_prefetch_sibling(bt_cursor *c, int dir) {
  int P = c->depth - 2;
  if (P < 0) return;
  const uint8_t *pg = c->st[P].pg;
  uint32_t n = pg_n(pg), i = c->st[P].idx, ps = c->f->ps;
  if (dir > 0 ? i + 1 >= n : i == 0 || i >= n) return;
  i = dir > 0 ? i + 1 : i - 1;
  uint32_t off = ldb_get16(pg + HDR + SLOT * i);
  if (off < HDR || off + 4 > ps) return;
  uint32_t child = ldb_get32(pg + off);
  /* The header with the first slots, and the cells a forward scan reads
   * first (at the end of the page); the CPU's own prefetcher follows the
   * rest once the scan walks it. Not the whole page: a prefetch that
   * misses holds a fill buffer, and a page's worth of them stalls the
   * prefetching thread itself. */
  pager_prefetch(c->f->pg, child, 0, 256);
  pager_prefetch(c->f->pg, child, ps - 512, 512);
}

/* Moves to the next (dir>0) or previous leaf entry from a leaf position
 * that is out of range or about to move. */
static int cur_step(bt_cursor *c, int dir) {
  for (;;) {
    int L = c->depth - 1;
    uint32_t n = pg_n(c->st[L].pg);
    uint32_t idx = c->st[L].idx;
    if (idx < n) { /* (UINT32_MAX, before the first entry, is never < n) */
      if (idx == n / 2) cur_prefetch_sibling(c, dir);
      return LDB_OK;
    }
    /* Climb to a branch that can move. */
    int d = L - 1;
    while (d >= 0) {
      uint32_t bn = pg_n(c->st[d].pg);
      if (dir > 0 ? c->st[d].idx + 1 < bn : c->st[d].idx > 0) break;
      d--;
    }
    if (d < 0) {
      c->valid = false;
      return LDB_NOTFOUND;
    }
    c->st[d].idx = dir > 0 ? c->st[d].idx + 1 : c->st[d].idx - 1;
    cur_unwind(c, d + 1);
    int rc = cur_descend_edge(c, dir);
    if (rc) return rc;
    L = c->depth - 1;
    n = pg_n(c->st[L].pg);
    c->st[L].idx = dir > 0 ? 0 : (n ? n - 1 : UINT32_MAX);
  }
}

/* Ends every positioning: a read through the mapping that failed since the
 * cursor opened turns the result into LDB_IOERR. */
static int cur_fail(bt_cursor *c, int rc) {
  c->ci_ok = false;
  rc = pager_map_check(c->f->pg, c->faults, rc);
  if (rc != LDB_OK) {
    cur_unwind(c, 0);
    c->valid = false;
  }
  return read_rc(c->f, rc);
}

static int cur_edge(bt_cursor *c, int dir) {
  cur_reset(c);
  if (c->t->root == 0) return LDB_NOTFOUND;
  int rc = cur_push(c, c->t->root);
  if (rc) return cur_fail(c, rc);
  uint32_t n = pg_n(c->st[0].pg);
  c->st[0].idx = dir > 0 ? 0 : (n ? n - 1 : UINT32_MAX);
  if (c->t->height > 1 && (rc = cur_descend_edge(c, dir)))
    return cur_fail(c, rc);
  if (c->t->height > 1) {
    int L = c->depth - 1;
    n = pg_n(c->st[L].pg);
    c->st[L].idx = dir > 0 ? 0 : (n ? n - 1 : UINT32_MAX);
  }
  c->valid = true;
  return cur_fail(c, cur_step(c, dir));
}

int bt_cursor_first(bt_cursor *c) {
  return cur_edge(c, 1);
}
int bt_cursor_last(bt_cursor *c) {
  return cur_edge(c, -1);
}

static int cur_seek(bt_cursor *c, const void *key, size_t klen, bool le) {
  cur_reset(c);
  if (c->t->root == 0) return LDB_NOTFOUND;
  uint64_t pgno = c->t->root;
  int rc;
  for (;;) {
    if ((rc = cur_push(c, pgno))) return cur_fail(c, rc);
    int d = c->depth - 1;
    if (c->depth == (int)c->t->height) break;
    uint32_t idx;
    cinfo ci = {0};
    if ((rc = branch_find(c->f, c->st[d].pg, c->st[d].pgno, key, klen, &idx)) ||
        (rc = cell_at(c->f, c->st[d].pg, c->st[d].pgno, idx, 0, &ci)))
      return cur_fail(c, rc);
    c->st[d].idx = idx;
    pgno = ci.child;
  }
  int L = c->depth - 1;
  uint32_t idx;
  bool eq;
  /* ge: first >= key. le: (first > key) - 1. */
  if ((rc = leaf_find(c->f, c->st[L].pg, c->st[L].pgno, key, klen, le, &idx,
                      &eq)))
    return cur_fail(c, rc);
  c->valid = true;
  /* The cells a scan from here reads next (cells are packed from the end
   * of the page in key order: cell i+1 lies just below cell i), and the
   * sibling when the scan starts past the middle of the leaf (cur_step
   * prefetches it when the scan crosses the middle). */
  const uint8_t *pg = c->st[L].pg;
  uint32_t n = pg_n(pg);
  if (le) {
    c->st[L].idx = idx ? idx - 1 : UINT32_MAX;
    if (idx) {
      uint32_t lo = ldb_get16(pg + HDR + SLOT * (idx - 1));
      uint32_t hi =
          idx > 16 ? ldb_get16(pg + HDR + SLOT * (idx - 17)) : c->f->ps;
      if (lo < hi && hi <= c->f->ps) prefetch_bytes(pg, lo, hi);
      if (idx - 1 < n / 2) cur_prefetch_sibling(c, -1);
    }
    return cur_fail(c, cur_step(c, -1));
  }
  c->st[L].idx = idx;
  if (idx < n) {
    uint32_t last = idx + 16 < n ? idx + 16 : n - 1;
    uint32_t lo = ldb_get16(pg + HDR + SLOT * last);
    uint32_t hi = idx ? ldb_get16(pg + HDR + SLOT * (idx - 1)) : c->f->ps;
    if (lo < hi && hi <= c->f->ps) prefetch_bytes(pg, lo, hi);
    if (idx > n / 2) cur_prefetch_sibling(c, 1);
  }
  return cur_fail(c, cur_step(c, 1));
}

int bt_cursor_seek_ge(bt_cursor *c, const void *key, size_t klen) {
  return cur_seek(c, key, klen, false);
}
int bt_cursor_seek_le(bt_cursor *c, const void *key, size_t klen) {
  return cur_seek(c, key, klen, true);
}

int bt_cursor_next(bt_cursor *c) {
  if (!c->valid) return LDB_NOTFOUND;
  c->st[c->depth - 1].idx++;
  return cur_fail(c, cur_step(c, 1));
}

int bt_cursor_prev(bt_cursor *c) {
  if (!c->valid) return LDB_NOTFOUND;
  uint32_t *idx = &c->st[c->depth - 1].idx;
  *idx = *idx ? *idx - 1 : UINT32_MAX;
  return cur_fail(c, cur_step(c, -1));
}

/* Room for n bytes in the cursor's copy buffer. */
static int cur_room(bt_cursor *c, size_t n) {
  if (n <= c->mcap) return LDB_OK;
  size_t cap = c->mcap ? c->mcap : 256;
  while (cap < n)
    cap *= 2;
  uint8_t *nb = ldb_realloc(c->f->a, c->mbuf, c->mcap, cap);
  if (!nb) return ldb_err(LDB_NOMEM, "out of memory copying an entry");
  c->mbuf = nb;
  c->mcap = cap;
  return LDB_OK;
}

/* The current cell, parsed once per position (key and value both ask).
 * A plain cell of a mapped leaf (key and value inline, adjacent) is
 * copied whole into mbuf in one go, then checked (see pager.h), and ci
 * points at the copy: what bt_cursor_key and bt_cursor_value hand out. */
static int cur_cell(bt_cursor *c, cinfo *ci) {
  if (!c->valid) return LDB_NOTFOUND;
  if (!c->ci_ok) {
    int L = c->depth - 1;
    int rc = cell_at(c->f, c->st[L].pg, c->st[L].pgno, c->st[L].idx, 1, &c->ci);
    if (rc) return rc;
    c->ci_copied = false;
    if (c->st[L].e == NULL && !(c->ci.flags & (F_KOVF | F_VOVF | F_COMP))) {
      size_t n = (size_t)c->ci.klen + c->ci.vlen;
      if ((rc = cur_room(c, n))) return rc;
      if (n) memcpy(c->mbuf, c->ci.key, n);
      if ((rc = pager_map_check(c->f->pg, c->faults, LDB_OK))) return rc;
      c->ci.key = c->mbuf;
      c->ci.val = c->mbuf + c->ci.klen;
      c->ci_copied = true;
    }
    c->ci_ok = true;
  }
  *ci = c->ci;
  return LDB_OK;
}

/* Whether the cursor's leaf is a page of the mapping: bytes handed out
 * from it are copied first, then checked (see pager.h). */
static bool cur_mapped(const bt_cursor *c) {
  return c->valid && c->st[c->depth - 1].e == NULL;
}

static int cursor_key(bt_cursor *c, const void **key, size_t *klen) {
  cinfo ci = {0};
  int rc = cur_cell(c, &ci);
  if (rc) return rc;
  *klen = ci.klen;
  if (ci.flags & F_KOVF) {
    if ((rc = full_key(c->f, &ci, c->kbuf))) return rc;
    *key = c->kbuf;
  } else if (cur_mapped(c) && !c->ci_copied) {
    if (ci.klen) memcpy(c->kbuf, ci.key, ci.klen);
    *key = c->kbuf;
  } else {
    *key = ci.key; /* a page of the cache, or the checked copy */
    return LDB_OK;
  }
  return pager_map_check(c->f->pg, c->faults, LDB_OK);
}

static int cursor_value(bt_cursor *c, const void **val, size_t *vlen) {
  cinfo ci = {0};
  int rc = cur_cell(c, &ci);
  if (rc) return rc;
  if (!(ci.flags & (F_VOVF | F_COMP))) {
    /* Inline: a page of the cache, or (mapped) the checked copy, since
     * such a cell's key is inline too (cells with a spilled key keep
     * their value apart: copied here, then checked). An empty value's
     * pointer is never read through. */
    *val = ci.val;
    *vlen = ci.vlen;
    if (!cur_mapped(c) || c->ci_copied || ci.vlen == 0) return LDB_OK;
    if ((rc = cur_room(c, ci.vlen))) return rc;
    memcpy(c->mbuf, ci.val, ci.vlen);
    *val = c->mbuf;
    return pager_map_check(c->f->pg, c->faults, LDB_OK);
  }
  uint8_t *whole = NULL;
  if ((rc = cell_value(c->f, &ci, NULL, &whole)) ||
      (rc = pager_map_check(c->f->pg, c->faults, LDB_OK))) {
    ldb_mfree(c->f->a, whole);
    return rc;
  }
  ldb_mfree(c->f->a, c->vbuf);
  c->vbuf = whole;
  *val = whole;
  *vlen = ci.raw;
  return LDB_OK;
}

int bt_cursor_key(bt_cursor *c, const void **key, size_t *klen) {
  return read_rc(c->f, cursor_key(c, key, klen));
}

int bt_cursor_value(bt_cursor *c, const void **val, size_t *vlen) {
  return read_rc(c->f, cursor_value(c, val, vlen));
}

/* ---- merges: dirty nodes ------------------------------------------------ */

typedef struct bt_cref {
  uint8_t *cell;      /* encoded cell: in a page copy (srcs), a leaf page
                         of the mapping (read only: see node_load) or the
                         merge's cell arena, so it lives until the merge
                         ends; NULL for a plain leaf cell by reference */
  const uint8_t *key; /* full key (owned when ownkey) */
  /* A plain leaf cell by reference (bt_merge_put_ref): no flags, key
   * whole in the cell, value inline, unencoded; key and val point at the
   * caller's bytes and write_node encodes them into the page. */
  const uint8_t *val;
  uint32_t len, klen; /* len: the encoded cell's bytes */
  uint8_t ownkey;
} bt_cref;

typedef struct bt_node {
  uint8_t leaf;
  uint32_t n, cap;
  bt_cref *c;
  struct bt_node **kid; /* branch: dirty child or NULL (clean) */
  size_t used;          /* sum of cell len + SLOT */
} bt_node;

struct bt_merge {
  bt_file *f;
  const ldb_allocator *a;
  bt_node *root;
  uint64_t base_root, base_page_count;
  uint32_t height;
  uint64_t count;
  u32vec freed; /* pages of the base version this merge releases */
  u32vec alloc; /* pages this merge allocated */
  uint8_t *pagebuf;
  /* Copies of the pages loaded as dirty nodes, linked through their first
   * 16 bytes. Cells point into them and move between nodes on splits and
   * merges, so they live until the merge ends. */
  uint8_t *srcs;
  int codec, level;
  int failed;      /* error of an earlier operation that failed midway (the
                      dirty tree may be half-changed): commit returns it */
  uint64_t faults; /* the pager's mapping faults when the merge began: a
                      page copied from the mapping since then may hold
                      zeros, so commit refuses */
  /* [trim_from, trim_to): free pages at the end of the file that the
   * commit cut off (the meta page it writes ends the file before them). */
  uint64_t trim_from, trim_to;
  /* Cells made by this merge come from an arena of blocks (linked through
   * their first 16 bytes, like srcs) freed when the merge ends: cells move
   * between nodes on splits, so like srcs they live that long, and a
   * checkpoint makes one per key (a malloc and a free each otherwise). */
  uint8_t *cblocks, *cpos, *cend;
  uint64_t cbytes; /* bytes of the arena's blocks */
  /* The rightmost-leaf finger: fp is the path of the last put when that
   * put went to the last cell of the tree's rightmost leaf and split
   * nothing (fvalid). A key sorting after that leaf's last key belongs at
   * its end: no descent, no search (ascending loads). Any other change to
   * the dirty tree clears fvalid. */
  struct path *fp;
  bool fvalid;
  /* Write combining: pages write_node built for consecutive page numbers
   * [wfirst, wfirst + wn), written in one store write of up to wcap pages
   * when the run breaks, fills, or the tree is written. */
  uint8_t *wbuf;
  uint32_t wfirst, wn, wcap;
  /* write_chain's pages, built one after another while their numbers
   * are consecutive and written in one store write (WC_BYTES). */
  uint8_t *cbuf;
};

/* Pages write_node and write_chain combine into one store write (128 KiB
 * of 4 KiB pages): a checkpoint allocates its pages mostly in ascending
 * runs. */
#define WC_BYTES (128u << 10)

static void cref_free(const ldb_allocator *a, bt_cref *r) {
  if (r->ownkey) ldb_mfree(a, (void *)r->key);
  r->cell = NULL;
  r->key = NULL;
  r->ownkey = 0;
}

static void node_free(const ldb_allocator *a, bt_node *nd) {
  if (!nd) return;
  for (uint32_t i = 0; i < nd->n; i++) {
    cref_free(a, &nd->c[i]);
    if (nd->kid) node_free(a, nd->kid[i]);
  }
  ldb_mfree(a, nd->c);
  ldb_mfree(a, nd->kid);
  ldb_mfree(a, nd);
}

static int node_reserve(const ldb_allocator *a, bt_node *nd, uint32_t want) {
  if (want <= nd->cap) return LDB_OK;
  uint32_t nc = nd->cap ? nd->cap * 2 : 16;
  while (nc < want)
    nc *= 2;
  bt_cref *c = ldb_realloc(a, nd->c, nd->cap * sizeof *c, nc * sizeof *c);
  if (!c) return LDB_NOMEM;
  nd->c = c;
  if (!nd->leaf) {
    bt_node **k = ldb_realloc(a, nd->kid, nd->cap * sizeof *k, nc * sizeof *k);
    if (!k) return LDB_NOMEM;
    nd->kid = k;
  }
  nd->cap = nc;
  return LDB_OK;
}

static bt_node *node_new(const ldb_allocator *a, bool leaf) {
  bt_node *nd = ldb_calloc(a, sizeof *nd);
  if (nd) nd->leaf = leaf;
  return nd;
}

/* Inserts r (and kid) at position i; takes ownership of r on success. */
static int node_insert(const ldb_allocator *a, bt_node *nd, uint32_t i,
                       bt_cref r, bt_node *kid) {
  int rc = node_reserve(a, nd, nd->n + 1);
  if (rc) return rc;
  memmove(nd->c + i + 1, nd->c + i, (nd->n - i) * sizeof *nd->c);
  nd->c[i] = r;
  if (!nd->leaf) {
    memmove(nd->kid + i + 1, nd->kid + i, (nd->n - i) * sizeof *nd->kid);
    nd->kid[i] = kid;
  }
  nd->n++;
  nd->used += r.len + SLOT;
  return LDB_OK;
}

/* Removes position i without freeing anything (the caller took it). */
static void node_remove(bt_node *nd, uint32_t i) {
  nd->used -= nd->c[i].len + SLOT;
  memmove(nd->c + i, nd->c + i + 1, (nd->n - i - 1) * sizeof *nd->c);
  if (!nd->leaf)
    memmove(nd->kid + i, nd->kid + i + 1, (nd->n - i - 1) * sizeof *nd->kid);
  nd->n--;
}

/* Loads page pgno of the base version as a dirty node; its page joins
 * the merge's freed list. */
static int node_load(bt_merge *m, uint64_t pgno, bool leaf, bt_node **out) {
  bt_file *f = m->f;
  const uint8_t *pg;
  pg_ent *e;
  int rc = pager_get(f->pg, pgno, &pg, &e);
  if (rc) return rc;
  bt_node *nd = node_new(m->a, leaf);
  if (!nd) {
    pager_unpin(f->pg, e);
    return LDB_NOMEM;
  }
  /* A leaf of the mapping is used in place: its cells point into it, no
   * copy. The page stays as it is until the merge ends (it belongs to the
   * merge's base version; the pages a merge frees are reused only after a
   * later commit, and nothing unmaps the mapping before the pager closes),
   * and nothing writes into a leaf's cells (only branch cells are edited
   * in place: write_node's child page numbers, so branches are copied). A
   * read of it that faulted (zeros) is caught by the commit's
   * pager_map_check, before its meta page. Cache pages are copied: the
   * cache may drop them once unpinned. */
  uint8_t *src;
  if (leaf && !e) {
    src = (uint8_t *)pg; /* read only, see above */
  } else {
    uint8_t *blk = ldb_malloc(m->a, (size_t)f->ps + 16);
    if (!blk) {
      pager_unpin(f->pg, e);
      ldb_mfree(m->a, nd);
      return LDB_NOMEM;
    }
    memcpy(blk, &m->srcs, sizeof m->srcs);
    m->srcs = blk;
    src = blk + 16;
    memcpy(src, pg, f->ps);
    pager_unpin(f->pg, e);
  }
  if ((rc = check_page(f, src, pgno, leaf ? PT_LEAF : PT_BRANCH))) goto fail;
  uint32_t n = pg_n(src);
  if ((rc = node_reserve(m->a, nd, n ? n : 1))) goto fail;
  for (uint32_t i = 0; i < n; i++) {
    cinfo ci = {0};
    if ((rc = cell_at(f, src, pgno, i, leaf, &ci))) goto fail;
    bt_cref r = {0};
    r.cell = src + ldb_get16(src + HDR + SLOT * i);
    r.len = ci.size;
    r.klen = ci.klen;
    r.key = ci.key;
    if (ci.flags & F_KOVF) {
      uint8_t *k = ldb_malloc(m->a, ci.klen);
      if (!k) {
        rc = LDB_NOMEM;
        goto fail;
      }
      if ((rc = full_key(f, &ci, k))) {
        ldb_mfree(m->a, k);
        goto fail;
      }
      r.key = k;
      r.ownkey = 1;
    }
    nd->c[i] = r;
    if (!leaf) nd->kid[i] = NULL;
    nd->n++;
    nd->used += r.len + SLOT;
  }
  if ((rc = vpush(m->a, &m->freed, (uint32_t)pgno))) goto fail;
  *out = nd;
  return LDB_OK;
fail:
  node_free(m->a, nd);
  return rc;
}

/* ---- merges: page allocation and chains --------------------------------- */

static int alloc_page(bt_merge *m, uint32_t *out) {
  bt_file *f = m->f;
  int rc = vpush(m->a, &m->alloc, 0); /* reserve the slot first */
  if (rc) return rc;
  ldb_mutex_lock(&f->mu);
  uint32_t p;
  if (f->reusable.n) {
    p = f->reusable.v[--f->reusable.n];
  } else if (f->page_count >= UINT32_MAX) {
    ldb_mutex_unlock(&f->mu);
    m->alloc.n--;
    return ldb_err(LDB_FULL, "data file reached 2^32 pages");
  } else {
    p = (uint32_t)__atomic_fetch_add(&f->page_count, 1, __ATOMIC_RELAXED);
  }
  ldb_mutex_unlock(&f->mu);
  m->alloc.v[m->alloc.n - 1] = p;
  *out = p;
  return LDB_OK;
}

/* Writes len (> 0) bytes as a new overflow chain; *head is its first
 * page. Pages with consecutive numbers (the usual case: allocation takes
 * the lowest reusable page or the file's next one) are built one after
 * another in cbuf and written in one store write, up to WC_BYTES. */
static int write_chain(bt_merge *m, const uint8_t *data, uint64_t len,
                       uint32_t *head) {
  bt_file *f = m->f;
  uint32_t pay = ovfl_payload(f);
  uint32_t cap = WC_BYTES / f->ps ? WC_BYTES / f->ps : 1;
  if (!m->cbuf && !(m->cbuf = ldb_malloc(m->a, (size_t)cap * f->ps)))
    return LDB_NOMEM;
  uint32_t cur, first = 0, n = 0;
  int rc = alloc_page(m, &cur);
  if (rc) return rc;
  *head = cur;
  uint64_t done = 0;
  while (done < len) {
    uint32_t used = len - done < pay ? (uint32_t)(len - done) : pay;
    uint32_t next = 0;
    if (done + used < len && (rc = alloc_page(m, &next))) return rc;
    if (n == 0) first = cur;
    uint8_t *buf = m->cbuf + (size_t)n++ * f->ps;
    memset(buf, 0, HDR);
    buf[4] = PT_OVFL;
    ldb_put32(buf + 8, next);
    ldb_put32(buf + 12, used);
    memcpy(buf + HDR, data + done, used);
    if (used < pay) memset(buf + HDR + used, 0, pay - used);
    done += used;
    if ((done == len || next != cur + 1 || n == cap) &&
        (rc = pager_write_run(f->pg, first, m->cbuf, n, false)))
      return rc;
    if (next != cur + 1 || n == cap) n = 0;
    cur = next;
  }
  return LDB_OK;
}

/* Releases the overflow chains of an encoded cell (leaf or branch). */
static int free_cell_chains(bt_merge *m, const bt_cref *r, bool leaf) {
  if (!r->cell) return LDB_OK; /* a plain cell by reference: no chains */
  cinfo ci = {0};
  int bad = leaf ? parse_leaf(r->cell, r->len, &ci)
                 : parse_branch(r->cell, r->len, &ci);
  if (bad) return ldb_err(LDB_CORRUPT, "malformed cell in a merge");
  int rc = LDB_OK;
  if (ci.flags & F_KOVF)
    rc = read_chain(m->f, ci.kovf, ci.klen - ci.kloc, NULL, &m->freed);
  if (!rc && (ci.flags & F_VOVF))
    rc = read_chain(m->f, ci.vovf, ci.vlen, NULL, &m->freed);
  return rc;
}

/* Arena blocks: 64 KiB (below malloc's mapping threshold, so the blocks
 * of one merge are heap the next merge reuses without page faults), or
 * one cell when larger. */
#define CELL_BLOCK (64u << 10)

/* size bytes for a cell, valid until the merge ends. */
static uint8_t *cell_alloc(bt_merge *m, size_t size) {
  size = (size + 7) & ~(size_t)7;
  if ((size_t)(m->cend - m->cpos) < size) {
    size_t bs = size + 16 > CELL_BLOCK ? size + 16 : CELL_BLOCK;
    uint8_t *blk = ldb_malloc(m->a, bs);
    if (!blk) return NULL;
    memcpy(blk, &m->cblocks, sizeof m->cblocks);
    m->cblocks = blk;
    m->cbytes += bs;
    m->cpos = blk + 16;
    m->cend = blk + bs;
  }
  uint8_t *r = m->cpos;
  m->cpos += size;
  return r;
}

/* Builds a leaf cell for key/val, writing chains as needed. */
static int make_leaf_cell(bt_merge *m, const uint8_t *key, size_t klen,
                          const uint8_t *val, size_t vlen, bt_cref *out) {
  bt_file *f = m->f;
  void *cbuf = NULL;
  size_t clen = 0;
  int rc = LDB_OK;
  uint8_t *cell = NULL, *kcopy = NULL;
  int used = LDB_COMPRESSION_NONE;
  if (vlen >= LDB_COMPRESS_MIN && m->codec != LDB_COMPRESSION_NONE) {
    if ((rc = ldb_compress(m->a, m->codec, m->level, val, vlen, &cbuf, &clen,
                           &used)))
      return rc;
    atomic_fetch_add_explicit(&f->codec_values[used], 1, memory_order_relaxed);
  }
  bool comp = cbuf != NULL;
  const uint8_t *sv = comp ? cbuf : val;
  size_t slen = comp ? clen : vlen;
  bool kovf = klen > f->kmax;
  size_t kloc = kovf ? f->kmax : klen;
  size_t base = 9 + (comp ? 5 : 0) + kloc + (kovf ? 4 : 0);
  bool vovf = base + slen > f->maxcell;
  size_t size = base + (vovf ? 4 : slen);
  cell = cell_alloc(m, size);
  if (!cell) {
    rc = LDB_NOMEM;
    goto fail;
  }
  cell[0] = (uint8_t)((kovf ? F_KOVF : 0) | (vovf ? F_VOVF : 0) |
                      (comp ? F_COMP : 0));
  ldb_put16(cell + 1, (uint16_t)klen);
  ldb_put16(cell + 3, (uint16_t)kloc);
  ldb_put32(cell + 5, (uint32_t)slen);
  size_t off = 9;
  if (comp) {
    cell[9] = (uint8_t)used;
    ldb_put32(cell + 10, (uint32_t)vlen);
    off = 14;
  }
  if (kloc) memcpy(cell + off, key, kloc);
  off += kloc;
  if (kovf) {
    uint32_t h;
    if ((rc = write_chain(m, key + kloc, klen - kloc, &h))) goto fail;
    ldb_put32(cell + off, h);
    off += 4;
    if (!(kcopy = ldb_memdup(m->a, key, klen))) {
      rc = LDB_NOMEM;
      goto fail;
    }
  }
  if (vovf) {
    uint32_t h;
    if ((rc = write_chain(m, sv, slen, &h))) goto fail;
    ldb_put32(cell + off, h);
  } else if (slen) {
    memcpy(cell + off, sv, slen);
  }
  ldb_mfree(m->a, cbuf);
  out->cell = cell;
  out->len = (uint32_t)size;
  out->klen = (uint32_t)klen;
  if (kovf) {
    out->key = kcopy;
    out->ownkey = 1;
  } else {
    out->key = cell + (comp ? 14 : 9);
    out->ownkey = 0;
  }
  return LDB_OK;
fail:
  /* Chain pages already written stay in m->alloc: abort/rollback frees
   * them; the cell's arena room is freed with the merge. */
  ldb_mfree(m->a, cbuf);
  ldb_mfree(m->a, kcopy);
  return rc;
}

/* Builds a branch cell with key (klen 0 = -inf) pointing at child. */
static int make_branch_cell(bt_merge *m, const uint8_t *key, size_t klen,
                            uint32_t child, bt_cref *out) {
  bt_file *f = m->f;
  bool kovf = klen > f->kmax;
  size_t kloc = kovf ? f->kmax : klen;
  size_t size = 9 + kloc + (kovf ? 4 : 0);
  uint8_t *cell = cell_alloc(m, size), *kcopy = NULL;
  int rc = LDB_OK;
  if (!cell) return LDB_NOMEM;
  ldb_put32(cell, child);
  cell[4] = kovf ? F_KOVF : 0;
  ldb_put16(cell + 5, (uint16_t)klen);
  ldb_put16(cell + 7, (uint16_t)kloc);
  if (kloc) memcpy(cell + 9, key, kloc);
  if (kovf) {
    uint32_t h;
    if ((rc = write_chain(m, key + kloc, klen - kloc, &h))) goto fail;
    ldb_put32(cell + 9 + kloc, h);
    if (!(kcopy = ldb_memdup(m->a, key, klen))) {
      rc = LDB_NOMEM;
      goto fail;
    }
  }
  out->cell = cell;
  out->len = (uint32_t)size;
  out->klen = (uint32_t)klen;
  out->key = kovf ? kcopy : cell + 9;
  out->ownkey = kovf;
  return LDB_OK;
fail:
  return rc;
}

static uint32_t cref_child(const bt_cref *r) {
  return ldb_get32(r->cell);
}

/* Replaces the key of branch cell i of nd with key (frees the old cell's
 * chains and memory). */
static int branch_rekey(bt_merge *m, bt_node *nd, uint32_t i,
                        const uint8_t *key, size_t klen) {
  bt_cref r;
  int rc = make_branch_cell(m, key, klen, cref_child(&nd->c[i]), &r);
  if (rc) return rc;
  if ((rc = free_cell_chains(m, &nd->c[i], false))) {
    cref_free(m->a, &r);
    return rc;
  }
  nd->used -= nd->c[i].len;
  cref_free(m->a, &nd->c[i]);
  nd->c[i] = r;
  nd->used += r.len;
  return LDB_OK;
}

static int node_cmp_key(const bt_cref *r, const void *key, size_t klen) {
  return ldb_keycmp(key, klen, r->key, r->klen);
}

static uint32_t node_branch_find(const bt_node *nd, const void *key,
                                 size_t klen) {
  uint32_t lo = 1, hi = nd->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (node_cmp_key(&nd->c[mid], key, klen) >= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo - 1;
}

static uint32_t node_leaf_find(const bt_node *nd, const void *key, size_t klen,
                               bool *eq) {
  uint32_t lo = 0, hi = nd->n;
  *eq = false;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = node_cmp_key(&nd->c[mid], key, klen);
    if (c == 0) {
      *eq = true;
      return mid;
    }
    if (c > 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Makes child i of branch nd dirty (loading it) and returns it. */
static int node_kid(bt_merge *m, bt_node *nd, uint32_t i, bool leaf,
                    bt_node **out) {
  if (!nd->kid[i]) {
    int rc = node_load(m, cref_child(&nd->c[i]), leaf, &nd->kid[i]);
    if (rc) return rc;
  }
  *out = nd->kid[i];
  return LDB_OK;
}

typedef struct path {
  bt_node *n[BT_MAX_HEIGHT + 1];
  uint32_t i[BT_MAX_HEIGHT + 1]; /* child index taken at each branch */
  int depth;
} path;

/* Descends to the leaf for key, loading the root and every node on the way
 * as dirty. An empty tree gets an empty root leaf. */
static int descend(bt_merge *m, const void *key, size_t klen, path *p) {
  int rc;
  if (!m->root) {
    if (m->base_root == 0) {
      if (!(m->root = node_new(m->a, true))) return LDB_NOMEM;
      m->height = 1;
    } else if ((rc = node_load(m, m->base_root, m->height == 1, &m->root))) {
      return rc;
    }
  }
  if (!m->root->leaf && m->root->n == 0) {
    /* Every key was deleted earlier in this merge (rebalance dropped the
     * root's last child; its page is already in freed): the tree is empty
     * again, so continue from an empty root leaf. */
    node_free(m->a, m->root);
    if (!(m->root = node_new(m->a, true))) return LDB_NOMEM;
    m->height = 1;
  }
  bt_node *nd = m->root;
  p->depth = 0;
  for (uint32_t level = 0; level + 1 < m->height; level++) {
    if (nd->n == 0) return ldb_err(LDB_CORRUPT, "empty branch in a merge");
    uint32_t i = node_branch_find(nd, key, klen);
    p->n[p->depth] = nd;
    p->i[p->depth] = i;
    p->depth++;
    if ((rc = node_kid(m, nd, i, level + 2 == m->height, &nd))) return rc;
  }
  p->n[p->depth] = nd;
  p->i[p->depth] = 0;
  p->depth++;
  return LDB_OK;
}

/* Chooses where to split cells [0,n) of nd: left [0,s), right [s,n), both
 * within a page. append: keep the left as full as possible (ascending
 * loads). 0 when impossible. */
static uint32_t split_point(const bt_file *f, const bt_node *nd, bool append) {
  size_t total = nd->used, left = 0, best_d = SIZE_MAX;
  uint32_t best = 0;
  for (uint32_t s = 1; s < nd->n; s++) {
    left += nd->c[s - 1].len + SLOT;
    size_t right = total - left;
    if (left > f->cap) break;
    if (right > f->cap) continue;
    if (append) {
      best = s;
      continue;
    }
    size_t d = left > right ? left - right : right - left;
    if (d < best_d) {
      best_d = d;
      best = s;
    }
  }
  return best;
}

/* Splits nd at s: nd keeps [0,s), *right gets [s,n); *sep (allocated) is
 * the separator for the parent. For leaves it is the shortest key greater
 * than left's last and <= right's first; for branches right's first key
 * moves up and right's first cell becomes -inf. */
static int node_split(bt_merge *m, bt_node *nd, uint32_t s, bt_node **right,
                      uint8_t **sep, size_t *seplen) {
  bt_node *r = node_new(m->a, nd->leaf);
  int rc;
  if (!r) return LDB_NOMEM;
  if ((rc = node_reserve(m->a, r, nd->n - s))) goto fail;
  const bt_cref *a = &nd->c[s - 1], *b = &nd->c[s];
  size_t sl;
  if (nd->leaf) {
    size_t lcp = 0, mn = a->klen < b->klen ? a->klen : b->klen;
    while (lcp < mn && a->key[lcp] == b->key[lcp])
      lcp++;
    sl = lcp + 1 <= b->klen ? lcp + 1 : b->klen;
  } else {
    sl = b->klen;
  }
  uint8_t *k = ldb_memdup(m->a, b->key, sl);
  if (!k) {
    rc = LDB_NOMEM;
    goto fail;
  }
  if (!nd->leaf) {
    /* right's first cell becomes -inf */
    bt_cref ninf;
    if ((rc = make_branch_cell(m, NULL, 0, cref_child(&nd->c[s]), &ninf))) {
      ldb_mfree(m->a, k);
      goto fail;
    }
    if ((rc = free_cell_chains(m, &nd->c[s], false))) {
      cref_free(m->a, &ninf);
      ldb_mfree(m->a, k);
      goto fail;
    }
    nd->used -= nd->c[s].len;
    cref_free(m->a, &nd->c[s]);
    nd->c[s] = ninf;
    nd->used += ninf.len;
  }
  uint32_t cnt = nd->n - s;
  memcpy(r->c, nd->c + s, cnt * sizeof *r->c);
  if (!nd->leaf) memcpy(r->kid, nd->kid + s, cnt * sizeof *r->kid);
  for (uint32_t i = 0; i < cnt; i++)
    r->used += r->c[i].len + SLOT;
  r->n = cnt;
  nd->n = s;
  nd->used -= r->used;
  *right = r;
  *sep = k;
  *seplen = sl;
  return LDB_OK;
fail:
  node_free(m->a, r);
  return rc;
}

/* After an insertion into p->n[d], splits overfull nodes upwards. */
static int split_up(bt_merge *m, path *p, int d, bool append) {
  bt_file *f = m->f;
  int rc;
  while (d >= 0 && p->n[d]->used > f->cap) {
    bt_node *nd = p->n[d];
    uint32_t s = split_point(f, nd, append);
    if (s == 0) s = split_point(f, nd, true);
    if (s == 0) return ldb_err(LDB_INTERNAL, "node cannot be split");
    bt_node *right;
    uint8_t *sep;
    size_t sl;
    if ((rc = node_split(m, nd, s, &right, &sep, &sl))) return rc;
    bt_cref cr;
    rc = make_branch_cell(m, sep, sl, 0, &cr);
    ldb_mfree(m->a, sep);
    if (rc) {
      node_free(m->a, right);
      return rc;
    }
    if (d == 0) {
      if (m->height >= BT_MAX_HEIGHT) {
        cref_free(m->a, &cr);
        node_free(m->a, right);
        return ldb_err(LDB_INTERNAL, "tree height limit reached");
      }
      bt_node *root = node_new(m->a, false);
      bt_cref c0;
      if (!root) {
        rc = LDB_NOMEM;
      } else if (!(rc = make_branch_cell(m, NULL, 0, 0, &c0))) {
        if ((rc = node_insert(m->a, root, 0, c0, nd)))
          cref_free(m->a, &c0);
        else
          rc = node_insert(m->a, root, 1, cr, right);
      }
      if (rc) {
        if (root && root->n) root->kid[0] = NULL; /* nd stays m->root */
        node_free(m->a, root);
        cref_free(m->a, &cr);
        node_free(m->a, right);
        return rc;
      }
      m->root = root;
      m->height++;
      /* the old root is now under the new one: shift the path */
      memmove(p->n + 1, p->n, p->depth * sizeof *p->n);
      memmove(p->i + 1, p->i, p->depth * sizeof *p->i);
      p->n[0] = root;
      p->i[0] = 0;
      p->depth++;
      d++;
      continue; /* nd may still be overfull */
    }
    bt_node *par = p->n[d - 1];
    if ((rc = node_insert(m->a, par, p->i[d - 1] + 1, cr, right))) {
      cref_free(m->a, &cr);
      node_free(m->a, right);
      return rc;
    }
    if (nd->used > f->cap) continue; /* split the left part again */
    d--;
  }
  return LDB_OK;
}

static int merge_valid(bt_merge *m) {
  if (m->failed)
    return ldb_err(m->failed,
                   "an earlier operation of this merge failed "
                   "(%s)",
                   ldb_strerror(m->failed));
  return LDB_OK;
}

static int merge_put(bt_merge *m, const void *key, size_t klen, const void *val,
                     size_t vlen, bool ref) {
  int rc = merge_valid(m);
  if (rc) return rc;
  if (klen > LDB_MAX_KEY_SIZE)
    return ldb_err(LDB_INVALID, "key of %zu bytes (0..%u allowed)", klen,
                   LDB_MAX_KEY_SIZE);
  if (vlen > LDB_MAX_VALUE_SIZE)
    return ldb_err(LDB_INVALID, "value of %zu bytes exceeds %u", vlen,
                   LDB_MAX_VALUE_SIZE);
  path *p = m->fp;
  bt_node *leaf = m->fvalid ? p->n[p->depth - 1] : NULL;
  bool eq = false, hit = leaf && leaf->n &&
                         node_cmp_key(&leaf->c[leaf->n - 1], key, klen) > 0;
  uint32_t i;
  m->fvalid = false;
  if (hit) {
    i = leaf->n;
  } else {
    if ((rc = descend(m, key, klen, p))) goto fail;
    leaf = p->n[p->depth - 1];
    i = node_leaf_find(leaf, key, klen, &eq);
  }
  bt_cref r;
  /* By reference when the cell is plain: no flags (not compressed, key
   * and value inline), so nothing but the bytes needs building. */
  if (ref && klen <= m->f->kmax && 9 + klen + vlen <= m->f->maxcell &&
      (vlen < LDB_COMPRESS_MIN || m->codec == LDB_COMPRESSION_NONE)) {
    r = (bt_cref){.key = key,
                  .val = val,
                  .len = (uint32_t)(9 + klen + vlen),
                  .klen = (uint32_t)klen};
  } else if ((rc = make_leaf_cell(m, key, klen, val, vlen, &r))) {
    goto fail;
  }
  if (eq) {
    if ((rc = free_cell_chains(m, &leaf->c[i], true))) {
      cref_free(m->a, &r);
      goto fail;
    }
    leaf->used -= leaf->c[i].len;
    cref_free(m->a, &leaf->c[i]);
    leaf->c[i] = r;
    leaf->used += r.len;
  } else {
    if ((rc = node_insert(m->a, leaf, i, r, NULL))) {
      cref_free(m->a, &r);
      goto fail;
    }
    m->count++;
  }
  /* Ascending loads at the right edge split "full left, new right". */
  bool append = i + 1 == leaf->n;
  for (int d = 0; !hit && append && d + 1 < p->depth; d++)
    append = p->i[d] + 1 == p->n[d]->n;
  if (leaf->used <= m->f->cap) {
    m->fvalid = append;
    return LDB_OK;
  }
  if ((rc = split_up(m, p, p->depth - 1, append))) goto fail;
  return LDB_OK;
fail:
  /* The dirty tree may be half-changed: only abort is safe now. */
  m->failed = rc;
  return rc;
}

int bt_merge_put(bt_merge *m, const void *key, size_t klen, const void *val,
                 size_t vlen) {
  return merge_put(m, key, klen, val, vlen, false);
}

int bt_merge_put_ref(bt_merge *m, const void *key, size_t klen, const void *val,
                     size_t vlen) {
  return merge_put(m, key, klen, val, vlen, true);
}

/* Merges right sibling R (at index ri of par) into L; R's separator is
 * pulled down for branches. R is freed. */
static int merge_into(bt_merge *m, bt_node *par, uint32_t ri, bt_node *L,
                      bt_node *R) {
  int rc;
  if (!L->leaf) {
    /* R's first cell (-inf) gets the parent's separator as its key. */
    bt_cref nc;
    if ((rc = make_branch_cell(m, par->c[ri].key, par->c[ri].klen,
                               cref_child(&R->c[0]), &nc)))
      return rc;
    R->used -= R->c[0].len;
    cref_free(m->a, &R->c[0]);
    R->c[0] = nc;
    R->used += nc.len;
  }
  if ((rc = node_reserve(m->a, L, L->n + R->n))) return rc;
  memcpy(L->c + L->n, R->c, R->n * sizeof *R->c);
  if (!L->leaf) memcpy(L->kid + L->n, R->kid, R->n * sizeof *R->kid);
  L->n += R->n;
  L->used += R->used;
  R->n = 0;
  par->kid[ri] = NULL;
  node_free(m->a, R);
  if ((rc = free_cell_chains(m, &par->c[ri], false))) return rc;
  cref_free(m->a, &par->c[ri]);
  node_remove(par, ri);
  return LDB_OK;
}

/* After a deletion from p->n[depth-1], merges or rebalances underfull
 * nodes upwards and drops empty ones. */
static int rebalance(bt_merge *m, path *p) {
  bt_file *f = m->f;
  int rc;
  for (int d = p->depth - 1; d >= 1; d--) {
    bt_node *nd = p->n[d], *par = p->n[d - 1];
    uint32_t idx = p->i[d - 1];
    if (nd->n > 0 && nd->used >= f->cap / 4) break;
    if (nd->n == 0) {
      /* drop the empty child; its page is already in freed */
      if ((rc = free_cell_chains(m, &par->c[idx], false))) return rc;
      cref_free(m->a, &par->c[idx]);
      node_free(m->a, nd);
      par->kid[idx] = NULL;
      node_remove(par, idx);
      if (idx == 0 && par->n > 0 && (rc = branch_rekey(m, par, 0, NULL, 0)))
        return rc;
      continue;
    }
    if (par->n < 2) continue;
    uint32_t li = idx > 0 ? idx - 1 : idx, ri = li + 1;
    bt_node *L, *R;
    if ((rc = node_kid(m, par, li, nd->leaf, &L)) ||
        (rc = node_kid(m, par, ri, nd->leaf, &R)))
      return rc;
    if ((rc = merge_into(m, par, ri, L, R))) return rc;
    if (L->used > f->cap) {
      /* too big for one page: split evenly again (a rebalance) */
      path q = *p;
      q.n[d] = L;
      q.i[d - 1] = li;
      return split_up(m, &q, d, false);
    }
  }
  return LDB_OK;
}

int bt_merge_delete(bt_merge *m, const void *key, size_t klen) {
  int rc = merge_valid(m);
  if (rc) return rc;
  if (klen > LDB_MAX_KEY_SIZE)
    return ldb_err(LDB_INVALID, "key of %zu bytes (0..%u allowed)", klen,
                   LDB_MAX_KEY_SIZE);
  if (!m->root && m->base_root == 0) return LDB_OK;
  m->fvalid = false;
  path p;
  if ((rc = descend(m, key, klen, &p))) goto fail;
  bt_node *leaf = p.n[p.depth - 1];
  bool eq;
  uint32_t i = node_leaf_find(leaf, key, klen, &eq);
  if (!eq) return LDB_OK;
  if ((rc = free_cell_chains(m, &leaf->c[i], true))) goto fail;
  cref_free(m->a, &leaf->c[i]);
  node_remove(leaf, i);
  m->count--;
  if ((rc = rebalance(m, &p))) goto fail;
  return LDB_OK;
fail:
  m->failed = rc;
  return rc;
}

int bt_merge_begin(bt_file *f, bt_merge **out) {
  *out = NULL;
  if (f->read_only) return ldb_err(LDB_READONLY, "data file is read-only");
  bt_merge *m = ldb_calloc(f->a, sizeof *m);
  if (!m) return LDB_NOMEM;
  m->pagebuf = ldb_malloc(f->a, f->ps);
  m->fp = ldb_malloc(f->a, sizeof *m->fp);
  if (!m->pagebuf || !m->fp) {
    ldb_mfree(f->a, m->pagebuf);
    ldb_mfree(f->a, m->fp);
    ldb_mfree(f->a, m);
    return LDB_NOMEM;
  }
  m->f = f;
  m->a = f->a;
  ldb_mutex_lock(&f->mu);
  if (f->merging) {
    ldb_mutex_unlock(&f->mu);
    ldb_mfree(f->a, m->pagebuf);
    ldb_mfree(f->a, m->fp);
    ldb_mfree(f->a, m);
    return ldb_err(LDB_BUSY, "another merge is in progress");
  }
  int rc = promote_pending(f);
  if (rc) {
    ldb_mutex_unlock(&f->mu);
    ldb_mfree(f->a, m->pagebuf);
    ldb_mfree(f->a, m->fp);
    ldb_mfree(f->a, m);
    return rc;
  }
  f->merging = 1;
  f->merges++;
  m->base_root = f->current->root;
  m->height = f->current->height;
  m->count = f->current->count;
  m->base_page_count = f->page_count;
  m->codec = __atomic_load_n(&f->codec, __ATOMIC_RELAXED);
  m->level = __atomic_load_n(&f->level, __ATOMIC_RELAXED);
  ldb_mutex_unlock(&f->mu);
  m->faults = pager_map_faults(f->pg);
  *out = m;
  return LDB_OK;
}

/* Frees the merge's memory and ends it. With rollback, the pages it
 * allocated become free again: reusable at once when no meta page could
 * name them (meta_attempted false), else only after the next commit. */
static void merge_end(bt_merge *m, bool rollback, bool meta_attempted) {
  bt_file *f = m->f;
  ldb_mutex_lock(&f->mu);
  if (rollback) {
    if (!meta_attempted) {
      for (size_t i = 0; i < m->alloc.n; i++)
        if (m->alloc.v[i] < m->base_page_count)
          vpush(f->a, &f->reusable, m->alloc.v[i]); /* cap was there */
      /* Pages cut off the end for the meta page never written were free
       * before: they are again (they were in reusable, so cap is there). */
      uint64_t pc = __atomic_load_n(&f->page_count, __ATOMIC_RELAXED);
      /* (pages below pc were taken again by the free list: in alloc) */
      for (uint64_t p = m->trim_from > pc ? m->trim_from : pc; p < m->trim_to;
           p++)
        if (p < m->base_page_count) vpush(f->a, &f->reusable, (uint32_t)p);
      sort_free(&f->reusable);
      __atomic_store_n(&f->page_count, m->base_page_count, __ATOMIC_RELAXED);
    } else {
      pend_batch *b = ldb_calloc(f->a, sizeof *b);
      if (b) {
        b->version = f->current->version + 1;
        b->pages = m->alloc;
        m->alloc.v = NULL;
        m->alloc.n = m->alloc.cap = 0;
        if (f->pend_tail)
          f->pend_tail->next = b;
        else
          f->pend = b;
        f->pend_tail = b;
      }
      /* Without memory for the batch the pages leak until reopen; bt_check
       * reports them. */
    }
  }
  f->merging = 0;
  ldb_mutex_unlock(&f->mu);
  node_free(m->a, m->root);
  while (m->srcs) {
    uint8_t *blk = m->srcs;
    memcpy(&m->srcs, blk, sizeof m->srcs);
    ldb_mfree(m->a, blk);
  }
  while (m->cblocks) {
    uint8_t *blk = m->cblocks;
    memcpy(&m->cblocks, blk, sizeof m->cblocks);
    ldb_mfree(m->a, blk);
  }
  vfree(m->a, &m->freed);
  vfree(m->a, &m->alloc);
  ldb_mfree(m->a, m->pagebuf);
  ldb_mfree(m->a, m->wbuf);
  ldb_mfree(m->a, m->cbuf);
  ldb_mfree(m->a, m->fp);
  ldb_mfree(m->a, m);
}

void bt_merge_abort(bt_merge *m) {
  if (m) merge_end(m, true, false);
}

int bt_shrink(bt_file *f, uint64_t min_pages) {
  ldb_mutex_lock(&f->mu);
  int rc = f->merging ? LDB_OK : promote_pending(f);
  uint64_t tail = 0, end = f->page_count;
  while (!f->merging && tail < f->reusable.n &&
         f->reusable.v[tail] == end - 1 - tail)
    tail++;
  uint64_t seq = f->current->seq;
  ldb_mutex_unlock(&f->mu);
  if (rc || tail == 0 || tail < min_pages) return rc;
  bt_merge *m;
  if ((rc = bt_merge_begin(f, &m))) return rc;
  return bt_merge_commit(m, seq);
}

uint64_t bt_merge_pages(const bt_merge *m) {
  return m->freed.n + m->alloc.n;
}

/* Cuts cells all[0, n) (T bytes with their slots) into k leaves of about
 * T / k bytes each, in key order, every leaf non-empty and within cap;
 * cnt[0..k) gets each leaf's cell count. false when no such cut was found
 * (cells of very different sizes): the caller packs greedily instead. */
static bool even_cut(const bt_cref *all, uint32_t n, size_t T, uint32_t k,
                     size_t cap, uint32_t *cnt) {
  uint32_t prev = 0, c = 0;
  size_t at = 0, prev_at = 0; /* bytes of cells [0, c) and [0, prev) */
  for (uint32_t b = 1; b < k; b++) {
    size_t target = (size_t)(((uint64_t)T * b + k / 2) / k);
    while (c < n && at < target)
      at += all[c++].len + SLOT;
    /* candidates: the cut at or after the target, and the one before */
    uint32_t cand[2] = {c, c - 1};
    size_t cat[2] = {at, at - (c ? all[c - 1].len + SLOT : 0)};
    if (c > 0 && target - cat[1] < at - target) {
      cand[0] = c - 1, cand[1] = c;
      size_t t = cat[0];
      cat[0] = cat[1], cat[1] = t;
    }
    bool ok = false;
    for (int x = 0; x < 2 && !ok; x++) {
      if (cand[x] <= prev || cand[x] > n - (k - b)) continue;
      if (cat[x] - prev_at > cap || T - cat[x] > (size_t)(k - b) * cap)
        continue;
      cnt[b - 1] = cand[x] - prev;
      prev = cand[x];
      prev_at = cat[x];
      ok = true;
    }
    if (!ok) return false;
    c = prev, at = prev_at;
  }
  if (prev >= n || T - prev_at > cap) return false;
  cnt[k - 1] = n - prev;
  return true;
}

/* Packs the dirty leaf children [i, j) of branch nd (j - i >= 2) into as
 * few leaves as hold their cells, with the cells spread evenly over them;
 * the emptied ones at the end of the run are dropped. *kept: leaves left.
 * Even, not each filled up to a page in turn: a run that outgrew its
 * leaves by a few cells would otherwise end in a leaf of those few cells,
 * which covers so small a key range that later merges hardly ever add to
 * it. At 10M random keys, when a checkpoint adds about one key per leaf,
 * most runs are one leaf that split, and greedy packing left the tree a
 * third full. On failure nothing has moved (the merge is discarded
 * anyway). */
static int repack_run(bt_merge *m, bt_node *nd, uint32_t i, uint32_t j,
                      uint32_t *kept) {
  bt_file *f = m->f;
  uint32_t runs = j - i, total = 0, nout = 1;
  int rc = LDB_OK;
  *kept = runs;
  for (uint32_t k = i; k < j; k++)
    total += nd->kid[k]->n;
  if (total == 0) return LDB_OK;
  bt_cref *all = ldb_malloc(m->a, total * sizeof *all);
  uint32_t *cnt = ldb_calloc(m->a, runs * sizeof *cnt);
  bt_cref *seps = ldb_calloc(m->a, runs * sizeof *seps);
  if (!all || !cnt || !seps) {
    rc = LDB_NOMEM;
    goto out;
  }
  for (uint32_t k = i, at = 0; k < j; k++) {
    memcpy(all + at, nd->kid[k]->c, nd->kid[k]->n * sizeof *all);
    at += nd->kid[k]->n;
  }
  /* greedy, in order: the fewest leaves, never more than the run had,
   * since each of them held its cells within a page */
  size_t used = 0, bytes = 0;
  for (uint32_t c = 0; c < total; c++) {
    size_t need = all[c].len + SLOT;
    bytes += need;
    if (cnt[nout - 1] && used + need > f->cap) {
      if (nout == runs) {
        rc = ldb_err(LDB_INTERNAL, "leaf repack needs more leaves");
        goto out;
      }
      nout++;
      used = 0;
    }
    cnt[nout - 1]++;
    used += need;
  }
  if (nout > 1) {
    uint32_t *even = ldb_calloc(m->a, nout * sizeof *even);
    if (!even) {
      rc = LDB_NOMEM;
      goto out;
    }
    if (even_cut(all, total, bytes, nout, f->cap, even))
      memcpy(cnt, even, nout * sizeof *cnt);
    ldb_mfree(m->a, even);
  }
  for (uint32_t k = 1, c = cnt[0]; k < nout; c += cnt[k++]) {
    const bt_cref *a = &all[c - 1], *b = &all[c];
    size_t lcp = 0, mn = a->klen < b->klen ? a->klen : b->klen;
    while (lcp < mn && a->key[lcp] == b->key[lcp])
      lcp++;
    size_t sl = lcp + 1 <= b->klen ? lcp + 1 : b->klen;
    /* a separator that would spill to an overflow chain: leave the run
     * (no cell made so far owns a chain, so dropping them frees all) */
    if (sl > f->kmax) goto out;
    if ((rc = make_branch_cell(m, b->key, sl, 0, &seps[k]))) goto out;
  }
  /* New separators may be longer than the old ones: keep the branch
   * within its page, or leave this run as it is. */
  size_t after = nd->used;
  for (uint32_t k = i + 1; k < j; k++)
    after -= nd->c[k].len + SLOT;
  for (uint32_t k = 1; k < nout; k++)
    after += seps[k].len + SLOT;
  if (after > f->cap) goto out;
  for (uint32_t k = 0; k < nout; k++)
    if ((rc = node_reserve(m->a, nd->kid[i + k], cnt[k]))) goto out;
  /* every separator inside the run is replaced or dropped */
  for (uint32_t k = i + 1; k < j; k++)
    if ((rc = free_cell_chains(m, &nd->c[k], false))) goto out;
  for (uint32_t k = i; k < j; k++) {
    nd->kid[k]->n = 0;
    nd->kid[k]->used = 0;
  }
  for (uint32_t k = 0, c = 0; k < nout; k++) {
    bt_node *kid = nd->kid[i + k];
    for (uint32_t x = 0; x < cnt[k]; x++, c++) {
      kid->c[x] = all[c];
      kid->used += all[c].len + SLOT;
    }
    kid->n = cnt[k];
  }
  for (uint32_t k = 1; k < nout; k++) {
    nd->used -= nd->c[i + k].len;
    cref_free(m->a, &nd->c[i + k]);
    nd->c[i + k] = seps[k];
    nd->used += seps[k].len;
    memset(&seps[k], 0, sizeof seps[k]);
  }
  for (uint32_t k = j; k-- > i + nout;) {
    cref_free(m->a, &nd->c[k]);
    node_free(m->a, nd->kid[k]);
    nd->kid[k] = NULL;
    node_remove(nd, k);
  }
  *kept = nout;
out:
  if (seps)
    for (uint32_t k = 0; k < runs; k++)
      cref_free(m->a, &seps[k]);
  ldb_mfree(m->a, all);
  ldb_mfree(m->a, cnt);
  ldb_mfree(m->a, seps);
  return rc;
}

/* Bytes of slots and cells in clean leaf page pgno, read without loading
 * it as a dirty node; 0 when it cannot be read or is not a leaf (it is
 * then left alone: a read or ldb_check reports the damage, not this). */
static size_t leaf_used(bt_file *f, uint64_t pgno) {
  const uint8_t *pg;
  pg_ent *e;
  if (pager_get(f->pg, pgno, &pg, &e)) return 0;
  uint32_t n = pg_n(pg), lo = f->ps;
  size_t used = 0;
  if (pg[4] == PT_LEAF && n > 0 && (size_t)n * SLOT <= f->cap) {
    for (uint32_t x = 0; x < n; x++) {
      uint32_t off = ldb_get16(pg + HDR + SLOT * x);
      if (off < lo) lo = off;
    }
    if (lo >= HDR + (size_t)n * SLOT) used = (size_t)n * SLOT + (f->ps - lo);
  }
  pager_unpin(f->pg, e);
  return used;
}

/* How many clean neighbours one run of dirty leaves may take in. */
#define ABSORB_MAX 2

/* Widens the run [*i, *j) of dirty leaves under nd (bytes: their slots and
 * cells) by clean neighbouring leaves, right or left, while the cells of
 * the run and the neighbour still fit in as many leaves as the run's alone
 * need, each at most 15/16 full. The neighbour becomes a dirty node (its
 * page freed), and the repack spreads the cells: the merge writes no more
 * leaves than it would have, and the tree has one leaf fewer. This is what
 * keeps the leaves full when a checkpoint adds about one key per leaf: a
 * full leaf that splits in two half-full ones takes in a neighbour and
 * leaves two nearly full ones. */
static int absorb_neighbours(bt_merge *m, bt_node *nd, uint32_t *i, uint32_t *j,
                             size_t bytes) {
  bt_file *f = m->f;
  size_t room = f->cap - f->cap / 16;
  size_t k = (bytes + f->cap - 1) / f->cap; /* leaves the run needs */
  bool tried_r = false, tried_l = false;
  for (int got = 0; got < ABSORB_MAX;) {
    uint32_t x;
    if (!tried_r && *j < nd->n && !nd->kid[*j]) {
      x = *j;
      tried_r = true;
    } else if (!tried_l && *i > 0 && !nd->kid[*i - 1]) {
      x = *i - 1;
      tried_l = true;
    } else {
      break;
    }
    size_t u = leaf_used(f, cref_child(&nd->c[x]));
    if (u == 0 || bytes + u > k * room) continue;
    bt_node *kid;
    int rc = node_kid(m, nd, x, true, &kid);
    if (rc) return rc;
    bytes += kid->used;
    if (x == *j) {
      (*j)++;
      tried_r = false;
    } else {
      (*i)--;
      tried_l = false;
    }
    got++;
  }
  return LDB_OK;
}

/* Packs every run of adjacent dirty leaves under branch nd, widened by
 * clean neighbours where that saves a leaf (absorb_neighbours; see
 * repack_run). The merge rewrites those leaves anyway; packing them keeps
 * leaves nearly full where splits during a merge leave them half full,
 * which is most of the file's size after random inserts. */
static int repack_leaves(bt_merge *m, bt_node *nd) {
  uint32_t i = 0;
  while (i < nd->n) {
    if (!nd->kid[i] || !nd->kid[i]->leaf) {
      i++;
      continue;
    }
    uint32_t j = i + 1, kept;
    size_t bytes = nd->kid[i]->used;
    while (j < nd->n && nd->kid[j] && nd->kid[j]->leaf)
      bytes += nd->kid[j++]->used;
    int rc = absorb_neighbours(m, nd, &i, &j, bytes);
    if (rc) return rc;
    if (j - i < 2) {
      i = j;
      continue;
    }
    if ((rc = repack_run(m, nd, i, j, &kept))) return rc;
    i += kept;
  }
  return LDB_OK;
}

/* Writes the combined run of pages, if any. */
static int wc_flush(bt_merge *m) {
  if (!m->wn) return LDB_OK;
  uint32_t n = m->wn;
  m->wn = 0;
  return pager_write_run(m->f->pg, m->wfirst, m->wbuf, n, true);
}

/* Room to build page pgno in: the next slot of the combined run when pgno
 * continues it, else a new run (the old one written first). Call
 * wc_flush before anything reads those pages or syncs the file. */
static int wc_slot(bt_merge *m, uint32_t pgno, uint8_t **pg) {
  bt_file *f = m->f;
  int rc;
  if (!m->wbuf) {
    m->wcap = WC_BYTES / f->ps ? WC_BYTES / f->ps : 1;
    if (!(m->wbuf = ldb_malloc(m->a, (size_t)m->wcap * f->ps))) {
      m->wcap = 0;
      return LDB_NOMEM;
    }
  }
  if (m->wn && (pgno != m->wfirst + m->wn || m->wn == m->wcap) &&
      (rc = wc_flush(m)))
    return rc;
  if (!m->wn) m->wfirst = pgno;
  *pg = m->wbuf + (size_t)m->wn * f->ps;
  return LDB_OK;
}

/* Writes node nd (children first) to newly allocated pages (combined by
 * wc_slot: the caller ends with wc_flush). */
static int write_node(bt_merge *m, bt_node *nd, uint32_t *pgno) {
  bt_file *f = m->f;
  int rc;
  if (!nd->leaf && (rc = repack_leaves(m, nd))) return rc;
  if (!nd->leaf) {
    for (uint32_t i = 0; i < nd->n; i++) {
      if (!nd->kid[i]) continue;
      uint32_t cp;
      if ((rc = write_node(m, nd->kid[i], &cp))) return rc;
      ldb_put32(nd->c[i].cell, cp);
    }
  }
  if (nd->used > f->cap || nd->n > 0xffff)
    return ldb_err(LDB_INTERNAL, "dirty node of %zu bytes", nd->used);
  if ((rc = alloc_page(m, pgno))) return rc;
  uint8_t *pg;
  if ((rc = wc_slot(m, *pgno, &pg))) return rc;
  memset(pg, 0, HDR);
  pg[4] = nd->leaf ? PT_LEAF : PT_BRANCH;
  ldb_put16(pg + 6, (uint16_t)nd->n);
  uint32_t first = nd->leaf ? 0 : 1, plen = 0;
  if (nd->n > first) {
    const bt_cref *a = &nd->c[first], *b = &nd->c[nd->n - 1];
    uint32_t mn = a->klen < b->klen ? a->klen : b->klen;
    while (plen < mn && a->key[plen] == b->key[plen])
      plen++;
  }
  ldb_put16(pg + 8, (uint16_t)plen);
  uint32_t end = f->ps;
  for (uint32_t i = 0; i < nd->n; i++) {
    const bt_cref *r = &nd->c[i];
    end -= r->len;
    if (r->cell) {
      memcpy(pg + end, r->cell, r->len);
    } else {
      /* a plain leaf cell (make_leaf_cell's layout without flags) */
      uint8_t *c = pg + end;
      c[0] = 0;
      ldb_put16(c + 1, (uint16_t)r->klen);
      ldb_put16(c + 3, (uint16_t)r->klen);
      ldb_put32(c + 5, r->len - 9 - r->klen);
      if (r->klen) memcpy(c + 9, r->key, r->klen);
      if (r->len > 9 + r->klen)
        memcpy(c + 9 + r->klen, r->val, r->len - 9 - r->klen);
    }
    ldb_put16(pg + HDR + SLOT * i, (uint16_t)end);
    uint32_t h = i >= first ? hint_of(nd->c[i].key, nd->c[i].klen, plen) : 0;
    ldb_put32(pg + HDR + SLOT * i + 2, h);
  }
  memset(pg + HDR + SLOT * nd->n, 0, end - (HDR + SLOT * nd->n));
  m->wn++;
  return LDB_OK;
}

/* Meta page body (after the 16-byte header): magic u64, format u32, page
 * size u32, counter u64, root u64, height u32 (+4 zero), key count u64,
 * checkpoint seq u64, page count u64, free-list head u64, free-list
 * entries u64, free-list pages u64, fl_recent u64 (the last fl_recent
 * free-list entries are the previous version's pages; 0 in files written
 * before it existed, which only means they are reused sooner). */
static void encode_meta(bt_file *f, uint8_t *pg, uint64_t counter,
                        uint64_t root, uint32_t height, uint64_t count,
                        uint64_t seq, uint64_t page_count, uint64_t fl_head,
                        uint64_t fl_count, uint64_t fl_npages,
                        uint64_t fl_recent) {
  memset(pg, 0, f->ps);
  pg[4] = PT_META;
  uint8_t *p = pg + HDR;
  ldb_put64(p, BT_MAGIC);
  ldb_put32(p + 8, LDB_FORMAT_VERSION);
  ldb_put32(p + 12, f->ps);
  ldb_put64(p + 16, counter);
  ldb_put64(p + 24, root);
  ldb_put32(p + 32, height);
  ldb_put64(p + 40, count);
  ldb_put64(p + 48, seq);
  ldb_put64(p + 56, page_count);
  ldb_put64(p + 64, fl_head);
  ldb_put64(p + 72, fl_count);
  ldb_put64(p + 80, fl_npages);
  ldb_put64(p + 88, fl_recent);
}

int bt_merge_commit(bt_merge *m, uint64_t checkpoint_seq) {
  bt_file *f = m->f;
  int rc = merge_valid(m);
  bool meta_attempted = false, meta_locked = false;
  u32vec all = {0}, flp = {0};
  bt_tree *t = NULL;
  pend_batch *b = NULL;
  if (rc) goto fail;
  /* Normalise the root: collapse single-child branches, empty trees. */
  while (m->root && !m->root->leaf && m->root->n <= 1) {
    bt_node *r = m->root;
    if (r->n == 0) {
      node_free(m->a, r);
      m->root = NULL;
      m->height = 0;
      m->base_root = 0;
      break;
    }
    bt_node *k;
    if ((rc = node_kid(m, r, 0, m->height == 2, &k))) goto fail;
    r->kid[0] = NULL;
    node_free(m->a, r);
    m->root = k;
    m->height--;
  }
  if (m->root && m->root->leaf && m->root->n == 0) {
    node_free(m->a, m->root);
    m->root = NULL;
    m->height = 0;
    m->base_root = 0;
  }
  uint64_t root = m->base_root;
  if (m->root) {
    uint32_t r;
    if ((rc = write_node(m, m->root, &r)) || (rc = wc_flush(m))) goto fail;
    root = r;
  }
  if (!root) m->height = 0;
  if ((rc = pager_map_check(f->pg, m->faults, LDB_OK))) goto fail;

  /* Free pages at the end of the file are cut off: the meta page written
   * below ends the file before them (the free list no longer names them),
   * and the file is truncated once that meta page is durable. Neither meta
   * page's tree reaches them (they are reusable), and the older meta's
   * free-list pages are pending, so a fallback to it still works: it just
   * names free pages past the end, which writes extend the file to. */
  ldb_mutex_lock(&f->mu);
  {
    uint64_t end = f->page_count, cut = 0;
    while (cut < f->reusable.n && f->reusable.v[cut] == end - 1) {
      cut++;
      end--;
    }
    if (cut) {
      memmove(f->reusable.v, f->reusable.v + cut,
              (f->reusable.n - cut) * sizeof *f->reusable.v);
      f->reusable.n -= cut;
      m->trim_from = end;
      m->trim_to = f->page_count;
      __atomic_store_n(&f->page_count, end, __ATOMIC_RELAXED);
    }
  }
  ldb_mutex_unlock(&f->mu);

  /* The free list: every free page after this merge. Its own pages come
   * out of the reusable set first, so the list always fits. The pages this
   * merge releases (the base version's, and the base free list's) go last:
   * they are the fl_recent entries a reopen keeps pending. */
  uint32_t per = (f->ps - HDR) / 4;
  size_t total;
  ldb_mutex_lock(&f->mu);
  total = f->reusable.n + m->freed.n + f->fl_pages.n;
  for (pend_batch *b = f->pend; b; b = b->next)
    total += b->pages.n;
  ldb_mutex_unlock(&f->mu);
  size_t need = (total + per - 1) / per;
  for (size_t i = 0; i < need; i++) {
    uint32_t pgno;
    if ((rc = alloc_page(m, &pgno)) || (rc = vpush(m->a, &flp, pgno)))
      goto fail;
  }
  ldb_mutex_lock(&f->mu);
  rc = vappend(m->a, &all, &f->reusable);
  for (pend_batch *b = f->pend; b && !rc; b = b->next)
    rc = vappend(m->a, &all, &b->pages);
  uint64_t page_count = f->page_count;
  ldb_mutex_unlock(&f->mu);
  if (rc || (rc = vappend(m->a, &all, &m->freed)) ||
      (rc = vappend(m->a, &all, &f->fl_pages)))
    goto fail;
  if (all.n > flp.n * (size_t)per) {
    rc = ldb_err(LDB_INTERNAL, "free list outgrew its pages");
    goto fail;
  }
  uint64_t recent = m->freed.n + f->fl_pages.n;
  ldb_mutex_lock(&f->meta_mu);
  meta_locked = true;
  for (size_t i = 0, off = 0; i < flp.n; i++) {
    uint8_t *pg = m->pagebuf;
    size_t cnt = all.n - off < per ? all.n - off : per;
    memset(pg, 0, f->ps);
    pg[4] = PT_FREE;
    ldb_put32(pg + 8, i + 1 < flp.n ? flp.v[i + 1] : 0);
    ldb_put32(pg + 12, (uint32_t)cnt);
    memcpy(pg + HDR, all.v + off, cnt * 4);
    off += cnt;
    if ((rc = pager_write(f->pg, flp.v[i], pg, false))) goto fail;
  }
  if ((rc = pager_sync(f->pg))) goto fail;

  /* Everything installing the version needs is allocated before the meta
   * page is written, so nothing can fail once it is durable. */
  uint64_t counter = f->counter + 1;
  t = tree_new(f, counter, root, m->height, m->count, checkpoint_seq);
  b = ldb_calloc(f->a, sizeof *b);
  if (!t || !b) {
    rc = LDB_NOMEM;
    goto fail;
  }
  if ((rc = vappend(m->a, &m->freed, &f->fl_pages))) goto fail;
  meta_attempted = true;
  encode_meta(f, m->pagebuf, counter, root, m->height, m->count, checkpoint_seq,
              page_count, flp.n ? flp.v[0] : 0, all.n, flp.n, recent);
  if ((rc = pager_write(f->pg, counter & 1, m->pagebuf, false))) goto fail;
  if ((rc = pager_sync(f->pg))) goto fail;

  /* Durable: install. The old free-list pages were released with this
   * version (appended to freed above). */
  ldb_mutex_lock(&f->mu);
  b->version = counter;
  b->pages = m->freed;
  m->freed.v = NULL;
  m->freed.n = m->freed.cap = 0;
  if (f->pend_tail)
    f->pend_tail->next = b;
  else
    f->pend = b;
  f->pend_tail = b;
  vfree(f->a, &f->fl_pages);
  f->fl_pages = flp;
  flp.v = NULL;
  f->fl_head = f->fl_pages.n ? f->fl_pages.v[0] : 0;
  f->fl_count = all.n;
  f->counter = counter;
  f->meta_page_count = page_count;
  bt_tree *old = f->current;
  t->next = f->live;
  if (f->live) f->live->prev = t;
  f->live = t;
  f->current = t;
  tree_unref_locked(old);
  ldb_mutex_unlock(&f->mu);
  /* Give back the space past the end. No other merge writes meanwhile
   * (this one still holds f->merging); a failure only leaves the file
   * longer than it needs to be, and a later commit tries again. */
  (void)pager_truncate(f->pg, page_count);
  ldb_mutex_unlock(&f->meta_mu);
  vfree(m->a, &all);
  merge_end(m, false, false);
  return LDB_OK;
fail:
  if (meta_locked) ldb_mutex_unlock(&f->meta_mu);
  ldb_mfree(f->a, t);
  ldb_mfree(f->a, b);
  vfree(m->a, &all);
  vfree(m->a, &flp);
  merge_end(m, true, meta_attempted);
  return rc;
}

/* ---- open / close ------------------------------------------------------- */

typedef struct meta {
  uint32_t ps, height;
  uint64_t counter, root, count, seq, page_count, fl_head, fl_count, fl_npages;
  uint64_t fl_recent;
} meta;

/* Decodes a meta page of page size ps at slot; 0 valid, -1 invalid,
 * LDB_INVALID for a newer format. */
static int decode_meta(const uint8_t *pg, uint32_t ps, uint64_t slot,
                       meta *mt) {
  const uint8_t *p = pg + HDR;
  if (ldb_get64(p) != BT_MAGIC) return -1;
  if (ldb_get32(p + 12) != ps || pg[4] != PT_META) return -1;
  if (!pager_verify(pg, ps, slot)) return -1;
  /* Only an intact page can claim a newer format (a flipped byte in the
   * version field is damage, not a newer file). */
  if (ldb_get32(p + 8) > LDB_FORMAT_VERSION)
    return ldb_err(LDB_INVALID, "data file format %u is newer than %u",
                   ldb_get32(p + 8), LDB_FORMAT_VERSION);
  mt->ps = ps;
  mt->counter = ldb_get64(p + 16);
  mt->root = ldb_get64(p + 24);
  mt->height = ldb_get32(p + 32);
  mt->count = ldb_get64(p + 40);
  mt->seq = ldb_get64(p + 48);
  mt->page_count = ldb_get64(p + 56);
  mt->fl_head = ldb_get64(p + 64);
  mt->fl_count = ldb_get64(p + 72);
  mt->fl_npages = ldb_get64(p + 80);
  mt->fl_recent = ldb_get64(p + 88);
  if ((mt->counter & 1) != slot || mt->fl_recent > mt->fl_count) return -1;
  if (mt->page_count < 2 || mt->page_count > UINT32_MAX ||
      mt->root >= mt->page_count || mt->height > BT_MAX_HEIGHT ||
      (mt->root == 0) != (mt->height == 0) || mt->fl_head >= mt->page_count ||
      (mt->root == 1))
    return -1;
  return 0;
}

/* Reads both meta slots and picks the newest valid one. *bad is the slot
 * whose page is invalid while the other is valid (-1 when both are valid,
 * or neither). */
static int read_meta(ldb_file *file, uint64_t size, const ldb_allocator *a,
                     meta *out, int *bad, meta *older) {
  uint8_t *buf = ldb_malloc(a, LDB_MAX_PAGE_SIZE);
  if (!buf) return LDB_NOMEM;
  meta m0, m1;
  bool v0 = false, v1 = false;
  int rc = LDB_OK;
  uint32_t ps0 = 0;
  if (size >= 512 && (rc = ldb_fread_full(file, 0, buf, 512)) == LDB_OK) {
    uint32_t ps = ldb_get32(buf + HDR + 12);
    if (ps >= LDB_MIN_PAGE_SIZE && ps <= LDB_MAX_PAGE_SIZE &&
        !(ps & (ps - 1)) && size >= ps) {
      if ((rc = ldb_fread_full(file, 0, buf, ps))) goto out;
      int r = decode_meta(buf, ps, 0, &m0);
      if (r > 0) {
        rc = r;
        goto out;
      }
      if (r == 0) {
        v0 = true;
        ps0 = ps;
      }
    }
  } else if (rc) {
    goto out;
  }
  for (uint32_t ps = LDB_MIN_PAGE_SIZE; ps <= LDB_MAX_PAGE_SIZE; ps <<= 1) {
    if (v0 && ps != ps0) continue;
    if (size < 2 * (uint64_t)ps) break;
    if ((rc = ldb_fread_full(file, ps, buf, ps))) goto out;
    int r = decode_meta(buf, ps, 1, &m1);
    if (r > 0) {
      rc = r;
      goto out;
    }
    if (r == 0) {
      v1 = true;
      break;
    }
  }
  if (!v0 && !v1) {
    /* Creation writes and syncs slot 1, then writes slot 0 and syncs; no
     * later write leaves slot 0's first sector zero. So a file without a
     * valid meta whose first sector is zero (or missing) was never
     * completely created (power loss during creation): report it as empty
     * (ps 0) rather than damaged. */
    bool zero = true;
    if (size >= 512) {
      if ((rc = ldb_fread_full(file, 0, buf, 512))) goto out;
      for (int i = 0; i < 512 && zero; i++)
        zero = buf[i] == 0;
    }
    if (zero) {
      memset(out, 0, sizeof *out);
      goto out;
    }
    rc = ldb_err(LDB_CORRUPT, "data file: neither meta page is valid");
    goto out;
  }
  *out = (v0 && (!v1 || m0.counter > m1.counter)) ? m0 : m1;
  *bad = v0 && v1 ? -1 : v0 ? 1 : 0;
  /* the older valid one (counter 0 when there is none) */
  memset(older, 0, sizeof *older);
  if (v0 && v1) *older = m0.counter > m1.counter ? m1 : m0;
out:
  ldb_mfree(a, buf);
  return rc;
}

static int load_freelist(bt_file *f, uint64_t head, uint64_t count,
                         uint64_t npages) {
  uint8_t *buf = ldb_malloc(f->a, f->ps);
  if (!buf) return LDB_NOMEM;
  int rc = LDB_OK;
  uint64_t pgno = head, got = 0, pages = 0;
  while (pgno) {
    if (pgno < 2 || pgno >= f->page_count || ++pages > npages) {
      rc = ldb_err(LDB_CORRUPT, "free list points at page %llu",
                   (unsigned long long)pgno);
      goto out;
    }
    if ((rc = pager_read_direct(f->pg, pgno, buf))) goto out;
    uint32_t cnt = ldb_get32(buf + 12);
    if (buf[4] != PT_FREE || cnt > (f->ps - HDR) / 4 || got + cnt > count) {
      rc = ldb_err(LDB_CORRUPT, "page %llu: bad free-list page",
                   (unsigned long long)pgno);
      goto out;
    }
    if ((rc = vpush(f->a, &f->fl_pages, (uint32_t)pgno))) goto out;
    for (uint32_t i = 0; i < cnt; i++) {
      uint32_t p = ldb_get32(buf + HDR + 4 * i);
      if (p < 2 || p >= f->page_count) {
        rc = ldb_err(LDB_CORRUPT, "free list names page %u", p);
        goto out;
      }
      if ((rc = vpush(f->a, &f->reusable, p))) goto out;
    }
    got += cnt;
    pgno = ldb_get32(buf + 8);
  }
  if (got != count || pages != npages)
    rc = ldb_err(LDB_CORRUPT, "free list holds %llu pages, meta says %llu",
                 (unsigned long long)got, (unsigned long long)count);
out:
  ldb_mfree(f->a, buf);
  return rc;
}

static int rebuild_free(bt_file *f, const meta *cur, const meta *older);

/* *ok: the len (< 512) bytes of a data file without a valid meta page are
 * what power loss during its creation can leave: zeros, or the start of a
 * new file's slot-0 meta page (of any page size). */
static int creation_leftover(ldb_file *file, size_t len, const ldb_allocator *a,
                             bool *ok) {
  uint8_t head[512];
  int rc = ldb_fread_full(file, 0, head, len);
  if (rc) return rc;
  *ok = true;
  for (size_t i = 0; i < len && *ok; i++)
    *ok = head[i] == 0;
  if (*ok) return LDB_OK;
  uint8_t *pg = ldb_malloc(a, LDB_MAX_PAGE_SIZE);
  if (!pg) return LDB_NOMEM;
  bt_file tmp; /* encode_meta reads only ps */
  memset(&tmp, 0, sizeof tmp);
  for (uint32_t ps = LDB_MIN_PAGE_SIZE; ps <= LDB_MAX_PAGE_SIZE && !*ok;
       ps <<= 1) {
    tmp.ps = ps;
    encode_meta(&tmp, pg, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0);
    pager_seal(pg, ps, 0);
    *ok = !memcmp(pg, head, len);
  }
  ldb_mfree(a, pg);
  return LDB_OK;
}

/* What to do instead, in the messages of a data file that is damaged
 * beyond its meta pages. */
#define BT_LOST_ADVICE                                                         \
  "It is left as it is: restore it from a backup. A read-write open with "     \
  "the salvage option starts a new data file instead and replays the "         \
  "log from its first record: every commit comes back only if the log "        \
  "still holds them all (else the database opens empty)"

int bt_open(ldb_store *store, const bt_config *cfg, bt_file **out,
            int *created) {
  const ldb_allocator *a = cfg->allocator;
  *out = NULL;
  if (created) *created = 0;
  ldb_file *file = NULL;
  bt_file *f = NULL;
  uint8_t *buf = NULL;
  char why[64];
  int flags = (cfg->create && !cfg->read_only) ? LDB_STORE_CREATE : 0;
  /* Looks before it creates: beside a log, a missing file is damage. */
  int rc =
      ldb_fopen(store, BT_FILE_NAME, cfg->created_before ? 0 : flags, &file);
  if (rc == LDB_NOTFOUND && cfg->created_before) {
    if (cfg->created_before(store, why, sizeof why))
      return ldb_err(LDB_CORRUPT,
                     "data file %s is missing, but the log (%s) shows that "
                     "the database was created: the file was deleted, and "
                     "creating a new one would lose its data. " BT_LOST_ADVICE,
                     BT_FILE_NAME, why);
    if (flags) rc = ldb_fopen(store, BT_FILE_NAME, flags, &file);
  }
  if (rc) return rc;
  uint64_t size;
  if ((rc = ldb_fsize(file, &size))) goto fail;
  meta mt = {0}, older = {0};
  int bad = -1;
  bool fresh = size == 0;
  if (!fresh) {
    if ((rc = read_meta(file, size, a, &mt, &bad, &older))) goto fail;
    fresh = mt.ps == 0; /* never completely created */
    bool leftover = true;
    if (fresh && size < 512 &&
        (rc = creation_leftover(file, (size_t)size, a, &leftover)))
      goto fail;
    if (!leftover && !(cfg->replace_damaged && flags)) {
      rc = ldb_err(LDB_CORRUPT,
                   "data file %s is %llu bytes, shorter than a meta page, "
                   "and holds bytes that no interrupted creation leaves "
                   "(only zeros or the start of a new file's meta page): it "
                   "was cut or overwritten. " BT_LOST_ADVICE,
                   BT_FILE_NAME, (unsigned long long)size);
      goto fail;
    }
    /* Every page below the newest meta page's page count was written and
     * synced before that meta page, and the file is only ever cut down to
     * it: a shorter file was truncated. Found here, not at the first read
     * of a missing page (or the checkpoint that cannot rewrite it). Only
     * when both meta pages are valid (the newest is known) or slot 1 is
     * missing altogether: the older meta page alone may name free pages
     * past the end that a later commit cut off. */
    uint64_t want = mt.page_count * (uint64_t)mt.ps;
    if (!fresh && size < want && (bad == -1 || size < 2 * (uint64_t)mt.ps)) {
      rc = ldb_err(LDB_CORRUPT,
                   "data file %s is truncated: it is %llu bytes, its meta "
                   "page says %llu pages of %u bytes (%llu bytes). Restore "
                   "it from a backup",
                   BT_FILE_NAME, (unsigned long long)size,
                   (unsigned long long)mt.page_count, (unsigned)mt.ps,
                   (unsigned long long)want);
      goto fail;
    }
  }
  if (fresh && cfg->created_before &&
      cfg->created_before(store, why, sizeof why)) {
    rc = ldb_err(LDB_CORRUPT,
                 "data file %s is %llu bytes without a valid meta page, but "
                 "the log (%s) shows that the database was created "
                 "completely before: the file was cut or overwritten, and "
                 "creating a new one would lose its data. " BT_LOST_ADVICE,
                 BT_FILE_NAME, (unsigned long long)size, why);
    goto fail;
  }
  if (fresh) {
    if (!cfg->create || cfg->read_only) {
      rc = ldb_err(LDB_NOTFOUND, "data file is empty");
      goto fail;
    }
    if (size && (rc = ldb_ftruncate(file, 0))) goto fail;
    uint32_t ps = cfg->page_size ? cfg->page_size : 4096;
    if (ps < LDB_MIN_PAGE_SIZE || ps > LDB_MAX_PAGE_SIZE || (ps & (ps - 1))) {
      rc = ldb_err(LDB_INVALID,
                   "page size %u is not a power of two in "
                   "512..65536",
                   ps);
      goto fail;
    }
    memset(&mt, 0, sizeof mt);
    mt.ps = ps;
    mt.counter = 1;
    mt.page_count = 2;
  }
  f = ldb_calloc(a, sizeof *f);
  if (!f) {
    rc = LDB_NOMEM;
    goto fail;
  }
  f->file = file;
  f->a = a;
  f->ps = mt.ps;
  f->cap = mt.ps - HDR;
  f->maxcell = f->cap / 4 - SLOT;
  f->kmax = f->maxcell - 22;
  f->codec = cfg->compression;
  f->level = cfg->compression_level;
  f->read_only = cfg->read_only;
  f->counter = mt.counter;
  f->page_count = mt.page_count;
  f->meta_page_count = mt.page_count;
  f->fl_head = mt.fl_head;
  f->fl_count = mt.fl_count;
  f->meta_bad = fresh ? -1 : bad;
  ldb_mutex_init(&f->mu);
  ldb_mutex_init(&f->meta_mu);
  if ((rc = pager_open(file, f->ps, cfg->cache_size, cfg->map_size, a,
                       &f->pg))) {
    ldb_mutex_destroy(&f->mu);
    ldb_mutex_destroy(&f->meta_mu);
    ldb_mfree(a, f);
    f = NULL;
    goto fail;
  }
  if (cfg->map_unbounded) pager_map_bound(f->pg, false);
  if (fresh) {
    if (!(buf = ldb_malloc(a, f->ps))) {
      rc = LDB_NOMEM;
      goto fail;
    }
    /* Slot 1 first, durable before slot 0 is written: see read_meta. */
    for (uint64_t s = 2; s-- > 0;) {
      encode_meta(f, buf, s, 0, 0, 0, 0, 2, 0, 0, 0, 0);
      if ((rc = pager_write(f->pg, s, buf, false))) goto fail;
      if ((rc = pager_sync(f->pg))) goto fail;
    }
    if (created) *created = 1;
  } else if ((rc = load_freelist(f, mt.fl_head, mt.fl_count, mt.fl_npages)) ==
             LDB_OK) {
    /* The previous version's pages (listed last) stay pending until the
     * next commit: the older meta page may still be needed. */
    if (mt.fl_recent) {
      pend_batch *b = ldb_calloc(a, sizeof *b);
      if (!b) {
        rc = LDB_NOMEM;
        goto fail;
      }
      size_t keep = f->reusable.n - (size_t)mt.fl_recent;
      u32vec tail = {f->reusable.v + keep, (size_t)mt.fl_recent, 0};
      b->version = mt.counter;
      if ((rc = vappend(a, &b->pages, &tail))) {
        ldb_mfree(a, b);
        goto fail;
      }
      f->reusable.n = keep;
      f->pend = f->pend_tail = b;
    }
    sort_free(&f->reusable);
  } else {
    if (rc != LDB_CORRUPT) goto fail;
    /* A damaged free list must not make intact data unreachable: find the
     * free pages by walking the tree instead (the damage stays visible to
     * bt_check until the next commit writes a new list). */
    vfree(a, &f->fl_pages);
    vfree(a, &f->reusable);
    rc = rebuild_free(f, &mt, &older);
    if (rc == LDB_NOMEM) goto fail;
    if (rc != LDB_OK) vfree(a, &f->reusable); /* damaged tree: leak them */
    sort_free(&f->reusable);
    rc = LDB_OK;
  }
  f->current = tree_new(f, mt.counter, mt.root, mt.height, mt.count, mt.seq);
  if (!f->current) {
    rc = LDB_NOMEM;
    goto fail;
  }
  f->live = f->current;
  ldb_mfree(a, buf);
  *out = f;
  return LDB_OK;
fail:
  ldb_mfree(a, buf);
  if (f) {
    if (f->pend) {
      vfree(a, &f->pend->pages);
      ldb_mfree(a, f->pend);
    }
    vfree(a, &f->fl_pages);
    vfree(a, &f->reusable);
    pager_close(f->pg);
    ldb_mutex_destroy(&f->mu);
    ldb_mutex_destroy(&f->meta_mu);
    ldb_mfree(a, f);
  }
  ldb_fclose(file);
  return rc;
}

void bt_close(bt_file *f) {
  if (!f) return;
  /* Release the file's own reference; any other live tree is a caller
   * bug, but free them anyway so nothing leaks. */
  while (f->live) {
    bt_tree *t = f->live;
    f->live = t->next;
    ldb_mfree(f->a, t);
  }
  while (f->pend) {
    pend_batch *b = f->pend;
    f->pend = b->next;
    vfree(f->a, &b->pages);
    ldb_mfree(f->a, b);
  }
  vfree(f->a, &f->fl_pages);
  vfree(f->a, &f->reusable);
  pager_close(f->pg);
  ldb_fclose(f->file);
  ldb_mutex_destroy(&f->mu);
  ldb_mutex_destroy(&f->meta_mu);
  ldb_mfree(f->a, f);
}

int bt_damaged_meta(const bt_file *f) {
  return f->meta_bad;
}

int bt_sync(bt_file *f) {
  return pager_sync(f->pg);
}

void bt_set_compression(bt_file *f, int codec, int level) {
  __atomic_store_n(&f->codec, codec, __ATOMIC_RELAXED);
  __atomic_store_n(&f->level, level, __ATOMIC_RELAXED);
}

uint64_t bt_cache_borrow(bt_file *f, uint64_t want) {
  return pager_borrow(f->pg, want);
}

void bt_cache_repay(bt_file *f, uint64_t bytes) {
  pager_repay(f->pg, bytes);
}

void bt_stats_get(bt_file *f, bt_stats *out) {
  pager_stats ps;
  pager_stats_get(f->pg, &ps);
  memset(out, 0, sizeof *out);
  out->cache_hits = ps.hits;
  out->cache_misses = ps.misses;
  out->cache_evictions = ps.evictions;
  out->cache_bytes = ps.cache_bytes;
  out->cache_capacity = ps.cache_capacity;
  out->mmap_bytes = ps.map_bytes;
  out->mmap_sampled_resident = ps.map_resident;
  out->mmap_sampled_faults = ps.map_nonresident;
  out->mmap_resident_bytes = ps.map_resident_bytes;
  out->mmap_released_bytes = ps.map_released_bytes;
  out->bytes_read = ps.bytes_read;
  out->bytes_written = ps.bytes_written;
  out->syncs = ps.syncs;
  uint64_t size = 0;
  if (ldb_fsize(f->file, &size) == LDB_OK) out->file_size = size;
  ldb_mutex_lock(&f->mu);
  out->page_count = f->page_count;
  uint64_t fr = f->reusable.n;
  for (pend_batch *b = f->pend; b; b = b->next)
    fr += b->pages.n;
  out->free_pages = fr;
  ldb_mutex_unlock(&f->mu);
  for (int i = 0; i < 4; i++)
    out->codec_values[i] = atomic_load(&f->codec_values[i]);
  out->reads_corrupt = atomic_load(&f->reads_corrupt);
}

/* ---- integrity check ---------------------------------------------------- */

typedef struct checker {
  bt_file *f;
  uint8_t *seen; /* bitmap over page_count */
  uint64_t npages, keys;
  uint64_t leaf_pages, leaf_bytes, branch_pages, ovfl_pages; /* shape */
  uint8_t *pg;
  uint8_t *prev_key; /* last leaf key seen, across leaves */
  uint32_t prev_len;
  bool have_prev;
} checker;

static int mark(checker *k, uint64_t pgno, const char *what) {
  if (pgno >= k->npages)
    return ldb_err(LDB_CORRUPT, "%s page %llu is past the end (%llu pages)",
                   what, (unsigned long long)pgno,
                   (unsigned long long)k->npages);
  if (k->seen[pgno / 8] & (1u << (pgno % 8)))
    return ldb_err(LDB_CORRUPT, "page %llu is referenced twice (%s)",
                   (unsigned long long)pgno, what);
  k->seen[pgno / 8] |= (uint8_t)(1u << (pgno % 8));
  return LDB_OK;
}

static int check_chain(checker *k, uint32_t head, uint64_t len) {
  u32vec pages = {0};
  int rc = read_chain_direct(k->f, head, len, &pages);
  for (size_t i = 0; !rc && i < pages.n; i++)
    rc = mark(k, pages.v[i], "overflow");
  k->ovfl_pages += pages.n;
  vfree(k->f->a, &pages);
  return rc;
}

/* Checks the subtree at pgno; keys must lie in [lo, hi) (NULL = open). */
static int check_node(checker *k, uint64_t pgno, uint32_t depth,
                      uint32_t height, const uint8_t *lo, uint32_t lolen,
                      const uint8_t *hi, uint32_t hilen) {
  bt_file *f = k->f;
  int rc = mark(k, pgno, "tree");
  if (rc) return rc;
  bool leaf = depth == height;
  uint8_t *pg = ldb_malloc(f->a, f->ps);
  uint8_t *keys = ldb_malloc(f->a, 3 * (size_t)LDB_MAX_KEY_SIZE);
  if (!pg || !keys) {
    rc = LDB_NOMEM;
    goto out;
  }
  if ((rc = pager_read_direct(f->pg, pgno, pg)) ||
      (rc = check_page(f, pg, pgno, leaf ? PT_LEAF : PT_BRANCH)))
    goto out;
  uint32_t n = pg_n(pg);
  if (leaf)
    k->leaf_pages++;
  else
    k->branch_pages++;
  if (n == 0 && !(leaf && depth == 1)) {
    rc = ldb_err(LDB_CORRUPT, "page %llu: empty non-root page",
                 (unsigned long long)pgno);
    goto out;
  }
  uint8_t *cur = keys, *prev = keys + LDB_MAX_KEY_SIZE;
  uint8_t *first = keys + 2 * LDB_MAX_KEY_SIZE;
  uint32_t prevlen = 0;
  /* cell extents must not overlap the slot array (checked in cell_at) */
  for (uint32_t i = 0; i < n; i++) {
    cinfo ci = {0};
    if ((rc = cell_at(f, pg, pgno, i, leaf, &ci))) goto out;
    if (leaf) k->leaf_bytes += ci.size + SLOT;
    if ((ci.flags & F_KOVF) &&
        (rc = check_chain(k, ci.kovf, ci.klen - ci.kloc)))
      goto out;
    if ((rc = full_key(f, &ci, cur))) goto out;
    bool has_key = leaf || i > 0;
    if (has_key) {
      /* the search hints: shared prefix and per-slot hint */
      uint32_t plen = ldb_get16(pg + 8);
      if (i == (leaf ? 0u : 1u)) memcpy(first, cur, ci.klen);
      if (ci.klen < plen || memcmp(cur, first, plen) != 0 ||
          slot_hint(pg, i) != hint_of(cur, ci.klen, plen)) {
        rc = ldb_err(LDB_CORRUPT,
                     "page %llu: search hint of cell %u does "
                     "not match its key",
                     (unsigned long long)pgno, i);
        goto out;
      }
    }
    if (!leaf && i == 0 && ci.klen != 0) {
      rc = ldb_err(LDB_CORRUPT, "page %llu: first branch key not empty",
                   (unsigned long long)pgno);
      goto out;
    }
    if (has_key) {
      if ((i > (leaf ? 0u : 1u)) &&
          ldb_keycmp(prev, prevlen, cur, ci.klen) >= 0) {
        rc = ldb_err(LDB_CORRUPT, "page %llu: keys out of order at cell %u",
                     (unsigned long long)pgno, i);
        goto out;
      }
      if ((lo && ldb_keycmp(cur, ci.klen, lo, lolen) < 0) ||
          (hi && ldb_keycmp(cur, ci.klen, hi, hilen) >= 0)) {
        rc = ldb_err(LDB_CORRUPT,
                     "page %llu: key at cell %u outside the "
                     "bounds its parent gives",
                     (unsigned long long)pgno, i);
        goto out;
      }
    }
    if (leaf) {
      if (k->have_prev &&
          ldb_keycmp(k->prev_key, k->prev_len, cur, ci.klen) >= 0) {
        rc = ldb_err(LDB_CORRUPT,
                     "page %llu: first key not after the "
                     "previous leaf's last",
                     (unsigned long long)pgno);
        goto out;
      }
      memcpy(k->prev_key, cur, ci.klen);
      k->prev_len = ci.klen;
      k->have_prev = true;
      k->keys++;
      if ((ci.flags & F_VOVF) && (rc = check_chain(k, ci.vovf, ci.vlen)))
        goto out;
      if (ci.flags & F_COMP) {
        uint8_t *whole = NULL;
        if ((rc = cell_value(f, &ci, NULL, &whole))) goto out;
        ldb_mfree(f->a, whole);
      }
    } else {
      /* child bounds: [key_i or lo, key_{i+1} or hi) */
      const uint8_t *clo = i ? cur : lo;
      uint32_t clolen = i ? ci.klen : lolen;
      uint8_t *nk = NULL;
      uint32_t nklen = 0;
      const uint8_t *chi = hi;
      uint32_t chilen = hilen;
      if (i + 1 < n) {
        cinfo cn;
        nk = ldb_malloc(f->a, LDB_MAX_KEY_SIZE);
        if (!nk) {
          rc = LDB_NOMEM;
          goto out;
        }
        if ((rc = cell_at(f, pg, pgno, i + 1, 0, &cn)) ||
            (rc = full_key(f, &cn, nk))) {
          ldb_mfree(f->a, nk);
          goto out;
        }
        nklen = cn.klen;
        chi = nk;
        chilen = nklen;
      }
      uint8_t *clocopy = NULL;
      if (i) {
        clocopy = ldb_memdup(f->a, cur, ci.klen);
        if (!clocopy) {
          ldb_mfree(f->a, nk);
          rc = LDB_NOMEM;
          goto out;
        }
        clo = clocopy;
      }
      rc = check_node(k, ci.child, depth + 1, height, clo, clolen, chi, chilen);
      ldb_mfree(f->a, clocopy);
      ldb_mfree(f->a, nk);
      if (rc) goto out;
    }
    uint8_t *t = prev;
    prev = cur;
    cur = t;
    prevlen = ci.klen;
  }
out:
  ldb_mfree(f->a, pg);
  ldb_mfree(f->a, keys);
  return rc;
}

static int check_prev_node(checker *k, const uint8_t *cur_seen, uint64_t pgno,
                           uint32_t depth, uint32_t height, uint64_t mslot,
                           u32vec *held);

/* Every page below the logical end that the current tree does not reach
 * (and that is not a meta page) becomes free: the pages only the previous
 * version (older, when it is the current one's predecessor) reaches stay
 * pending until the next commit, as a loaded free list keeps them; the
 * rest are reusable. */
static int rebuild_free(bt_file *f, const meta *cur, const meta *older) {
  uint64_t root = cur->root;
  uint32_t height = cur->height;
  u32vec held = {0};
  checker k = {0};
  k.f = f;
  k.npages = f->page_count;
  int rc = LDB_OK;
  k.seen = ldb_calloc(f->a, k.npages / 8 + 1);
  k.prev_key = ldb_malloc(f->a, LDB_MAX_KEY_SIZE);
  if (!k.seen || !k.prev_key) {
    rc = LDB_NOMEM;
    goto out;
  }
  if ((rc = mark(&k, 0, "meta")) || (rc = mark(&k, 1, "meta"))) goto out;
  if (root && (rc = check_node(&k, root, 1, height, NULL, 0, NULL, 0)))
    goto out;
  if (older->root && older->counter + 1 == cur->counter) {
    rc = check_prev_node(&k, k.seen, older->root, 1, older->height,
                         older->counter & 1, &held);
    if (rc == LDB_NOMEM) goto out;
    if (rc) held.n = 0; /* a damaged previous version: nothing to keep */
    rc = LDB_OK;
  }
  for (size_t i = 0; i < held.n; i++)
    k.seen[held.v[i] / 8] |= (uint8_t)(1u << (held.v[i] % 8));
  for (uint64_t p = 2; p < k.npages && !rc; p++)
    if (!(k.seen[p / 8] & (1u << (p % 8))))
      rc = vpush(f->a, &f->reusable, (uint32_t)p);
  if (!rc && held.n) {
    pend_batch *b = ldb_calloc(f->a, sizeof *b);
    if (!b) {
      rc = LDB_NOMEM;
      goto out;
    }
    b->version = cur->counter;
    b->pages = held;
    held.v = NULL;
    held.n = held.cap = 0;
    f->pend = f->pend_tail = b;
  }
out:
  vfree(f->a, &held);
  ldb_mfree(f->a, k.seen);
  ldb_mfree(f->a, k.prev_key);
  return rc;
}

/* Reads meta slot `slot` for the check and decodes it; LDB_CORRUPT naming
 * the page when it is unreadable or invalid. */
static int check_meta_page(bt_file *f, uint8_t *pg, uint64_t slot, meta *out) {
  int rc = pager_read_direct(f->pg, slot, pg);
  if (rc == LDB_CORRUPT)
    return ldb_err(LDB_CORRUPT,
                   "meta page %llu is damaged (checksum mismatch or short); "
                   "a writable open or the next checkpoint rewrites it",
                   (unsigned long long)slot);
  if (rc) return rc;
  int r = decode_meta(pg, f->ps, slot, out);
  if (r > 0) return r;
  if (r)
    return ldb_err(LDB_CORRUPT, "meta page %llu is damaged: invalid fields",
                   (unsigned long long)slot);
  return LDB_OK;
}

/* Verifies the subtree at pgno of the previous version (the one the older
 * meta page names). Subtrees the current version shares (cur_seen) were
 * checked with it; the rest are free pages kept for recovery from the
 * older meta page, so each must still read back intact. */
static int check_prev_node(checker *k, const uint8_t *cur_seen, uint64_t pgno,
                           uint32_t depth, uint32_t height, uint64_t mslot,
                           u32vec *held) {
  bt_file *f = k->f;
  if (pgno < 2 || pgno >= k->npages)
    return ldb_err(LDB_CORRUPT,
                   "the version on meta page %llu names page %llu, outside "
                   "the tree's pages",
                   (unsigned long long)mslot, (unsigned long long)pgno);
  if (cur_seen[pgno / 8] & (1u << (pgno % 8))) return LDB_OK;
  bool leaf = depth == height;
  if (held && vpush(f->a, held, (uint32_t)pgno)) return LDB_NOMEM;
  uint8_t *pg = ldb_malloc(f->a, f->ps);
  if (!pg) return LDB_NOMEM;
  int rc = pager_read_direct(f->pg, pgno, pg);
  if (!rc) rc = check_page(f, pg, pgno, leaf ? PT_LEAF : PT_BRANCH);
  for (uint32_t i = 0, n = pg_n(pg); !rc && i < n; i++) {
    cinfo ci = {0};
    if ((rc = cell_at(f, pg, pgno, i, leaf, &ci))) break;
    if ((ci.flags & F_KOVF) &&
        !(ci.kovf < k->npages &&
          (cur_seen[ci.kovf / 8] & (1u << (ci.kovf % 8)))))
      rc = read_chain_direct(f, ci.kovf, ci.klen - ci.kloc, held);
    if (!rc && (ci.flags & F_VOVF) &&
        !(ci.vovf < k->npages &&
          (cur_seen[ci.vovf / 8] & (1u << (ci.vovf % 8)))))
      rc = read_chain_direct(f, ci.vovf, ci.vlen, held);
    if (!rc && !leaf)
      rc = check_prev_node(k, cur_seen, ci.child, depth + 1, height, mslot,
                           held);
  }
  ldb_mfree(f->a, pg);
  if (rc == LDB_CORRUPT) {
    char detail[200];
    snprintf(detail, sizeof detail, "%s", ldb_err_get());
    rc = ldb_err(LDB_CORRUPT,
                 "%s (a free page kept for recovery from meta page %llu)",
                 detail, (unsigned long long)mslot);
  }
  return rc;
}

/* Both meta pages and the version the older one names: the newer must be
 * the current version, the older its predecessor, and every page that
 * predecessor reaches must read back intact (recovery falls back to it
 * when the newer meta page is damaged). cur_seen: pages of the current
 * tree; prev_pages receives the pages only the predecessor reaches. Called with
 * meta_mu held, so no commit writes a meta page now. */
static int check_metas(checker *k, const uint8_t *cur_seen, const bt_tree *t,
                       u32vec *prev_pages) {
  bt_file *f = k->f;
  uint8_t *pg = ldb_malloc(f->a, f->ps);
  if (!pg) return LDB_NOMEM;
  meta cur, prev;
  uint64_t cslot = t->version & 1, pslot = 1 - cslot;
  int rc = check_meta_page(f, pg, cslot, &cur);
  if (!rc && (cur.counter != t->version || cur.root != t->root ||
              cur.count != t->count))
    rc = ldb_err(LDB_CORRUPT,
                 "meta page %llu does not describe the current version",
                 (unsigned long long)cslot);
  if (!rc) rc = check_meta_page(f, pg, pslot, &prev);
  /* A commit whose meta write failed may have left counter + 1 there; the
   * next commit overwrites it, and it is not a fallback for this one. */
  if (!rc && prev.counter == t->version + 1) goto out;
  if (!rc && prev.counter + 1 != t->version)
    rc =
        ldb_err(LDB_CORRUPT, "meta page %llu holds version %llu, expected %llu",
                (unsigned long long)pslot, (unsigned long long)prev.counter,
                (unsigned long long)(t->version - 1));
  if (!rc && prev.root)
    rc = check_prev_node(k, cur_seen, prev.root, 1, prev.height, pslot,
                         prev_pages);
  /* The older version's free-list pages are not required: a reopen at
   * that meta page rebuilds a damaged free list from the tree. */
out:
  ldb_mfree(f->a, pg);
  return rc;
}

static void set_bit(uint8_t *bits, uint64_t p) {
  bits[p / 8] |= (uint8_t)(1u << (p % 8));
}

/* The checksum of every free page that no meta page reaches (below the
 * end, neither in the current tree (tree_seen) nor the previous version
 * (prev), nor a free-list page (fl)): damage there is harmless, so it is
 * counted in res, never an error. A merge begun since merges0 may have
 * written some of them meanwhile (torn reads): then nothing is counted and
 * res->free_skipped says so. */
static int check_free_pages(checker *k, const uint8_t *tree_seen,
                            const u32vec *prev, const u32vec *fl,
                            uint64_t merges0, ldb_check_result *res) {
  bt_file *f = k->f;
  size_t nbytes = k->npages / 8 + 1;
  uint8_t *skip = ldb_memdup(f->a, tree_seen, nbytes);
  uint8_t *pg = ldb_malloc(f->a, f->ps);
  int rc = LDB_OK;
  if (!skip || !pg) {
    rc = LDB_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < prev->n; i++)
    if (prev->v[i] < k->npages) set_bit(skip, prev->v[i]);
  for (size_t i = 0; i < fl->n; i++)
    if (fl->v[i] < k->npages) set_bit(skip, fl->v[i]);
  uint64_t checked = 0, damaged = 0;
  uint64_t listed[LDB_CHECK_LISTED];
  for (uint64_t p = 2; p < k->npages; p++) {
    if (skip[p / 8] & (1u << (p % 8))) continue;
    checked++;
    int r = pager_read_direct(f->pg, p, pg);
    if (r == LDB_CORRUPT) {
      if (damaged < LDB_CHECK_LISTED) listed[damaged] = p;
      damaged++;
    } else if (r) {
      rc = r;
      goto out;
    }
  }
  ldb_mutex_lock(&f->mu);
  bool raced = f->merging || f->merges != merges0;
  ldb_mutex_unlock(&f->mu);
  if (raced) {
    res->free_skipped = 1;
    goto out;
  }
  res->free_checked = checked;
  res->free_damaged = damaged;
  for (uint64_t i = 0; i < damaged && i < LDB_CHECK_LISTED; i++)
    res->free_damaged_pages[i] = listed[i];
out:
  ldb_mfree(f->a, skip);
  ldb_mfree(f->a, pg);
  return rc;
}

int bt_check(bt_file *f) {
  ldb_check_result res;
  memset(&res, 0, sizeof res);
  return bt_check_report(f, &res);
}

int bt_check_report(bt_file *f, ldb_check_result *res) {
  checker k = {0};
  k.f = f;
  u32vec mem_free = {0}, prev_pages = {0}, fl_list = {0};
  uint8_t *tree_seen = NULL;
  int rc = LDB_OK;
  /* The version and the free-page state are taken under one lock so they
   * match (commits install both under it); meta_mu keeps both meta pages
   * and the previous version's pages still until the check ends. */
  ldb_mutex_lock(&f->meta_mu);
  ldb_mutex_lock(&f->mu);
  bt_tree *t = f->current;
  __atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
  k.npages = f->page_count;
  res->pages = k.npages;
  uint64_t merges0 = f->merges;
  uint64_t meta_pc = f->meta_page_count, fl_head = f->fl_head,
           fl_count = f->fl_count;
  if (!f->merging) {
    rc = vappend(f->a, &mem_free, &f->reusable);
    for (pend_batch *b = f->pend; b && !rc; b = b->next)
      rc = vappend(f->a, &mem_free, &b->pages);
  }
  bool merging = f->merging;
  ldb_mutex_unlock(&f->mu);
  if (rc) goto out;
  k.seen = ldb_calloc(f->a, k.npages / 8 + 1);
  k.prev_key = ldb_malloc(f->a, LDB_MAX_KEY_SIZE);
  if (!k.seen || !k.prev_key) {
    rc = LDB_NOMEM;
    goto out;
  }
  if ((rc = mark(&k, 0, "meta")) || (rc = mark(&k, 1, "meta"))) goto out;
  if (t->root) {
    if ((rc = check_node(&k, t->root, 1, t->height, NULL, 0, NULL, 0)))
      goto out;
  }
  res->leaf_pages = k.leaf_pages;
  res->leaf_bytes = k.leaf_bytes;
  res->branch_pages = k.branch_pages;
  res->overflow_pages = k.ovfl_pages;
  if (k.keys != t->count) {
    rc = ldb_err(LDB_CORRUPT, "tree holds %llu keys, meta says %llu",
                 (unsigned long long)k.keys, (unsigned long long)t->count);
    goto out;
  }
  /* pages reachable from the tree (and the metas), for the in-memory
   * free set below */
  tree_seen = ldb_memdup(f->a, k.seen, k.npages / 8 + 1);
  if (!tree_seen) {
    rc = LDB_NOMEM;
    goto out;
  }
  if ((rc = check_metas(&k, tree_seen, t, &prev_pages))) goto out;
  /* the persisted free list */
  {
    uint8_t *pg = ldb_malloc(f->a, f->ps);
    if (!pg) {
      rc = LDB_NOMEM;
      goto out;
    }
    uint64_t pgno = fl_head, got = 0;
    while (pgno && !rc) {
      if ((rc = mark(&k, pgno, "free-list"))) break;
      if ((rc = vpush(f->a, &fl_list, (uint32_t)pgno))) break;
      if ((rc = pager_read_direct(f->pg, pgno, pg))) break;
      uint32_t cnt = ldb_get32(pg + 12);
      if (pg[4] != PT_FREE || cnt > (f->ps - HDR) / 4) {
        rc = ldb_err(LDB_CORRUPT, "page %llu: bad free-list page",
                     (unsigned long long)pgno);
        break;
      }
      for (uint32_t i = 0; i < cnt && !rc; i++) {
        uint32_t p = ldb_get32(pg + HDR + 4 * i);
        if (p >= meta_pc)
          rc = ldb_err(LDB_CORRUPT, "free list names page %u past the end", p);
        else
          rc = mark(&k, p, "free");
      }
      got += cnt;
      pgno = ldb_get32(pg + 8);
    }
    ldb_mfree(f->a, pg);
    if (rc) goto out;
    if (got != fl_count) {
      rc = ldb_err(LDB_CORRUPT, "free list holds %llu pages, meta says %llu",
                   (unsigned long long)got, (unsigned long long)fl_count);
      goto out;
    }
  }
  if (merging) {
    /* the merge owns pages not yet accounted, and writes free pages */
    res->free_skipped = 1;
    goto out;
  }
  /* pages freed since (rolled-back merges, pending) live in memory only;
   * they may repeat persisted free pages but never tree pages */
  for (size_t i = 0; i < mem_free.n; i++) {
    uint64_t p = mem_free.v[i];
    if (p >= k.npages) {
      rc = ldb_err(LDB_CORRUPT, "free page %llu past the end",
                   (unsigned long long)p);
      goto out;
    }
    if (tree_seen[p / 8] & (1u << (p % 8))) {
      rc = ldb_err(LDB_CORRUPT, "page %llu is both free and in use",
                   (unsigned long long)p);
      goto out;
    }
    k.seen[p / 8] |= (uint8_t)(1u << (p % 8));
  }
  for (uint64_t p = 0; p < k.npages; p++) {
    if (!(k.seen[p / 8] & (1u << (p % 8)))) {
      rc = ldb_err(LDB_CORRUPT,
                   "page %llu is leaked: neither in the tree "
                   "nor free",
                   (unsigned long long)p);
      goto out;
    }
  }
  rc = check_free_pages(&k, tree_seen, &prev_pages, &fl_list, merges0, res);
out:
  ldb_mfree(f->a, k.seen);
  ldb_mfree(f->a, k.prev_key);
  ldb_mfree(f->a, tree_seen);
  vfree(f->a, &mem_free);
  vfree(f->a, &prev_pages);
  vfree(f->a, &fl_list);
  bt_tree_release(t);
  ldb_mutex_unlock(&f->meta_mu);
  return rc;
}
