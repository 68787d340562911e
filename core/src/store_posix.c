/*
 * store_posix.c — the directory store: each named file is a file in the
 * directory, reached with pread/pwrite/fdatasync; the writer/reader lock is
 * an fcntl lock on dir/LOCK, which holds the writer's pid.
 *
 * Durability: a file created here is followed by an fsync of the directory,
 * so its directory entry survives a crash; removals fsync it too.
 * Errors: ENOSPC/EDQUOT become LDB_FULL, a missing file LDB_NOTFOUND, every
 * other failure LDB_IOERR with the path and strerror in the message. EINTR
 * is retried and short reads/writes are continued.
 *
 * fcntl locks belong to the process, not to a descriptor: a second lock in
 * the same process would silently succeed, and closing any descriptor of
 * LOCK drops them all. So the locks held by this process are also kept in a
 * process-wide table keyed by the directory's real path: a conflicting
 * lock from the same process is refused with LDB_BUSY, and shared locks on
 * one directory share one descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#include <unistd.h>

#include "store.h"

static const ldb_allocator *A = &ldb_default_allocator;

typedef struct px_store {
  ldb_store base;
  char *dir;  /* real path of the directory (also base.id) */
  int locked; /* 1: holds an entry in the lock table; 2: a reader on a
                 read-only file system, which needs no lock */
} px_store;

typedef struct px_file {
  ldb_file base;
  int fd;
  char *path;
} px_file;

/* ---- errors ------------------------------------------------------------ */

static int px_errno(int err, const char *what, const char *path) {
  char buf[128];
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  const char *msg = strerror_r(err, buf, sizeof buf); /* GNU: returns msg */
#else
  const char *msg = buf; /* XSI: fills buf */
  if (strerror_r(err, buf, sizeof buf) != 0)
    snprintf(buf, sizeof buf, "error %d", err);
#endif
  int full = err == ENOSPC;
#ifdef EDQUOT
  full = full || err == EDQUOT;
#endif
  return store_os_error(full, err == ENOMEM, what, path, msg);
}

/* ---- process-wide lock table ------------------------------------------- */

typedef struct px_lockent {
  struct px_lockent *next;
  char *dir;
  int fd;
  int exclusive;
  unsigned holders;
  pid_t owner; /* a child made by fork() inherits the table, not the lock */
} px_lockent;

#ifndef LDB_NO_THREADS
static pthread_mutex_t lock_table_mu = PTHREAD_MUTEX_INITIALIZER;
#define TABLE_LOCK() pthread_mutex_lock(&lock_table_mu)
#define TABLE_UNLOCK() pthread_mutex_unlock(&lock_table_mu)
#else
#define TABLE_LOCK() ((void)0)
#define TABLE_UNLOCK() ((void)0)
#endif
static px_lockent *lock_table;

static char *path_join(const char *dir, const char *name) {
  return store_path_join(dir, name, '/');
}

static int fsync_dir(const char *dir) {
  int fd, rc = LDB_OK;
  do
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return px_errno(errno, "open directory", dir);
  if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
    rc = px_errno(errno, "fsync directory", dir);
  close(fd);
  return rc;
}

static int valid_name(const char *name) {
  return store_valid_name(name, "/");
}

/* ---- files ------------------------------------------------------------- */

static int px_open(ldb_store *s, const char *name, int flags, ldb_file **out) {
  px_store *ps = (px_store *)s;
  px_file *f = NULL;
  char *path = NULL;
  int fd = -1, rc;
  *out = NULL;
  if (!valid_name(name))
    return ldb_err(LDB_INVALID, "invalid file name \"%s\"", name ? name : "");
  path = path_join(ps->dir, name);
  f = ldb_calloc(A, sizeof *f);
  if (!path || !f) {
    rc = ldb_err(LDB_NOMEM, "out of memory opening %s", name);
    goto fail;
  }
  do
    fd = open(path, O_RDWR | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0 && (errno == EACCES || errno == EROFS)) {
    /* A read-only database on a read-only medium: writes will then fail
     * with LDB_IOERR, which a read-only engine never attempts. */
    do
      fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
  }
  if (fd < 0 && errno == ENOENT && (flags & LDB_STORE_CREATE)) {
    do
      fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd >= 0) {
      /* The new directory entry must survive a crash. */
      rc = fsync_dir(ps->dir);
      if (rc != LDB_OK) goto fail;
    }
  }
  if (fd < 0) {
    if (errno == ENOENT)
      rc = ldb_err(LDB_NOTFOUND, "file %s does not exist", path);
    else
      rc = px_errno(errno, "open", path);
    goto fail;
  }
  f->base.store = s;
  f->fd = fd;
  f->path = path;
  *out = &f->base;
  return LDB_OK;
