/*
 * store_win32.c — the directory store on Windows, the peer of
 * store_posix.c: each named file is a file in the directory, reached with
 * CreateFileW and ReadFile/WriteFile at explicit offsets (OVERLAPPED on a
 * synchronous handle, so no shared file pointer), FlushFileBuffers for
 * sync; the writer/reader lock is LockFileEx on one byte of dir\LOCK, and
 * the holder's pid is written at the start of that file for the message a
 * second process gets (POSIX asks the kernel for it: F_GETLK). Paths are
 * UTF-8 in the API and in messages, UTF-16 for the system calls. No map
 * method (the posix store's read-only mapping, ldb_options.mmap_size, is
 * not ported): every page is read through the engine's cache, as with the
 * JavaScript stores.
 *
 * Durability: NTFS journals its metadata, and Windows has no call to flush
 * a directory, so a created or removed file needs no extra sync here; a
 * file's own data is made durable by FlushFileBuffers (sync).
 * Errors: ERROR_DISK_FULL/ERROR_HANDLE_DISK_FULL become LDB_FULL, a missing
 * file LDB_NOTFOUND, a lock held elsewhere LDB_BUSY, every other failure
 * LDB_IOERR with the path and the system's message.
 *
 * Locks: LockFileEx locks belong to the handle, so a second store of the
 * same process conflicts exactly as another process does (LDB_BUSY), and
 * closing the handle releases the lock. The locked byte lies far past the
 * pid text, because a locked range cannot be read through other handles.
 * The pid text is best effort, in a fixed-width field (two writers never
 * leave a mixture): the writer writes its pid, a reader only when no other
 * reader is named, and a holder blanks it on unlock when it still names
 * itself. With several readers it names one of them, as F_GETLK does
 * (until that one leaves).
 */
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <stdio.h>
#include <windows.h>

#include "store.h"

static const ldb_allocator *A = &ldb_default_allocator;

/* The locked byte of LOCK. */
#define LOCK_OFFSET_HIGH 0x100u /* 1 TiB: never part of the pid text */

typedef struct w32_store {
  ldb_store base;
  char *dir;      /* canonical UTF-8 path of the directory (also base.id) */
  HANDLE lock;    /* LOCK, holding the lock; NULL when not locked */
  int readonly_m; /* 1: a reader on a read-only medium, which needs no lock */
} w32_store;

typedef struct w32_file {
  ldb_file base;
  HANDLE h;
  char *path; /* UTF-8, for messages */
} w32_file;

/* ---- strings ------------------------------------------------------------ */

/* A UTF-16 copy of the UTF-8 string s (ldb_malloc'd); NULL when s is not
 * valid UTF-8 or memory runs out (*bad tells which). */
static wchar_t *to_wide(const char *s, int *bad) {
  *bad = 0;
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0) {
    *bad = 1;
    return NULL;
  }
  wchar_t *w = ldb_malloc(A, (size_t)n * sizeof *w);
  if (!w) return NULL;
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
  return w;
}

/* A UTF-8 copy of the UTF-16 string w (ldb_malloc'd), or NULL. */
static char *from_wide(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  if (n <= 0) return NULL;
  char *s = ldb_malloc(A, (size_t)n);
  if (!s) return NULL;
  WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
  return s;
}

static char *path_join(const char *dir, const char *name) {
  return store_path_join(dir, name, '\\');
}

/* ---- errors ------------------------------------------------------------ */

static int w32_error(DWORD err, const char *what, const char *path) {
  char msg[256];
  DWORD n = FormatMessageA(
      FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err,
      MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), msg, sizeof msg, NULL);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' ||
                   msg[n - 1] == ' ' || msg[n - 1] == '.'))
    n--;
  msg[n] = 0;
  if (!n) snprintf(msg, sizeof msg, "unknown error");
  char text[300];
  snprintf(text, sizeof text, "%s (Windows error %lu)", msg,
           (unsigned long)err);
  return store_os_error(err == ERROR_DISK_FULL || err == ERROR_HANDLE_DISK_FULL,
                        err == ERROR_NOT_ENOUGH_MEMORY ||
                            err == ERROR_OUTOFMEMORY,
                        what, path, text);
}

