/*
 * store.c — store helpers shared by every layer: reading an exact byte
 * range, freeing any store through its destroy method, the default store
 * for a path, and what the two directory stores share (paths, file names,
 * system errors, and the message of a lock held elsewhere).
 *
 * The stores themselves live in store_memory.c, store_posix.c and
 * store_win32.c (Windows builds compile it instead of store_posix.c; the
 * WebAssembly build compiles neither the posix store nor, here, any
 * reference to it: its stores are JavaScript, passed in ldb_options.store).
 */
#include <stdio.h>
#include <string.h>

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

void ldb_store_destroy(ldb_store *s) {
  if (!s) return;
  s->methods->destroy(s);
}

/* ---- shared by the directory stores ------------------------------------ */

char *store_path_join(const char *dir, const char *name, char sep) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = ldb_malloc(&ldb_default_allocator, a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = sep;
  memcpy(p + a + 1, name, b + 1);
  return p;
}

int store_valid_name(const char *name, const char *seps) {
  return name && *name && !strpbrk(name, seps) && strcmp(name, ".") &&
         strcmp(name, "..");
}

int store_os_error(int full, int nomem, const char *what, const char *path,
                   const char *msg) {
  int code = full ? LDB_FULL : nomem ? LDB_NOMEM : LDB_IOERR;
  return ldb_err(code, "%s %s: %s", what, path, msg);
}

int store_locked_by(const char *dir, unsigned long pid, char *holder,
                    size_t holder_cap) {
  char who[32];
  if (pid)
    snprintf(who, sizeof who, "pid %lu", pid);
  else
    snprintf(who, sizeof who, "another process");
  if (holder && holder_cap) snprintf(holder, holder_cap, "%s", who);
  return ldb_err(LDB_BUSY, "database %s is locked by %s", dir, who);
}
