/*
 * txn.c — transactions: a snapshot, a write buffer (a private memtable whose
 * seq is the op counter, so later writes to a key win), a read set, and the
 * optimistic conflict check run under the commit mutex.
 *
 * Conflict rule: a commit fails with LDB_CONFLICT when any key the
 * transaction read or wrote has a committed version with seq > its snapshot
 * seq. Every such version lives in a memtable reachable from the snapshot's
 * oldest memtable through the successor chain (the snapshot pins it), so the
 * check never needs the tree.
 */
#include "txn.h"
#include "commit.h"

#include <stdio.h>

static int check_txn(const ldb_txn *t) {
  if (!t) return ldb_err(LDB_INVALID, "transaction is NULL");
  if (t->node.dead)
    return ldb_err(LDB_CLOSED, "the transaction was invalidated: its database "
                               "handle was closed; free it with ldb_txn_abort");
  return LDB_OK;
}

/* Releases everything t holds of the engine: snapshot, write buffer, read
 * set, its place in active_txns. Its iterators were invalidated first. */
static void txn_release(ldb_txn *t) {
  eng *e = t->e;
  snap_release(e, &t->s);
  mt_unref(t->wb);
  t->wb = NULL;
  t->wb_ops = 0;
  ldb_mfree(t->a, t->rs);
  t->rs = NULL;
  t->rs_len = t->rs_cap = 0;
  atomic_fetch_sub(&e->active_txns, 1);
}

/* ldb_close: the handle's iterators are already invalidated. */
static void txn_invalidate(ldb_child *c) {
  txn_release((ldb_txn *)c);
}

/* Ends t: invalidates its iterators, releases it, frees it. */
static void txn_end(ldb_txn *t) {
  ldb_db *db = t->db;
  if (!t->node.dead) {
    if (t->iters) db_invalidate_children(db, t);
    txn_release(t);
  }
  db_child_remove(db, &t->node);
  ldb_mfree(t->a, t);
}

int ldb_txn_begin(ldb_db *db, unsigned flags, ldb_txn **out) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!out) return ldb_err(LDB_INVALID, "ldb_txn_begin: out is NULL");
  *out = NULL;
  if (flags & ~(unsigned)LDB_TXN_READONLY)
    return ldb_err(LDB_INVALID, "unknown transaction flags 0x%x", flags);
  eng *e = db->e;
  if (!(flags & LDB_TXN_READONLY) && (db->read_only || e->opts.read_only))
    return ldb_err(LDB_READONLY, "read-write transaction on a read-only "
                                 "database");
  uint64_t n = atomic_fetch_add(&e->active_txns, 1) + 1;
  if (e->opts.max_active_txns && n > e->opts.max_active_txns) {
    atomic_fetch_sub(&e->active_txns, 1);
    ev_record(e, LDB_EVENT_BUSY, LDB_BUSY, e->opts.max_active_txns);
    return ldb_err(LDB_BUSY,
                   "too many open transactions (option "
                   "max_active_txns (maxActiveTransactions) is %u)",
                   e->opts.max_active_txns);
  }
  ldb_txn *t = ldb_calloc(e->a, sizeof *t);
  if (!t) {
    atomic_fetch_sub(&e->active_txns, 1);
    return ldb_err(LDB_NOMEM, "out of memory beginning a transaction");
  }
  t->db = db;
  t->e = e;
  t->a = e->a;
  t->flags = flags;
  snap_take(e, &t->s);
  db_child_add(db, &t->node, CHILD_TXN, NULL, txn_invalidate);
  *out = t;
  return LDB_OK;
}

uint64_t ldb_txn_snapshot_seq(const ldb_txn *txn) {
  return txn ? txn->s.seq : 0;
}

int txn_note_read(ldb_txn *t, const void *key, size_t klen) {
  if (t->flags & LDB_TXN_READONLY) return LDB_OK;
  size_t need = t->rs_len + 4 + klen;
  if (need > t->rs_cap) {
    size_t nc = t->rs_cap ? t->rs_cap : 256;
    while (nc < need)
      nc *= 2;
    uint8_t *nb = ldb_realloc(t->e->a, t->rs, t->rs_len, nc);
    if (!nb) return ldb_err(LDB_NOMEM, "out of memory recording a read");
    t->rs = nb;
    t->rs_cap = nc;
  }
  ldb_put32(t->rs + t->rs_len, (uint32_t)klen);
  if (klen) memcpy(t->rs + t->rs_len + 4, key, klen);
  t->rs_len = need;
  return LDB_OK;
}