fail:
  if (fd >= 0) close(fd);
  ldb_mfree(A, path);
  ldb_mfree(A, f);
  return rc;
}

static int px_read(ldb_file *file, uint64_t off, void *buf, size_t len,
                   size_t *got) {
  px_file *f = (px_file *)file;
  uint8_t *p = buf;
  size_t done = 0;
  *got = 0;
  if (off > (uint64_t)INT64_MAX)
    return ldb_err(LDB_INVALID, "read offset %llu out of range",
                   (unsigned long long)off);
  while (done < len) {
    ssize_t n = pread(f->fd, p + done, len - done, (off_t)(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return px_errno(errno, "read", f->path);
    }
    if (n == 0) break; /* end of file */
    done += (size_t)n;
  }
  *got = done;
  return LDB_OK;
}

static int px_write(ldb_file *file, uint64_t off, const void *buf, size_t len) {
  px_file *f = (px_file *)file;
  const uint8_t *p = buf;
  size_t done = 0;
  if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
    return ldb_err(LDB_INVALID, "write offset %llu out of range",
                   (unsigned long long)off);
  while (done < len) {
    ssize_t n = pwrite(f->fd, p + done, len - done, (off_t)(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return px_errno(errno, "write", f->path);
    }
    if (n == 0) return ldb_err(LDB_FULL, "write %s: no progress", f->path);
    done += (size_t)n;
  }
  return LDB_OK;
}

static int px_sync(ldb_file *file) {
  px_file *f = (px_file *)file;
  int r;
  do
    r = fdatasync(f->fd);
  while (r != 0 && errno == EINTR);
  if (r != 0) return px_errno(errno, "fdatasync", f->path);
  return LDB_OK;
}

static int px_size(ldb_file *file, uint64_t *size) {
  px_file *f = (px_file *)file;
  struct stat st;
  if (fstat(f->fd, &st) != 0) return px_errno(errno, "stat", f->path);
  *size = (uint64_t)st.st_size;
  return LDB_OK;
}

static int px_truncate(ldb_file *file, uint64_t size) {
  px_file *f = (px_file *)file;
  int r;
  if (size > (uint64_t)INT64_MAX)
    return ldb_err(LDB_INVALID, "truncate size out of range");
  do
    r = ftruncate(f->fd, (off_t)size);
  while (r != 0 && errno == EINTR);
  if (r != 0) return px_errno(errno, "truncate", f->path);
  return LDB_OK;
}

static int px_close(ldb_file *file) {
  px_file *f = (px_file *)file;
  int rc = LDB_OK;
  /* close() is not retried on EINTR: on Linux the descriptor is gone. */
  if (close(f->fd) != 0 && errno != EINTR)
    rc = px_errno(errno, "close", f->path);
  ldb_mfree(A, f->path);
  ldb_mfree(A, f);
  return rc;
}

/* ---- read-only mappings ------------------------------------------------ */

/* A read through a shared file mapping raises SIGBUS when the byte lies
 * past the file's end (another process truncated it) or the device cannot
 * read it. Checking the size first would not be safe (the file can shrink
 * between the check and the read), so the store takes the signal instead:
 * a process-wide SIGBUS handler looks the faulting address up in a table
 * of this store's mappings and, when it falls in one, counts the fault in
 * that mapping's slot and maps an anonymous zero page over the faulting
 * page, so the read completes with zeros and the engine, which compares
 * the counter before and after each operation, returns LDB_IOERR. A SIGBUS
 * outside every mapping goes to the handler installed before ours (or the
 * default action: the process dies as it would have without us).
 *
 * The table is fixed-size and lock-free for the handler: a slot's len is
 * published (release) after its base, and cleared first on unmap. Slots
 * are claimed and released under map_mu. */
#define PX_MAP_SLOTS 256

typedef struct px_map_slot {
  uintptr_t base; /* atomic */
  uintptr_t len;  /* atomic; 0: free or being set up */
  uint64_t faults;
} px_map_slot;

static px_map_slot map_slots[PX_MAP_SLOTS];
static struct sigaction old_bus;
static uintptr_t os_page;
#ifndef LDB_NO_THREADS
static pthread_mutex_t map_mu = PTHREAD_MUTEX_INITIALIZER;
#define MAP_LOCK() pthread_mutex_lock(&map_mu)
#define MAP_UNLOCK() pthread_mutex_unlock(&map_mu)
#define SIGMASK pthread_sigmask
#else
#define MAP_LOCK() ((void)0)
#define MAP_UNLOCK() ((void)0)
#define SIGMASK sigprocmask
#endif

static void px_bus_handler(int sig, siginfo_t *si, void *uc) {
  uintptr_t a = (uintptr_t)si->si_addr;
  for (int i = 0; i < PX_MAP_SLOTS; i++) {
    uintptr_t len = __atomic_load_n(&map_slots[i].len, __ATOMIC_ACQUIRE);
    if (!len) continue;
    uintptr_t base = __atomic_load_n(&map_slots[i].base, __ATOMIC_RELAXED);
    if (a < base || a - base >= len) continue;
    __atomic_fetch_add(&map_slots[i].faults, 1, __ATOMIC_SEQ_CST);
    void *pg = (void *)(a & ~(os_page - 1));
    if (mmap(pg, (size_t)os_page, PROT_READ,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
      return; /* the faulting read is retried and sees zeros */
    break;
  }
  /* Not ours (or no zero page could be mapped): what would have happened
   * without this handler. */
  if (old_bus.sa_flags & SA_SIGINFO) {
    if (old_bus.sa_sigaction && old_bus.sa_sigaction != px_bus_handler) {
      old_bus.sa_sigaction(sig, si, uc);
      return;
    }
    signal(SIGBUS, SIG_DFL);
    return;
  }
  if (old_bus.sa_handler == SIG_DFL || old_bus.sa_handler == SIG_IGN) {
    /* Re-executing the read faults again, now with the default action. */
    signal(SIGBUS, SIG_DFL);
    return;
  }
  old_bus.sa_handler(sig);
}

/* Installs the handler, or installs it again when someone replaced it
 * since (a host or a test framework that sets its own SIGBUS handler): the
 * one found is chained. Called at every map(). Caller holds map_mu. */
static int install_bus_handler(void) {
  struct sigaction cur;
  if (sigaction(SIGBUS, NULL, &cur) != 0)
    return px_errno(errno, "sigaction", "SIGBUS");
  if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == px_bus_handler)
    return LDB_OK;
  long pgsz = sysconf(_SC_PAGESIZE);
  os_page = pgsz > 0 ? (uintptr_t)pgsz : 4096;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = px_bus_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  /* old_bus is read by the handler: block SIGBUS while it changes. */
  sigset_t bus, prev;
  sigemptyset(&bus);
  sigaddset(&bus, SIGBUS);
  SIGMASK(SIG_BLOCK, &bus, &prev);
  int r = sigaction(SIGBUS, &sa, &old_bus);
  SIGMASK(SIG_SETMASK, &prev, NULL);
  if (r != 0) return px_errno(errno, "sigaction", "SIGBUS");
  return LDB_OK;
}

static int px_map(ldb_file *file, uint64_t len, const void **base,
                  const uint64_t **faults) {
  px_file *f = (px_file *)file;
  *base = NULL;
  *faults = NULL;
  if (len == 0 || len > (uint64_t)SIZE_MAX || len > (uint64_t)INT64_MAX)
    return ldb_err(LDB_INVALID, "cannot map %llu bytes",
                   (unsigned long long)len);
  MAP_LOCK();
  int rc = install_bus_handler(), slot = -1;
  for (int i = 0; rc == LDB_OK && i < PX_MAP_SLOTS; i++)
    if (!__atomic_load_n(&map_slots[i].base, __ATOMIC_RELAXED)) {
      slot = i;
      break;
    }
  if (rc == LDB_OK && slot < 0)
    rc = ldb_err(LDB_NOMEM, "map %s: every mapping slot is in use", f->path);
  void *p = MAP_FAILED;
  if (rc == LDB_OK) {
    p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED) rc = px_errno(errno, "mmap", f->path);
  }
  if (rc == LDB_OK) {
    px_map_slot *s = &map_slots[slot];
    __atomic_store_n(&s->faults, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->base, (uintptr_t)p, __ATOMIC_RELAXED);
    __atomic_store_n(&s->len, (uintptr_t)len, __ATOMIC_RELEASE);
    *base = p;
    *faults = &s->faults;
  }
  MAP_UNLOCK();
  return rc;
}

static void px_unmap(ldb_file *file, const void *base, uint64_t len) {
  (void)file;
  if (!base) return;
  MAP_LOCK();
  for (int i = 0; i < PX_MAP_SLOTS; i++)
    if (__atomic_load_n(&map_slots[i].base, __ATOMIC_RELAXED) ==
        (uintptr_t)base) {
      __atomic_store_n(&map_slots[i].len, 0, __ATOMIC_RELEASE);
      __atomic_store_n(&map_slots[i].base, 0, __ATOMIC_RELAXED);
      break;
    }
  munmap((void *)base, (size_t)len);
  MAP_UNLOCK();
}

/* mincore() over the OS pages that hold [addr, addr + len): resident only
 * when all of them are. For a shared file mapping Linux answers from the
 * file's page cache, so a page another process (or an earlier read) brought
 * in counts as resident before this process touches it. */
static int px_resident(ldb_file *file, const void *addr, uint64_t len,
                       int *resident) {
  px_file *f = (px_file *)file;
  *resident = 0;
  long sz = sysconf(_SC_PAGESIZE);
  uintptr_t pg = sz > 0 ? (uintptr_t)sz : 4096;
  uintptr_t start = (uintptr_t)addr & ~(pg - 1);
  uintptr_t end = ((uintptr_t)addr + (uintptr_t)len + pg - 1) & ~(pg - 1);
#ifdef __APPLE__
  char vec[64];
#else
  unsigned char vec[64];
#endif
  /* A database page is at most 64 KiB: 16 OS pages of 4 KiB. */
  size_t n = (end - start) / pg;
  if (n == 0 || n > sizeof vec)
    return ldb_err(LDB_INVALID, "resident: %llu bytes",
                   (unsigned long long)len);
  if (mincore((void *)start, end - start, vec) != 0)
    return px_errno(errno, "mincore", f->path);
  for (size_t i = 0; i < n; i++)
    if (!(vec[i] & 1)) return LDB_OK;
  *resident = 1;
  return LDB_OK;
}

/* madvise(MADV_DONTNEED) on ranges of a mapping made by px_map. The
 * mapping is PROT_READ and MAP_SHARED over the file, so this drops only
 * this process's page-table entries for the ranges: the pages stay in the
 * file's page cache (no data is discarded: none of them can be dirty
 * through a read-only mapping), and the next read of a range is a minor
 * fault that maps the same pages again (or reads them from the file if
 * the kernel has evicted them meanwhile), concurrent readers included.
 * Where the SIGBUS handler has put an anonymous zero page, releasing it
 * leaves zeros too. (posix_madvise(POSIX_MADV_DONTNEED) is a no-op in
 * glibc, hence madvise.) Failure leaves the pages resident, which is
 * harmless, so it is not reported.
 *
 * On Linux all ranges go to one process_madvise() on a pidfd of this
 * process (Linux 6.13 accepts MADV_DONTNEED there for the caller itself,
 * 6.16 flushes the TLB once for the whole vector instead of once per
 * range: in a process with several threads each flush interrupts the
 * CPUs running them). The pidfd is opened once per process: a forked
 * child (another pid) opens its own, so it never advises its parent's
 * memory. Any failure of that call falls back to madvise per range for
 * the rest of the process's life. */
#if defined(__linux__) && defined(SYS_process_madvise) &&                      \
    defined(SYS_pidfd_open)
#define PX_PMADV 1
static int pm_fd = -1; /* pidfd of pm_pid; guarded by map_mu */
static pid_t pm_pid;   /* the process pm_fd refers to */
static int pm_off;     /* atomic: 1 once process_madvise failed */

/* A pidfd of this process, or -1. */
static int pm_self(void) {
  pid_t me = getpid();
  MAP_LOCK();
  if (pm_fd >= 0 && pm_pid != me) { /* inherited across fork: the parent's */
    close(pm_fd);
    pm_fd = -1;
  }
  if (pm_fd < 0) {
    pm_fd = (int)syscall(SYS_pidfd_open, me, 0);
    pm_pid = me;
    if (pm_fd < 0) __atomic_store_n(&pm_off, 1, __ATOMIC_RELAXED);
  }
  int fd = pm_fd;
  MAP_UNLOCK();
  return fd;
}
#endif

/* Releases iov[0..k-1]. */
static void px_advise(struct iovec *iov, size_t k) {
  size_t done = 0;
#ifdef PX_PMADV
  if (!__atomic_load_n(&pm_off, __ATOMIC_RELAXED)) {
    int fd = pm_self();
    if (fd >= 0 &&
        syscall(SYS_process_madvise, fd, iov, k, MADV_DONTNEED, 0) >= 0)
      done = k;
    else
      __atomic_store_n(&pm_off, 1, __ATOMIC_RELAXED);
  }
#endif
  for (size_t j = done; j < k; j++)
    (void)madvise(iov[j].iov_base, iov[j].iov_len, MADV_DONTNEED);
}

static void px_release(ldb_file *file, const ldb_span *spans, size_t n) {
  (void)file;
  long sz = sysconf(_SC_PAGESIZE);
  uintptr_t pg = sz > 0 ? (uintptr_t)sz : 4096;
  struct iovec iov[64];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    uintptr_t a = (uintptr_t)spans[i].addr;
    uintptr_t start = (a + pg - 1) & ~(pg - 1);
    uintptr_t end = (a + (uintptr_t)spans[i].len) & ~(pg - 1);
    if (end <= start) continue;
    iov[k].iov_base = (void *)start;
    iov[k].iov_len = end - start;
    if (++k == sizeof iov / sizeof iov[0]) {
      px_advise(iov, k);
      k = 0;
    }
  }
  if (k) px_advise(iov, k);
}

/* ---- lock -------------------------------------------------------------- */

/* 1 when lock file fd is empty or holds a pid line (ours to rewrite): a
 * LOCK file of another program (LevelDB and RocksDB name theirs so too)
 * is never truncated, only locked. */
static int pid_text(int fd) {
  char b[32];
  ssize_t n;
  do
    n = pread(fd, b, sizeof b, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 || n == (ssize_t)sizeof b) return 0;
  for (ssize_t i = 0; i < n; i++)
    if (!((b[i] >= '0' && b[i] <= '9') || (b[i] == '\n' && i == n - 1)))
      return 0;
  return 1;
}

static int px_lock(ldb_store *s, int exclusive, char *holder,
                   size_t holder_cap) {
  px_store *ps = (px_store *)s;
  px_lockent *l, *nl = NULL;
  char *path = NULL;
  int fd = -1, rc;
  struct flock fl;
  if (holder && holder_cap) holder[0] = 0;
  if (ps->locked)
    return ldb_err(LDB_INVALID, "store %s is already locked by this handle",
                   ps->dir);
  TABLE_LOCK();
  for (l = lock_table; l; l = l->next)
    if (l->owner == getpid() && !strcmp(l->dir, ps->dir)) break;
  if (l) {
    if (exclusive || l->exclusive) {
      if (holder && holder_cap)
        snprintf(holder, holder_cap, "pid %ld (this process)", (long)getpid());
      rc = ldb_err(LDB_BUSY,
                   "database %s is locked by this process "
                   "through another store",
                   ps->dir);
      goto fail;
    }
    l->holders++;
    ps->locked = 1;
    TABLE_UNLOCK();
    return LDB_OK;
  }
  path = path_join(ps->dir, STORE_LOCK_NAME);
  nl = ldb_calloc(A, sizeof *nl);
  if (!path || !nl) {
    rc = ldb_err(LDB_NOMEM, "out of memory locking %s", ps->dir);
    goto fail;
  }
  do
    fd =
        open(path, (exclusive ? O_RDWR : O_RDONLY) | O_CREAT | O_CLOEXEC, 0644);
  while (fd < 0 && errno == EINTR);
  if (fd < 0 && !exclusive && errno == EROFS) {
    /* A read-only file system: no writer can exist, so a reader needs no
     * lock (and cannot create LOCK). */
    do
      fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      ps->locked = 2; /* held, without a table entry */
      TABLE_UNLOCK();
      ldb_mfree(A, nl);
      ldb_mfree(A, path);
      return LDB_OK;
    }
  }
  if (fd < 0 && !exclusive && errno == ENOENT) {
    rc = ldb_err(LDB_NOTFOUND, "lock file %s is missing", path);
    goto fail;
  }
  if (fd < 0) {
    rc = px_errno(errno, "open lock file", path);
    goto fail;
  }
  memset(&fl, 0, sizeof fl);
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  while (fcntl(fd, F_SETLK, &fl) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES) {
      struct flock q;
      memset(&q, 0, sizeof q);
      q.l_type = exclusive ? F_WRLCK : F_RDLCK;
      q.l_whence = SEEK_SET;
      /* pid 0: the holder let go between the two calls. */
      unsigned long pid = fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK
                              ? (unsigned long)q.l_pid
                              : 0;
      rc = store_locked_by(ps->dir, pid, holder, holder_cap);
      goto fail;
    }
    rc = px_errno(errno, "lock", path);
    goto fail;
  }
  if (exclusive && pid_text(fd)) {
    /* Name the holder for humans (ldb_errmsg on the other side reads it
     * from fcntl, but `cat LOCK` helps too). Best effort. */
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) < 0) {
      /* ignored: the lock itself is what matters */
    }
  }
  nl->dir = ldb_memdup(A, ps->dir, strlen(ps->dir) + 1);
  if (!nl->dir) {
    rc = ldb_err(LDB_NOMEM, "out of memory locking %s", ps->dir);
    goto fail; /* closing fd releases the lock */
  }
  nl->fd = fd;
  nl->exclusive = exclusive;
  nl->holders = 1;
  nl->owner = getpid();
  nl->next = lock_table;
  lock_table = nl;
  ps->locked = 1;
  TABLE_UNLOCK();
  ldb_mfree(A, path);
  return LDB_OK;
