/*
 * store_faulty.c — the fault-injecting store used by the crash, I/O-error
 * and disk-full tests (API in store_faulty.h). A test tool: built into the
 * test programs only.
 *
 * Model: for every file name the faulty store keeps the current image (what
 * reads, size() and later writes see, like an OS page cache) and the list
 * of operations (writes and truncates) not yet synced. sync(f) applies that
 * file's pending operations, in order, to the inner store and syncs it, so
 * the inner store always holds exactly what a disk would after a power cut:
 * synced data. A simulated crash either drops the pending operations or
 * (TEAR) applies a seeded random subset of them, one possibly cut at a
 * sector boundary, and then makes every later operation fail with
 * LDB_IOERR. Images outlive open handles (closing a file does not sync it)
 * and are discarded by remove().
 *
 * Mapping (off unless ldb_faulty_set_map): map() moves a file's image into
 * an anonymous reservation of the length asked for (at most 4 GiB, so the
 * engine's first, larger attempts are refused as a real address space
 * might refuse them), and hands that out: writes to the image are then
 * visible through the mapping exactly as pwrite is through a shared file
 * mapping. The reservation lives as long as the image. A read failure
 * injected into read(), and a simulated crash, also count a fault on every
 * mapping (the device failed under it: the engine must stop trusting it).
 * release() keeps the image (it is the data) and counts the bytes asked
 * for (ldb_faulty_released).
 *
 * Invariants: one mutex protects everything; fnode.img always equals the
 * inner file's content with the pending ops applied.
 */
#include <stdio.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <sys/mman.h>
#endif

#include "store_faulty.h"

#define SECTOR 512

static const ldb_allocator *A = &ldb_default_allocator;

typedef struct fop {
  struct fop *next;
  int truncate; /* 1: set size to off; 0: write data at off */
  uint64_t off;
  size_t len;
  uint8_t *data;
} fop;

typedef struct fnode {
  struct fnode *next;
  char *name;
  uint8_t *img;
  size_t size, cap;
  fop *ops, *ops_tail;
  unsigned opens;
  int linked;
  int reserved;        /* img is a mapping reservation of cap bytes */
  uint64_t map_faults; /* atomic: faults counted on the mapping */
} fnode;

#define MAP_MAX ((uint64_t)4 << 30)

typedef struct faulty_store {
  ldb_store base;
  ldb_store *inner;
  ldb_mutex mu;
  fnode *nodes;
  uint64_t counts[6];
  /* pending failure */
  uint64_t fail_left; /* ops of fail_mask until the failure; 0 = none */
  int fail_mask, fail_code, fail_sticky;
  int sticky_active; /* a sticky failure has fired */
  /* ldb_faulty_only_file: failures hit only this file ("" = every file) */
  char fail_file[64];
  /* pending crash */
  uint64_t crash_left; /* syncs until the power cut; 0 = none */
  int crash_mode;
  uint64_t crash_seed;
  int crashed;
  int map_on;        /* map() offered (ldb_faulty_set_map) */
  uint64_t released; /* atomic: bytes release() was asked to drop */
  /* sync trace: the file name of every sync call, interned */
  char **names;
  size_t nnames;
  uint16_t *trace;
  size_t ntrace, trace_cap;
  char idbuf[48];
} faulty_store;

typedef struct faulty_file {
  ldb_file base;
  ldb_file *inner;
  fnode *node;
} faulty_file;

static const ldb_store_methods faulty_methods;

static faulty_store *as_faulty(ldb_store *s) {
  return s && s->methods == &faulty_methods ? (faulty_store *)s : NULL;
}

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int kind_index(int kind) {
  switch (kind) {
  case LDB_FAULT_READ: return 0;
  case LDB_FAULT_WRITE: return 1;
  case LDB_FAULT_SYNC: return 2;
  case LDB_FAULT_SIZE: return 3;
  case LDB_FAULT_TRUNCATE: return 4;
  default: return 5;
  }
}

static const char *kind_name(int kind) {
  static const char *names[] = {"read", "write",    "sync",
                                "size", "truncate", "open"};
  return names[kind_index(kind)];
}

