/*
 * range.c — operations over a key range done inside the engine, so that a
 * host never copies a range's keys and values out to count or delete them:
 * ldb_count walks an iterator (iter.c) over one snapshot touching keys
 * only; ldb_delete_range collects the range's keys the same way and deletes
 * them in one atomic commit (commit.c), or buffers the deletes in a
 * transaction. Owns nothing but the two calls and their statistics.
 */
#include "commit.h"
#include "txn.h"
#include "wal.h"

/* A growing buffer of log-format delete ops (wal_op_encode). */
typedef struct del_buf {
  const ldb_allocator *a;
  uint8_t *buf;
  size_t len, cap, kv;
  uint64_t n;
} del_buf;

static int del_add(del_buf *d, const void *key, size_t klen) {
  size_t need = wal_op_size(klen, 0);
  if (d->len + need > (size_t)UINT32_MAX - WAL_HDR || d->n >= UINT32_MAX)
    return ldb_err(LDB_INVALID, "range holds more keys than one commit "
                                "can delete; delete it in parts (a limit)");
  if (d->len + need > d->cap) {
    size_t nc = d->cap ? d->cap * 2 : 4096;
    while (nc < d->len + need)
      nc *= 2;
    uint8_t *nb = ldb_realloc(d->a, d->buf, d->len, nc);
    if (!nb) return ldb_err(LDB_NOMEM, "out of memory deleting a range");
    d->buf = nb;
    d->cap = nc;
  }
  wal_op_encode(d->buf + d->len, WAL_DEL, key, (uint32_t)klen, NULL, 0);
  d->len += need;
  d->kv += klen;
  d->n++;
  return LDB_OK;
}

/* Walks the range of opts (in its direction) over txn's view or a fresh
 * snapshot, up to limit keys; counts them, and collects them into d when
 * d is not NULL. */
static int walk(ldb_db *db, ldb_txn *txn, const ldb_iter_options *opts,
                uint64_t limit, del_buf *d, uint64_t *count) {
  ldb_iter *it = NULL;
  int rc = ldb_iter_create(db, txn, opts, &it);
  if (rc) return rc;
  uint64_t n = 0;
  for (rc = ldb_iter_first(it); rc == LDB_OK && n < limit;
       rc = ldb_iter_next(it)) {
    if (d) {
      const void *k;
      size_t kl;
      if ((rc = ldb_iter_key(it, &k, &kl)) || (rc = del_add(d, k, kl))) break;
    }
    n++;
  }
  if (rc == LDB_NOTFOUND || (rc == LDB_OK && n >= limit)) rc = LDB_OK;
  ldb_iter_destroy(it);
  *count = n;
  return rc;
}

int ldb_count(ldb_db *db, ldb_txn *txn, const ldb_iter_options *opts,
              uint64_t *count) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!count) return ldb_err(LDB_INVALID, "ldb_count: count is NULL");
  *count = 0;
  if ((rc = walk(db, txn, opts, UINT64_MAX, NULL, count))) return rc;
  atomic_fetch_add_explicit(&db->e->st_counts, 1, memory_order_relaxed);
  return LDB_OK;
}

int ldb_delete_range(ldb_db *db, ldb_txn *txn, const ldb_iter_options *opts,
                     uint64_t limit, uint64_t *deleted) {
  int rc = check_db(db);
  if (rc) return rc;
  if (deleted) *deleted = 0;
  if (txn && (txn->flags & LDB_TXN_READONLY))
    return ldb_err(LDB_READONLY, "deleting a range in a read-only "
                                 "transaction");
  if ((rc = check_writable(db))) return rc;
  eng *e = db->e;
  del_buf d = {.a = e->a};
  uint64_t n = 0;
  if ((rc = walk(db, txn, opts, limit, &d, &n))) goto done;
  if (n == 0) goto done;
  if (txn) {
    /* Into the transaction's buffer, after the walk (an iterator sees
     * the buffered writes made before it was created). */
    const uint8_t *p = d.buf, *end = d.buf + d.len;
    while (p < end) {
      wal_op op;
      if ((rc = wal_op_decode(&p, end, &op)) ||
          (rc = ldb_txn_delete(txn, op.key, op.klen)))
        goto done;
    }
  } else {
    eng_ops w = {d.buf, d.len, (uint32_t)n, 0, d.kv};
    if ((rc = eng_commit(e, &w, NULL, NULL))) goto done;
  }
  atomic_fetch_add_explicit(&e->st_range_deletes, 1, memory_order_relaxed);
  if (deleted) *deleted = n;
done:
  ldb_mfree(e->a, d.buf);
  return rc;
}