fail:
  TABLE_UNLOCK();
  if (fd >= 0) close(fd);
  ldb_mfree(A, nl); /* never inserted: insertion is the last step */
  ldb_mfree(A, path);
  return rc;
}

static int px_unlock(ldb_store *s) {
  px_store *ps = (px_store *)s;
  px_lockent **pp;
  if (!ps->locked) return LDB_OK;
  if (ps->locked == 2) {
    ps->locked = 0;
    return LDB_OK;
  }
  TABLE_LOCK();
  for (pp = &lock_table; *pp; pp = &(*pp)->next) {
    px_lockent *l = *pp;
    if (l->owner != getpid() || strcmp(l->dir, ps->dir)) continue;
    if (--l->holders == 0) {
      *pp = l->next;
      /* Closing the descriptor releases the fcntl lock. */
      close(l->fd);
      ldb_mfree(A, l->dir);
      ldb_mfree(A, l);
    }
    break;
  }
  ps->locked = 0;
  TABLE_UNLOCK();
  return LDB_OK;
}

static int px_remove(ldb_store *s, const char *name) {
  px_store *ps = (px_store *)s;
  char *path;
  int rc = LDB_OK;
  if (!valid_name(name))
    return ldb_err(LDB_INVALID, "invalid file name \"%s\"", name ? name : "");
  path = path_join(ps->dir, name);
  if (!path) return ldb_err(LDB_NOMEM, "out of memory removing %s", name);
  if (unlink(path) != 0) {
    if (errno != ENOENT) rc = px_errno(errno, "remove", path);
  } else {
    rc = fsync_dir(ps->dir);
  }
  ldb_mfree(A, path);
  return rc;
}