/* Looks in the write buffer: 1 found (type set), 0 not buffered. */
static int wb_find(const ldb_txn *t, const void *key, size_t klen, int *type,
                   const void **val, uint32_t *vlen) {
  return t->wb && mt_get(t->wb, key, klen, UINT64_MAX, type, val, vlen);
}

/* What both transaction reads do first: note key in the read set, count
 * the get, and look in the write buffer. LDB_OK with *found 1 and the
 * buffered value in *v, *vl; LDB_OK with *found 0 when the snapshot must
 * answer; LDB_NOTFOUND when the transaction deleted key; else an error. */
static int txn_read(ldb_txn *txn, const void *key, size_t key_len, int *found,
                    const void **v, uint32_t *vl) {
  int rc, type;
  if ((rc = txn_note_read(txn, key, key_len))) return rc;
  atomic_fetch_add_explicit(&txn->e->st_gets, 1, memory_order_relaxed);
  *found = wb_find(txn, key, key_len, &type, v, vl);
  return *found && type == MT_DEL ? LDB_NOTFOUND : LDB_OK;
}

int ldb_txn_get(ldb_txn *txn, const void *key, size_t key_len, void **value,
                size_t *value_len) {
  int rc = check_txn(txn), found;
  if (rc) return rc;
  if ((rc = check_key(key, key_len))) return rc;
  if (!value || !value_len)
    return ldb_err(LDB_INVALID, "value out-pointers are NULL");
  const void *v;
  uint32_t vl;
  if ((rc = txn_read(txn, key, key_len, &found, &v, &vl))) return rc;
  if (!found)
    return snap_lookup(&txn->s, txn->e->a, key, key_len, value, value_len);
  void *p = ldb_memdup(txn->e->a, v, vl);
  if (!p) return ldb_err(LDB_NOMEM, "out of memory copying a value");
  *value = p;
  *value_len = vl;
  return LDB_OK;
}

int ldb_txn_get_buf(ldb_txn *txn, const void *key, size_t key_len, void *buf,
                    size_t cap, size_t *value_len) {
  int rc = check_txn(txn), found;
  if (rc) return rc;
  if ((rc = check_key(key, key_len))) return rc;
  if (!value_len || (!buf && cap))
    return ldb_err(LDB_INVALID, "buffer arguments are invalid");
  const void *v;
  uint32_t vl;
  if ((rc = txn_read(txn, key, key_len, &found, &v, &vl))) return rc;
  if (!found) return snap_get(&txn->s, key, key_len, buf, cap, value_len);
  if (vl && cap) memcpy(buf, v, vl < cap ? vl : cap);
  *value_len = vl;
  return LDB_OK;
}

static int txn_write(ldb_txn *t, int type, const void *key, size_t klen,
                     const void *val, size_t vlen) {
  int rc = check_txn(t);
  if (rc) return rc;
  if ((rc = check_key(key, klen))) return rc;
  if (type == MT_PUT && (rc = check_value(val, vlen))) return rc;
  if (t->flags & LDB_TXN_READONLY)
    return ldb_err(LDB_READONLY, "write in a read-only transaction");
  if (!t->wb && (rc = mt_create(t->e->a, 16u << 10, &t->wb))) return rc;
  rc = mt_add(t->wb, t->wb_ops + 1, type, key, (uint32_t)klen, val,
              type == MT_PUT ? (uint32_t)vlen : 0);
  if (rc) return rc;
  t->wb_ops++;
  t->wb_kv += klen + (type == MT_PUT ? vlen : 0);
  return LDB_OK;
}

int ldb_txn_put(ldb_txn *txn, const void *key, size_t key_len,
                const void *value, size_t value_len) {
  return txn_write(txn, MT_PUT, key, key_len, value, value_len);
}

int ldb_txn_delete(ldb_txn *txn, const void *key, size_t key_len) {
  return txn_write(txn, MT_DEL, key, key_len, NULL, 0);
}

/* Calls fn on the newest buffered version of every key, ascending. */
static mt_node *wb_next_key(mt_node *n) {
  size_t kl, nl;
  const uint8_t *k = mt_node_key(n, &kl);
  for (n = mt_node_next(n); n; n = mt_node_next(n)) {
    const uint8_t *nk = mt_node_key(n, &nl);
    if (ldb_keycmp(nk, nl, k, kl) != 0) break;
  }
  return n;
}

