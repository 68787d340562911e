/*
 * util.c — error messages, the allocation hook, crc32c, compression, clock
 * and thread wrappers (see util.h). Owns no state but the per-thread error
 * message.
 *
 * Clocks and threads have two native implementations: POSIX
 * (clock_gettime, pthreads) and Windows (QueryPerformanceCounter,
 * GetSystemTimePreciseAsFileTime, SRW locks, condition variables, fiber
 * local storage for the per-thread zstd contexts, _beginthreadex). Windows
 * needs no pthreads emulation: timed waits there are relative, which is
 * what ldb_cond_timedwait is asked for.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* The custom-allocator entry points of zstd are in its "static linking
 * only" section; they are exported by the shared library as well. */
#define ZSTD_STATIC_LINKING_ONLY
#include "util.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <process.h>
#include <windows.h>
#endif

#include <errno.h>
#include <lz4.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zstd.h>
#include <zstd_errors.h>

/* ---- errors ------------------------------------------------------------ */

static _Thread_local char tl_errmsg[512];

int ldb_err(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tl_errmsg, sizeof tl_errmsg, fmt, ap);
  va_end(ap);
  return code;
}

void ldb_err_clear(void) {
  tl_errmsg[0] = 0;
}
const char *ldb_err_get(void) {
  return tl_errmsg;
}

/* Length of the printable UTF-8 character at p (at most n bytes left), or
 * 0 when the bytes there are not one: invalid or overlong UTF-8, a
 * surrogate, past U+10FFFF, or a control character (C0, DEL, C1). */
static size_t printable_char(const uint8_t *p, size_t n) {
  uint32_t c = p[0];
  size_t len;
  if (c < 0x80) return c >= 0x20 && c != 0x7f;
  if (c < 0xc2 || c > 0xf4) return 0; /* continuation, overlong, too big */
  len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  c &= 0x7fu >> len; /* the lead byte's payload bits */
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    c = (c << 6) | (p[i] & 0x3f);
  }
  static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < least[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  if (c >= 0x80 && c <= 0x9f) return 0; /* C1 controls */
  return len;
}

void ldb_key_text(char out[LDB_KEY_TEXT_MAX], const void *key, size_t klen) {
  enum { TEXT_MAX = 48, HEX_MAX = 24 };
  const uint8_t *k = key;
  size_t i = 0;
  while (i < klen) {
    size_t len = printable_char(k + i, klen - i);
    if (!len) break;
    i += len;
  }
  const int text = i == klen;
  size_t o = 0;
  if (text) {
    /* At most TEXT_MAX bytes of whole characters; 2 per escaped byte. */
    out[o++] = '"';
    for (i = 0; i < klen;) {
      size_t len = printable_char(k + i, klen - i);
      if (i + len > TEXT_MAX) break;
      if (k[i] == '"' || k[i] == '\\') out[o++] = '\\';
      memcpy(out + o, k + i, len);
      o += len;
      i += len;
    }
    out[o++] = '"';
  } else {
    static const char digits[] = "0123456789abcdef";
    for (i = 0; i < klen && i < HEX_MAX; i++) {
      out[o++] = digits[k[i] >> 4];
      out[o++] = digits[k[i] & 15];
    }
  }
  out[o] = 0;
  if (i < klen)
    snprintf(out + o, LDB_KEY_TEXT_MAX - o, "... (%s%zu bytes)",
             text ? "" : "hex, ", klen);
  else if (!text)
    snprintf(out + o, LDB_KEY_TEXT_MAX - o, " (hex)");
}

const char *ldb_errmsg(const struct ldb_db *db) {
  (void)db;
  return tl_errmsg;
}

const char *ldb_version(void) {
  return LDB_VERSION_STRING;
}

/* ---- allocation ------------------------------------------------------- */

static void *sys_malloc(void *ctx, size_t n) {
  (void)ctx;
  return malloc(n);
}
static void *sys_realloc(void *ctx, void *p, size_t n) {
  (void)ctx;
  return realloc(p, n);
}
static void sys_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