static void px_destroy(ldb_store *s) {
  px_store *ps = (px_store *)s;
  px_unlock(s);
  free(ps->dir); /* from realpath(), i.e. malloc */
  ldb_mfree(A, ps);
}

static const ldb_store_methods px_methods = {
    px_open,     px_read,  px_write, px_sync,     px_size,
    px_truncate, px_close, px_lock,  px_unlock,   px_remove,
    px_destroy,  px_map,   px_unmap, px_resident, px_release,
};

/* mkdir -p, each component created with mode 0755. */
static int make_dirs(const char *dir) {
  char *p = ldb_memdup(A, dir, strlen(dir) + 1);
  int rc = LDB_OK;
  if (!p) return ldb_err(LDB_NOMEM, "out of memory creating %s", dir);
  for (char *c = p + 1;; c++) {
    if (*c != '/' && *c != 0) continue;
    char save = *c;
    *c = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      rc = px_errno(errno, "create directory", p);
      break;
    }
    *c = save;
    if (!save) break;
  }
  ldb_mfree(A, p);
  return rc;
}

int store_dir_foreign(const char *dir, int (*ours)(const char *name),
                      char *list, size_t cap, size_t *count) {
  *count = 0;
  if (cap) list[0] = 0;
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? LDB_OK : px_errno(errno, "list", dir);
  struct dirent *de;
  for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
    const char *n = de->d_name;
    /* lost+found: the file system's own, at the root of a volume mounted
     * for the database. */
    if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, STORE_LOCK_NAME) ||
        !strcmp(n, "lost+found") || ours(n))
      continue;
    store_list_add(list, cap, *count, n);
    ++*count;
  }
  int rc = errno ? px_errno(errno, "list", dir) : LDB_OK;
  closedir(d);
  return rc;
}

int ldb_store_posix(const char *dir, int create, ldb_store **out) {
  px_store *ps = NULL;
  struct stat st;
  int rc;
  if (!out) return ldb_err(LDB_INVALID, "ldb_store_posix: out is NULL");
  *out = NULL;
  if (!dir || !*dir) return ldb_err(LDB_INVALID, "empty directory path");
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT) return px_errno(errno, "stat", dir);
    if (!create)
      return ldb_err(LDB_NOTFOUND, "directory %s does not exist", dir);
    rc = make_dirs(dir);
    if (rc != LDB_OK) return rc;
  } else if (!S_ISDIR(st.st_mode)) {
    return ldb_err(LDB_INVALID, "%s is not a directory", dir);
  }
  ps = ldb_calloc(A, sizeof *ps);
  if (!ps) return ldb_err(LDB_NOMEM, "out of memory creating a store");
  ps->dir = realpath(dir, NULL);
  if (!ps->dir) {
    rc = px_errno(errno, "resolve path", dir);
    ldb_mfree(A, ps);
    return rc;
  }
  ps->base.methods = &px_methods;
  ps->base.id = ps->dir;
  *out = &ps->base;
  return LDB_OK;
}