static int conflicts(const ldb_txn *t, const void *key, size_t klen) {
  const mt *m = t->s.frozen ? t->s.frozen : t->s.active;
  for (; m; m = mt_next(m))
    if (mt_newest_seq(m, key, klen) > t->s.seq) return 1;
  return 0;
}

static int conflict_err(const void *key, size_t klen, const char *what) {
  char shown[LDB_KEY_TEXT_MAX];
  ldb_key_text(shown, key, klen);
  return ldb_err(LDB_CONFLICT,
                 "transaction conflict: key %s, %s by this transaction, was "
                 "committed by another transaction after its snapshot; retry",
                 shown, what);
}

/* Conflict check of t against every commit after its snapshot; run by the
 * commit path with commit_mu held. LDB_CONFLICT with the key in the
 * message. */
static int txn_validate(void *ctx) {
  ldb_txn *t = ctx;
  if (atomic_load(&t->e->last_seq) == t->s.seq) return LDB_OK;
  if (t->wb)
    for (mt_node *n = mt_first(t->wb); n; n = wb_next_key(n)) {
      size_t kl;
      const uint8_t *k = mt_node_key(n, &kl);
      if (conflicts(t, k, kl)) return conflict_err(k, kl, "written");
    }
  for (size_t off = 0; off < t->rs_len;) {
    uint32_t kl = ldb_get32(t->rs + off);
    const uint8_t *k = t->rs + off + 4;
    if (conflicts(t, k, kl)) return conflict_err(k, kl, "read");
    off += 4 + (size_t)kl;
  }
  return LDB_OK;
}

int ldb_txn_commit(ldb_txn *txn) {
  if (!txn) return ldb_err(LDB_INVALID, "transaction is NULL");
  if (txn->node.dead) {
    txn_end(txn);
    return ldb_err(LDB_CLOSED, "commit: the transaction was invalidated by "
                               "closing its database handle; nothing was "
                               "applied");
  }
  int rc = LDB_OK;
  eng *e = txn->e;
  /* Its iterators end with it (they read its snapshot and buffer). */
  if (txn->iters) db_invalidate_children(txn->db, txn);
  uint8_t *buf = NULL;
  if ((txn->flags & LDB_TXN_READONLY) || !txn->wb || !txn->wb_ops) goto done;
  /* Encode the newest buffered version of each key as log ops. */
  size_t len = 0, nops = 0;
  for (mt_node *n = mt_first(txn->wb); n; n = wb_next_key(n)) {
    size_t kl, vl;
    mt_node_key(n, &kl);
    mt_node_val(n, &vl);
    len += wal_op_size(kl, vl);
    nops++;
  }
  if (nops > UINT32_MAX || len > (size_t)UINT32_MAX - WAL_HDR) {
    rc = ldb_err(LDB_INVALID, "transaction too large (%zu ops, %zu bytes)",
                 nops, len);
    goto done;
  }
  buf = ldb_malloc(e->a, len);
  if (!buf) {
    rc = ldb_err(LDB_NOMEM, "out of memory encoding a commit");
    goto done;
  }
  uint8_t *p = buf;
  size_t kv = 0, nputs = 0;
  for (mt_node *n = mt_first(txn->wb); n; n = wb_next_key(n)) {
    size_t kl, vl;
    const uint8_t *k = mt_node_key(n, &kl);
    const uint8_t *v = mt_node_val(n, &vl);
    int type = mt_node_type(n) == MT_PUT ? WAL_PUT : WAL_DEL;
    p = wal_op_encode(p, type, k, (uint32_t)kl, v, (uint32_t)vl);
    kv += kl + vl;
    nputs += type == WAL_PUT;
  }
  eng_ops w = {buf, len, (uint32_t)nops, (uint32_t)nputs, kv};
  rc = eng_commit(e, &w, txn_validate, txn);
done:
  ldb_mfree(e->a, buf);
  txn_end(txn);
  return rc;
}

void ldb_txn_abort(ldb_txn *txn) {
  if (!txn) return;
  if (!txn->node.dead) atomic_fetch_add(&txn->e->st_aborts, 1);
  txn_end(txn);
}
