/*
 * util.h — private helpers shared by every layer of the core: error
 * reporting, the allocation hook, crc32c, little-endian encoding, value
 * compression, the clock and the thread primitives.
 *
 * Not responsible for any I/O: bytes at rest are reached only through the
 * store seam (lightningdb.h, ldb_store).
 */
#ifndef LDB_UTIL_H
#define LDB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lightningdb.h"

/* printf-style checking of a function's format argument. MinGW builds use
 * the C99 formatter (__USE_MINGW_ANSI_STDIO, set by CMakeLists.txt), whose
 * conversions (%zu, %llu) are gnu_printf's, not msvcrt's. */
#ifdef __MINGW32__
#define LDB_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define LDB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

/* ---- errors ------------------------------------------------------------ */

/* Records a formatted detail message for the calling thread (read back by
 * ldb_errmsg) and returns code, so failures read `return ldb_err(LDB_X,
 * "...", ...);`. */
int ldb_err(int code, const char *fmt, ...) LDB_PRINTF(2, 3);
/* Clears the calling thread's message. */
void ldb_err_clear(void);
/* The calling thread's message buffer (never NULL). */
const char *ldb_err_get(void);

/* Room ldb_key_text needs: a key shown in an error message. */
#define LDB_KEY_TEXT_MAX 160

/* Writes key (klen bytes) into out as a message shows it: printable UTF-8
 * (no control characters, C0, DEL or C1) in double quotes with '"' and
 * '\\' escaped ("user:1"), anything else in hexadecimal and saying so
 * (00ff01 (hex)). Text longer than 48 bytes is cut at a character boundary
 * and hex after 24 bytes, followed by "... (N bytes)". out holds
 * LDB_KEY_TEXT_MAX bytes; always NUL-terminated. */
void ldb_key_text(char out[LDB_KEY_TEXT_MAX], const void *key, size_t klen);

/* Internal invariant check that never aborts: evaluates to true when the
 * condition FAILS, after recording an LDB_INTERNAL message. Use as
 * `if (LDB_BROKEN(x != NULL)) return LDB_INTERNAL;` */
#define LDB_BROKEN(cond)                                                       \
  (!(cond) && (ldb_err(LDB_INTERNAL, "invariant failed: %s (%s:%d)", #cond,    \
                       __FILE__, __LINE__),                                    \
               1))

/* ---- allocation ------------------------------------------------------- */

/* The system allocator as an ldb_allocator. */
extern const ldb_allocator ldb_default_allocator;

/* Allocation through a hook (a NULL hook means the default). Return NULL
 * on failure and never record an error: the caller returns LDB_NOMEM. */
void *ldb_malloc(const ldb_allocator *a, size_t n);
void *ldb_calloc(const ldb_allocator *a, size_t n);
void *ldb_realloc(const ldb_allocator *a, void *p, size_t old_n, size_t n);
void ldb_mfree(const ldb_allocator *a, void *p);
/* A copy of n bytes (n may be 0: returns a 1-byte allocation). */
void *ldb_memdup(const ldb_allocator *a, const void *p, size_t n);

/* ---- checksums --------------------------------------------------------- */

/* CRC-32C (Castagnoli), hardware accelerated where available. Start with
 * crc = 0; chain by passing the previous result. */
uint32_t ldb_crc32c(uint32_t crc, const void *data, size_t n);

/* ---- little-endian encoding (unaligned-safe) --------------------------- */

static inline void ldb_put16(uint8_t *p, uint16_t v) {
  memcpy(p, &v, 2);
}
static inline void ldb_put32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}
static inline void ldb_put64(uint8_t *p, uint64_t v) {
  memcpy(p, &v, 8);
}
static inline uint16_t ldb_get16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
static inline uint32_t ldb_get32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t ldb_get64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "LightningDB's file format code assumes a little-endian host"
#endif

/* memcmp order, shorter first on a common prefix. Short common lengths
 * are compared inline, eight bytes at a time (a call to memcmp costs more
 * than comparing two 16-byte keys); longer ones by memcmp. Returns only
 * the sign's meaning (<0, 0, >0). */
