/*
 * store.h — private helpers around the store seam: calls through the
 * methods table, exact reads, and the store ldb_open uses when the caller
 * gives none. (The fault-injecting store the crash tests use is a test
 * tool: tests/c/helpers/store_faulty.h.)
 */
#ifndef LDB_STORE_H
#define LDB_STORE_H

#include "util.h"

/* Convenience calls through the methods table. */
static inline int ldb_fread(ldb_file *f, uint64_t off, void *buf, size_t len,
                            size_t *got) {
  return f->store->methods->read(f, off, buf, len, got);
}
static inline int ldb_fwrite(ldb_file *f, uint64_t off, const void *buf,
                             size_t len) {
  return f->store->methods->write(f, off, buf, len);
}
static inline int ldb_fsync(ldb_file *f) {
  return f->store->methods->sync(f);
}
static inline int ldb_fsize(ldb_file *f, uint64_t *size) {
  return f->store->methods->size(f, size);
}
static inline int ldb_ftruncate(ldb_file *f, uint64_t size) {
  return f->store->methods->truncate(f, size);
}
static inline int ldb_fclose(ldb_file *f) {
  return f->store->methods->close(f);
}
static inline int ldb_fopen(ldb_store *s, const char *name, int flags,
                            ldb_file **out) {
  return s->methods->open(s, name, flags, out);
}

/* Reads exactly len bytes at off; LDB_CORRUPT ("short read") when the file
 * ends first. */
int ldb_fread_full(ldb_file *f, uint64_t off, void *buf, size_t len);

/* The store ldb_open and ldb_backup use for a path when the caller gives
 * no store: the directory store over `path` (ldb_store_posix; on Windows
 * ldb_store_win32). In a build without it (the WebAssembly build, compiled
 * with LDB_NO_POSIX_STORE) it returns LDB_INVALID saying that a store must
 * be passed. */
int ldb_store_default(const char *path, int create, ldb_store **out);

/* Buffered sequential reads of one file (the log readers): ranges come out
 * of a read-ahead buffer of `chunk` bytes, refilled when a range is not in
 * it. Fill a, file, size (reads past it return NULL) and chunk (0:
 * LDB_FREADER_CHUNK); the rest starts zeroed. Free buf with
 * ldb_freader_free. Not thread-safe: one reader per caller. */
#define LDB_FREADER_CHUNK (1u << 20)
typedef struct ldb_freader {
  const ldb_allocator *a;
  ldb_file *file;
  uint64_t size;
  size_t chunk;
  uint8_t *buf;
  size_t cap, len;
  uint64_t start; /* file offset of buf[0] */
} ldb_freader;

/* Makes [off, off+n) available: a pointer into the buffer, valid until the
 * next call; NULL with *rc = LDB_OK when the range ends past size or the
 * file, NULL with *rc set on a read error or out of memory. */
const uint8_t *ldb_freader_get(ldb_freader *r, uint64_t off, size_t n, int *rc);
void ldb_freader_free(ldb_freader *r);

/* ---- store_dir.c: shared by the directory stores (posix, win32) ------ */

/* dir + sep + name in a new string (ldb_default_allocator), or NULL when
 * memory runs out. */
char *store_path_join(const char *dir, const char *name, char sep);

/* 1 when name may name a file of a directory store: not empty, not "." or
 * "..", and none of the characters of seps (the platform's separators). */
int store_valid_name(const char *name, const char *seps);

/* The error of a failed system call `what` on path, with the system's
 * message msg: LDB_FULL when full (out of disk or quota), LDB_NOMEM when
 * nomem, else LDB_IOERR. Returns the code (ldb_err). */
int store_os_error(int full, int nomem, const char *what, const char *path,
                   const char *msg);

/* The lock of database dir is held elsewhere: names the holder ("pid N",
 * or "another process" when pid is 0: it let go meanwhile, or is unknown)
 * in holder (when holder_cap) and returns LDB_BUSY with that name. */
int store_locked_by(const char *dir, unsigned long pid, char *holder,
                    size_t holder_cap);

/* The lock file of a directory store (its pid text is the holder's). */
#define STORE_LOCK_NAME "LOCK"

/* Names of the first STORE_LIST_MAX entries a listing reports. */
#define STORE_LIST_MAX 5
/* Appends name to the ", "-separated list (cap bytes, terminated) when
 * fewer than STORE_LIST_MAX names are in it (n: how many). */
void store_list_add(char *list, size_t cap, size_t n, const char *name);

/* Lists directory dir (each directory store implements it): the entries
 * other than ".", "..", the lock file, a volume root's lost+found (posix)
 * and those ours(name) accepts. Their
 * number in *count (0 when dir does not exist), the first ones' names in
 * list (store_list_add). LDB_IOERR (with the system's message) when dir
 * cannot be read. */
int store_dir_foreign(const char *dir, int (*ours)(const char *name),
                      char *list, size_t cap, size_t *count);

#endif /* LDB_STORE_H */
