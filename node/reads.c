/*
 * node/reads.c — point reads and the shared read buffer (see binding.h).
 *
 * get/txnGet return a small value's length in the read buffer, which
 * js/native/ copies into a pooled Buffer: much cheaper than a Buffer with
 * its own backing store, whose allocation and sweeping dominated a get.
 * A value larger than READ_INLINE_MAX is read again straight into a Buffer
 * of its size (a second lookup costs less than copying a big value twice,
 * and such Buffers are not pooled anyway: read64k was 0.76x lmdb-js with
 * 64 KiB values inline); the first lookup copies nothing of a value on
 * overflow pages (ldb_get_buf), so such a value is read once. getMany packs one
 * snapshot's values into the buffer and returns the ones that do not fit as
 * Buffers.
 */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

#define READ_INLINE_MAX (16u << 10)

static void read_buf_finalize(napi_env env, void *data, void *hint) {
  read_buf *rb = data;
  (void)hint;
  if (rb->ref && napi_delete_reference(env, rb->ref) != napi_ok) {
    /* the env is going away; nothing else holds the reference */
  }
  free(rb);
}

read_buf *read_buf_get(napi_env env) {
  void *p = NULL;
  napi_value b;
  if (napi_get_instance_data(env, &p) != napi_ok) {
    throw_napi(env, "napi_get_instance_data");
    return NULL;
  }
  if (p != NULL) return p;
  read_buf *rb = calloc(1, sizeof *rb);
  if (rb == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory creating the read buffer");
    return NULL;
  }
  void *data = NULL;
  if (napi_create_buffer(env, READ_BUF_SIZE, &data, &b) != napi_ok ||
      napi_create_reference(env, b, 1, &rb->ref) != napi_ok) {
    free(rb);
    throw_napi(env, "creating the read buffer");
    return NULL;
  }
  rb->data = data;
  rb->cap = READ_VAL_CAP;
  if (napi_set_instance_data(env, rb, read_buf_finalize, NULL) != napi_ok) {
    if (napi_delete_reference(env, rb->ref) != napi_ok) {
      /* the Buffer then lives as long as the env */
    }
    free(rb);
    throw_napi(env, "napi_set_instance_data");
    return NULL;
  }
  return rb;
}

/* readBuffer(): the env's read buffer (the same Buffer on every call). */
napi_value js_read_buffer(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  read_buf *rb = read_buf_get(env);
  if (rb == NULL) return NULL;
  NAPI_OK(env, napi_get_reference_value(env, rb->ref, &out));
  return out;
}

typedef int (*get_buf_fn)(void *h, const void *k, size_t kl, void *buf,
                          size_t cap, size_t *len);
static int db_get_buf(void *h, const void *k, size_t kl, void *buf, size_t cap,
                      size_t *len) {
  return ldb_get_buf(h, k, kl, buf, cap, len);
}
static int txn_get_buf(void *h, const void *k, size_t kl, void *buf, size_t cap,
                       size_t *len) {
  return ldb_txn_get_buf(h, k, kl, buf, cap, len);
}

/* A value of len bytes (known from a first lookup) read straight into a new
 * Buffer of its size, retrying if it changed in between (another thread may
 * commit meanwhile when reading the latest commit); undefined when it was
 * deleted meanwhile. */
static napi_value read_large(napi_env env, get_buf_fn fn, void *h,
                             const void *k, size_t kl, size_t len) {
  napi_value out;
  for (;;) {
    void *data = NULL;
    size_t want = len;
    NAPI_OK(env, napi_create_buffer(env, want, &data, &out));
    int rc = fn(h, k, kl, data, want, &len);
    if (rc == LDB_NOTFOUND) return undefined(env);
    if (rc != LDB_OK) {
      throw_ldb(env, rc);
      return NULL;
    }
    if (len == want) return out;
    if (len < want) {
      /* shrank: the first len bytes are the value */
      napi_value shorter;
      NAPI_OK(env, napi_create_buffer_copy(env, len, data, NULL, &shorter));
      return shorter;
    }
  }
}

/* The key argument of get/txnGet: a number names the first n bytes of the
 * read buffer's key area; otherwise a Uint8Array. 0, or -1 thrown. */
static int key_arg(napi_env env, read_buf *rb, napi_value v, const void **k,
                   size_t *kl) {
  double n = -1;
  if (napi_get_value_double(env, v, &n) != napi_ok)
    return get_bytes(env, v, "key", k, kl);
  /* a double, not napi_get_value_uint32, which wraps 2^32 + 1 to 1 */
  if (!(n >= 0) || n > LDB_MAX_KEY_SIZE || n != (double)(size_t)n) {
    throw_type(env, "key length must be a number up to the key area size");
    return -1;
  }
  *k = rb->data + READ_VAL_CAP;
  *kl = (size_t)n;
  return 0;
}

/* The value's length in the read buffer when it is at most
 * READ_INLINE_MAX bytes, -1 when absent, or a new Buffer. */
