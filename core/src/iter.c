/*
 * iter.c — iterators: a merge of the sources visible to one snapshot (a
 * transaction's write buffer, the active and frozen memtables, a B+tree
 * cursor), newest source first, with tombstones hidden and the bound,
 * prefix and reverse options applied.
 *
 * Each source is positioned on a user key (for a memtable: the newest
 * version of that key with seq <= the snapshot). The merge keeps a
 * direction: moving forward, every source sits at its first key >= the
 * current key; moving backward, at its last key <= it. A change of direction
 * re-seeks every source to the current key (simpler than LevelDB's
 * bookkeeping, same result, O(log n) per source).
 */
#include "iter.h"
#include "txn.h"

enum { SRC_MEM, SRC_TREE };

typedef struct src {
  int kind;
  const mt *m;
  uint64_t seq;
  mt_node *node;
  bt_cursor *c;
  mt_node *run; /* forward read-ahead (mt_scan_ahead); hints only */
  long credit;
  int valid;
  const uint8_t *key;
  size_t klen;
} src;

struct ldb_iter {
  ldb_child node; /* in db's children; node.dead once invalidated */
  ldb_db *db;
  ldb_txn *txn; /* NULL once invalidated */
  eng *e;       /* not to be used once node.dead */
  const ldb_allocator *a;
  snap s; /* own snapshot when txn is NULL */
  const snap *sp;
  mt *wb; /* referenced write buffer of txn */
  src srcs[4];
  int nsrc;
  int dir;      /* +1 ascending, -1 descending */
  int cur;      /* source of the current entry, -1 none */
  unsigned eq;  /* bit i: source i sits on the current key (set by pick,
                   valid until a source moves) */
  uint8_t *key; /* copy of the current key */
  size_t klen, kcap;
  int valid; /* positioned on a user-visible entry */
  int reverse;
  /* effective bounds (prefix folded in) */
  uint8_t *lo, *hi, *prefix;
  size_t lo_len, hi_len, prefix_len;
  int has_lo, has_hi, lo_excl, hi_excl;
};

/* ---- memtable source ---------------------------------------------------- */

static int same_key(const mt_node *n, const uint8_t *k, size_t kl) {
  size_t nl;
  const uint8_t *nk = mt_node_key(n, &nl);
  return ldb_keycmp(nk, nl, k, kl) == 0;
}

static void mem_set(src *s, mt_node *n) {
  s->node = n;
  s->valid = n != NULL;
  if (n) {
    s->key = mt_node_key(n, &s->klen);
    mt_node_prefetch_next(n);
  }
}

static void mem_set_bwd(src *s, mt_node *n) {
  s->node = n;
  s->valid = n != NULL;
  if (n) {
    s->key = mt_node_key(n, &s->klen);
    mt_node_prefetch_prev(n);
  }
}

/* From n (the first node of a key, or the first version <= seq of one),
 * the first visible version at or after it. */
static void mem_settle_fwd(src *s, mt_node *n) {
  while (n && mt_node_seq(n) > s->seq)
    n = mt_node_next(n);
  mem_set(s, n);
}

/* As mem_settle_fwd after a jump (first/seek): restarts the read-ahead. */
static void mem_jump_fwd(src *s, mt_node *n) {
  mem_settle_fwd(s, n);
  s->run = s->node;
  s->credit = 0;
}

/* From p (the last node in list order of some key, or NULL), walking
 * backward along level-0 back links: the newest visible version of the
 * first key at or before p's that has one. Going backward within a key
 * the seq rises, so the wanted version is the last one seen with
 * seq <= the snapshot. */
static void mem_back_from(src *s, mt_node *p) {
  if (!mt_has_dups(s->m)) {
    /* Every visible key has one version: the first visible node is it
     * (newer versions inserted after our snapshot are skipped by seq).
     * Not touching the node before it lets its prefetch overlap. */
    while (p && mt_node_seq(p) > s->seq)
      p = mt_node_prev(p);
    mem_set_bwd(s, p);
    return;
  }
  while (p) {
    size_t kl;
    const uint8_t *k = mt_node_key(p, &kl);
    mt_node *best = NULL;
    while (p && mt_node_seq(p) <= s->seq && same_key(p, k, kl)) {
      best = p;
      p = mt_node_prev(p);
    }
    if (best) {
      mem_set_bwd(s, best);
      return;
    }
    /* Even the oldest version is too new: skip the key. */
    while (p && same_key(p, k, kl))
      p = mt_node_prev(p);
  }
  mem_set_bwd(s, NULL);
}

