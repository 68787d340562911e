/*
 * memtable.c — the concurrent-read skip list of versions (see memtable.h).
 * Owns its arena blocks and its reference on the successor memtable.
 */
#include "memtable.h"

#include <stdatomic.h>

#ifdef LDB_MT_RACE_HOOK
/* Tests only: called by a lookup between loading the index and the tail. */
void LDB_MT_RACE_HOOK(void);
#endif
#ifdef LDB_MT_INSERT_HOOK
/* Tests only: called by mt_insert once the new node n is linked on level 0
 * and before it is linked on the levels above (a reader may meet n then). */
void LDB_MT_INSERT_HOOK(const mt_node *n);
#endif

#define MT_MAX_HEIGHT 12
/* How far (in nodes, estimated) mt_scan_ahead keeps ahead of a scan. */
#define MT_AHEAD_NODES 32

struct mt_node {
  uint64_t seq;
  uint32_t klen;
  uint32_t vlen;
  uint8_t type;
  uint8_t height;
  /* Level-0 predecessor (NULL for the first node). Set before the node is
   * published and updated on the successor (release) after it is linked,
   * so it may briefly skip a node that is being inserted: such a node's
   * seq is newer than every reader's snapshot (commits become visible only
   * after their insert), so iterating backward never misses a visible
   * version. */
  _Atomic(mt_node *) prev;
  /* next[height], then key bytes, then value bytes. Lifetime rule: every
   * field and every one of the height links is written before the node is
   * published on its first level (the release store on level 0), so a
   * reader holding the node may read any of them, whichever level it met
   * the node on. Arena memory is never zeroed: a block may come from the
   * pool with an old memtable's nodes in it, so an unset link is garbage,
   * not NULL. */
  _Atomic(mt_node *) next[];
};

typedef struct mt_block {
  struct mt_block *next;
  size_t size;
} mt_block;

struct mt_pool {
  const ldb_allocator *a;
  _Atomic int refs;
  size_t block_size, cap;
  ldb_mutex mu; /* guards free and bytes */
  mt_block *free;
  uint64_t bytes;
};

struct mt {
  const ldb_allocator *a;
  _Atomic int refs;
  mt *succ;
  mt_pool *pool; /* NULL: blocks come from the allocator and go back to it */
  size_t block_size;
  mt_block *blocks;
  uint8_t *pos, *end; /* free space in the newest block */
  /* A block mt_reserve allocated for inserts that may not fit in the rest
   * of the newest one; an insert that does not fit moves on to it, so a
   * block's unused tail is at most one node. */
  mt_block *spare;
  /* Heap bytes this memtable holds: blocks (spare included), index tables
   * (old ones included), filter, head and the struct itself. */
  _Atomic uint64_t mem;
  uint64_t rnd;       /* xorshift state for node heights (writer only) */
  _Atomic int height; /* current max height in use */
  _Atomic int dups;   /* some key has several versions */
  _Atomic uint64_t bytes, count;
  mt_node *head; /* sentinel with MT_MAX_HEIGHT links */
  /* Blocked bloom filter: 512-bit blocks; a key sets 4 bits in one block.
   * Bits are set before the node is published (release), so a reader that
   * can see a version can see its bits. */
  _Atomic uint64_t *bloom;
  uint64_t bloom_blocks; /* power of two; 0 = no filter */
  /* Hash index for point lookups (see mt_enable_index); NULL when off. */
  _Atomic(struct mt_index *) index;
  uint64_t index_keys; /* distinct keys in the index (writer only) */
  /* Writer only: the node inserted last and, at every level, the last node
   * at or before it (head where there is none). An insert of a larger
   * (key, seq) starts its search here instead of at the head's top level,
   * so a batch applied in ascending key order (commit.c) costs a few hops per
   * key instead of a full descent. Nodes are never removed, so the finger
   * stays valid for the memtable's lifetime. */
  mt_node *last;
  mt_node *finger[MT_MAX_HEIGHT];
  /* Writer only: the node at the end of the list (the largest key; NULL
   * while empty). mt_batch_begin's append test compares with it, not with
   * `last`: a batch after `last` but before later keys is no append, and
   * starting the unindexed tail there made every later insert below it
   * re-index the nodes from there on (quadratic under random puts). */
  mt_node *max;
  /* The unindexed tail (see mt_batch_begin): NULL, or a node such that
   * every version of a key sorting before tail's key is in the filter and
   * the index, and no version of a key at or after it is in either.
   * Readers look such keys up by a skip-list search. Set (release) before
   * the first unindexed node is linked and cleared (release) after every
   * one of them was indexed, so a reader that can see a version also sees
   * a tail covering it, or its index entry. */
  _Atomic(mt_node *) tail;
  uint64_t tail_count; /* versions inserted unindexed (writer only) */
  /* Writer only: nops of the last mt_reserve, the inserts about to come.
   * mt_batch_begin grows the index for them too when it indexes the tail:
   * mt_reserve grew it before the tail's keys took their slots. */
  uint64_t reserved_keys;
  int defer_next; /* the next insert starts the tail (writer only) */
};