static int missing(DWORD err) {
  return err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND;
}

static int valid_name(const char *name) {
  return store_valid_name(name, "/\\:");
}

/* CreateFileW with the sharing every store handle uses: other handles may
 * read, write and delete (the engine itself keeps several handles on the
 * log and the data file). */
static HANDLE open_handle(const wchar_t *path, DWORD access, DWORD disp) {
  return CreateFileW(path, access,
                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                     NULL, disp, FILE_ATTRIBUTE_NORMAL, NULL);
}

/* ---- files ------------------------------------------------------------- */

static int w32_open(ldb_store *s, const char *name, int flags, ldb_file **out) {
  w32_store *ws = (w32_store *)s;
  w32_file *f = NULL;
  char *path = NULL;
  wchar_t *wpath = NULL;
  HANDLE h = INVALID_HANDLE_VALUE;
  DWORD err = 0;
  int rc, bad;
  *out = NULL;
  if (!valid_name(name))
    return ldb_err(LDB_INVALID, "invalid file name \"%s\"", name ? name : "");
  path = path_join(ws->dir, name);
  f = ldb_calloc(A, sizeof *f);
  wpath = path ? to_wide(path, &bad) : NULL;
  if (!path || !f || !wpath) {
    rc = path && !wpath && bad
             ? ldb_err(LDB_INVALID, "file name \"%s\" is not UTF-8", name)
             : ldb_err(LDB_NOMEM, "out of memory opening %s", name);
    goto fail;
  }
  h = open_handle(wpath, GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING);
  if (h == INVALID_HANDLE_VALUE) err = GetLastError();
  if (h == INVALID_HANDLE_VALUE &&
      (err == ERROR_ACCESS_DENIED || err == ERROR_WRITE_PROTECT)) {
    /* A read-only database on a read-only medium: writes will then fail
     * with LDB_IOERR, which a read-only engine never attempts. */
    h = open_handle(wpath, GENERIC_READ, OPEN_EXISTING);
    if (h == INVALID_HANDLE_VALUE) err = GetLastError();
  }
  if (h == INVALID_HANDLE_VALUE && err == ERROR_FILE_NOT_FOUND &&
      (flags & LDB_STORE_CREATE)) {
    h = open_handle(wpath, GENERIC_READ | GENERIC_WRITE, CREATE_NEW);
    if (h == INVALID_HANDLE_VALUE) err = GetLastError();
  }
  if (h == INVALID_HANDLE_VALUE) {
    DWORD attr = GetFileAttributesW(wpath);
    if (missing(err))
      rc = ldb_err(LDB_NOTFOUND, "file %s does not exist", path);
    else if (attr != INVALID_FILE_ATTRIBUTES &&
             (attr & FILE_ATTRIBUTE_DIRECTORY))
      /* Windows says "access denied"; say what is wrong, as EISDIR does. */
      rc = ldb_err(LDB_IOERR, "open %s: is a directory", path);
    else
      rc = w32_error(err, "open", path);
    goto fail;
  }
  ldb_mfree(A, wpath);
  f->base.store = s;
  f->h = h;
  f->path = path;
  *out = &f->base;
  return LDB_OK;
fail:
  ldb_mfree(A, wpath);
  ldb_mfree(A, path);
  ldb_mfree(A, f);
  return rc;
}

/* At most this many bytes per ReadFile/WriteFile (their length is a
 * DWORD). */
#define IO_CHUNK ((size_t)1 << 30)

static OVERLAPPED at_offset(uint64_t off) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.Offset = (DWORD)off;
  ov.OffsetHigh = (DWORD)(off >> 32);
  return ov;
}