/* Counts an operation of `kind` and decides whether it fails. Called with
 * the mutex held. */
static void map_fault_all(faulty_store *fs) {
  for (fnode *n = fs->nodes; n; n = n->next)
    if (n->reserved) __atomic_fetch_add(&n->map_faults, 1, __ATOMIC_SEQ_CST);
}

static int inject(faulty_store *fs, int kind, const char *file) {
  fs->counts[kind_index(kind)]++;
  if (fs->crashed)
    return ldb_err(LDB_IOERR, "faulty store: %s after simulated power loss",
                   kind_name(kind));
  if (!(fs->fail_mask & kind)) return LDB_OK;
  if (fs->fail_file[0] && strcmp(fs->fail_file, file)) return LDB_OK;
  if (fs->sticky_active) goto fail;
  if (fs->fail_left && --fs->fail_left == 0) {
    if (fs->fail_sticky) fs->sticky_active = 1;
    goto fail;
  }
  return LDB_OK;
fail:
  if (kind == LDB_FAULT_READ) map_fault_all(fs);
  if (fs->fail_code == LDB_FULL)
    return ldb_err(LDB_FULL, "faulty store: injected disk full on %s",
                   kind_name(kind));
  return ldb_err(fs->fail_code, "faulty store: injected %s error on %s",
                 ldb_code_name(fs->fail_code), kind_name(kind));
}

/* ---- images ------------------------------------------------------------ */

/* A zero-filled private reservation of len bytes (pages are backed only
 * when touched), or NULL. */
static void *reserve(uint64_t len) {
#ifdef _WIN32
  return VirtualAlloc(NULL, (SIZE_T)len, MEM_RESERVE | MEM_COMMIT,
                      PAGE_READWRITE);
#else
  void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
#endif
}

static void release(void *p, size_t len) {
#ifdef _WIN32
  (void)len;
  VirtualFree(p, 0, MEM_RELEASE);
#else
  munmap(p, len);
#endif
}

static void ops_free(fop *o) {
  while (o) {
    fop *n = o->next;
    ldb_mfree(A, o->data);
    ldb_mfree(A, o);
    o = n;
  }
}

static void node_free(fnode *n) {
  ops_free(n->ops);
  if (n->reserved)
    release(n->img, n->cap);
  else
    ldb_mfree(A, n->img);
  ldb_mfree(A, n->name);
  ldb_mfree(A, n);
}

static int img_reserve(fnode *n, uint64_t size) {
  if (size > (uint64_t)SIZE_MAX / 4)
    return ldb_err(LDB_FULL, "faulty store: file %s too large", n->name);
  if (size <= n->cap) return LDB_OK;
  if (n->reserved)
    return ldb_err(LDB_FULL, "faulty store: file %s outgrew its mapping",
                   n->name);
  size_t cap = n->cap ? n->cap : 4096;
  while (cap < size)
    cap *= 2;
  uint8_t *d = ldb_realloc(A, n->img, n->cap, cap);
  if (!d) return ldb_err(LDB_NOMEM, "faulty store: out of memory");
  memset(d + n->cap, 0, cap - n->cap);
  n->img = d;
  n->cap = cap;
  return LDB_OK;
}

/* Applies a write or truncate to the image (bytes past size stay zero). */
static int img_write(fnode *n, uint64_t off, const void *buf, size_t len) {
  int rc = img_reserve(n, off + len);
  if (rc) return rc;
  if (len) memcpy(n->img + off, buf, len);
  if (off + len > n->size) n->size = (size_t)(off + len);
  return LDB_OK;
}

static int img_truncate(fnode *n, uint64_t size) {
  if (size < n->size) {
    memset(n->img + size, 0, n->size - (size_t)size);
    n->size = (size_t)size;
    return LDB_OK;
  }
  int rc = img_reserve(n, size);
  if (rc) return rc;
  n->size = (size_t)size;
  return LDB_OK;
}

