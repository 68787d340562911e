/*
 * wal.c — the log's op codec, and the reader of format 1's two-file
 * write-ahead log (see wal.h). Owns the format-1 files while a migration
 * reads them.
 */
#include "wal.h"

#include "store.h"

const char *const wal_names[2] = {"wal-0.log", "wal-1.log"};

struct wal {
  const ldb_allocator *a;
  ldb_store *store;
  ldb_file *f[2]; /* NULL when the file does not exist */
};

uint8_t *wal_op_encode(uint8_t *p, int type, const void *key, uint32_t klen,
                       const void *val, uint32_t vlen) {
  p[0] = (uint8_t)type;
  ldb_put32(p + 1, klen);
  ldb_put32(p + 5, type == WAL_PUT ? vlen : 0);
  p += WAL_OP_HDR;
  if (klen) memcpy(p, key, klen);
  p += klen;
  if (type == WAL_PUT && vlen) {
    memcpy(p, val, vlen);
    p += vlen;
  }
  return p;
}

int wal_op_decode(const uint8_t **pp, const uint8_t *end, wal_op *op) {
  const uint8_t *p = *pp;
  if ((size_t)(end - p) < WAL_OP_HDR)
    return ldb_err(LDB_CORRUPT, "log: op header truncated");
  op->type = p[0];
  op->klen = ldb_get32(p + 1);
  op->vlen = ldb_get32(p + 5);
  p += WAL_OP_HDR;
  if (op->type != WAL_PUT && op->type != WAL_DEL)
    return ldb_err(LDB_CORRUPT, "log: bad op type %d", op->type);
  if (op->klen > LDB_MAX_KEY_SIZE || op->vlen > LDB_MAX_VALUE_SIZE ||
      (op->type == WAL_DEL && op->vlen))
    return ldb_err(LDB_CORRUPT, "log: bad op sizes %u/%u", op->klen, op->vlen);
  if ((uint64_t)(end - p) < (uint64_t)op->klen + op->vlen)
    return ldb_err(LDB_CORRUPT, "log: op data truncated");
  op->key = p;
  op->val = p + op->klen;
  *pp = p + op->klen + op->vlen;
  return LDB_OK;
}

int wal_open(ldb_store *s, const ldb_allocator *a, uint64_t *bytes, wal **out) {
  int rc = LDB_OK;
  *bytes = 0;
  wal *w = ldb_calloc(a, sizeof *w);
  if (!w) return ldb_err(LDB_NOMEM, "out of memory opening the log");
  w->a = a;
  w->store = s;
  for (int i = 0; i < 2; i++) {
    rc = ldb_fopen(s, wal_names[i], 0, &w->f[i]);
    if (rc == LDB_NOTFOUND) {
      w->f[i] = NULL;
      rc = LDB_OK;
      continue;
    }
    if (rc) {
      ldb_err(rc, "cannot open log %s: %s", wal_names[i], ldb_strerror(rc));
      goto fail;
    }
    uint64_t sz = 0;
    rc = ldb_fsize(w->f[i], &sz);
    if (rc) {
      ldb_err(rc, "cannot size log %s: %s", wal_names[i], ldb_strerror(rc));
      goto fail;
    }
    *bytes += sz;
  }
  *out = w;
  return LDB_OK;
fail:
  for (int i = 0; i < 2; i++)
    if (w->f[i]) ldb_fclose(w->f[i]);
  ldb_mfree(a, w);
  return rc;
}

void wal_close(wal *w) {
  if (!w) return;
  for (int i = 0; i < 2; i++)
    if (w->f[i]) ldb_fclose(w->f[i]);
  ldb_mfree(w->a, w);
}

int wal_remove(wal *w) {
  for (int i = 0; i < 2; i++) {
    if (!w->f[i]) continue;
    int rc = ldb_ftruncate(w->f[i], 0);
    if (!rc) rc = ldb_fsync(w->f[i]);
    if (rc)
      return ldb_err(rc, "cannot empty the old log %s: %s", wal_names[i],
                     ldb_strerror(rc));
    ldb_fclose(w->f[i]);
    w->f[i] = NULL;
    (void)w->store->methods->remove(w->store, wal_names[i]);
  }
  return LDB_OK;
}