const ldb_allocator ldb_default_allocator = {sys_malloc, sys_realloc, sys_free,
                                             NULL};

void *ldb_malloc(const ldb_allocator *a, size_t n) {
  if (!a) a = &ldb_default_allocator;
  return a->malloc(a->ctx, n ? n : 1);
}

void *ldb_calloc(const ldb_allocator *a, size_t n) {
  void *p = ldb_malloc(a, n);
  if (p) memset(p, 0, n ? n : 1);
  return p;
}

void *ldb_realloc(const ldb_allocator *a, void *p, size_t old_n, size_t n) {
  if (!a) a = &ldb_default_allocator;
  if (!p) return ldb_malloc(a, n);
  if (a->realloc) return a->realloc(a->ctx, p, n ? n : 1);
  void *q = a->malloc(a->ctx, n ? n : 1);
  if (!q) return NULL;
  memcpy(q, p, old_n < n ? old_n : n);
  a->free(a->ctx, p);
  return q;
}

void ldb_mfree(const ldb_allocator *a, void *p) {
  if (!p) return;
  if (!a) a = &ldb_default_allocator;
  a->free(a->ctx, p);
}

void *ldb_memdup(const ldb_allocator *a, const void *p, size_t n) {
  void *q = ldb_malloc(a, n);
  if (q && n) memcpy(q, p, n);
  return q;
}

/* ---- crc32c ------------------------------------------------------------ */

static uint32_t crc_table[8][256];
static int crc_ready;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    crc_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_table[t][i] =
          (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
  __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LDB_HAVE_SSE42_CRC 1
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = crc;
  while (n && ((uintptr_t)p & 7)) {
    c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    n--;
  }
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  while (n--)
    c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
  return (uint32_t)c;
}
#endif

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t n) {
  if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE)) crc_init();
  while (n >= 8) {
    uint32_t lo = ldb_get32(p) ^ crc, hi = ldb_get32(p + 4);
    crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
          crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
          crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
          crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--)
    crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
  return crc;
}

uint32_t ldb_crc32c(uint32_t crc, const void *data, size_t n) {
  const uint8_t *p = data;
  crc = ~crc;
#ifdef LDB_HAVE_SSE42_CRC
  static int have_hw = -1;
  if (have_hw < 0) have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
  crc = have_hw ? crc_hw(crc, p, n) : crc_sw(crc, p, n);
#else
  crc = crc_sw(crc, p, n);
#endif
  return ~crc;
}

/* ---- compression ------------------------------------------------------- */

bool ldb_codec_available(int codec) {
  return codec == LDB_COMPRESSION_NONE || codec == LDB_COMPRESSION_LZ4 ||
         codec == LDB_COMPRESSION_ZSTD || codec == LDB_COMPRESSION_SNAPPY ||
         codec == LDB_COMPRESSION_AUTO;
}

static void *zstd_alloc(void *opaque, size_t n) {
  return ldb_malloc(opaque, n);
}
static void zstd_free(void *opaque, void *p) {
  ldb_mfree(opaque, p);
}

/* zstd contexts are costly to create (tens of KB zeroed, more for
 * compression), which for small values costs more than the compression
 * itself. Each thread keeps one compression and one decompression context,
 * but only for the default allocator: a custom allocator (a test's failing
 * one, say) may not outlive the database, so its contexts are made and
 * freed per call. The cached contexts are freed when the thread exits. */
typedef struct zctx {
  ZSTD_CCtx *cc;
  ZSTD_DCtx *dc;
} zctx;

#if !defined(LDB_NO_THREADS) && defined(_WIN32)
/* Fiber-local storage: its callback frees a thread's contexts when the
 * thread exits, as a pthread key's destructor does. */
static INIT_ONCE zctx_once = INIT_ONCE_STATIC_INIT;
static DWORD zctx_key = FLS_OUT_OF_INDEXES;