static int op_append(fnode *n, int truncate, uint64_t off, const void *buf,
                     size_t len) {
  fop *o = ldb_calloc(A, sizeof *o);
  if (!o) return ldb_err(LDB_NOMEM, "faulty store: out of memory");
  o->truncate = truncate;
  o->off = off;
  o->len = len;
  if (!truncate) {
    o->data = ldb_memdup(A, buf, len);
    if (!o->data) {
      ldb_mfree(A, o);
      return ldb_err(LDB_NOMEM, "faulty store: out of memory");
    }
  }
  if (n->ops_tail)
    n->ops_tail->next = o;
  else
    n->ops = o;
  n->ops_tail = o;
  return LDB_OK;
}

/* Loads the inner file's content as the node's image. */
static int node_load(fnode *n, ldb_file *inner) {
  uint64_t size;
  int rc = inner->store->methods->size(inner, &size);
  if (rc) return rc;
  rc = img_reserve(n, size);
  if (rc) return rc;
  if (size) {
    rc = ldb_fread_full(inner, 0, n->img, (size_t)size);
    if (rc) return rc;
  }
  n->size = (size_t)size;
  return LDB_OK;
}

/* ---- crash ------------------------------------------------------------- */

static void apply_torn(faulty_store *fs, fnode *n, uint64_t *rng) {
  ldb_file *f = NULL;
  if (fs->inner->methods->open(fs->inner, n->name, LDB_STORE_CREATE, &f))
    return;
  /* The write that is cut, if any: chosen among the pending writes. */
  size_t nops = 0, cut = (size_t)-1, i = 0;
  for (fop *o = n->ops; o; o = o->next)
    nops++;
  if (nops && (splitmix(rng) & 1)) cut = (size_t)(splitmix(rng) % nops);
  for (fop *o = n->ops; o; o = o->next, i++) {
    int keep = (int)(splitmix(rng) & 1);
    if (i == cut) keep = 1;
    if (!keep) continue;
    if (o->truncate) {
      f->store->methods->truncate(f, o->off);
      continue;
    }
    size_t len = o->len;
    if (i == cut) {
      /* Keep the part before a random sector boundary inside the write. */
      uint64_t first = (o->off / SECTOR + 1) * SECTOR;
      if (first < o->off + o->len) {
        uint64_t nb = (o->off + o->len - first + SECTOR - 1) / SECTOR;
        uint64_t b = first + (splitmix(rng) % nb) * SECTOR;
        len = (size_t)(b - o->off);
      } else {
        len = 0; /* within one sector: the sector is not written */
      }
    }
    if (len) f->store->methods->write(f, o->off, o->data, len);
  }
  f->store->methods->sync(f);
  f->store->methods->close(f);
}

/* Power loss: unsynced operations are dropped or torn into the inner
 * store; the store is dead from now on. Mutex held. */
static void do_crash(faulty_store *fs, int mode, uint64_t seed) {
  uint64_t rng = seed ^ 0x5deece66dull;
  if (fs->crashed) return;
  fs->crashed = 1;
  fs->crash_left = 0;
  map_fault_all(fs);
  for (fnode *n = fs->nodes; n; n = n->next) {
    if (mode == LDB_CRASH_TEAR && n->ops) apply_torn(fs, n, &rng);
    ops_free(n->ops);
    n->ops = n->ops_tail = NULL;
  }
}

/* ---- methods ----------------------------------------------------------- */