/* The last key < (k, kl) that has a visible version. */
static void mem_settle_bwd(src *s, const uint8_t *k, size_t kl) {
  mem_back_from(s, mt_find_lt(s->m, k, kl));
}

static void mem_seek_le(src *s, const uint8_t *k, size_t kl) {
  mt_node *v = mt_seek(s->m, k, kl, s->seq);
  if (v && same_key(v, k, kl)) {
    mem_set(s, v);
    return;
  }
  mem_settle_bwd(s, k, kl);
}

/* ---- source dispatch ---------------------------------------------------- */

static int tree_set(src *s, int rc) {
  s->valid = 0;
  if (rc == LDB_NOTFOUND) return LDB_OK;
  if (rc) return rc;
  const void *k;
  rc = bt_cursor_key(s->c, &k, &s->klen);
  if (rc) return rc;
  s->key = k;
  s->valid = 1;
  return LDB_OK;
}

static int src_first(src *s) {
  if (s->kind == SRC_TREE) return tree_set(s, bt_cursor_first(s->c));
  mem_jump_fwd(s, mt_first(s->m));
  return LDB_OK;
}

static int src_last(src *s) {
  if (s->kind == SRC_TREE) return tree_set(s, bt_cursor_last(s->c));
  mt_node *n = mt_last(s->m);
  if (!n) {
    mem_set(s, NULL);
    return LDB_OK;
  }
  size_t kl;
  const uint8_t *k = mt_node_key(n, &kl);
  mem_seek_le(s, k, kl);
  return LDB_OK;
}

static int src_seek_ge(src *s, const uint8_t *k, size_t kl) {
  if (s->kind == SRC_TREE) return tree_set(s, bt_cursor_seek_ge(s->c, k, kl));
  mem_jump_fwd(s, mt_seek(s->m, k, kl, s->seq));
  return LDB_OK;
}

static int src_seek_le(src *s, const uint8_t *k, size_t kl) {
  if (s->kind == SRC_TREE) return tree_set(s, bt_cursor_seek_le(s->c, k, kl));
  mem_seek_le(s, k, kl);
  return LDB_OK;
}

static int src_next(src *s) {
  if (s->kind == SRC_TREE) return tree_set(s, bt_cursor_next(s->c));
  mt_node *n = mt_node_next(s->node);
  /* Without duplicates the visible version is the key's only one (see
   * mt_has_dups); a newer version of the next key, inserted after our
   * snapshot, is skipped by the seq check in mem_settle_fwd. */
  if (mt_has_dups(s->m))
    while (n && same_key(n, s->key, s->klen))
      n = mt_node_next(n);
  mem_settle_fwd(s, n);
  if (s->run) s->run = mt_scan_ahead(s->run, &s->credit);
  return LDB_OK;
}

static int src_prev(src *s) {
  if (s->kind == SRC_TREE) return tree_set(s, bt_cursor_prev(s->c));
  /* Back past the newer versions of the current key, then on. */
  mt_node *p = mt_node_prev(s->node);
  if (mt_has_dups(s->m))
    while (p && same_key(p, s->key, s->klen))
      p = mt_node_prev(p);
  mem_back_from(s, p);
  return LDB_OK;
}

static int src_is_del(const src *s) {
  return s->kind == SRC_MEM && mt_node_type(s->node) == MT_DEL;
}

/* ---- merge ----------------------------------------------------------------
 */

static int set_cur_key(ldb_iter *it) {
  if (it->cur < 0) return LDB_OK;
  src *s = &it->srcs[it->cur];
  if (s->klen > it->kcap) {
    size_t nc = it->kcap ? it->kcap : 64;
    while (nc < s->klen)
      nc *= 2;
    uint8_t *nb = ldb_realloc(it->e->a, it->key, 0, nc);
    if (!nb) {
      it->cur = -1;
      return ldb_err(LDB_NOMEM, "out of memory in an iterator");
    }
    it->key = nb;
    it->kcap = nc;
  }
  if (s->klen) memcpy(it->key, s->key, s->klen); /* the empty key: no buffer */
  it->klen = s->klen;
  return LDB_OK;
}