static napi_value read_into(napi_env env, read_buf *rb, get_buf_fn fn, void *h,
                            const void *k, size_t kl) {
  size_t len = 0;
  napi_value out;
  int rc = fn(h, k, kl, rb->data, READ_INLINE_MAX, &len);
  if (rc == LDB_OK && len <= READ_INLINE_MAX) {
    NAPI_OK(env, napi_create_int32(env, (int32_t)len, &out));
    return out;
  }
  if (rc == LDB_NOTFOUND) {
    NAPI_OK(env, napi_create_int32(env, -1, &out));
    return out;
  }
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  out = read_large(env, fn, h, k, kl, len);
  if (out == NULL) return NULL;
  napi_valuetype t;
  NAPI_OK(env, napi_typeof(env, out, &t));
  if (t == napi_undefined) NAPI_OK(env, napi_create_int32(env, -1, &out));
  return out;
}

/* The one read path of get and txnGet: (handle, key | keyLength), the
 * handle a database (in_txn 0) or a transaction. */
static napi_value get_of(napi_env env, napi_callback_info info, int in_txn) {
  ARGS(2);
  void *h = open_handle(env, argv[0], in_txn);
  if (h == NULL) return NULL;
  read_buf *rb = read_buf_get(env);
  const void *k;
  size_t kl;
  if (rb == NULL || key_arg(env, rb, argv[1], &k, &kl)) return NULL;
  return read_into(env, rb, in_txn ? txn_get_buf : db_get_buf, h, k, kl);
}

/* get(db, key | keyLength): the latest commit's value of key (a Uint8Array,
 * or the length of a key copied into the read buffer's key area): its
 * length in the read buffer, -1 when absent, or a Buffer (large value). */
napi_value js_get(napi_env env, napi_callback_info info) {
  return get_of(env, info, 0);
}

/* txnGet(txn, key | keyLength): get within a transaction (its snapshot
 * and its own writes). */
napi_value js_txn_get(napi_env env, napi_callback_info info) {
  return get_of(env, info, 1);
}

/* getMany(db, keys[]): every key read from one read-only snapshot, packed
 * into the read buffer's value area: [i32 m] then, for keys 0..m-1 in
 * order, [i32 len][len bytes] (len -1: absent; -2: the value did not fit
 * and is spill[i]). Keys m..n-1 (the area ran out) are all in spill: a
 * Buffer, or undefined when absent. Returns m as a number when nothing
 * spilled, else the spill array (length n). Little-endian i32. The keys
 * count as gets; the snapshot is no transaction of the caller's (neither a
 * commit nor an abort in the statistics). */
napi_value js_get_many(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  read_buf *rb = read_buf_get(env);
  if (rb == NULL) return NULL;
  bool is_arr = false;
  uint32_t n = 0;
  NAPI_OK(env, napi_is_array(env, argv[1], &is_arr));
  if (!is_arr) {
    throw_type(env, "keys must be an array");
    return NULL;
  }
  NAPI_OK(env, napi_get_array_length(env, argv[1], &n));
  napi_value spill = NULL, result = NULL;
  ldb_txn *txn = NULL;
  int rc = ldb_txn_begin(d->db, LDB_TXN_READONLY, &txn);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  uint8_t *base = rb->data;
  size_t cap = rb->cap, pos = 4;
  uint32_t m = 0;
  int packing = 1; /* still describing keys in the buffer */
  for (uint32_t i = 0; i < n; i++) {
    napi_value kv, v = NULL;
    const void *k;
    size_t kl, len = 0;
    NAPI_OK_GOTO(napi_get_element(env, argv[1], i, &kv));
    if (get_bytes(env, kv, "key", &k, &kl)) goto fail;
    if (packing && cap - pos < 4) packing = 0;
    if (packing) {
      rc = ldb_txn_get_buf(txn, k, kl, base + pos + 4, cap - pos - 4, &len);
      int32_t hdr;
      if (rc == LDB_NOTFOUND) {
        hdr = -1;
      } else if (rc == LDB_OK && len <= cap - pos - 4) {
        hdr = (int32_t)len;
      } else if (rc == LDB_OK) {
        hdr = -2;
        v = read_large(env, txn_get_buf, txn, k, kl, len);
        if (v == NULL) goto fail;
      } else {
        throw_ldb(env, rc);
        goto fail;
      }
      memcpy(base + pos, &hdr, 4);
      pos += 4 + (hdr > 0 ? (size_t)hdr : 0);
      m++;
      if (v == NULL) continue;
    } else {
      uint8_t small[64];
      rc = ldb_txn_get_buf(txn, k, kl, small, sizeof small, &len);
      if (rc == LDB_NOTFOUND) {
        v = undefined(env);
      } else if (rc != LDB_OK) {
        throw_ldb(env, rc);
        goto fail;
      } else if (len <= sizeof small) {
        NAPI_OK_GOTO(napi_create_buffer_copy(env, len, small, NULL, &v));
      } else {
        v = read_large(env, txn_get_buf, txn, k, kl, len);
      }
      if (v == NULL) goto fail;
    }
    if (spill == NULL)
      NAPI_OK_GOTO(napi_create_array_with_length(env, n, &spill));
    NAPI_OK_GOTO(napi_set_element(env, spill, i, v));
  }
  memcpy(base, &m, 4);
  /* a read-only commit ends the snapshot without counting an abort (the
   * caller aborted nothing) and cannot fail */
  rc = ldb_txn_commit(txn);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  if (spill != NULL) return spill;
  NAPI_OK(env, napi_create_uint32(env, m, &result));
  return result;
fail:
  ldb_txn_abort(txn);
  return NULL;
}