/* Open-addressing (linear probing) table from a key to the first node of
 * that key in list order, i.e. its newest version. Slots only ever change
 * from NULL to a node or from a node to a newer version of the same key,
 * each with a release store made after the node is linked on level 0, so a
 * reader that finds a node can follow its level-0 links. Load factor stays
 * at most 1/2 (mt_reserve grows the table before the inserts that would
 * exceed it). A grown table replaces the old one by a release store; old
 * tables stay allocated (chained through `old`) until the memtable is
 * freed, because lock-free readers may still be probing them.
 * A slot holds the node's address with three bits of the key's hash in
 * its low bits (nodes are 8-byte aligned): a probe that meets another
 * key's slot usually tells from the tag alone, without loading that node
 * (a cache miss). */
typedef struct mt_index {
  struct mt_index *old;
  uint64_t mask;
  uint32_t shift;
  _Atomic uintptr_t slot[];
} mt_index;

#define MT_TAG_MASK ((uintptr_t)7)

static inline uintptr_t slot_pack(const mt_node *n, uint64_t h) {
  return (uintptr_t)n | (uintptr_t)(h & MT_TAG_MASK);
}
static inline mt_node *slot_node(uintptr_t v) {
  return (mt_node *)(v & ~MT_TAG_MASK);
}
static inline int slot_tag_is(uintptr_t v, uint64_t h) {
  return (v & MT_TAG_MASK) == (uintptr_t)(h & MT_TAG_MASK);
}

static inline uint64_t key_hash(const void *key, size_t klen) {
  const uint8_t *p = key;
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (klen * 0xff51afd7ed558ccdull);
  while (klen >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = (h ^ v) * 0x100000001b3ull;
    h ^= h >> 29;
    p += 8;
    klen -= 8;
  }
  uint64_t v = 0;
  if (klen) memcpy(&v, p, klen); /* p may be NULL for the empty key */
  h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 32;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 29;
  return h;
}

/* Writer only. A plain load and store, not an atomic OR: there is one
 * writer, and a locked read-modify-write would stall the insert on this
 * cache miss instead of letting it overlap with the skip-list search. */
static void bloom_add_h(mt *m, uint64_t h) {
  _Atomic uint64_t *b = m->bloom + (h & (m->bloom_blocks - 1)) * 8;
  uint64_t g = h >> 20;
  for (int i = 0; i < 4; i++, g >>= 9) {
    _Atomic uint64_t *w = &b[(g >> 6) & 7];
    atomic_store_explicit(
        w, atomic_load_explicit(w, memory_order_relaxed) | 1ull << (g & 63),
        memory_order_relaxed);
  }
}

static int bloom_may_h(const mt *m, uint64_t h) {
  if (!m->bloom_blocks) return 1;
  _Atomic uint64_t *b = m->bloom + (h & (m->bloom_blocks - 1)) * 8;
  uint64_t g = h >> 20;
  for (int i = 0; i < 4; i++, g >>= 9)
    if (!(atomic_load_explicit(&b[(g >> 6) & 7], memory_order_relaxed) &
          (1ull << (g & 63))))
      return 0;
  return 1;
}

int mt_enable_bloom(mt *m, size_t bytes) {
  uint64_t blocks = 1;
  while (blocks * 2 * 64 <= bytes)
    blocks *= 2;
  _Atomic uint64_t *b = ldb_calloc(m->a, blocks * 64);
  if (!b) return ldb_err(LDB_NOMEM, "out of memory for a memtable filter");
  atomic_fetch_add_explicit(&m->mem, blocks * 64, memory_order_relaxed);
  m->bloom = b;
  m->bloom_blocks = blocks;
  return LDB_OK;
}

static inline uint64_t index_home(const mt_index *x, uint64_t h) {
  return (h * 0x9E3779B97F4A7C15ull) >> x->shift;
}

static size_t index_size(const mt_index *x) {
  return sizeof *x + (size_t)(x->mask + 1) * sizeof(uintptr_t);
}

static mt_index *index_alloc(const ldb_allocator *a, uint64_t slots) {
  uint32_t bits = 0;
  while ((1ull << bits) < slots)
    bits++;
  if (bits < 4) bits = 4;
  if (bits > 40) return NULL;
  mt_index *x =
      ldb_calloc(a, sizeof *x + ((size_t)1 << bits) * sizeof(uintptr_t));
  if (!x) return NULL;
  x->mask = (1ull << bits) - 1;
  x->shift = 64 - bits;
  return x;
}

static void index_free_all(const ldb_allocator *a, mt_index *x) {
  while (x) {
    mt_index *o = x->old;
    ldb_mfree(a, x);
    x = o;
  }
}

int mt_enable_index(mt *m, uint64_t keys) {
  if (keys > (1ull << 37)) keys = 1ull << 37;
  mt_index *x = index_alloc(m->a, keys * 2 > 64 ? keys * 2 : 64);
  if (!x) return ldb_err(LDB_NOMEM, "out of memory for a memtable index");
  atomic_fetch_add_explicit(&m->mem, index_size(x), memory_order_relaxed);
  atomic_store_explicit(&m->index, x, memory_order_release);
  return LDB_OK;
}

static inline const uint8_t *nkey(const mt_node *n);

/* Writer only: points key's slot at n when n is the key's first node in
 * list order (a new key, or a version sorting before the indexed one). */