static int w32_read(ldb_file *file, uint64_t off, void *buf, size_t len,
                    size_t *got) {
  w32_file *f = (w32_file *)file;
  uint8_t *p = buf;
  size_t done = 0;
  *got = 0;
  if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
    return ldb_err(LDB_INVALID, "read offset %llu out of range",
                   (unsigned long long)off);
  while (done < len) {
    size_t want = len - done < IO_CHUNK ? len - done : IO_CHUNK;
    OVERLAPPED ov = at_offset(off + done);
    DWORD n = 0;
    if (!ReadFile(f->h, p + done, (DWORD)want, &n, &ov)) {
      DWORD err = GetLastError();
      if (err == ERROR_HANDLE_EOF) break;
      return w32_error(err, "read", f->path);
    }
    if (n == 0) break; /* end of file */
    done += n;
  }
  *got = done;
  return LDB_OK;
}

static int w32_write(ldb_file *file, uint64_t off, const void *buf,
                     size_t len) {
  w32_file *f = (w32_file *)file;
  const uint8_t *p = buf;
  size_t done = 0;
  if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
    return ldb_err(LDB_INVALID, "write offset %llu out of range",
                   (unsigned long long)off);
  while (done < len) {
    size_t want = len - done < IO_CHUNK ? len - done : IO_CHUNK;
    OVERLAPPED ov = at_offset(off + done);
    DWORD n = 0;
    if (!WriteFile(f->h, p + done, (DWORD)want, &n, &ov))
      return w32_error(GetLastError(), "write", f->path);
    if (n == 0) return ldb_err(LDB_FULL, "write %s: no progress", f->path);
    done += n;
  }
  return LDB_OK;
}

static int w32_sync(ldb_file *file) {
  w32_file *f = (w32_file *)file;
  if (!FlushFileBuffers(f->h))
    return w32_error(GetLastError(), "FlushFileBuffers", f->path);
  return LDB_OK;
}

static int w32_size(ldb_file *file, uint64_t *size) {
  w32_file *f = (w32_file *)file;
  LARGE_INTEGER sz;
  if (!GetFileSizeEx(f->h, &sz))
    return w32_error(GetLastError(), "size of", f->path);
  *size = (uint64_t)sz.QuadPart;
  return LDB_OK;
}

static int w32_truncate(ldb_file *file, uint64_t size) {
  w32_file *f = (w32_file *)file;
  FILE_END_OF_FILE_INFO eof;
  if (size > (uint64_t)INT64_MAX)
    return ldb_err(LDB_INVALID, "truncate size out of range");
  /* Sets the size without moving a file pointer (none is used here). */
  eof.EndOfFile.QuadPart = (LONGLONG)size;
  if (!SetFileInformationByHandle(f->h, FileEndOfFileInfo, &eof, sizeof eof))
    return w32_error(GetLastError(), "truncate", f->path);
  return LDB_OK;
}

static int w32_close(ldb_file *file) {
  w32_file *f = (w32_file *)file;
  int rc = LDB_OK;
  if (!CloseHandle(f->h)) rc = w32_error(GetLastError(), "close", f->path);
  ldb_mfree(A, f->path);
  ldb_mfree(A, f);
  return rc;
}

/* ---- lock -------------------------------------------------------------- */

/* Width of the pid field at the start of LOCK (digits padded with spaces,
 * then CRLF). */
#define PID_FIELD 20

/* The pid written at the start of LOCK by a holder, or 0. */
static unsigned long lock_holder_pid(HANDLE h) {
  char text[32];
  OVERLAPPED ov = at_offset(0);
  DWORD n = 0;
  if (!ReadFile(h, text, sizeof text - 1, &n, &ov)) return 0;
  text[n] = 0;
  return strtoul(text, NULL, 10);
}

/* 1 when a process with this id is running (a crashed holder leaves its
 * pid behind). */