/* Picks the smallest (dir +1) or largest (dir -1) key; on ties the lowest
 * index (the newest source) wins. */
static int pick(ldb_iter *it) {
  int best = -1;
  unsigned eq = 0;
  for (int i = 0; i < it->nsrc; i++) {
    src *s = &it->srcs[i];
    if (!s->valid) continue;
    if (best < 0) {
      best = i;
      eq = 1u << i;
      continue;
    }
    src *b = &it->srcs[best];
    int c = ldb_keycmp(s->key, s->klen, b->key, b->klen);
    if (it->dir > 0 ? c < 0 : c > 0) {
      best = i;
      eq = 1u << i;
    } else if (c == 0) {
      eq |= 1u << i;
    }
  }
  it->cur = best;
  it->eq = eq;
  return set_cur_key(it);
}

static int m_first(ldb_iter *it) {
  for (int i = 0; i < it->nsrc; i++) {
    int rc = src_first(&it->srcs[i]);
    if (rc) return rc;
  }
  it->dir = 1;
  return pick(it);
}

static int m_last(ldb_iter *it) {
  for (int i = 0; i < it->nsrc; i++) {
    int rc = src_last(&it->srcs[i]);
    if (rc) return rc;
  }
  it->dir = -1;
  return pick(it);
}

static int m_seek_ge(ldb_iter *it, const uint8_t *k, size_t kl) {
  for (int i = 0; i < it->nsrc; i++) {
    int rc = src_seek_ge(&it->srcs[i], k, kl);
    if (rc) return rc;
  }
  it->dir = 1;
  return pick(it);
}

static int m_seek_le(ldb_iter *it, const uint8_t *k, size_t kl) {
  for (int i = 0; i < it->nsrc; i++) {
    int rc = src_seek_le(&it->srcs[i], k, kl);
    if (rc) return rc;
  }
  it->dir = -1;
  return pick(it);
}

/* After a change of direction every source was re-seeked: which ones sit
 * on the current key is found by comparing. */
static void find_eq(ldb_iter *it) {
  it->eq = 0;
  for (int i = 0; i < it->nsrc; i++) {
    src *s = &it->srcs[i];
    if (s->valid && ldb_keycmp(s->key, s->klen, it->key, it->klen) == 0)
      it->eq |= 1u << i;
  }
}

static int m_next(ldb_iter *it) {
  int rc;
  if (it->dir != 1) {
    for (int i = 0; i < it->nsrc; i++)
      if ((rc = src_seek_ge(&it->srcs[i], it->key, it->klen))) return rc;
    it->dir = 1;
    find_eq(it);
  }
  for (int i = 0; i < it->nsrc; i++)
    if ((it->eq >> i) & 1)
      if ((rc = src_next(&it->srcs[i]))) return rc;
  return pick(it);
}

static int m_prev(ldb_iter *it) {
  int rc;
  if (it->dir != -1) {
    for (int i = 0; i < it->nsrc; i++)
      if ((rc = src_seek_le(&it->srcs[i], it->key, it->klen))) return rc;
    it->dir = -1;
    find_eq(it);
  }
  for (int i = 0; i < it->nsrc; i++)
    if ((it->eq >> i) & 1)
      if ((rc = src_prev(&it->srcs[i]))) return rc;
  return pick(it);
}

/* ---- bounds ---------------------------------------------------------------
 */

/* -1 below the range, 0 inside, 1 above. */
static int range_of(const ldb_iter *it, const uint8_t *k, size_t kl) {
  if (it->has_lo) {
    int c = ldb_keycmp(k, kl, it->lo, it->lo_len);
    if (c < 0 || (c == 0 && it->lo_excl)) return -1;
  }
  if (it->has_hi) {
    int c = ldb_keycmp(k, kl, it->hi, it->hi_len);
    if (c > 0 || (c == 0 && it->hi_excl)) return 1;
  }
  if (it->prefix &&
      (kl < it->prefix_len || memcmp(k, it->prefix, it->prefix_len) != 0))
    return ldb_keycmp(k, kl, it->prefix, it->prefix_len) < 0 ? -1 : 1;
  return 0;
}

