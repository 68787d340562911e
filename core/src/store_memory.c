/*
 * store_memory.c — the in-memory store: named files as growable byte
 * arrays, kept until the store is destroyed (so a database survives
 * ldb_close/ldb_open on the same store), plus an in-store lock that makes a
 * second exclusive locker see LDB_BUSY.
 *
 * Invariants: one mutex (store->mu) protects the file list, every file's
 * bytes and the lock state, so any thread may call any method. A removed
 * file that is still open stays readable/writable through its open handles
 * (POSIX unlink semantics) and is freed when the last handle closes.
 * Allocations use the default allocator: the store is owned by the caller,
 * not by an engine, so the engine's allocator hook does not apply.
 */
#include <stdio.h>

#include "store.h"

typedef struct mem_node {
  struct mem_node *next;
  char *name;
  uint8_t *data;
  size_t size, cap;
  unsigned opens; /* open handles */
  int linked;     /* still in the store's list (not removed) */
} mem_node;

typedef struct mem_store {
  ldb_store base;
  ldb_mutex mu;
  mem_node *files;
  int excl;        /* exclusive lock held */
  unsigned shared; /* shared lock holders */
  char idbuf[48];
} mem_store;

typedef struct mem_file {
  ldb_file base;
  mem_node *node;
} mem_file;

static const ldb_allocator *A = &ldb_default_allocator;

static void node_free(mem_node *n) {
  ldb_mfree(A, n->name);
  ldb_mfree(A, n->data);
  ldb_mfree(A, n);
}

static int valid_name(const char *name) {
  if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
      !strcmp(name, ".."))
    return 0;
  return 1;
}

static int mem_open(ldb_store *s, const char *name, int flags, ldb_file **out) {
  mem_store *ms = (mem_store *)s;
  mem_node *n;
  mem_file *f = NULL;
  int rc = LDB_OK;
  *out = NULL;
  if (!valid_name(name))
    return ldb_err(LDB_INVALID, "invalid file name \"%s\"", name ? name : "");
  ldb_mutex_lock(&ms->mu);
  for (n = ms->files; n; n = n->next)
    if (!strcmp(n->name, name)) break;
  if (!n) {
    if (!(flags & LDB_STORE_CREATE)) {
      rc = ldb_err(LDB_NOTFOUND, "memory store: file %s does not exist", name);
      goto done;
    }
    n = ldb_calloc(A, sizeof *n);
    if (!n) goto nomem;
    n->name = ldb_memdup(A, name, strlen(name) + 1);
    if (!n->name) {
      ldb_mfree(A, n);
      goto nomem;
    }
    n->linked = 1;
    n->next = ms->files;
    ms->files = n;
  }
  f = ldb_calloc(A, sizeof *f);
  if (!f) goto nomem;
  f->base.store = s;
  f->node = n;
  n->opens++;
  *out = &f->base;
  goto done;
nomem:
  rc = ldb_err(LDB_NOMEM, "memory store: out of memory opening %s", name);
done:
  ldb_mutex_unlock(&ms->mu);
  return rc;
}

static int mem_read(ldb_file *file, uint64_t off, void *buf, size_t len,
                    size_t *got) {
  mem_file *f = (mem_file *)file;
  mem_store *ms = (mem_store *)file->store;
  size_t n = 0;
  ldb_mutex_lock(&ms->mu);
  if (off < f->node->size) {
    n = f->node->size - (size_t)off;
    if (n > len) n = len;
    memcpy(buf, f->node->data + off, n);
  }
  ldb_mutex_unlock(&ms->mu);
  *got = n;
  return LDB_OK;
}

/* Grows node to hold at least size bytes, zero-filling new space. Called
 * with the store mutex held. */
static int node_reserve(mem_node *n, uint64_t size) {
  if (size > (uint64_t)SIZE_MAX / 2)
    return ldb_err(LDB_FULL,
                   "memory store: file %s would exceed the "
                   "address space",
                   n->name);
  if (size > n->cap) {
    size_t cap = n->cap ? n->cap : 4096;
    while (cap < size)
      cap *= 2;
    uint8_t *d = ldb_realloc(A, n->data, n->cap, cap);
    if (!d)
      return ldb_err(LDB_NOMEM, "memory store: cannot grow %s to %zu bytes",
                     n->name, cap);
    memset(d + n->cap, 0, cap - n->cap);
    n->data = d;
    n->cap = cap;
  }
  return LDB_OK;
}

static int mem_write(ldb_file *file, uint64_t off, const void *buf,
                     size_t len) {
  mem_file *f = (mem_file *)file;
  mem_store *ms = (mem_store *)file->store;
  int rc;
  if (off + len < off)
    return ldb_err(LDB_INVALID, "memory store: write offset overflows");
  ldb_mutex_lock(&ms->mu);
  rc = node_reserve(f->node, off + len);
  if (rc == LDB_OK) {
    mem_node *n = f->node;
    /* Bytes between the old end and off are already zero: node_reserve
     * zero-fills, and truncate zeroes what it cuts off. */
    if (len) memcpy(n->data + off, buf, len);
    if (off + len > n->size) n->size = (size_t)(off + len);
  }
  ldb_mutex_unlock(&ms->mu);
  return rc;
}