static void index_put(mt *m, mt_index *x, mt_node *n, uint64_t h, int count) {
  for (uint64_t i = index_home(x, h);; i = (i + 1) & x->mask) {
    uintptr_t v = atomic_load_explicit(&x->slot[i], memory_order_relaxed);
    if (!v) {
      atomic_store_explicit(&x->slot[i], slot_pack(n, h), memory_order_release);
      if (count) m->index_keys++;
      return;
    }
    if (!slot_tag_is(v, h)) continue;
    mt_node *o = slot_node(v);
    if (o->klen == n->klen && memcmp(nkey(o), nkey(n), n->klen) == 0) {
      /* Equal (key, seq): the node inserted last comes first. */
      if (n->seq >= o->seq)
        atomic_store_explicit(&x->slot[i], slot_pack(n, h),
                              memory_order_release);
      return;
    }
  }
}

/* The newest version of key (first in list order), or NULL. */
static mt_node *index_find(const mt *m, const mt_index *x, const void *key,
                           size_t klen, uint64_t h) {
  (void)m;
  for (uint64_t i = index_home(x, h);; i = (i + 1) & x->mask) {
    uintptr_t v =
        atomic_load_explicit(&((mt_index *)x)->slot[i], memory_order_acquire);
    if (!v) return NULL;
    if (!slot_tag_is(v, h)) continue;
    mt_node *o = slot_node(v);
    if (o->klen == klen && memcmp(nkey(o), key, klen) == 0) return o;
  }
}

/* Writer only: makes room for `more` new keys at load factor <= 1/2. */
static int index_grow(mt *m, size_t more) {
  mt_index *x = atomic_load_explicit(&m->index, memory_order_relaxed);
  if (!x) return LDB_OK;
  uint64_t need = m->index_keys + more;
  if (need < m->index_keys || need > (1ull << 38))
    return ldb_err(LDB_NOMEM, "commit too large");
  if (need * 2 <= x->mask + 1) return LDB_OK;
  mt_index *nx = index_alloc(m->a, need * 2);
  if (!nx) return ldb_err(LDB_NOMEM, "out of memory growing a memtable index");
  atomic_fetch_add_explicit(&m->mem, index_size(nx), memory_order_relaxed);
  for (uint64_t i = 0; i <= x->mask; i++) {
    uintptr_t v = atomic_load_explicit(&x->slot[i], memory_order_relaxed);
    mt_node *n = slot_node(v);
    if (v) index_put(m, nx, n, key_hash(nkey(n), n->klen), 0);
  }
  nx->old = x;
  atomic_store_explicit(&m->index, nx, memory_order_release);
  return LDB_OK;
}

static size_t node_size(uint32_t height, size_t klen, size_t vlen) {
  size_t n = sizeof(mt_node) + height * sizeof(mt_node *) + klen + vlen;
  return (n + 7) & ~(size_t)7;
}

static inline const uint8_t *nkey(const mt_node *n) {
  return (const uint8_t *)&n->next[n->height];
}

/* ---- the block pool ------------------------------------------------------ */

static void blocks_free(const ldb_allocator *a, mt_block *b);

int mt_pool_create(const ldb_allocator *a, size_t block_size, size_t cap,
                   mt_pool **out) {
  mt_pool *p = ldb_calloc(a, sizeof *p);
  if (!p) return ldb_err(LDB_NOMEM, "out of memory creating a block pool");
  p->a = a;
  atomic_init(&p->refs, 1);
  p->block_size = block_size;
  p->cap = cap;
  ldb_mutex_init(&p->mu);
  *out = p;
  return LDB_OK;
}

void mt_pool_unref(mt_pool *p) {
  if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
    return;
  blocks_free(p->a, p->free);
  ldb_mutex_destroy(&p->mu);
  ldb_mfree(p->a, p);
}

uint64_t mt_pool_bytes(mt_pool *p) {
  ldb_mutex_lock(&p->mu);
  uint64_t n = p->bytes;
  ldb_mutex_unlock(&p->mu);
  return n;
}

void mt_pool_trim(mt_pool *p) {
  ldb_mutex_lock(&p->mu);
  mt_block *b = p->free;
  p->free = NULL;
  p->bytes = 0;
  ldb_mutex_unlock(&p->mu);
  blocks_free(p->a, b);
}

void mt_use_pool(mt *m, mt_pool *p) {
  atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  m->pool = p;
}

static size_t block_bytes(size_t size) {
  return sizeof(mt_block) + size + 8;
}

/* A pooled block's bytes belong to nobody (memtable.h: the lifetime rules).
 * Builds with assertions (Debug: the ASan + UBSan tests) fill them, and
 * new blocks too, with 0xA5, so that a reader of arena memory the writer never
 * wrote follows garbage at once instead of now and then; under AddressSanitizer
 * they are also poisoned, so that a reader of a memtable it holds no reference
 * to is reported where it reads. The header (next, size) stays readable:
 * the pool's list runs through it. */
#if defined(__SANITIZE_ADDRESS__)
#define MT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MT_ASAN 1
#endif
#endif
#ifdef MT_ASAN
#include <sanitizer/asan_interface.h>
#endif

static void block_retire(mt_block *b) {
#ifndef NDEBUG
  memset(b + 1, 0xA5, b->size + 8);
#endif
#ifdef MT_ASAN
  ASAN_POISON_MEMORY_REGION(b + 1, b->size + 8);
#endif
  (void)b;
}