static int pid_alive(unsigned long pid) {
  HANDLE p = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
  if (!p) return GetLastError() == ERROR_ACCESS_DENIED;
  int alive = WaitForSingleObject(p, 0) == WAIT_TIMEOUT;
  CloseHandle(p);
  return alive;
}

/* Writes pid (0: blanks) into LOCK's pid field. Best effort. */
static void lock_write_pid(HANDLE h, unsigned long pid) {
  char text[PID_FIELD + 3];
  DWORD wrote;
  OVERLAPPED ov = at_offset(0);
  if (pid)
    snprintf(text, sizeof text, "%-*lu\r\n", PID_FIELD, pid);
  else
    snprintf(text, sizeof text, "%*s\r\n", PID_FIELD, "");
  WriteFile(h, text, PID_FIELD + 2, &wrote, &ov);
}

static int w32_lock(ldb_store *s, int exclusive, char *holder,
                    size_t holder_cap) {
  w32_store *ws = (w32_store *)s;
  char *path = NULL;
  wchar_t *wpath = NULL;
  HANDLE h = INVALID_HANDLE_VALUE;
  OVERLAPPED ov;
  DWORD err = 0;
  int rc, bad;
  if (holder && holder_cap) holder[0] = 0;
  if (ws->lock || ws->readonly_m)
    return ldb_err(LDB_INVALID, "store %s is already locked by this handle",
                   ws->dir);
  path = path_join(ws->dir, STORE_LOCK_NAME);
  wpath = path ? to_wide(path, &bad) : NULL;
  if (!wpath) {
    rc = ldb_err(LDB_NOMEM, "out of memory locking %s", ws->dir);
    goto fail;
  }
  h = open_handle(wpath, GENERIC_READ | GENERIC_WRITE, OPEN_ALWAYS);
  if (h == INVALID_HANDLE_VALUE) err = GetLastError();
  if (h == INVALID_HANDLE_VALUE && !exclusive &&
      (err == ERROR_ACCESS_DENIED || err == ERROR_WRITE_PROTECT)) {
    /* A read-only medium: no writer can exist, so a reader needs no lock
     * (and may be unable to create LOCK). */
    ws->readonly_m = 1;
    ldb_mfree(A, wpath);
    ldb_mfree(A, path);
    return LDB_OK;
  }
  if (h == INVALID_HANDLE_VALUE) {
    rc = w32_error(err, "open lock file", path);
    goto fail;
  }
  ov = at_offset((uint64_t)LOCK_OFFSET_HIGH << 32);
  if (!LockFileEx(h,
                  LOCKFILE_FAIL_IMMEDIATELY |
                      (exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0),
                  0, 1, 0, &ov)) {
    err = GetLastError();
    if (err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING) {
      rc = store_locked_by(ws->dir, lock_holder_pid(h), holder, holder_cap);
      goto fail;
    }
    rc = w32_error(err, "lock", path);
    goto fail;
  }
  /* Name the holder for the message another opener gets, and for humans.
   * Best effort: the lock itself is what matters. */
  unsigned long named = exclusive ? 0 : lock_holder_pid(h);
  if (!named || !pid_alive(named))
    lock_write_pid(h, (unsigned long)GetCurrentProcessId());
  ws->lock = h;
  ldb_mfree(A, wpath);
  ldb_mfree(A, path);
  return LDB_OK;
fail:
  if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  ldb_mfree(A, wpath);
  ldb_mfree(A, path);
  return rc;
}

static int w32_unlock(ldb_store *s) {
  w32_store *ws = (w32_store *)s;
  ws->readonly_m = 0;
  if (!ws->lock) return LDB_OK;
  if (lock_holder_pid(ws->lock) == (unsigned long)GetCurrentProcessId())
    lock_write_pid(ws->lock, 0);
  /* Closing the handle releases its lock. */
  CloseHandle(ws->lock);
  ws->lock = NULL;
  return LDB_OK;
}