static int fy_open(ldb_store *s, const char *name, int flags, ldb_file **out) {
  faulty_store *fs = (faulty_store *)s;
  faulty_file *f = NULL;
  ldb_file *inner = NULL;
  fnode *n, *nn = NULL;
  int rc;
  *out = NULL;
  ldb_mutex_lock(&fs->mu);
  rc = inject(fs, LDB_FAULT_OPEN, name);
  if (rc) goto fail;
  for (n = fs->nodes; n; n = n->next)
    if (!strcmp(n->name, name)) break;
  rc = fs->inner->methods->open(fs->inner, name, flags, &inner);
  if (rc) goto fail;
  f = ldb_calloc(A, sizeof *f);
  if (!f) goto nomem;
  if (!n) {
    n = nn = ldb_calloc(A, sizeof *n);
    if (!n) goto nomem;
    n->name = ldb_memdup(A, name, strlen(name) + 1);
    if (!n->name) goto nomem;
    rc = node_load(n, inner);
    if (rc) goto fail;
    n->linked = 1;
    n->next = fs->nodes;
    fs->nodes = n;
  }
  n->opens++;
  f->base.store = s;
  f->inner = inner;
  f->node = n;
  *out = &f->base;
  ldb_mutex_unlock(&fs->mu);
  return LDB_OK;
nomem:
  rc = ldb_err(LDB_NOMEM, "faulty store: out of memory");
fail:
  if (nn) node_free(nn);
  ldb_mfree(A, f);
  if (inner) inner->store->methods->close(inner);
  ldb_mutex_unlock(&fs->mu);
  return rc;
}

static int fy_read(ldb_file *file, uint64_t off, void *buf, size_t len,
                   size_t *got) {
  faulty_file *f = (faulty_file *)file;
  faulty_store *fs = (faulty_store *)file->store;
  int rc;
  *got = 0;
  ldb_mutex_lock(&fs->mu);
  rc = inject(fs, LDB_FAULT_READ, f->node->name);
  if (rc == LDB_OK && off < f->node->size) {
    size_t n = f->node->size - (size_t)off;
    if (n > len) n = len;
    memcpy(buf, f->node->img + off, n);
    *got = n;
  }
  ldb_mutex_unlock(&fs->mu);
  return rc;
}

static int fy_write(ldb_file *file, uint64_t off, const void *buf, size_t len) {
  faulty_file *f = (faulty_file *)file;
  faulty_store *fs = (faulty_store *)file->store;
  int rc;
  if (off + len < off) return ldb_err(LDB_INVALID, "write offset overflow");
  ldb_mutex_lock(&fs->mu);
  rc = inject(fs, LDB_FAULT_WRITE, f->node->name);
  if (rc) {
    /* As a full disk does: some whole sectors of the write got through. */
    if (!fs->crashed && len > SECTOR) {
      size_t part = (len / SECTOR / 2) * SECTOR;
      if (part && img_write(f->node, off, buf, part) == LDB_OK)
        op_append(f->node, 0, off, buf, part);
    }
    goto done;
  }
  rc = op_append(f->node, 0, off, buf, len);
  if (rc) goto done;
  rc = img_write(f->node, off, buf, len);
  if (rc) {
    /* Keep img == inner + ops: drop the op we just appended. */
    fop *o = f->node->ops, *prev = NULL;
    while (o->next)
      prev = o, o = o->next;
    if (prev)
      prev->next = NULL;
    else
      f->node->ops = NULL;
    f->node->ops_tail = prev;
    ops_free(o);
  }
done:
  ldb_mutex_unlock(&fs->mu);
  return rc;
}

/* Records the file of a sync call (best effort: a failed allocation only
 * shortens the trace). Mutex held. */
static void trace_sync(faulty_store *fs, const char *name) {
  size_t i;
  for (i = 0; i < fs->nnames; i++)
    if (!strcmp(fs->names[i], name)) break;
  if (i == fs->nnames) {
    if (i >= 65535) return;
    char **nn = ldb_realloc(A, fs->names, i * sizeof *nn, (i + 1) * sizeof *nn);
    if (!nn) return;
    fs->names = nn;
    nn[i] = ldb_memdup(A, name, strlen(name) + 1);
    if (!nn[i]) return;
    fs->nnames++;
  }
  if (fs->ntrace == fs->trace_cap) {
    size_t cap = fs->trace_cap ? fs->trace_cap * 2 : 256;
    uint16_t *t =
        ldb_realloc(A, fs->trace, fs->trace_cap * sizeof *t, cap * sizeof *t);
    if (!t) return;
    fs->trace = t;
    fs->trace_cap = cap;
  }
  fs->trace[fs->ntrace++] = (uint16_t)i;
}