/* Settles on the next user-visible entry in direction dir. */
static int settle(ldb_iter *it, int dir, int rc) {
  for (;;) {
    if (rc) break;
    if (it->cur < 0) {
      rc = LDB_NOTFOUND;
      break;
    }
    int r = range_of(it, it->key, it->klen);
    if (r == dir) {
      rc = LDB_NOTFOUND;
      break;
    }
    if (r == 0 && !src_is_del(&it->srcs[it->cur])) {
      it->valid = 1;
      if (it->txn && (rc = txn_note_read(it->txn, it->key, it->klen))) break;
      return LDB_OK;
    }
    rc = dir > 0 ? m_next(it) : m_prev(it);
  }
  it->valid = 0;
  it->cur = -1;
  return rc;
}

static int a_first(ldb_iter *it) {
  return settle(it, 1,
                it->has_lo ? m_seek_ge(it, it->lo, it->lo_len) : m_first(it));
}
static int a_last(ldb_iter *it) {
  return settle(it, -1,
                it->has_hi ? m_seek_le(it, it->hi, it->hi_len) : m_last(it));
}
static int a_seek_ge(ldb_iter *it, const uint8_t *k, size_t kl) {
  if (it->has_lo && ldb_keycmp(k, kl, it->lo, it->lo_len) < 0)
    return a_first(it);
  return settle(it, 1, m_seek_ge(it, k, kl));
}
static int a_seek_le(ldb_iter *it, const uint8_t *k, size_t kl) {
  if (it->has_hi && ldb_keycmp(k, kl, it->hi, it->hi_len) > 0)
    return a_last(it);
  return settle(it, -1, m_seek_le(it, k, kl));
}
static int a_next(ldb_iter *it) {
  return settle(it, 1, m_next(it));
}
static int a_prev(ldb_iter *it) {
  return settle(it, -1, m_prev(it));
}

/* ---- public API ------------------------------------------------------------
 */

static int set_bounds(ldb_iter *it, const ldb_iter_options *o) {
  const ldb_allocator *a = it->e->a;
  const uint8_t *lo = NULL, *hi = NULL;
  size_t lo_len = 0, hi_len = 0;
  int lo_excl = 0, hi_excl = 0;
  if (o->lower) {
    lo = o->lower;
    lo_len = o->lower_len;
    lo_excl = o->lower_exclusive != 0;
  }
  if (o->upper) {
    hi = o->upper;
    hi_len = o->upper_len;
    hi_excl = o->upper_exclusive != 0;
  }
  uint8_t *succ = NULL;
  size_t succ_len = 0;
  if (o->prefix && o->prefix_len) {
    it->prefix = ldb_memdup(a, o->prefix, o->prefix_len);
    if (!it->prefix) return ldb_err(LDB_NOMEM, "out of memory in an iterator");
    it->prefix_len = o->prefix_len;
    if (!lo || ldb_keycmp(it->prefix, it->prefix_len, lo, lo_len) > 0) {
      lo = it->prefix;
      lo_len = it->prefix_len;
      lo_excl = 0;
    }
    /* The smallest key above every key with the prefix: the prefix with
     * its last non-0xff byte incremented (none when all bytes are 0xff). */
    succ_len = it->prefix_len;
    while (succ_len && it->prefix[succ_len - 1] == 0xff)
      succ_len--;
    if (succ_len) {
      succ = ldb_memdup(a, it->prefix, succ_len);
      if (!succ) return ldb_err(LDB_NOMEM, "out of memory in an iterator");
      succ[succ_len - 1]++;
      if (!hi || ldb_keycmp(succ, succ_len, hi, hi_len) <= 0) {
        hi = succ;
        hi_len = succ_len;
        hi_excl = 1;
      }
    }
  }
  int rc = LDB_OK;
  if (lo) {
    it->lo = ldb_memdup(a, lo, lo_len);
    if (!it->lo) rc = LDB_NOMEM;
    it->lo_len = lo_len;
    it->lo_excl = lo_excl;
    it->has_lo = 1;
  }
  if (!rc && hi) {
    it->hi = ldb_memdup(a, hi, hi_len);
    if (!it->hi) rc = LDB_NOMEM;
    it->hi_len = hi_len;
    it->hi_excl = hi_excl;
    it->has_hi = 1;
  }
  ldb_mfree(a, succ);
  if (rc) return ldb_err(rc, "out of memory in an iterator");
  return LDB_OK;
}