static int w32_remove(ldb_store *s, const char *name) {
  w32_store *ws = (w32_store *)s;
  char *path;
  wchar_t *wpath;
  int rc = LDB_OK, bad;
  if (!valid_name(name))
    return ldb_err(LDB_INVALID, "invalid file name \"%s\"", name ? name : "");
  path = path_join(ws->dir, name);
  wpath = path ? to_wide(path, &bad) : NULL;
  if (!wpath) {
    ldb_mfree(A, path);
    return ldb_err(LDB_NOMEM, "out of memory removing %s", name);
  }
  if (!DeleteFileW(wpath)) {
    DWORD err = GetLastError();
    if (!missing(err)) rc = w32_error(err, "remove", path);
  }
  ldb_mfree(A, wpath);
  ldb_mfree(A, path);
  return rc;
}

static void w32_destroy(ldb_store *s) {
  w32_store *ws = (w32_store *)s;
  w32_unlock(s);
  ldb_mfree(A, ws->dir);
  ldb_mfree(A, ws);
}

static const ldb_store_methods w32_methods = {
    w32_open,     w32_read,  w32_write, w32_sync,   w32_size,
    w32_truncate, w32_close, w32_lock,  w32_unlock, w32_remove,
    w32_destroy,  NULL,      NULL,      NULL, /* no mapping: reads go through
                                                 the cache */
    NULL,
};

/* ---- the directory ------------------------------------------------------ */

/* mkdir -p for a full path (drive-letter or UNC): each missing component
 * is created; the existing prefix (drive, share) is skipped over. */
static int make_dirs(wchar_t *full, const char *dir) {
  size_t n = wcslen(full), start = 0;
  if (n >= 2 && full[0] == L'\\' && full[1] == L'\\') {
    /* \\server\share\: the first two components are not directories. */
    int seps = 0;
    for (start = 2; start < n && seps < 2; start++)
      if (full[start] == L'\\') seps++;
  } else if (n >= 3 && full[1] == L':') {
    start = 3;
  }
  for (size_t i = start; i <= n; i++) {
    if (i < n && full[i] != L'\\' && full[i] != L'/') continue;
    wchar_t save = full[i];
    full[i] = 0;
    if (i > start && !CreateDirectoryW(full, NULL)) {
      DWORD err = GetLastError();
      if (err != ERROR_ALREADY_EXISTS) {
        full[i] = save;
        return w32_error(err, "create directory", dir);
      }
    }
    full[i] = save;
  }
  return LDB_OK;
}

/* The canonical UTF-8 path of the directory `wdir` (final path of an open
 * handle: symbolic links resolved, the case as stored), without the \\?\
 * prefix; NULL with *rc set on failure. */
static char *canonical(const wchar_t *wdir, const char *dir, int *rc) {
  HANDLE h = CreateFileW(wdir, 0,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
  wchar_t *buf = NULL;
  char *out = NULL;
  if (h == INVALID_HANDLE_VALUE) {
    *rc = w32_error(GetLastError(), "resolve path", dir);
    return NULL;
  }
  DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, VOLUME_NAME_DOS);
  if (n) buf = ldb_malloc(A, ((size_t)n + 1) * sizeof *buf);
  if (n && buf) n = GetFinalPathNameByHandleW(h, buf, n + 1, VOLUME_NAME_DOS);
  if (!n || !buf) {
    *rc = buf ? w32_error(GetLastError(), "resolve path", dir)
              : ldb_err(LDB_NOMEM, "out of memory resolving %s", dir);
    goto done;
  }
  const wchar_t *p = buf;
  if (!wcsncmp(p, L"\\\\?\\UNC\\", 8)) {
    p += 6; /* keep two backslashes: \\server\share */
    buf[6] = L'\\';
  } else if (!wcsncmp(p, L"\\\\?\\", 4)) {
    p += 4;
  }
  out = from_wide(p);
  if (!out) *rc = ldb_err(LDB_NOMEM, "out of memory resolving %s", dir);
done:
  CloseHandle(h);
  ldb_mfree(A, buf);
  return out;
}