static void WINAPI zctx_destroy(void *p) {
  zctx *z = p;
  if (!z) return;
  ZSTD_freeCCtx(z->cc);
  ZSTD_freeDCtx(z->dc);
  free(z);
}
static BOOL CALLBACK zctx_key_init(PINIT_ONCE once, void *param, void **ctx) {
  (void)once;
  (void)param;
  (void)ctx;
  zctx_key = FlsAlloc(zctx_destroy);
  return TRUE;
}
static zctx *zctx_cached(const ldb_allocator *a) {
  if (a && a != &ldb_default_allocator) return NULL;
  InitOnceExecuteOnce(&zctx_once, zctx_key_init, NULL, NULL);
  if (zctx_key == FLS_OUT_OF_INDEXES) return NULL;
  zctx *z = FlsGetValue(zctx_key);
  if (z) return z;
  z = calloc(1, sizeof *z);
  if (z && !FlsSetValue(zctx_key, z)) {
    free(z);
    z = NULL;
  }
  return z;
}
#elif !defined(LDB_NO_THREADS)
static pthread_key_t zctx_key;
static pthread_once_t zctx_once = PTHREAD_ONCE_INIT;
static int zctx_key_ok;

static void zctx_destroy(void *p) {
  zctx *z = p;
  ZSTD_freeCCtx(z->cc);
  ZSTD_freeDCtx(z->dc);
  free(z);
}
static void zctx_key_init(void) {
  zctx_key_ok = pthread_key_create(&zctx_key, zctx_destroy) == 0;
}
static zctx *zctx_cached(const ldb_allocator *a) {
  if (a && a != &ldb_default_allocator) return NULL;
  pthread_once(&zctx_once, zctx_key_init);
  if (!zctx_key_ok) return NULL;
  zctx *z = pthread_getspecific(zctx_key);
  if (z) return z;
  z = calloc(1, sizeof *z);
  if (z && pthread_setspecific(zctx_key, z) != 0) {
    free(z);
    z = NULL;
  }
  return z;
}
#else
static zctx zctx_single; /* one thread: one pair of contexts */
static zctx *zctx_cached(const ldb_allocator *a) {
  return a && a != &ldb_default_allocator ? NULL : &zctx_single;
}
#endif

/* Upper bound of codec's output for n bytes; 0 when it cannot take n. */
static size_t codec_bound(int codec, size_t n) {
  if (codec == LDB_COMPRESSION_LZ4)
    return n > (size_t)LZ4_MAX_INPUT_SIZE ? 0
                                          : (size_t)LZ4_compressBound((int)n);
  if (codec == LDB_COMPRESSION_ZSTD) return ZSTD_compressBound(n);
  if (codec == LDB_COMPRESSION_SNAPPY) return snappy_max_compressed_length(n);
  return 0;
}

/* Compresses n bytes of src with codec into buf (cap from codec_bound);
 * *got receives the length, 0 when the codec failed on this input. */
static int codec_run(const ldb_allocator *a, int codec, int level,
                     const void *src, size_t n, uint8_t *buf, size_t cap,
                     size_t *got) {
  *got = 0;
  if (codec == LDB_COMPRESSION_LZ4) {
    int r = LZ4_compress_default(src, (char *)buf, (int)n, (int)cap);
    *got = r > 0 ? (size_t)r : 0;
    return LDB_OK;
  }
  if (codec == LDB_COMPRESSION_SNAPPY) {
    size_t len = cap;
    if (snappy_compress(src, n, (char *)buf, &len) == SNAPPY_OK) *got = len;
    return LDB_OK;
  }
  zctx *z = zctx_cached(a);
  ZSTD_CCtx *cc = z ? z->cc : NULL;
  if (z && !cc) cc = z->cc = ZSTD_createCCtx();
  if (!cc) {
    ZSTD_customMem mem = {zstd_alloc, zstd_free, (void *)a};
    cc = ZSTD_createCCtx_advanced(mem);
  }
  if (!cc) return LDB_NOMEM;
  size_t r = ZSTD_compressCCtx(cc, buf, cap, src, n, level ? level : 3);
  if (!z || cc != z->cc) ZSTD_freeCCtx(cc);
  if (ZSTD_isError(r))
    /* allocation failure inside zstd is the only realistic cause */
    return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? LDB_NOMEM
                                                                : LDB_OK;
  *got = r;
  return LDB_OK;
}