/* Releases everything it holds of the engine and of its transaction:
 * cursors, the write buffer, its own snapshot, its count in txn->iters. */
static void iter_release(ldb_iter *it) {
  for (int i = 0; i < it->nsrc; i++)
    if (it->srcs[i].c) bt_cursor_close(it->srcs[i].c);
  it->nsrc = 0;
  mt_unref(it->wb);
  it->wb = NULL;
  if (it->txn)
    it->txn->iters--;
  else
    snap_release(it->e, &it->s);
  it->txn = NULL;
  it->sp = NULL;
  it->valid = 0;
  it->cur = -1;
}

/* Its transaction ended or its handle is closing. */
static void iter_invalidate(ldb_child *c) {
  iter_release((ldb_iter *)c);
}

static void iter_mem_free(ldb_iter *it) {
  const ldb_allocator *a = it->a;
  ldb_mfree(a, it->key);
  ldb_mfree(a, it->lo);
  ldb_mfree(a, it->hi);
  ldb_mfree(a, it->prefix);
  ldb_mfree(a, it);
}

int ldb_iter_create(ldb_db *db, ldb_txn *txn, const ldb_iter_options *opts,
                    ldb_iter **out) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!out) return ldb_err(LDB_INVALID, "ldb_iter_create: out is NULL");
  *out = NULL;
  if (txn && txn->node.dead)
    return ldb_err(LDB_CLOSED, "the transaction was invalidated: its database "
                               "handle was closed");
  if (txn && (txn->db->e != db->e))
    return ldb_err(LDB_INVALID, "the transaction belongs to another database");
  if (opts && ((opts->lower && (opts->lower_len > LDB_MAX_KEY_SIZE)) ||
               (opts->upper && (opts->upper_len > LDB_MAX_KEY_SIZE)) ||
               (opts->prefix && opts->prefix_len > LDB_MAX_KEY_SIZE)))
    return ldb_err(LDB_INVALID, "iterator bound longer than %u bytes",
                   LDB_MAX_KEY_SIZE);
  eng *e = db->e;
  ldb_iter *it = ldb_calloc(e->a, sizeof *it);
  if (!it) return ldb_err(LDB_NOMEM, "out of memory creating an iterator");
  it->db = txn ? txn->db : db;
  it->txn = txn;
  it->e = e;
  it->a = e->a;
  it->cur = -1;
  it->dir = 1;
  if (txn) {
    it->sp = &txn->s;
  } else {
    snap_take(e, &it->s);
    it->sp = &it->s;
  }
  if (opts) {
    it->reverse = opts->reverse != 0;
    if ((rc = set_bounds(it, opts))) goto fail;
  }
  if (txn && txn->wb && txn->wb_ops) {
    it->wb = txn->wb;
    mt_ref(it->wb);
    it->srcs[it->nsrc++] =
        (src){.kind = SRC_MEM, .m = it->wb, .seq = txn->wb_ops};
  }
  it->srcs[it->nsrc++] =
      (src){.kind = SRC_MEM, .m = it->sp->active, .seq = it->sp->seq};
  if (it->sp->frozen)
    it->srcs[it->nsrc++] =
        (src){.kind = SRC_MEM, .m = it->sp->frozen, .seq = it->sp->seq};
  src *ts = &it->srcs[it->nsrc++];
  *ts = (src){.kind = SRC_TREE};
  if ((rc = bt_cursor_open(it->sp->tree, &ts->c))) {
    ts->c = NULL;
    goto fail;
  }
  if (txn) txn->iters++;
  db_child_add(it->db, &it->node, CHILD_ITER, txn, iter_invalidate);
  *out = it;
  return LDB_OK;
fail:
  it->txn = NULL; /* not counted in txn->iters yet */
  iter_release(it);
  iter_mem_free(it);
  return rc;
}

uint64_t iter_snap_seq(const ldb_iter *it) {
  return it->sp->seq;
}

