/*
 * store_js.c — an ldb_store whose methods call JavaScript (the imports in
 * wasm/library_store.js). The JavaScript side keeps a registry of store
 * objects (js/wasm/stores/: OPFS, IndexedDB, memory, Node fs); a C store
 * holds only the registry id of its JS store, and a C file the id the JS
 * store gave the opened file.
 *
 * Owns: the translation between the C seam (codes, uint64 offsets, buffers
 * in the wasm heap) and the JS calls. Not responsible for any persistence
 * policy: that is each JS store's business.
 *
 * Conventions of the imports: offsets and sizes cross as doubles (exact up
 * to 2^53, far beyond any file we write); a negative return is -(LDB code),
 * with the JS store's message retrievable by js_store_errmsg().
 */
#include <stdio.h>

#include "store.h"

extern int js_store_open(int sid, const char *name, int flags);
extern double js_file_read(int sid, int fid, double off, void *buf, double len);
extern int js_file_write(int sid, int fid, double off, const void *buf,
                         double len);
extern int js_file_sync(int sid, int fid);
extern double js_file_size(int sid, int fid);
extern int js_file_truncate(int sid, int fid, double size);
extern int js_file_close(int sid, int fid);
extern int js_store_lock(int sid, int exclusive, char *holder, int cap);
extern int js_store_unlock(int sid);
extern int js_store_remove(int sid, const char *name);
extern void js_store_release(int sid);
/* Copies the message of the JS store's last failure (NUL-terminated,
 * truncated to cap) into buf. */
extern void js_store_errmsg(char *buf, int cap);

typedef struct js_store {
  ldb_store base;
  int sid;
  char *idstr;
} js_store;

typedef struct js_file {
  ldb_file base;
  int fid;
} js_file;

static int sid_of(ldb_file *f) {
  return ((js_store *)f->store)->sid;
}

/* Turns a negative JS return into an LDB code with the JS message. */
static int fail(int neg, const char *op) {
  char msg[256];
  int code = -neg;
  if (code <= 0 || code >= LDB_CODE_COUNT) code = LDB_IOERR;
  js_store_errmsg(msg, (int)sizeof msg);
  return ldb_err(code, "%s: %s", op, msg[0] ? msg : ldb_strerror(code));
}

static int jf_open(ldb_store *s, const char *name, int flags, ldb_file **out) {
  js_store *js = (js_store *)s;
  js_file *f;
  int fid;
  *out = NULL;
  fid = js_store_open(js->sid, name, flags);
  if (fid < 0) return fail(fid, "open");
  f = ldb_calloc(&ldb_default_allocator, sizeof *f);
  if (!f) {
    js_file_close(js->sid, fid);
    return ldb_err(LDB_NOMEM, "out of memory opening %s", name);
  }
  f->base.store = s;
  f->fid = fid;
  *out = &f->base;
  return LDB_OK;
}

static int jf_read(ldb_file *f, uint64_t off, void *buf, size_t len,
                   size_t *got) {
  double r = js_file_read(sid_of(f), ((js_file *)f)->fid, (double)off, buf,
                          (double)len);
  *got = 0;
  if (r < 0) return fail((int)r, "read");
  *got = (size_t)r;
  return LDB_OK;
}

static int jf_write(ldb_file *f, uint64_t off, const void *buf, size_t len) {
  int r = js_file_write(sid_of(f), ((js_file *)f)->fid, (double)off, buf,
                        (double)len);
  return r < 0 ? fail(r, "write") : LDB_OK;
}

static int jf_sync(ldb_file *f) {
  int r = js_file_sync(sid_of(f), ((js_file *)f)->fid);
  return r < 0 ? fail(r, "sync") : LDB_OK;
}

static int jf_size(ldb_file *f, uint64_t *size) {
  double r = js_file_size(sid_of(f), ((js_file *)f)->fid);
  *size = 0;
  if (r < 0) return fail((int)r, "size");
  *size = (uint64_t)r;
  return LDB_OK;
}

static int jf_truncate(ldb_file *f, uint64_t size) {
  int r = js_file_truncate(sid_of(f), ((js_file *)f)->fid, (double)size);
  return r < 0 ? fail(r, "truncate") : LDB_OK;
}

static int jf_close(ldb_file *f) {
  int r = js_file_close(sid_of(f), ((js_file *)f)->fid);
  ldb_mfree(&ldb_default_allocator, f);
  return r < 0 ? fail(r, "close") : LDB_OK;
}

static int js_lock(ldb_store *s, int exclusive, char *holder,
                   size_t holder_cap) {
  int r =
      js_store_lock(((js_store *)s)->sid, exclusive, holder, (int)holder_cap);
  return r < 0 ? fail(r, "lock") : LDB_OK;
}

static int js_unlock(ldb_store *s) {
  int r = js_store_unlock(((js_store *)s)->sid);
  return r < 0 ? fail(r, "unlock") : LDB_OK;
}

static int js_remove(ldb_store *s, const char *name) {
  int r = js_store_remove(((js_store *)s)->sid, name);
  return r < 0 ? fail(r, "remove") : LDB_OK;
}

static void js_destroy(ldb_store *s) {
  js_store *js = (js_store *)s;
  js_store_release(js->sid);
  ldb_mfree(&ldb_default_allocator, js->idstr);
  ldb_mfree(&ldb_default_allocator, js);
}

static const ldb_store_methods js_methods = {
    jf_open,     jf_read,  jf_write, jf_sync,   jf_size,
    jf_truncate, jf_close, js_lock,  js_unlock, js_remove,
    js_destroy,  NULL,     NULL,     NULL, /* no mapping under WebAssembly: the
                                              page cache */
    NULL,
};

/* Makes a C store over JS store `sid` (already registered on the JS side).
 * id: the store's identity for engine sharing (copied), or NULL. Returns
 * NULL when out of memory; the JS store is then released by the caller. */
ldb_store *ldbw_store_js_new(int sid, const char *id) {
  js_store *js = ldb_calloc(&ldb_default_allocator, sizeof *js);
  if (!js) return NULL;
  if (id) {
    js->idstr = ldb_memdup(&ldb_default_allocator, id, strlen(id) + 1);
    if (!js->idstr) {
      ldb_mfree(&ldb_default_allocator, js);
      return NULL;
    }
  }
  js->base.methods = &js_methods;
  js->base.id = js->idstr;
  js->sid = sid;
  return &js->base;
}