/* LDB_COMPRESSION_AUTO: compresses a sample (the first LDB_AUTO_SAMPLE
 * bytes) with every codec and picks, per value, the smallest output of lz4
 * and snappy (lz4 on a tie: it decompresses faster), or zstd when it is at
 * least 1/8 smaller than that (its better ratio is worth its slower
 * speed). NONE when no codec saves 1/8 of the sample. */
static int auto_pick(const ldb_allocator *a, int level, const void *src,
                     size_t n, int *codec) {
  static const int order[3] = {LDB_COMPRESSION_LZ4, LDB_COMPRESSION_SNAPPY,
                               LDB_COMPRESSION_ZSTD};
  size_t sn = n < LDB_AUTO_SAMPLE ? n : LDB_AUTO_SAMPLE;
  size_t cap = 0, got[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) {
    size_t b = codec_bound(order[i], sn);
    if (b > cap) cap = b;
  }
  uint8_t *buf = ldb_malloc(a, cap);
  if (!buf) return LDB_NOMEM;
  int rc = LDB_OK;
  for (int i = 0; i < 3 && !rc; i++)
    rc = codec_run(a, order[i], level, src, sn, buf, cap, &got[i]);
  ldb_mfree(a, buf);
  if (rc) return rc;
  size_t want = sn - sn / 8;
  int best = -1;
  for (int i = 0; i < 2; i++)
    if (got[i] && got[i] <= want && (best < 0 || got[i] < got[best])) best = i;
  size_t fast = best < 0 ? want : got[best];
  if (got[2] && got[2] <= want && got[2] <= fast - fast / 8) best = 2;
  *codec = best < 0 ? LDB_COMPRESSION_NONE : order[best];
  return LDB_OK;
}

int ldb_compress(const ldb_allocator *a, int codec, int level, const void *src,
                 size_t n, void **out, size_t *out_len, int *used) {
  *out = NULL;
  *out_len = 0;
  *used = LDB_COMPRESSION_NONE;
  if (codec == LDB_COMPRESSION_NONE || n < LDB_COMPRESS_MIN) return LDB_OK;
  int rc;
  if (codec == LDB_COMPRESSION_AUTO) {
    if ((rc = auto_pick(a, level, src, n, &codec))) return rc;
    if (codec == LDB_COMPRESSION_NONE) return LDB_OK;
  } else if (!ldb_codec_available(codec)) {
    return ldb_err(LDB_INVALID, "unknown compression codec %d", codec);
  }
  size_t want = n - n / 8; /* must save at least 1/8 */
  size_t cap = codec_bound(codec, n);
  if (cap == 0) return LDB_OK;
  uint8_t *buf = ldb_malloc(a, cap);
  if (!buf) return LDB_NOMEM;
  size_t got = 0;
  if ((rc = codec_run(a, codec, level, src, n, buf, cap, &got)) || got == 0 ||
      got > want) {
    ldb_mfree(a, buf);
    return rc;
  }
  *out = buf;
  *out_len = got;
  *used = codec;
  return LDB_OK;
}