static void block_revive(mt_block *b) {
#ifdef MT_ASAN
  ASAN_UNPOISON_MEMORY_REGION(b + 1, b->size + 8);
#endif
  (void)b;
}

/* Frees a list of pooled blocks. */
static void blocks_free(const ldb_allocator *a, mt_block *b) {
  while (b) {
    mt_block *nb = b->next;
    block_revive(b);
    ldb_mfree(a, b);
    b = nb;
  }
}

/* A block of size bytes: a pooled one when the pool's blocks have that
 * size and it holds one, else a new one. */
static mt_block *block_get(mt *m, size_t size) {
  mt_pool *p = m->pool;
  mt_block *b = NULL;
  if (p && size == p->block_size) {
    ldb_mutex_lock(&p->mu);
    if ((b = p->free)) {
      p->free = b->next;
      p->bytes -= block_bytes(size);
    }
    ldb_mutex_unlock(&p->mu);
    if (b) block_revive(b);
  }
  if (!b && (b = ldb_malloc(m->a, block_bytes(size)))) {
    b->size = size;
#ifndef NDEBUG
    memset(b + 1, 0xA5, size + 8); /* as a pooled block would hold */
#endif
  }
  if (b) b->next = NULL;
  return b;
}

/* Gives block b back to m's pool while it has room, else frees it. */
static void block_put(mt *m, mt_block *b) {
  mt_pool *p = m->pool;
  if (p && b->size == p->block_size) {
    ldb_mutex_lock(&p->mu);
    bool keep = p->bytes + block_bytes(b->size) <= p->cap;
    if (keep) {
      block_retire(b);
      b->next = p->free;
      p->free = b;
      p->bytes += block_bytes(b->size);
    }
    ldb_mutex_unlock(&p->mu);
    if (keep) return;
  }
  ldb_mfree(m->a, b);
}

/* ---- memtables --------------------------------------------------------------
 */

int mt_create(const ldb_allocator *a, size_t block_size, mt **out) {
  mt *m = ldb_calloc(a, sizeof *m);
  if (!m) return ldb_err(LDB_NOMEM, "out of memory creating a memtable");
  m->a = a;
  atomic_init(&m->refs, 1);
  m->block_size = block_size < 1024 ? 1024 : block_size;
  m->rnd = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)m;
  atomic_init(&m->height, 1);
  m->head = ldb_calloc(a, node_size(MT_MAX_HEIGHT, 0, 0));
  if (!m->head) {
    ldb_mfree(a, m);
    return ldb_err(LDB_NOMEM, "out of memory creating a memtable");
  }
  m->head->height = MT_MAX_HEIGHT;
  atomic_init(&m->mem, sizeof *m + node_size(MT_MAX_HEIGHT, 0, 0));
  for (int i = 0; i < MT_MAX_HEIGHT; i++) {
    atomic_init(&m->head->next[i], NULL);
    m->finger[i] = m->head;
  }
  *out = m;
  return LDB_OK;
}