static inline int ldb_keycmp(const void *a, size_t an, const void *b,
                             size_t bn) {
  size_t n = an < bn ? an : bn;
  if (n <= 32) {
    const uint8_t *x = a, *y = b;
    for (; n >= 8; n -= 8, x += 8, y += 8) {
      uint64_t u = __builtin_bswap64(ldb_get64(x)),
               v = __builtin_bswap64(ldb_get64(y));
      if (u != v) return u < v ? -1 : 1;
    }
    for (; n; n--, x++, y++)
      if (*x != *y) return *x < *y ? -1 : 1;
  } else {
    int c = memcmp(a, b, n);
    if (c) return c;
  }
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/* ---- compression -------------------------------------------------------
 * Values of at least LDB_COMPRESS_MIN bytes are compressed with the
 * database's codec and kept compressed only when that saves at least 1/8.
 * The codec id is stored with each compressed value, so a database can be
 * reopened with another compression setting. */

#define LDB_COMPRESS_MIN 64
/* LDB_COMPRESSION_AUTO tries every codec on this many leading bytes. */
#define LDB_AUTO_SAMPLE 4096

/* Compresses src into a buffer allocated through a. On LDB_OK, *out
 * (owned by the caller, ldb_mfree) holds *out_len bytes made by codec
 * *used (the codec stored with the value: never AUTO, which picks one per
 * value), or *out is NULL and *used NONE when compression did not pay
 * (store the value raw). */
int ldb_compress(const ldb_allocator *a, int codec, int level, const void *src,
                 size_t n, void **out, size_t *out_len, int *used);
/* Decompresses exactly raw_len bytes into dst; LDB_CORRUPT when the data
 * does not decompress to raw_len bytes. */
int ldb_decompress(const ldb_allocator *a, int codec, const void *src, size_t n,
                   void *dst, size_t raw_len);
/* true when the codec is compiled in (zstd, lz4 and snappy always are;
 * AUTO counts as one). */
bool ldb_codec_available(int codec);

/* ---- clock ------------------------------------------------------------- */

/* Monotonic nanoseconds. */
uint64_t ldb_now_ns(void);
/* Wall-clock milliseconds since the Unix epoch (the change feed's commit
 * times, which must mean the same after a restart and on another host). */
uint64_t ldb_wall_ms(void);

/* ---- threads -----------------------------------------------------------
 * Thin wrappers so that a build without threads (LDB_NO_THREADS, the
 * WebAssembly build) compiles the same engine: the lock calls become
 * no-ops and ldb_thread_start returns LDB_INVALID. */

#if !defined(LDB_NO_THREADS) && defined(_WIN32)
/* Windows (util.c): an SRWLOCK held exclusively, a CONDITION_VARIABLE, an
 * SRWLOCK with the mode its holder took (ReleaseSRWLock* must name it),
 * and a heap record of the thread. Opaque here so that <windows.h> stays
 * out of the core's headers. */
typedef struct ldb_mutex {
  void *srw;
} ldb_mutex;
typedef struct ldb_cond {
  void *cv;
} ldb_cond;
typedef struct ldb_rwlock {
  void *srw;
  int exclusive; /* written only by the exclusive holder */
} ldb_rwlock;
typedef struct ldb_win_thread *ldb_thread;
#define LDB_MUTEX_INITIALIZER                                                  \
  { NULL } /* SRWLOCK_INIT */
#elif !defined(LDB_NO_THREADS)
#include <pthread.h>
typedef pthread_mutex_t ldb_mutex;
typedef pthread_cond_t ldb_cond;
typedef pthread_rwlock_t ldb_rwlock;
typedef pthread_t ldb_thread;
#define LDB_MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#else
typedef int ldb_mutex;
typedef int ldb_cond;
typedef int ldb_rwlock;
typedef int ldb_thread;
#endif

/* A mutex with static storage may be initialized with
 * LDB_MUTEX_INITIALIZER instead of ldb_mutex_init (threaded builds). */
void ldb_mutex_init(ldb_mutex *m);
void ldb_mutex_destroy(ldb_mutex *m);
void ldb_mutex_lock(ldb_mutex *m);
void ldb_mutex_unlock(ldb_mutex *m);
void ldb_cond_init(ldb_cond *c);
void ldb_cond_destroy(ldb_cond *c);
void ldb_cond_wait(ldb_cond *c, ldb_mutex *m);
/* Waits at most timeout_ns; returns true when signalled (or spuriously
 * woken), false on timeout. */
bool ldb_cond_timedwait(ldb_cond *c, ldb_mutex *m, uint64_t timeout_ns);
void ldb_cond_signal(ldb_cond *c);
void ldb_cond_broadcast(ldb_cond *c);
void ldb_rwlock_init(ldb_rwlock *l);
void ldb_rwlock_destroy(ldb_rwlock *l);
void ldb_rwlock_rdlock(ldb_rwlock *l);
void ldb_rwlock_wrlock(ldb_rwlock *l);
void ldb_rwlock_unlock(ldb_rwlock *l);
/* Starts fn(arg) on a new thread. LDB_INVALID without thread support. */
int ldb_thread_start(ldb_thread *t, void *(*fn)(void *), void *arg);
void ldb_thread_join(ldb_thread t);
/* true when this build can start threads. */
bool ldb_threads_available(void);

#endif /* LDB_UTIL_H */