int store_dir_foreign(const char *dir, int (*ours)(const char *name),
                      char *list, size_t cap, size_t *count) {
  *count = 0;
  if (cap) list[0] = 0;
  int bad;
  char *pattern = path_join(dir, "*");
  wchar_t *wp = pattern ? to_wide(pattern, &bad) : NULL;
  ldb_mfree(A, pattern);
  if (!wp)
    return pattern && bad ? ldb_err(LDB_INVALID, "%s is not valid UTF-8", dir)
                          : ldb_err(LDB_NOMEM, "out of memory listing %s", dir);
  WIN32_FIND_DATAW fd;
  HANDLE h = FindFirstFileW(wp, &fd);
  ldb_mfree(A, wp);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD err = GetLastError();
    return missing(err) ? LDB_OK : w32_error(err, "list", dir);
  }
  int rc = LDB_OK;
  do {
    char *n = from_wide(fd.cFileName);
    if (!n) {
      rc = ldb_err(LDB_NOMEM, "out of memory listing %s", dir);
      break;
    }
    if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, STORE_LOCK_NAME) &&
        !ours(n)) {
      store_list_add(list, cap, *count, n);
      ++*count;
    }
    ldb_mfree(A, n);
  } while (FindNextFileW(h, &fd));
  if (!rc && GetLastError() != ERROR_NO_MORE_FILES)
    rc = w32_error(GetLastError(), "list", dir);
  FindClose(h);
  return rc;
}

int ldb_store_win32(const char *dir, int create, ldb_store **out) {
  w32_store *ws = NULL;
  wchar_t *wdir = NULL, *full = NULL;
  int rc = LDB_OK, bad;
  if (!out) return ldb_err(LDB_INVALID, "ldb_store_win32: out is NULL");
  *out = NULL;
  if (!dir || !*dir) return ldb_err(LDB_INVALID, "empty directory path");
  wdir = to_wide(dir, &bad);
  if (!wdir)
    return bad ? ldb_err(LDB_INVALID, "directory path %s is not UTF-8", dir)
               : ldb_err(LDB_NOMEM, "out of memory opening %s", dir);
  DWORD n = GetFullPathNameW(wdir, 0, NULL, NULL);
  if (n) full = ldb_malloc(A, ((size_t)n + 1) * sizeof *full);
  if (!n || !full || !GetFullPathNameW(wdir, n + 1, full, NULL)) {
    rc = full ? w32_error(GetLastError(), "resolve path", dir)
              : ldb_err(LDB_NOMEM, "out of memory opening %s", dir);
    goto fail;
  }
  DWORD attr = GetFileAttributesW(full);
  if (attr == INVALID_FILE_ATTRIBUTES) {
    DWORD err = GetLastError();
    if (!missing(err)) {
      rc = w32_error(err, "stat", dir);
      goto fail;
    }
    if (!create) {
      rc = ldb_err(LDB_NOTFOUND, "directory %s does not exist", dir);
      goto fail;
    }
    rc = make_dirs(full, dir);
    if (rc != LDB_OK) goto fail;
  } else if (!(attr & FILE_ATTRIBUTE_DIRECTORY)) {
    rc = ldb_err(LDB_INVALID, "%s is not a directory", dir);
    goto fail;
  }
  ws = ldb_calloc(A, sizeof *ws);
  if (!ws) {
    rc = ldb_err(LDB_NOMEM, "out of memory creating a store");
    goto fail;
  }
  ws->dir = canonical(full, dir, &rc);
  if (!ws->dir) goto fail;
  ws->base.methods = &w32_methods;
  ws->base.id = ws->dir;
  ldb_mfree(A, full);
  ldb_mfree(A, wdir);
  *out = &ws->base;
  return LDB_OK;
fail:
  ldb_mfree(A, ws);
  ldb_mfree(A, full);
  ldb_mfree(A, wdir);
  return rc;
}
#endif /* _WIN32 */