static int fy_sync(ldb_file *file) {
  faulty_file *f = (faulty_file *)file;
  faulty_store *fs = (faulty_store *)file->store;
  fnode *n = f->node;
  int rc;
  ldb_mutex_lock(&fs->mu);
  fs->counts[kind_index(LDB_FAULT_SYNC)]++;
  trace_sync(fs, n->name);
  if (!fs->crashed && fs->crash_left && --fs->crash_left == 0) {
    do_crash(fs, fs->crash_mode, fs->crash_seed);
    rc = ldb_err(LDB_IOERR, "faulty store: simulated power loss at sync");
    goto done;
  }
  fs->counts[kind_index(LDB_FAULT_SYNC)]--; /* inject counts it again */
  rc = inject(fs, LDB_FAULT_SYNC, n->name);
  if (rc) goto done;
  /* Move the pending operations to the inner store, oldest first. */
  while (n->ops) {
    fop *o = n->ops;
    if (o->truncate)
      rc = f->inner->store->methods->truncate(f->inner, o->off);
    else
      rc = f->inner->store->methods->write(f->inner, o->off, o->data, o->len);
    if (rc) goto done;
    n->ops = o->next;
    if (!n->ops) n->ops_tail = NULL;
    o->next = NULL;
    ops_free(o);
  }
  rc = f->inner->store->methods->sync(f->inner);
done:
  ldb_mutex_unlock(&fs->mu);
  return rc;
}

static int fy_size(ldb_file *file, uint64_t *size) {
  faulty_file *f = (faulty_file *)file;
  faulty_store *fs = (faulty_store *)file->store;
  int rc;
  ldb_mutex_lock(&fs->mu);
  rc = inject(fs, LDB_FAULT_SIZE, f->node->name);
  if (rc == LDB_OK) *size = f->node->size;
  ldb_mutex_unlock(&fs->mu);
  return rc;
}

static int fy_truncate(ldb_file *file, uint64_t size) {
  faulty_file *f = (faulty_file *)file;
  faulty_store *fs = (faulty_store *)file->store;
  int rc;
  ldb_mutex_lock(&fs->mu);
  rc = inject(fs, LDB_FAULT_TRUNCATE, f->node->name);
  if (rc == LDB_OK) rc = img_truncate(f->node, size);
  if (rc == LDB_OK) {
    rc = op_append(f->node, 1, size, NULL, 0);
    /* On failure the image is ahead of inner + ops; a truncate op cannot
     * be undone cheaply, so fall back to applying it right away. */
    if (rc) rc = f->inner->store->methods->truncate(f->inner, size);
  }
  ldb_mutex_unlock(&fs->mu);
  return rc;
}

static int fy_close(ldb_file *file) {
  faulty_file *f = (faulty_file *)file;
  faulty_store *fs = (faulty_store *)file->store;
  int rc;
  ldb_mutex_lock(&fs->mu);
  rc = f->inner->store->methods->close(f->inner);
  if (--f->node->opens == 0 && !f->node->linked) node_free(f->node);
  ldb_mutex_unlock(&fs->mu);
  ldb_mfree(A, f);
  return rc;
}

static int fy_lock(ldb_store *s, int exclusive, char *holder,
                   size_t holder_cap) {
  faulty_store *fs = (faulty_store *)s;
  int crashed;
  ldb_mutex_lock(&fs->mu);
  crashed = fs->crashed;
  ldb_mutex_unlock(&fs->mu);
  if (crashed)
    return ldb_err(LDB_IOERR, "faulty store: lock after simulated power "
                              "loss");
  return fs->inner->methods->lock(fs->inner, exclusive, holder, holder_cap);
}

static int fy_unlock(ldb_store *s) {
  faulty_store *fs = (faulty_store *)s;
  return fs->inner->methods->unlock(fs->inner);
}