int ldb_decompress(const ldb_allocator *a, int codec, const void *src, size_t n,
                   void *dst, size_t raw_len) {
  if (codec == LDB_COMPRESSION_LZ4) {
    if (n > (size_t)LZ4_MAX_INPUT_SIZE || raw_len > (size_t)LZ4_MAX_INPUT_SIZE)
      return ldb_err(LDB_CORRUPT, "lz4 value too large");
    int r = LZ4_decompress_safe(src, dst, (int)n, (int)raw_len);
    if (r < 0 || (size_t)r != raw_len)
      return ldb_err(LDB_CORRUPT, "lz4 value does not decompress");
    return LDB_OK;
  }
  if (codec == LDB_COMPRESSION_ZSTD) {
    zctx *z = zctx_cached(a);
    ZSTD_DCtx *dc = z ? z->dc : NULL;
    if (z && !dc) dc = z->dc = ZSTD_createDCtx();
    if (!dc) {
      ZSTD_customMem mem = {zstd_alloc, zstd_free, (void *)a};
      dc = ZSTD_createDCtx_advanced(mem);
    }
    if (!dc) return LDB_NOMEM;
    size_t r = ZSTD_decompressDCtx(dc, dst, raw_len, src, n);
    if (!z || dc != z->dc) ZSTD_freeDCtx(dc);
    if (ZSTD_isError(r)) {
      if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
        return LDB_NOMEM;
      return ldb_err(LDB_CORRUPT, "zstd value does not decompress: %s",
                     ZSTD_getErrorName(r));
    }
    if (r != raw_len)
      return ldb_err(LDB_CORRUPT, "zstd value decompressed to %zu of %zu bytes",
                     r, raw_len);
    return LDB_OK;
  }
  if (codec == LDB_COMPRESSION_SNAPPY) {
    size_t len = 0;
    if (snappy_uncompressed_length(src, n, &len) != SNAPPY_OK || len != raw_len)
      return ldb_err(LDB_CORRUPT, "snappy value claims another length");
    len = raw_len;
    if (snappy_uncompress(src, n, dst, &len) != SNAPPY_OK || len != raw_len)
      return ldb_err(LDB_CORRUPT, "snappy value does not decompress");
    return LDB_OK;
  }
  return ldb_err(LDB_CORRUPT, "unknown compression codec %d in a value", codec);
}

/* ---- clock ------------------------------------------------------------- */

#ifdef _WIN32
uint64_t ldb_now_ns(void) {
  static LARGE_INTEGER freq; /* constant from boot; racing writers agree */
  LARGE_INTEGER c;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&c);
  uint64_t f = (uint64_t)freq.QuadPart, n = (uint64_t)c.QuadPart;
  /* Split so that n * 1e9 cannot overflow. */
  return n / f * 1000000000ull + n % f * 1000000000ull / f;
}

uint64_t ldb_wall_ms(void) {
  FILETIME ft; /* 100 ns units since 1601-01-01 */
  GetSystemTimePreciseAsFileTime(&ft);
  uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
  return (t - 116444736000000000ull) / 10000u;
}
#else
uint64_t ldb_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ldb_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000u;
}
#endif

/* ---- threads ----------------------------------------------------------- */

#if !defined(LDB_NO_THREADS) && defined(_WIN32)
struct ldb_win_thread {
  HANDLE h;
  void *(*fn)(void *);
  void *arg;
};