/* ---- reading ----------------------------------------------------------- */

int wal_ops_check(const uint8_t *p, size_t len, uint32_t nops) {
  const uint8_t *end = p + len;
  wal_op op;
  for (uint32_t i = 0; i < nops; i++)
    if (wal_op_decode(&p, end, &op)) return LDB_CORRUPT;
  return p == end ? LDB_OK : LDB_CORRUPT;
}

int wal_scan_file(wal *w, int idx, wal_apply_fn fn, void *ctx, uint64_t *end,
                  uint64_t *first, uint64_t *last, uint64_t *size) {
  int rc = LDB_OK;
  ldb_freader r = {.a = w->a, .file = w->f[idx]};
  *end = 0;
  *first = *last = 0;
  *size = 0;
  if (!r.file) return LDB_OK;
  rc = ldb_fsize(r.file, &r.size);
  if (rc) return ldb_err(rc, "cannot size log: %s", ldb_strerror(rc));
  *size = r.size;
  uint64_t off = 0, expect = 0;
  for (;;) {
    const uint8_t *h = ldb_freader_get(&r, off, WAL_HDR, &rc);
    if (!h) break;
    uint32_t len = ldb_get32(h), crc = ldb_get32(h + 4);
    uint64_t seq = ldb_get64(h + 8);
    uint32_t nops = ldb_get32(h + 16);
    if (seq == 0 || (expect && seq != expect) || nops == 0) break;
    const uint8_t *p = ldb_freader_get(&r, off, WAL_HDR + (size_t)len, &rc);
    if (!p) break;
    uint32_t c = ldb_crc32c(0, p + 8, WAL_HDR - 8 + (size_t)len);
    if (c != crc) break;
    if (wal_ops_check(p + WAL_HDR, len, nops)) break;
    if (fn) {
      rc = fn(ctx, seq, p + WAL_HDR, len, nops);
      if (rc) break;
    }
    if (!*first) *first = seq;
    *last = seq;
    expect = seq + 1;
    off += WAL_HDR + (uint64_t)len;
  }
  *end = off;
  ldb_freader_free(&r);
  return rc;
}

typedef struct replay_ctx {
  uint64_t expect; /* next seq to apply */
  uint64_t ckpt;
  int stopped; /* a gap was found: ignore everything after */
  wal_apply_fn fn;
  void *ctx;
} replay_ctx;

static int replay_one(void *c, uint64_t seq, const uint8_t *ops, size_t len,
                      uint32_t nops) {
  replay_ctx *x = c;
  if (x->stopped) return LDB_OK;
  if (seq <= x->ckpt) return LDB_OK;
  if (seq != x->expect) {
    x->stopped = 1;
    return LDB_OK;
  }
  int rc = x->fn(x->ctx, seq, ops, len, nops);
  if (rc) return rc;
  x->expect = seq + 1;
  return LDB_OK;
}

int wal_recover(wal *w, uint64_t ckpt_seq, wal_apply_fn fn, void *ctx,
                uint64_t *last_seq, uint64_t *seen_seq) {
  uint64_t end[2], first[2], last[2], size[2];
  int rc;
  *last_seq = ckpt_seq;
  *seen_seq = 0;
  for (int i = 0; i < 2; i++) {
    rc =
        wal_scan_file(w, i, NULL, NULL, &end[i], &first[i], &last[i], &size[i]);
    if (rc) goto out;
    if (last[i] > *seen_seq) *seen_seq = last[i];
  }
  /* Older log first: the one whose first record has the lower seq. */
  int order[2] = {0, 1};
  if (first[1] && (!first[0] || first[1] < first[0])) {
    order[0] = 1;
    order[1] = 0;
  }
  replay_ctx x = {ckpt_seq + 1, ckpt_seq, 0, fn, ctx};
  for (int k = 0; k < 2 && !x.stopped; k++) {
    int i = order[k];
    if (!first[i]) continue;
    uint64_t e, f, l, s;
    rc = wal_scan_file(w, i, replay_one, &x, &e, &f, &l, &s);
    if (rc) goto out;
  }
  *last_seq = x.expect - 1;
out:
  return rc;
}