static int fy_remove(ldb_store *s, const char *name) {
  faulty_store *fs = (faulty_store *)s;
  fnode **pp;
  int rc = LDB_OK;
  ldb_mutex_lock(&fs->mu);
  if (fs->crashed) {
    rc = ldb_err(LDB_IOERR, "faulty store: remove after simulated power "
                            "loss");
    goto done;
  }
  rc = fs->inner->methods->remove(fs->inner, name);
  if (rc) goto done;
  for (pp = &fs->nodes; *pp; pp = &(*pp)->next) {
    fnode *n = *pp;
    if (strcmp(n->name, name)) continue;
    *pp = n->next;
    n->linked = 0;
    /* Pending writes to a removed file can never matter after a crash. */
    ops_free(n->ops);
    n->ops = n->ops_tail = NULL;
    if (!n->opens) node_free(n);
    break;
  }
done:
  ldb_mutex_unlock(&fs->mu);
  return rc;
}

static void fy_destroy(ldb_store *s) {
  faulty_store *fs = (faulty_store *)s;
  fnode *n = fs->nodes;
  while (n) {
    fnode *next = n->next;
    if (n->opens)
      n->linked = 0;
    else
      node_free(n);
    n = next;
  }
  for (size_t i = 0; i < fs->nnames; i++)
    ldb_mfree(A, fs->names[i]);
  ldb_mfree(A, fs->names);
  ldb_mfree(A, fs->trace);
  ldb_mutex_destroy(&fs->mu);
  ldb_mfree(A, fs);
}

static int fy_map(ldb_file *file, uint64_t len, const void **base,
                  const uint64_t **faults) {
  faulty_file *f = (faulty_file *)file;
  faulty_store *fs = (faulty_store *)file->store;
  fnode *n = f->node;
  int rc = LDB_OK;
  ldb_mutex_lock(&fs->mu);
  if (!fs->map_on) {
    rc = ldb_err(LDB_INVALID, "faulty store: mapping is off");
  } else if (fs->crashed) {
    rc = ldb_err(LDB_IOERR, "faulty store: map after simulated power loss");
  } else if (n->reserved ? len > n->cap : len > MAP_MAX || len < n->size) {
    rc = ldb_err(LDB_NOMEM, "faulty store: cannot map %llu bytes",
                 (unsigned long long)len);
  } else if (!n->reserved) {
    void *p = reserve(len);
    if (!p) {
      rc = ldb_err(LDB_NOMEM, "faulty store: no address space to map");
    } else {
      if (n->size) memcpy(p, n->img, n->size);
      ldb_mfree(A, n->img);
      n->img = p;
      n->cap = (size_t)len;
      n->reserved = 1;
    }
  }
  if (rc == LDB_OK) {
    *base = n->img;
    *faults = &n->map_faults;
  }
  ldb_mutex_unlock(&fs->mu);
  return rc;
}

/* The image is the data (anonymous memory): dropping its pages would lose
 * them, so release only counts what the engine asked to release, which
 * keeps the engine's resident-set hand inside this store's coverage. */
static void fy_release(ldb_file *file, const ldb_span *spans, size_t n) {
  faulty_store *fs = (faulty_store *)file->store;
  for (size_t i = 0; i < n; i++)
    __atomic_fetch_add(&fs->released, spans[i].len, __ATOMIC_RELAXED);
}

/* The reservation stays with the image (which outlives handles). */
static void fy_unmap(ldb_file *file, const void *base, uint64_t len) {
  (void)file;
  (void)base;
  (void)len;
}

static const ldb_store_methods faulty_methods = {
    fy_open,     fy_read,  fy_write, fy_sync,   fy_size,
    fy_truncate, fy_close, fy_lock,  fy_unlock, fy_remove,
    fy_destroy,  fy_map,   fy_unmap, NULL, /* residency: its images are in
                                              memory, nothing to measure */
    fy_release,
};