void ldb_mutex_init(ldb_mutex *m) {
  InitializeSRWLock((PSRWLOCK)&m->srw);
}
void ldb_mutex_destroy(ldb_mutex *m) {
  (void)m; /* SRW locks own no resources */
}
void ldb_mutex_lock(ldb_mutex *m) {
  AcquireSRWLockExclusive((PSRWLOCK)&m->srw);
}
void ldb_mutex_unlock(ldb_mutex *m) {
  ReleaseSRWLockExclusive((PSRWLOCK)&m->srw);
}
void ldb_cond_init(ldb_cond *c) {
  InitializeConditionVariable((PCONDITION_VARIABLE)&c->cv);
}
void ldb_cond_destroy(ldb_cond *c) {
  (void)c;
}
void ldb_cond_wait(ldb_cond *c, ldb_mutex *m) {
  SleepConditionVariableSRW((PCONDITION_VARIABLE)&c->cv, (PSRWLOCK)&m->srw,
                            INFINITE, 0);
}
bool ldb_cond_timedwait(ldb_cond *c, ldb_mutex *m, uint64_t timeout_ns) {
  /* Rounded up, so that a caller re-checking its deadline never spins on
   * zero-millisecond waits; INFINITE (0xFFFFFFFF) is never passed. */
  uint64_t ms = timeout_ns / 1000000u + (timeout_ns % 1000000u != 0);
  if (ms > 0xFFFFFFF0u) ms = 0xFFFFFFF0u;
  if (SleepConditionVariableSRW((PCONDITION_VARIABLE)&c->cv, (PSRWLOCK)&m->srw,
                                (DWORD)ms, 0))
    return true;
  return GetLastError() != ERROR_TIMEOUT;
}
void ldb_cond_signal(ldb_cond *c) {
  WakeConditionVariable((PCONDITION_VARIABLE)&c->cv);
}
void ldb_cond_broadcast(ldb_cond *c) {
  WakeAllConditionVariable((PCONDITION_VARIABLE)&c->cv);
}
void ldb_rwlock_init(ldb_rwlock *l) {
  InitializeSRWLock((PSRWLOCK)&l->srw);
  l->exclusive = 0;
}
void ldb_rwlock_destroy(ldb_rwlock *l) {
  (void)l;
}
void ldb_rwlock_rdlock(ldb_rwlock *l) {
  AcquireSRWLockShared((PSRWLOCK)&l->srw);
}
void ldb_rwlock_wrlock(ldb_rwlock *l) {
  AcquireSRWLockExclusive((PSRWLOCK)&l->srw);
  l->exclusive = 1;
}
void ldb_rwlock_unlock(ldb_rwlock *l) {
  /* A shared holder reads 0: the flag is set only while the lock is held
   * exclusively, which excludes every shared holder. */
  if (l->exclusive) {
    l->exclusive = 0;
    ReleaseSRWLockExclusive((PSRWLOCK)&l->srw);
  } else {
    ReleaseSRWLockShared((PSRWLOCK)&l->srw);
  }
}
static unsigned __stdcall win_trampoline(void *p) {
  struct ldb_win_thread *t = p;
  t->fn(t->arg);
  return 0;
}
int ldb_thread_start(ldb_thread *t, void *(*fn)(void *), void *arg) {
  struct ldb_win_thread *w = calloc(1, sizeof *w);
  if (!w) return ldb_err(LDB_NOMEM, "cannot start a thread (out of memory)");
  w->fn = fn;
  w->arg = arg;
  /* _beginthreadex, not CreateThread: the C runtime's per-thread state
   * is set up and freed with the thread. */
  uintptr_t h = _beginthreadex(NULL, 0, win_trampoline, w, 0, NULL);
  if (!h) {
    int e = errno;
    free(w);
    if (e == ENOMEM || e == EAGAIN)
      return ldb_err(LDB_NOMEM, "cannot start a thread (error %d)", e);
    return ldb_err(LDB_INTERNAL, "_beginthreadex failed (%d)", e);
  }
  w->h = (HANDLE)h;
  *t = w;
  return LDB_OK;
}
void ldb_thread_join(ldb_thread t) {
  WaitForSingleObject(t->h, INFINITE);
  CloseHandle(t->h);
  free(t);
}
bool ldb_threads_available(void) {
  return true;
}
#elif !defined(LDB_NO_THREADS)
void ldb_mutex_init(ldb_mutex *m) {
  pthread_mutex_init(m, NULL);
}
void ldb_mutex_destroy(ldb_mutex *m) {
  pthread_mutex_destroy(m);
}
void ldb_mutex_lock(ldb_mutex *m) {
  pthread_mutex_lock(m);
}
void ldb_mutex_unlock(ldb_mutex *m) {
  pthread_mutex_unlock(m);
}
void ldb_cond_init(ldb_cond *c) {
  pthread_condattr_t at;
  pthread_condattr_init(&at);
  pthread_condattr_setclock(&at, CLOCK_MONOTONIC);
  pthread_cond_init(c, &at);
  pthread_condattr_destroy(&at);
}
void ldb_cond_destroy(ldb_cond *c) {
  pthread_cond_destroy(c);
}
void ldb_cond_wait(ldb_cond *c, ldb_mutex *m) {
  pthread_cond_wait(c, m);
}
bool ldb_cond_timedwait(ldb_cond *c, ldb_mutex *m, uint64_t timeout_ns) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t ns = (uint64_t)ts.tv_nsec + timeout_ns;
  ts.tv_sec += (time_t)(ns / 1000000000ull);
  ts.tv_nsec = (long)(ns % 1000000000ull);
  return pthread_cond_timedwait(c, m, &ts) != ETIMEDOUT;
}
void ldb_cond_signal(ldb_cond *c) {
  pthread_cond_signal(c);
}
void ldb_cond_broadcast(ldb_cond *c) {
  pthread_cond_broadcast(c);
}
void ldb_rwlock_init(ldb_rwlock *l) {
  pthread_rwlock_init(l, NULL);
}
void ldb_rwlock_destroy(ldb_rwlock *l) {
  pthread_rwlock_destroy(l);
}
void ldb_rwlock_rdlock(ldb_rwlock *l) {
  pthread_rwlock_rdlock(l);
}
void ldb_rwlock_wrlock(ldb_rwlock *l) {
  pthread_rwlock_wrlock(l);
}
void ldb_rwlock_unlock(ldb_rwlock *l) {
  pthread_rwlock_unlock(l);
}
int ldb_thread_start(ldb_thread *t, void *(*fn)(void *), void *arg) {
  int r = pthread_create(t, NULL, fn, arg);
  if (r == ENOMEM || r == EAGAIN)
    return ldb_err(LDB_NOMEM, "cannot start a thread (error %d)", r);
  return r ? ldb_err(LDB_INTERNAL, "pthread_create failed (%d)", r) : LDB_OK;
}
void ldb_thread_join(ldb_thread t) {
  pthread_join(t, NULL);
}
bool ldb_threads_available(void) {
  return true;
}
#else
void ldb_mutex_init(ldb_mutex *m) {
  *m = 0;
}
void ldb_mutex_destroy(ldb_mutex *m) {
  (void)m;
}
void ldb_mutex_lock(ldb_mutex *m) {
  (void)m;
}
void ldb_mutex_unlock(ldb_mutex *m) {
  (void)m;
}
void ldb_cond_init(ldb_cond *c) {
  *c = 0;
}
void ldb_cond_destroy(ldb_cond *c) {
  (void)c;
}
void ldb_cond_wait(ldb_cond *c, ldb_mutex *m) {
  (void)c, (void)m;
}
bool ldb_cond_timedwait(ldb_cond *c, ldb_mutex *m, uint64_t t) {
  (void)c, (void)m, (void)t;
  return false;
}
void ldb_cond_signal(ldb_cond *c) {
  (void)c;
}
void ldb_cond_broadcast(ldb_cond *c) {
  (void)c;
}
void ldb_rwlock_init(ldb_rwlock *l) {
  *l = 0;
}
void ldb_rwlock_destroy(ldb_rwlock *l) {
  (void)l;
}
void ldb_rwlock_rdlock(ldb_rwlock *l) {
  (void)l;
}
void ldb_rwlock_wrlock(ldb_rwlock *l) {
  (void)l;
}
void ldb_rwlock_unlock(ldb_rwlock *l) {
  (void)l;
}
int ldb_thread_start(ldb_thread *t, void *(*fn)(void *), void *arg) {
  (void)t, (void)fn, (void)arg;
  return ldb_err(LDB_INVALID, "this build has no threads");
}
void ldb_thread_join(ldb_thread t) {
  (void)t;
}
bool ldb_threads_available(void) {
  return false;
}
#endif
