/*
 * store.c — store helpers shared by every layer: reading an exact byte
 * range, buffered reads for the log readers, freeing any store through its
 * destroy method, and the default store for a path. (What the two
 * directory stores share is store_dir.c: they are below this file, which
 * calls them.)
 *
 * The stores themselves live in store_memory.c, store_posix.c and
 * store_win32.c (Windows builds compile it instead of store_posix.c; the
 * WebAssembly build compiles neither the posix store nor, here, any
 * reference to it: its stores are JavaScript, passed in ldb_options.store).
 */
#include "store.h"

int ldb_store_default(const char *path, int create, ldb_store **out) {
#ifdef LDB_NO_POSIX_STORE
  (void)create;
  *out = NULL;
  return ldb_err(LDB_INVALID,
                 "no store for %s: this build has no file-system store, so "
                 "ldb_options.store must be set (ldb_backup: use "
                 "ldb_backup_to_store)",
                 path ? path : "(no path)");
#elif defined(_WIN32)
  return ldb_store_win32(path, create, out);
#else
  return ldb_store_posix(path, create, out);
#endif
}

int ldb_fread_full(ldb_file *f, uint64_t off, void *buf, size_t len) {
  uint8_t *p = buf;
  size_t done = 0;
  /* A store may return fewer bytes than asked before end of file (short
   * reads are allowed only at EOF, but a JS store may split requests), so
   * keep reading until the range is filled or a read returns nothing. */
  while (done < len) {
    size_t got = 0;
    int rc = ldb_fread(f, off + done, p + done, len - done, &got);
    if (rc != LDB_OK) return rc;
    if (got == 0)
      return ldb_err(LDB_CORRUPT,
                     "short read: wanted %zu bytes at offset %llu, the file "
                     "ends after %zu",
                     len, (unsigned long long)off, done);
    if (got > len - done)
      return ldb_err(LDB_INTERNAL,
                     "store read returned %zu bytes for a "
                     "request of %zu",
                     got, len - done);
    done += got;
  }
  return LDB_OK;
}

const uint8_t *ldb_freader_get(ldb_freader *r, uint64_t off, size_t n,
                               int *rc) {
  *rc = LDB_OK;
  if (off + n > r->size || off + n < off) return NULL;
  if (off >= r->start && off + n <= r->start + r->len)
    return r->buf + (off - r->start);
  size_t chunk = r->chunk ? r->chunk : LDB_FREADER_CHUNK;
  size_t want = n > chunk ? n : chunk;
  if (want > r->size - off) want = (size_t)(r->size - off);
  r->len = 0; /* the buffer's contents are replaced: nothing to copy */
  if (want > r->cap) {
    uint8_t *nb = ldb_realloc(r->a, r->buf, 0, want);
    if (!nb) {
      *rc = ldb_err(LDB_NOMEM, "out of memory reading the log");
      return NULL;
    }
    r->buf = nb;
    r->cap = want;
  }
  size_t got = 0;
  int e = ldb_fread(r->file, off, r->buf, want, &got);
  if (e) {
    *rc = ldb_err(e, "cannot read the log: %s", ldb_strerror(e));
    return NULL;
  }
  r->start = off;
  r->len = got;
  if (got < n) return NULL;
  return r->buf;
}

void ldb_freader_free(ldb_freader *r) {
  ldb_mfree(r->a, r->buf);
  r->buf = NULL;
  r->cap = r->len = 0;
}

void ldb_store_destroy(ldb_store *s) {
  if (!s) return;
  s->methods->destroy(s);
}