static int mem_sync(ldb_file *file) {
  (void)file;
  return LDB_OK;
}

static int mem_size(ldb_file *file, uint64_t *size) {
  mem_file *f = (mem_file *)file;
  mem_store *ms = (mem_store *)file->store;
  ldb_mutex_lock(&ms->mu);
  *size = f->node->size;
  ldb_mutex_unlock(&ms->mu);
  return LDB_OK;
}

static int mem_truncate(ldb_file *file, uint64_t size) {
  mem_file *f = (mem_file *)file;
  mem_store *ms = (mem_store *)file->store;
  mem_node *n = f->node;
  int rc = LDB_OK;
  ldb_mutex_lock(&ms->mu);
  if (size < n->size) {
    /* Keep the invariant that bytes past size are zero. */
    memset(n->data + size, 0, n->size - (size_t)size);
    n->size = (size_t)size;
  } else if (size > n->size) {
    rc = node_reserve(n, size);
    if (rc == LDB_OK) n->size = (size_t)size;
  }
  ldb_mutex_unlock(&ms->mu);
  return rc;
}

static int mem_close(ldb_file *file) {
  mem_file *f = (mem_file *)file;
  mem_store *ms = (mem_store *)file->store;
  mem_node *n = f->node;
  ldb_mutex_lock(&ms->mu);
  if (--n->opens == 0 && !n->linked) node_free(n);
  ldb_mutex_unlock(&ms->mu);
  ldb_mfree(A, f);
  return LDB_OK;
}

static int mem_lock(ldb_store *s, int exclusive, char *holder,
                    size_t holder_cap) {
  mem_store *ms = (mem_store *)s;
  int rc = LDB_OK;
  ldb_mutex_lock(&ms->mu);
  if (ms->excl || (exclusive && ms->shared)) {
    if (holder && holder_cap)
      snprintf(holder, holder_cap,
               "another handle of this memory store "
               "(%s lock)",
               ms->excl ? "exclusive" : "shared");
    rc = ldb_err(LDB_BUSY, "memory store is locked by another user");
  } else if (exclusive) {
    ms->excl = 1;
  } else {
    ms->shared++;
  }
  ldb_mutex_unlock(&ms->mu);
  return rc;
}

static int mem_unlock(ldb_store *s) {
  mem_store *ms = (mem_store *)s;
  ldb_mutex_lock(&ms->mu);
  if (ms->excl)
    ms->excl = 0;
  else if (ms->shared)
    ms->shared--;
  ldb_mutex_unlock(&ms->mu);
  return LDB_OK;
}

static int mem_remove(ldb_store *s, const char *name) {
  mem_store *ms = (mem_store *)s;
  mem_node **pp;
  if (!valid_name(name))
    return ldb_err(LDB_INVALID, "invalid file name \"%s\"", name ? name : "");
  ldb_mutex_lock(&ms->mu);
  for (pp = &ms->files; *pp; pp = &(*pp)->next) {
    mem_node *n = *pp;
    if (strcmp(n->name, name)) continue;
    *pp = n->next;
    n->linked = 0;
    if (n->opens == 0) node_free(n);
    break;
  }
  ldb_mutex_unlock(&ms->mu);
  return LDB_OK;
}

static void mem_destroy(ldb_store *s) {
  mem_store *ms = (mem_store *)s;
  mem_node *n = ms->files;
  while (n) {
    mem_node *next = n->next;
    /* Open files at destroy are a caller bug; unlink them so their handles
     * free them on close rather than leaving dangling pointers. */
    if (n->opens)
      n->linked = 0;
    else
      node_free(n);
    n = next;
  }
  ldb_mutex_destroy(&ms->mu);
  ldb_mfree(A, ms);
}

static const ldb_store_methods mem_methods = {
    mem_open,     mem_read,  mem_write, mem_sync,   mem_size,
    mem_truncate, mem_close, mem_lock,  mem_unlock, mem_remove,
    mem_destroy,  NULL,      NULL,      NULL, /* no mapping: images move as they
                                                 grow */
    NULL,
};

int ldb_store_memory(ldb_store **out) {
  mem_store *ms;
  if (!out) return ldb_err(LDB_INVALID, "ldb_store_memory: out is NULL");
  *out = NULL;
  ms = ldb_calloc(A, sizeof *ms);
  if (!ms) return ldb_err(LDB_NOMEM, "out of memory creating a memory store");
  ms->base.methods = &mem_methods;
  ldb_mutex_init(&ms->mu);
  /* A unique id, so two ldb_open calls on the same memory store share one
   * engine (as two opens of one directory do). */
  snprintf(ms->idbuf, sizeof ms->idbuf, "memory:%p", (void *)ms);
  ms->base.id = ms->idbuf;
  *out = &ms->base;
  return LDB_OK;
}