void ldb_iter_destroy(ldb_iter *it) {
  if (!it) return;
  if (!it->node.dead) iter_release(it);
  db_child_remove(it->db, &it->node);
  iter_mem_free(it);
}

static int check_it(const ldb_iter *it) {
  if (!it) return ldb_err(LDB_INVALID, "iterator is NULL");
  if (it->node.dead)
    return ldb_err(LDB_CLOSED, "the iterator was invalidated: its transaction "
                               "ended or its database handle was closed");
  return LDB_OK;
}

int ldb_iter_first(ldb_iter *it) {
  int rc = check_it(it);
  if (rc) return rc;
  return it->reverse ? a_last(it) : a_first(it);
}

int ldb_iter_last(ldb_iter *it) {
  int rc = check_it(it);
  if (rc) return rc;
  return it->reverse ? a_first(it) : a_last(it);
}

int ldb_iter_seek(ldb_iter *it, const void *key, size_t key_len) {
  int rc = check_it(it);
  if (rc) return rc;
  if (key_len > LDB_MAX_KEY_SIZE || (!key && key_len))
    return ldb_err(LDB_INVALID, "seek key of %zu bytes is invalid", key_len);
  return it->reverse ? a_seek_le(it, key, key_len)
                     : a_seek_ge(it, key, key_len);
}

int ldb_iter_next(ldb_iter *it) {
  int rc = check_it(it);
  if (rc) return rc;
  if (!it->valid) return LDB_NOTFOUND;
  return it->reverse ? a_prev(it) : a_next(it);
}

int ldb_iter_prev(ldb_iter *it) {
  int rc = check_it(it);
  if (rc) return rc;
  if (!it->valid) return LDB_NOTFOUND;
  return it->reverse ? a_next(it) : a_prev(it);
}

int ldb_iter_valid(const ldb_iter *it) {
  return it && it->valid;
}

int ldb_iter_key(ldb_iter *it, const void **key, size_t *key_len) {
  int rc = check_it(it);
  if (rc) return rc;
  if (!it->valid) return LDB_NOTFOUND;
  if (!key || !key_len) return ldb_err(LDB_INVALID, "out-pointers are NULL");
  /* Never NULL (it->key is NULL until a non-empty key needed a buffer):
   * hosts make slices of it, which may not start at NULL even when empty. */
  static const uint8_t empty = 0;
  *key = it->key ? it->key : &empty;
  *key_len = it->klen;
  return LDB_OK;
}

int ldb_iter_value(ldb_iter *it, const void **value, size_t *value_len) {
  int rc = check_it(it);
  if (rc) return rc;
  if (!it->valid) return LDB_NOTFOUND;
  if (!value || !value_len)
    return ldb_err(LDB_INVALID, "out-pointers are NULL");
  src *s = &it->srcs[it->cur];
  if (s->kind == SRC_TREE) return bt_cursor_value(s->c, value, value_len);
  *value = mt_node_val(s->node, value_len);
  return LDB_OK;
}

int ldb_iter_read(ldb_iter *it, void *buf, size_t cap, size_t max_entries,
                  size_t *count, size_t *used) {
  int rc = check_it(it);
  if (rc) return rc;
  if (!count || !used || (!buf && cap))
    return ldb_err(LDB_INVALID, "ldb_iter_read: invalid arguments");
  *count = 0;
  *used = 0;
  if (!it->valid) return LDB_NOTFOUND;
  uint8_t *p = buf;
  size_t n = 0, off = 0;
  while (n < max_entries && it->valid) {
    const void *v;
    size_t vl;
    if ((rc = ldb_iter_value(it, &v, &vl))) return rc;
    size_t need = 8 + it->klen + vl;
    if (off + need > cap) {
      if (n == 0) *used = need;
      break;
    }
    ldb_put32(p + off, (uint32_t)it->klen);
    ldb_put32(p + off + 4, (uint32_t)vl);
    if (it->klen) memcpy(p + off + 8, it->key, it->klen);
    if (vl) memcpy(p + off + 8 + it->klen, v, vl);
    off += need;
    n++;
    rc = it->reverse ? a_prev(it) : a_next(it);
    if (rc && rc != LDB_NOTFOUND) return rc;
  }
  *count = n;
  if (n) *used = off;
  return LDB_OK;
}