void mt_ref(mt *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void mt_unref(mt *m) {
  /* Iterative so that dropping a long chain cannot overflow the stack. */
  while (m) {
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
      return;
    mt *succ = m->succ;
    mt_block *b = m->blocks;
    while (b) {
      mt_block *nb = b->next;
      block_put(m, b);
      b = nb;
    }
    if (m->spare) block_put(m, m->spare);
    mt_pool_unref(m->pool);
    ldb_mfree(m->a, m->head);
    ldb_mfree(m->a, (void *)m->bloom);
    index_free_all(m->a, atomic_load_explicit(&m->index, memory_order_relaxed));
    ldb_mfree(m->a, m);
    m = succ;
  }
}

void mt_set_next(mt *m, mt *next) {
  mt_ref(next);
  m->succ = next;
}

mt *mt_next(const mt *m) {
  return m->succ;
}

int mt_reserve(mt *m, size_t nops, size_t kv_bytes) {
  size_t per = node_size(MT_MAX_HEIGHT, 0, 0) + 8;
  if (nops > SIZE_MAX / per) return ldb_err(LDB_NOMEM, "commit too large");
  /* The index first: growing it changes nothing a reader can observe, and
   * a failure below leaves only unused capacity behind. */
  int rc = index_grow(m, nops);
  if (rc) return rc;
  m->reserved_keys = nops;
  size_t need = nops * per + kv_bytes;
  /* Either the newest block holds every insert, or the spare does (the
   * inserts fill the newest block first and move on to the spare). */
  if ((size_t)(m->end - m->pos) >= need) return LDB_OK;
  if (m->spare && m->spare->size >= need) return LDB_OK;
  size_t sz = need > m->block_size ? need : m->block_size;
  mt_block *b = block_get(m, sz);
  if (!b) return ldb_err(LDB_NOMEM, "out of memory growing the memtable");
  if (m->spare) {
    atomic_fetch_sub_explicit(&m->mem, block_bytes(m->spare->size),
                              memory_order_relaxed);
    block_put(m, m->spare);
  }
  m->spare = b;
  atomic_fetch_add_explicit(&m->mem, block_bytes(sz), memory_order_relaxed);
  return LDB_OK;
}

/* Writer only: sz bytes for a node, from the newest block or else from the
 * spare, which becomes the newest block (mt_reserve made one fit). */
static uint8_t *arena_take(mt *m, size_t sz) {
  if ((size_t)(m->end - m->pos) < sz) {
    mt_block *b = m->spare;
    m->spare = NULL;
    b->next = m->blocks;
    m->blocks = b;
    uintptr_t p = ((uintptr_t)(b + 1) + 7) & ~(uintptr_t)7;
    m->pos = (uint8_t *)p;
    m->end = m->pos + b->size;
  }
  uint8_t *r = m->pos;
  m->pos += sz;
  return r;
}

static int cmp_node(const mt_node *n, const void *key, size_t klen,
                    uint64_t seq) {
  int c = ldb_keycmp(nkey(n), n->klen, key, klen);
  if (c) return c;
  /* seq descending: a larger seq sorts first */
  return n->seq > seq ? -1 : n->seq < seq ? 1 : 0;
}

/* Fills prev[] with, at every level, the last node < (key, seq); returns
 * the first node >= (key, seq) at level 0. */
static mt_node *find_ge(const mt *m, const void *key, size_t klen, uint64_t seq,
                        mt_node **prev) {
  mt_node *x = m->head;
  int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
  for (;;) {
    mt_node *nx = atomic_load_explicit(&x->next[level], memory_order_acquire);
    if (nx && cmp_node(nx, key, klen, seq) < 0) {
      x = nx;
      continue;
    }
    if (prev) prev[level] = x;
    if (level == 0) return nx;
    level--;
  }
}

/* find_ge for a (key, seq) known to sort after m->last, starting from the
 * finger: climb while the finger's successor on a level is still < key,
 * then descend as usual. Levels above the one the descent starts on keep
 * the finger as predecessor: if finger[l]->next[l] >= key then so is
 * finger[l+1]->next[l+1] (the first node of height > l+1 after m->last
 * cannot precede the first node of height > l after it). */
static mt_node *find_ge_finger(const mt *m, const void *key, size_t klen,
                               uint64_t seq, mt_node **prev) {
  int top = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
  int level = 0;
  while (level < top) {
    mt_node *nx = atomic_load_explicit(&m->finger[level]->next[level],
                                       memory_order_relaxed);
    if (!nx || cmp_node(nx, key, klen, seq) >= 0) break;
    level++;
  }
  for (int i = level + 1; i <= top; i++)
    prev[i] = m->finger[i];
  mt_node *x = m->finger[level];
  for (;;) {
    mt_node *nx = atomic_load_explicit(&x->next[level], memory_order_relaxed);
    if (nx && cmp_node(nx, key, klen, seq) < 0) {
      x = nx;
      continue;
    }
    prev[level] = x;
    if (level == 0) return nx;
    level--;
  }
}

void mt_insert(mt *m, uint64_t seq, int type, const void *key, uint32_t klen,
               const void *val, uint32_t vlen) {
  uint32_t h = 1;
  while (h < MT_MAX_HEIGHT) {
    m->rnd ^= m->rnd << 13;
    m->rnd ^= m->rnd >> 7;
    m->rnd ^= m->rnd << 17;
    if ((m->rnd & 3) != 0) break;
    h++;
  }
  size_t sz = node_size(h, klen, type == MT_PUT ? vlen : 0);
  /* mt_reserve guaranteed the room (sizes are bounded by MT_MAX_HEIGHT). */
  mt_node *n = (mt_node *)arena_take(m, sz);
  n->seq = seq;
  n->klen = klen;
  n->vlen = type == MT_PUT ? vlen : 0;
  n->type = (uint8_t)type;
  n->height = (uint8_t)h;
  uint8_t *kp = (uint8_t *)&n->next[h];
  if (klen) memcpy(kp, key, klen);
  if (n->vlen) memcpy(kp + klen, val, vlen);

  mt_index *x = atomic_load_explicit(&m->index, memory_order_relaxed);
  int indexed = m->bloom_blocks || x;
  if (indexed && m->defer_next) {
    m->defer_next = 0;
    atomic_store_explicit(&m->tail, n, memory_order_release);
  }
  mt_node *tail = atomic_load_explicit(&m->tail, memory_order_relaxed);
  if (tail && ldb_keycmp(key, klen, nkey(tail), tail->klen) >= 0) {
    indexed = 0;
    m->tail_count++;
  }
  uint64_t kh = indexed ? key_hash(key, klen) : 0;
  if (indexed && m->bloom_blocks) bloom_add_h(m, kh);
  /* The slot's cache miss overlaps the skip-list search below. */
  if (indexed && x) __builtin_prefetch(&x->slot[index_home(x, kh)]);
  mt_node *prev[MT_MAX_HEIGHT];
  mt_node *ge = m->last && cmp_node(m->last, key, klen, seq) < 0
                    ? find_ge_finger(m, key, klen, seq, prev)
                    : find_ge(m, key, klen, seq, prev);
  /* Versions of a key are adjacent: a neighbour with the same key means
   * duplicates. Set before the node is published (release below). */
  if (!atomic_load_explicit(&m->dups, memory_order_relaxed) &&
      ((ge && ldb_keycmp(nkey(ge), ge->klen, key, klen) == 0) ||
       (prev[0] != m->head &&
        ldb_keycmp(nkey(prev[0]), prev[0]->klen, key, klen) == 0)))
    atomic_store_explicit(&m->dups, 1, memory_order_relaxed);
  int cur = atomic_load_explicit(&m->height, memory_order_relaxed);
  if ((int)h > cur) {
    for (int i = cur; i < (int)h; i++)
      prev[i] = m->head;
    /* Readers seeing the new height before the links find NULL at the
     * head's upper levels, which is correct. */
    atomic_store_explicit(&m->height, (int)h, memory_order_relaxed);
  }
  atomic_store_explicit(&n->prev, prev[0] == m->head ? NULL : prev[0],
                        memory_order_relaxed);
  /* Every link of n is set before n is published on any level (see
   * struct mt_node): a reader that meets n on level 0 may follow its upper
   * links at once (mt_scan_ahead climbs to level 1), and n's bytes are
   * recycled arena memory (a pooled block still holds an old memtable's
   * nodes), not zeros. The predecessors cannot change in between: only
   * this writer links nodes. */
  for (uint32_t i = 0; i < h; i++)
    atomic_store_explicit(
        &n->next[i],
        atomic_load_explicit(&prev[i]->next[i], memory_order_relaxed),
        memory_order_relaxed);
  for (uint32_t i = 0; i < h; i++) {
    atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
#ifdef LDB_MT_INSERT_HOOK
    if (i == 0) LDB_MT_INSERT_HOOK(n);
#endif
  }
  mt_node *succ = atomic_load_explicit(&n->next[0], memory_order_relaxed);
  if (succ)
    atomic_store_explicit(&succ->prev, n, memory_order_release);
  else
    m->max = n;
  m->last = n;
  for (int i = 0; i < MT_MAX_HEIGHT; i++)
    m->finger[i] = i < (int)h ? n : i < cur ? prev[i] : m->head;
  /* After the level-0 link: an indexed node is always reachable. */
  if (indexed && x) index_put(m, x, n, kh, 1);
  /* Single writer: load + store instead of locked adds (see bloom_add_h). */
  atomic_store_explicit(
      &m->bytes, atomic_load_explicit(&m->bytes, memory_order_relaxed) + sz,
      memory_order_relaxed);
  atomic_store_explicit(
      &m->count, atomic_load_explicit(&m->count, memory_order_relaxed) + 1,
      memory_order_relaxed);
}

void mt_prefetch(const mt *m, const void *key, size_t klen) {
  mt_index *x = atomic_load_explicit(&((mt *)m)->index, memory_order_relaxed);
  if (!m->bloom_blocks && !x) return;
  uint64_t h = key_hash(key, klen);
  if (m->bloom_blocks)
    __builtin_prefetch(m->bloom + (h & (m->bloom_blocks - 1)) * 8, 1);
  if (x) __builtin_prefetch(&x->slot[index_home(x, h)], 1);
}

/* Hints the CPU to load a node's header, links and (for low nodes) key. */
static inline void prefetch_node(const mt_node *n) {
  __builtin_prefetch(n);
  __builtin_prefetch((const uint8_t *)n + 64);
}

void mt_warm(const mt *m, uint64_t seq, const void *const *keys,
             const uint32_t *klens, int n) {
  mt_node *x[MT_WARM_MAX], *nx[MT_WARM_MAX];
  int level[MT_WARM_MAX];
  if (n > MT_WARM_MAX) n = MT_WARM_MAX;
  /* Appending after the list's last node (keys written in order): each
   * insert's finger search is a step or two, nothing to warm, and in the
   * unindexed tail there is no filter block or slot to load either. */
  mt_node *last = m->last;
  int append = n && last &&
               !atomic_load_explicit(&last->next[0], memory_order_relaxed) &&
               cmp_node(last, keys[0], klens[0], seq) < 0;
  if (append &&
      (m->defer_next || atomic_load_explicit(&m->tail, memory_order_relaxed)))
    return;
  for (int i = 0; i < n; i++)
    mt_prefetch(m, keys[i], klens[i]);
  if (append) return;
  int top = atomic_load_explicit(&((mt *)m)->height, memory_order_relaxed) - 1;
  int live = 0;
  for (int i = 0; i < n; i++) {
    x[i] = m->head;
    level[i] = top;
    nx[i] = atomic_load_explicit(&m->head->next[top], memory_order_relaxed);
    if (nx[i]) prefetch_node(nx[i]);
    live++;
  }
  /* One step of every search per round: the misses of one round overlap,
   * and each node is compared a round after its prefetch was issued. */
  while (live) {
    for (int i = 0; i < n; i++) {
      if (level[i] < 0) continue;
      mt_node *c = nx[i];
      if (c && cmp_node(c, keys[i], klens[i], seq) < 0) {
        x[i] = c;
      } else if (--level[i] < 0) {
        live--;
        continue;
      }
      nx[i] = atomic_load_explicit(&x[i]->next[level[i]], memory_order_relaxed);
      if (nx[i]) prefetch_node(nx[i]);
    }
  }
}

int mt_add(mt *m, uint64_t seq, int type, const void *key, uint32_t klen,
           const void *val, uint32_t vlen) {
  int rc = mt_reserve(m, 1, (size_t)klen + vlen);
  if (rc) return rc;
  mt_insert(m, seq, type, key, klen, val, vlen);
  return LDB_OK;
}

void mt_batch_begin(mt *m, const void *key, size_t klen, int ordered) {
  mt_node *last = m->max;
  /* An empty memtable takes any ordered batch as an append: a bulk load
   * then never indexes a batch (a fresh index's slots are scattered over
   * pages the load would otherwise never touch). */
  int after = !last || ldb_keycmp(key, klen, nkey(last), last->klen) > 0;
  mt_node *tail = atomic_load_explicit(&m->tail, memory_order_relaxed);
  if (!tail) {
    m->defer_next = ordered && after;
    return;
  }
  if (after) return;
  /* Not an append: index the tail, so that reads of its keys stop paying
   * a skip-list search. Without room for it the tail stays (slower reads
   * of those keys, never wrong ones). The room covers the batch's keys as
   * well: mt_reserve sized the index for them before the tail's keys came
   * in, and a table they filled up would leave a probe for an absent key
   * no empty slot to stop at (an endless loop). */
  mt_index *x = atomic_load_explicit(&m->index, memory_order_relaxed);
  if (x && index_grow(m, m->tail_count + m->reserved_keys)) return;
  x = atomic_load_explicit(&m->index, memory_order_relaxed);
  /* Newer versions of tail's key sort before it: start at the key's
   * first version. Only a key's first version in list order is indexed
   * (its newest; index_put would let an older version with the same seq,
   * met later, take the slot). */
  mt_node *prev = NULL;
  for (mt_node *n = find_ge(m, nkey(tail), tail->klen, UINT64_MAX, NULL); n;
       prev = n, n = atomic_load_explicit(&n->next[0], memory_order_relaxed)) {
    if (prev && ldb_keycmp(nkey(prev), prev->klen, nkey(n), n->klen) == 0)
      continue;
    uint64_t kh = key_hash(nkey(n), n->klen);
    if (m->bloom_blocks) bloom_add_h(m, kh);
    if (x) index_put(m, x, n, kh, 1);
  }
  m->tail_count = 0;
  atomic_store_explicit(&m->tail, NULL, memory_order_release);
}

/* The newest version of key with seq <= snap, or NULL: through the index
 * when there is one (the newest version, then older ones along level 0),
 * else by a skip-list search. */
static mt_node *find_version(const mt *m, const void *key, size_t klen,
                             uint64_t snap) {
  /* An empty memtable (the common case right after a checkpoint or an
   * open) answers without hashing the key or touching the filter. A
   * reader sees every version its snapshot covers counted: count is
   * stored before the commit's seq is published (release), and the
   * snapshot's seq was loaded with acquire. */
  if (!atomic_load_explicit(&((mt *)m)->count, memory_order_relaxed))
    return NULL;
  /* The tail before the index: mt_batch_begin publishes a grown index
   * (release) before it clears the tail (release), so a reader that sees
   * no tail then loads an index holding the tail's keys. Loaded the other
   * way round, a reader could take the old table and then see the tail
   * cleared, and miss committed keys. */
  mt_node *tail = atomic_load_explicit(&((mt *)m)->tail, memory_order_acquire);
#ifdef LDB_MT_RACE_HOOK
  LDB_MT_RACE_HOOK(); /* tests/c/test_memtable_race.c stops a reader here */
#endif
  mt_index *x = atomic_load_explicit(&((mt *)m)->index, memory_order_acquire);
  if ((!m->bloom_blocks && !x) ||
      (tail && ldb_keycmp(key, klen, nkey(tail), tail->klen) >= 0)) {
    mt_node *n = find_ge(m, key, klen, snap, NULL);
    if (!n || ldb_keycmp(nkey(n), n->klen, key, klen) != 0) return NULL;
    return n;
  }
  uint64_t h = key_hash(key, klen);
  if (!bloom_may_h(m, h)) return NULL;
  if (!x) {
    mt_node *n = find_ge(m, key, klen, snap, NULL);
    if (!n || ldb_keycmp(nkey(n), n->klen, key, klen) != 0) return NULL;
    return n;
  }
  mt_node *n = index_find(m, x, key, klen, h);
  while (n && n->seq > snap) {
    n = atomic_load_explicit(&n->next[0], memory_order_acquire);
    if (n && (n->klen != klen || memcmp(nkey(n), key, klen) != 0)) return NULL;
  }
  return n;
}

int mt_get(const mt *m, const void *key, size_t klen, uint64_t snap, int *type,
           const void **val, uint32_t *vlen) {
  mt_node *n = find_version(m, key, klen, snap);
  if (!n) return 0;
  *type = n->type;
  *val = nkey(n) + n->klen;
  *vlen = n->vlen;
  return 1;
}

uint64_t mt_newest_seq(const mt *m, const void *key, size_t klen) {
  mt_node *n = find_version(m, key, klen, UINT64_MAX);
  return n ? n->seq : 0;
}

int mt_has_dups(const mt *m) {
  return atomic_load_explicit(&((mt *)m)->dups, memory_order_relaxed);
}

uint64_t mt_bytes(const mt *m) {
  return atomic_load_explicit(&((mt *)m)->bytes, memory_order_relaxed);
}

uint64_t mt_mem(const mt *m) {
  return atomic_load_explicit(&((mt *)m)->mem, memory_order_relaxed);
}
uint64_t mt_count(const mt *m) {
  return atomic_load_explicit(&((mt *)m)->count, memory_order_relaxed);
}

uint64_t mt_unindexed(const mt *m) {
  return m->tail_count;
}

mt_node *mt_first(const mt *m) {
  return atomic_load_explicit(&m->head->next[0], memory_order_acquire);
}

mt_node *mt_last(const mt *m) {
  mt_node *x = m->head;
  int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
  for (;;) {
    mt_node *nx = atomic_load_explicit(&x->next[level], memory_order_acquire);
    if (nx) {
      x = nx;
      continue;
    }
    if (level == 0) return x == m->head ? NULL : x;
    level--;
  }
}

mt_node *mt_seek(const mt *m, const void *key, size_t klen, uint64_t seq) {
  return find_ge(m, key, klen, seq, NULL);
}

mt_node *mt_find_lt(const mt *m, const void *key, size_t klen) {
  mt_node *x = m->head;
  int level = atomic_load_explicit(&m->height, memory_order_relaxed) - 1;
  for (;;) {
    mt_node *nx = atomic_load_explicit(&x->next[level], memory_order_acquire);
    if (nx && ldb_keycmp(nkey(nx), nx->klen, key, klen) < 0) {
      x = nx;
      continue;
    }
    if (level == 0) return x == m->head ? NULL : x;
    level--;
  }
}

mt_node *mt_node_next(const mt_node *n) {
  return atomic_load_explicit(&((mt_node *)n)->next[0], memory_order_acquire);
}

mt_node *mt_node_prev(const mt_node *n) {
  return atomic_load_explicit(&((mt_node *)n)->prev, memory_order_acquire);
}

void mt_node_prefetch_prev(const mt_node *n) {
  mt_node *p =
      atomic_load_explicit(&((mt_node *)n)->prev, memory_order_relaxed);
  if (p) __builtin_prefetch(p);
}

void mt_node_prefetch_next(const mt_node *n) {
  mt_node *nx =
      atomic_load_explicit(&((mt_node *)n)->next[0], memory_order_relaxed);
  /* A scan is one dependent cache miss per node. Also fetch the level-1
   * successor, about four nodes ahead, so that its miss overlaps the walk
   * up to it (a second line of the successor measured no gain). */
  if (nx) __builtin_prefetch(nx);
  if (n->height > 1) {
    mt_node *f =
        atomic_load_explicit(&((mt_node *)n)->next[1], memory_order_relaxed);
    if (f) __builtin_prefetch(f);
  }
}

mt_node *mt_scan_ahead(mt_node *run, long *credit) {
  /* The runner moves on level 1 (about four nodes per hop) where it can,
   * so its misses overlap with the scan instead of adding to it: each
   * runner node was prefetched a few steps before the runner reads it. */
  ++*credit;
  while (run && *credit > -MT_AHEAD_NODES) {
    mt_node *n0 = atomic_load_explicit(&run->next[0], memory_order_acquire);
    if (n0) __builtin_prefetch(n0);
    if (run->height > 1) {
      run = atomic_load_explicit(&run->next[1], memory_order_acquire);
      *credit -= 4;
    } else {
      run = n0;
      *credit -= 1;
    }
    if (run) __builtin_prefetch(run);
  }
  return run;
}

const uint8_t *mt_node_key(const mt_node *n, size_t *klen) {
  *klen = n->klen;
  return nkey(n);
}
const uint8_t *mt_node_val(const mt_node *n, size_t *vlen) {
  *vlen = n->vlen;
  return nkey(n) + n->klen;
}
uint64_t mt_node_seq(const mt_node *n) {
  return n->seq;
}
int mt_node_type(const mt_node *n) {
  return n->type;
}

int mt_check(const mt *m) {
  uint64_t bytes = 0, count = 0;
  int height = atomic_load_explicit(&((mt *)m)->height, memory_order_relaxed);
  for (int level = height - 1; level >= 0; level--) {
    mt_node *prev = NULL;
    for (mt_node *n = atomic_load(&m->head->next[level]); n;
         n = atomic_load(&n->next[level])) {
      if (n->height <= level || n->height > MT_MAX_HEIGHT)
        return ldb_err(LDB_CORRUPT, "memtable: node height %u on level %d",
                       n->height, level);
      if (n->type != MT_PUT && n->type != MT_DEL)
        return ldb_err(LDB_CORRUPT, "memtable: bad entry type %u", n->type);
      if (prev && cmp_node(prev, nkey(n), n->klen, n->seq) > 0)
        return ldb_err(LDB_CORRUPT,
                       "memtable: entries out of order on level %d", level);
      if (level == 0 && atomic_load(&n->prev) != prev)
        return ldb_err(LDB_CORRUPT, "memtable: broken back link");
      if (level == 0) {
        bytes += node_size(n->height, n->klen, n->vlen);
        count++;
      }
      prev = n;
    }
  }
  if (bytes != mt_bytes(m) || count != mt_count(m))
    return ldb_err(LDB_CORRUPT,
                   "memtable: counted %llu entries / %llu bytes, expected "
                   "%llu / %llu",
                   (unsigned long long)count, (unsigned long long)bytes,
                   (unsigned long long)mt_count(m),
                   (unsigned long long)mt_bytes(m));
  return LDB_OK;
}