int ldb_store_faulty(ldb_store *inner, ldb_store **out) {
  faulty_store *fs;
  if (!out || !inner)
    return ldb_err(LDB_INVALID, "ldb_store_faulty: NULL argument");
  *out = NULL;
  fs = ldb_calloc(A, sizeof *fs);
  if (!fs) return ldb_err(LDB_NOMEM, "out of memory creating a store");
  fs->base.methods = &faulty_methods;
  fs->inner = inner;
  ldb_mutex_init(&fs->mu);
  snprintf(fs->idbuf, sizeof fs->idbuf, "faulty:%p", (void *)fs);
  fs->base.id = fs->idbuf;
  *out = &fs->base;
  return LDB_OK;
}

void ldb_faulty_fail_nth(ldb_store *s, uint64_t nth, int mask, int code,
                         int sticky) {
  faulty_store *fs = as_faulty(s);
  if (!fs) return;
  ldb_mutex_lock(&fs->mu);
  fs->fail_left = nth;
  fs->fail_mask = nth ? mask : 0;
  fs->fail_code = code;
  fs->fail_sticky = sticky;
  fs->sticky_active = 0;
  ldb_mutex_unlock(&fs->mu);
}

uint64_t ldb_faulty_released(ldb_store *s) {
  faulty_store *fs = as_faulty(s);
  return fs ? __atomic_load_n(&fs->released, __ATOMIC_RELAXED) : 0;
}

void ldb_faulty_set_map(ldb_store *s, int on) {
  faulty_store *fs = as_faulty(s);
  if (!fs) return;
  ldb_mutex_lock(&fs->mu);
  fs->map_on = on;
  ldb_mutex_unlock(&fs->mu);
}

void ldb_faulty_only_file(ldb_store *s, const char *name) {
  faulty_store *fs = as_faulty(s);
  if (!fs) return;
  ldb_mutex_lock(&fs->mu);
  snprintf(fs->fail_file, sizeof fs->fail_file, "%s", name ? name : "");
  ldb_mutex_unlock(&fs->mu);
}

void ldb_faulty_clear(ldb_store *s) {
  faulty_store *fs = as_faulty(s);
  if (!fs) return;
  ldb_mutex_lock(&fs->mu);
  fs->fail_left = 0;
  fs->fail_mask = 0;
  fs->sticky_active = 0;
  ldb_mutex_unlock(&fs->mu);
}

uint64_t ldb_faulty_count(ldb_store *s, int mask) {
  faulty_store *fs = as_faulty(s);
  uint64_t total = 0;
  if (!fs) return 0;
  ldb_mutex_lock(&fs->mu);
  for (int i = 0; i < 6; i++)
    if (mask & (1 << i)) total += fs->counts[i];
  ldb_mutex_unlock(&fs->mu);
  return total;
}

void ldb_faulty_crash_at_sync(ldb_store *s, uint64_t nth, int mode,
                              uint64_t seed) {
  faulty_store *fs = as_faulty(s);
  if (!fs) return;
  ldb_mutex_lock(&fs->mu);
  fs->crash_left = nth;
  fs->crash_mode = mode;
  fs->crash_seed = seed;
  ldb_mutex_unlock(&fs->mu);
}

void ldb_faulty_crash_now(ldb_store *s, int mode, uint64_t seed) {
  faulty_store *fs = as_faulty(s);
  if (!fs) return;
  ldb_mutex_lock(&fs->mu);
  do_crash(fs, mode, seed);
  ldb_mutex_unlock(&fs->mu);
}

int ldb_faulty_crashed(ldb_store *s) {
  faulty_store *fs = as_faulty(s);
  int c;
  if (!fs) return 0;
  ldb_mutex_lock(&fs->mu);
  c = fs->crashed;
  ldb_mutex_unlock(&fs->mu);
  return c;
}

int ldb_faulty_sync_file(ldb_store *s, uint64_t nth, char *name, size_t cap) {
  faulty_store *fs = as_faulty(s);
  int rc = LDB_NOTFOUND;
  if (!fs) return LDB_INVALID;
  ldb_mutex_lock(&fs->mu);
  if (nth >= 1 && nth <= fs->ntrace) {
    snprintf(name, cap, "%s", fs->names[fs->trace[nth - 1]]);
    rc = LDB_OK;
  }
  ldb_mutex_unlock(&fs->mu);
  return rc;
}
