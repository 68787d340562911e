/*
 * store_dir.c — what the two directory stores (store_posix.c,
 * store_win32.c) share: joining paths, checking file names, the error of a
 * failed system call, the message a second opener gets when the lock
 * is held elsewhere, and the list of names a directory listing reports. Its own
 * file, not store.c: store.c calls the directory stores (the default store), so
 * sharing through it would make the two depend on each other. The WebAssembly
 * build has no directory store and compiles nothing here.
 */
#ifndef LDB_NO_POSIX_STORE
#include <stdio.h>
#include <string.h>

#include "store.h"

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

void store_list_add(char *list, size_t cap, size_t n, const char *name) {
  if (n >= STORE_LIST_MAX || !cap) return;
  size_t used = strlen(list);
  if (used + 1 < cap)
    snprintf(list + used, cap - used, "%s%s", used ? ", " : "", name);
}

#endif /* LDB_NO_POSIX_STORE */
