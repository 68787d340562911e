/*
 * feed.c — the log (see feed.h): the head file, the segment files and
 * their list, the pending (unpublished) append, recovery's scan with its
 * torn-tail/damage decision, trimming, and the cursors' reads. Knows
 * nothing of memtables, trees or transactions; the engine tells it what
 * was committed, checkpointed and visible.
 */
#include "feed.h"

#include <stdatomic.h>
#include <stdio.h>

#include "store.h"

#define HEAD_MAGIC 0x32474c4cu    /* "LLG2": log format 2 */
#define HEAD_MAGIC_V1 0x4844464cu /* "LFDH": format 1's feed head */
#define HEAD_SLOT 64u
#define HEAD_SLOT_V1 32u
#define LOG_FORMAT 2u
#define FEED_READ_CHUNK (256u << 10)
#define FEED_SCAN_CHUNK LDB_FREADER_CHUNK
#define FEED_SEG_MIN (64u << 10)
#define FEED_SEG_MAX (16u << 20)
#define FEED_SEG_GROW 8u /* an unsynced segment grows up to 8 targets */
#define FEED_NAMES 16u
#define FEED_MAX_SEGS (FEED_NAMES - 1)
#define FEED_SECTOR 512u

typedef struct seg {
  uint64_t num;
  ldb_file *file;
  uint64_t first;    /* seq of its first record; 0 while empty or head_bad */
  int head_bad;      /* holds bytes, but no valid record at offset 0: its
                        history is damaged and where its seqs start is not
                        known (the head's hint may still locate the records
                        after a checkpoint in it) */
  uint64_t end;      /* published end offset */
  uint64_t time_ms;  /* time of its newest published record */
  uint64_t start_ms; /* time of its first record */
  int refs;          /* readers inside a read of it now (cursors, check) */
  int dead;          /* dropped from the list; freed by the last reader */
  int dirty;         /* unsynced records (io) */
} seg;

struct feed {
  const ldb_allocator *a;
  const ldb_env *env; /* the engine's: wall_ms for record times */
  ldb_store *store;
  ldb_mutex io;      /* segment writes, truncates, syncs; dirty flags */
  ldb_mutex head_mu; /* head writes and the head_* fields */
  ldb_mutex mu;      /* segs, nsegs, each seg's first/end/time/refs/dead, base,
                        next_seq, bytes, held */
  uint64_t ret_bytes, ret_ms, seg_target;
  int read_only;
  ldb_file *head;
  int head_format; /* 0 none, 1, 2 */
  uint64_t head_gen, head_first;
  uint64_t hint_seq, hint_num, hint_off; /* records after hint_seq start at
                                            (hint_num, hint_off) */
  seg **segs; /* live segments, ascending num (contiguous) */
  size_t nsegs, cap;
  uint64_t next_num;         /* number of the next segment to create */
  uint64_t base;             /* seq before the first retained record */
  uint64_t next_seq;         /* seq of the next append; 0 until known */
  uint64_t bytes;            /* published bytes of the live segments */
  uint32_t held[FEED_NAMES]; /* dead segments still read, by name */
  _Atomic uint64_t keep_seq; /* records up to it may go (checkpointed) */
  /* the pending append (commit mutex) */
  int pending;
  seg *pend_seg;
  uint64_t pend_end, pend_seq, pend_time;
  uint8_t *buf; /* record assembly */
  size_t bcap;
  _Atomic uint64_t syncs, written;
};

/* Segment n is file "feed-<n mod FEED_NAMES>.log": a fixed set of names.
 * At most FEED_MAX_SEGS are live, so the name of the segment before the
 * first one is never a live segment's (open removes it: a crash may leave
 * it behind).
 *
 * A name belongs to one segment at a time, live or dead: no file is
 * created, truncated or removed under a name while another segment has it.
 * A segment dropped while a reader is inside a read of it (refs > 0) is
 * only marked dead and keeps its open file and its name (held[]) until the
 * last reader lets go (seg_release); the writer never starts the segment
 * that would reuse a held name (16 segments on): the newest one grows
 * instead until the read ends (feed_append). So what a reader reads is
 * never overwritten, and removing a dead segment's file never removes a
 * live one's, on every store: unlink semantics (posix, memory), a delete
 * that waits for the last handle (win32), one handle per name whose remove
 * truncates it (OPFS). */
static void seg_name(char *out, size_t cap, uint64_t num) {
  snprintf(out, cap, "feed-%02u.log", (unsigned)(num % FEED_NAMES));
}

/* 1 when file name of s has bytes, or cannot be inspected. */
static int file_has_bytes(ldb_store *s, const char *name) {
  ldb_file *f = NULL;
  uint64_t size = 0;
  int rc = ldb_fopen(s, name, 0, &f);
  if (rc == LDB_NOTFOUND) return 0;
  if (rc) return 1;
  rc = ldb_fsize(f, &size);
  ldb_fclose(f);
  return rc || size > 0;
}

int feed_is_file(const char *name) {
  char seg[64];
  if (!strcmp(name, "feed.head")) return 1;
  for (unsigned n = 0; n < FEED_NAMES; n++) {
    seg_name(seg, sizeof seg, n);
    if (!strcmp(name, seg)) return 1;
  }
  return 0;
}

int feed_exists(ldb_store *s, char *what, size_t cap) {
  char name[64] = "feed.head";
  for (unsigned n = 0; !file_has_bytes(s, name); n++) {
    if (n == FEED_NAMES) return 0;
    seg_name(name, sizeof name, n);
  }
  if (cap) snprintf(what, cap, "%s", name);
  return 1;
}

/* ---- head --------------------------------------------------------------- */

/* Writes the next slot (head_mu held, or single-threaded) and syncs. */
static int head_write(feed *f, uint64_t first_num, uint64_t hseq, uint64_t hnum,
                      uint64_t hoff) {
  uint8_t b[HEAD_SLOT] = {0};
  uint64_t gen = f->head_gen + 1;
  ldb_put32(b, HEAD_MAGIC);
  ldb_put64(b + 8, gen);
  ldb_put64(b + 16, first_num);
  ldb_put32(b + 24, LOG_FORMAT);
  ldb_put64(b + 32, hseq);
  ldb_put64(b + 40, hnum);
  ldb_put64(b + 48, hoff);
  ldb_put32(b + 4, ldb_crc32c(0, b + 8, HEAD_SLOT - 8));
  int rc = ldb_fwrite(f->head, (gen & 1) * HEAD_SLOT, b, sizeof b);
  if (!rc) rc = ldb_fsync(f->head);
  if (rc) return ldb_err(rc, "cannot write feed.head: %s", ldb_strerror(rc));
  atomic_fetch_add_explicit(&f->syncs, 1, memory_order_relaxed);
  f->head_gen = gen;
  f->head_first = first_num;
  f->hint_seq = hseq;
  f->hint_num = hnum;
  f->hint_off = hoff;
  f->head_format = 2;
  return LDB_OK;
}

/* The newest valid slot: format 2 first; a format-1 slot only when no
 * format-2 slot is valid (a migrated head keeps stale format-1 bytes). */
static int head_read(feed *f) {
  uint8_t b[2 * HEAD_SLOT];
  size_t got = 0;
  int rc = ldb_fread(f->head, 0, b, sizeof b, &got);
  if (rc) return ldb_err(rc, "cannot read feed.head: %s", ldb_strerror(rc));
  f->head_format = 0;
  for (int i = 0; i < 2; i++) {
    const uint8_t *p = b + i * HEAD_SLOT;
    if (got < (size_t)(i + 1) * HEAD_SLOT) break;
    if (ldb_get32(p) != HEAD_MAGIC) continue;
    if (ldb_get32(p + 4) != ldb_crc32c(0, p + 8, HEAD_SLOT - 8)) continue;
    if (ldb_get32(p + 24) != LOG_FORMAT) continue;
    uint64_t gen = ldb_get64(p + 8);
    if (f->head_format && gen <= f->head_gen) continue;
    f->head_format = 2;
    f->head_gen = gen;
    f->head_first = ldb_get64(p + 16);
    f->hint_seq = ldb_get64(p + 32);
    f->hint_num = ldb_get64(p + 40);
    f->hint_off = ldb_get64(p + 48);
  }
  if (f->head_format) return LDB_OK;
  for (int i = 0; i < 2; i++) {
    const uint8_t *p = b + i * HEAD_SLOT_V1;
    if (got < (size_t)(i + 1) * HEAD_SLOT_V1) break;
    if (ldb_get32(p) != HEAD_MAGIC_V1) continue;
    if (ldb_get32(p + 4) != ldb_crc32c(0, p + 8, 16)) continue;
    uint64_t gen = ldb_get64(p + 8);
    if (f->head_format && gen <= f->head_gen) continue;
    f->head_format = 1;
    f->head_gen = gen;
    f->head_first = ldb_get64(p + 16);
  }
  return LDB_OK;
}

int feed_format(const feed *f) {
  return f->head_format;
}

/* ---- segments ----------------------------------------------------------- */

static void seg_free(feed *f, seg *s, int remove) {
  char name[64];
  if (s->file) ldb_fclose(s->file);
  if (remove) {
    seg_name(name, sizeof name, s->num);
    (void)f->store->methods->remove(f->store, name);
  }
  ldb_mfree(f->a, s);
}

/* 1 when a dead segment a reader still holds has the name of segment num.
 * Only readers change it meanwhile, and only to 0: a live segment never
 * has the next segment's name, so no new dead one can take it. */
static int name_held(feed *f, uint64_t num) {
  ldb_mutex_lock(&f->mu);
  int h = f->held[num % FEED_NAMES] != 0;
  ldb_mutex_unlock(&f->mu);
  return h;
}

/* 1 when a live segment other than s has s's name (mu held). */
static int name_live(const feed *f, const seg *s) {
  for (size_t i = 0; i < f->nsegs; i++)
    if (f->segs[i] != s && f->segs[i]->num % FEED_NAMES == s->num % FEED_NAMES)
      return 1;
  return 0;
}

/* Drops s, already unlinked from the list (mu held by callers that run
 * concurrently with readers): freed with its file now, or, while a reader
 * is inside a read of it, marked dead with its name held; the last reader
 * frees it (seg_release). */
static void seg_drop(feed *f, seg *s) {
  if (!s->refs) {
    seg_free(f, s, !f->read_only && !name_live(f, s));
    return;
  }
  s->dead = 1;
  f->held[s->num % FEED_NAMES]++;
}

/* A reader lets go of s (mu held): the last one frees a dead segment and
 * its name. Its file is removed unless a live segment has the name (never,
 * while the writer respects held[]: a file is then never removed under a
 * live segment). */
static void seg_release(feed *f, seg *s) {
  if (--s->refs || !s->dead) return;
  f->held[s->num % FEED_NAMES]--;
  seg_free(f, s, !f->read_only && !name_live(f, s));
}

/* Unlinks segs[from..] from the list (mu held by callers that run
 * concurrently with cursors). */
static void drop_tail(feed *f, size_t from) {
  while (f->nsegs > from) {
    seg *s = f->segs[--f->nsegs];
    f->bytes -= s->end;
    seg_drop(f, s);
  }
}

static int segs_push(feed *f, seg *s) {
  if (f->nsegs == f->cap) {
    size_t nc = f->cap ? f->cap * 2 : 8;
    seg **ns = ldb_realloc(f->a, f->segs, f->cap * sizeof *ns, nc * sizeof *ns);
    if (!ns) return ldb_err(LDB_NOMEM, "out of memory growing the log");
    f->segs = ns;
    f->cap = nc;
  }
  f->segs[f->nsegs++] = s;
  return LDB_OK;
}

/* The newest segment (NULL when none) and the count. The list changes
 * under mu (a trim on the checkpoint's thread moves it), so writers read it
 * there too; the newest segment itself is never trimmed. */
static seg *newest(feed *f, size_t *n) {
  ldb_mutex_lock(&f->mu);
  seg *s = f->nsegs ? f->segs[f->nsegs - 1] : NULL;
  if (n) *n = f->nsegs;
  ldb_mutex_unlock(&f->mu);
  return s;
}

static int seg_open(feed *f, uint64_t num, int create, seg **out) {
  char name[64];
  seg_name(name, sizeof name, num);
  seg *s = ldb_calloc(f->a, sizeof *s);
  if (!s) return ldb_err(LDB_NOMEM, "out of memory opening the log");
  s->num = num;
  int rc = ldb_fopen(f->store, name, create ? LDB_STORE_CREATE : 0, &s->file);
  if (rc) {
    ldb_mfree(f->a, s);
    if (rc != LDB_NOTFOUND)
      ldb_err(rc, "cannot open %s: %s", name, ldb_strerror(rc));
    return rc;
  }
  *out = s;
  return LDB_OK;
}

/* ---- reading records ---------------------------------------------------- */

typedef struct rec {
  uint64_t seq, time_ms;
  uint32_t len, nops;
  const uint8_t *ops; /* into the reader's buffer */
} rec;

/* 1 when a valid record starts at off (crc, ops that fit exactly), 0 when
 * not (or the file ends first); -1 with *rc on a read error. */
static int rec_at(ldb_freader *r, uint64_t off, rec *out, int *rc) {
  const uint8_t *h = ldb_freader_get(r, off, FEED_HDR, rc);
  if (!h) return *rc ? -1 : 0;
  uint32_t len = ldb_get32(h), nops = ldb_get32(h + 16);
  uint64_t seq = ldb_get64(h + 8);
  if (!seq || !nops || len > r->size - off - FEED_HDR) return 0;
  const uint8_t *p = ldb_freader_get(r, off, FEED_HDR + (size_t)len, rc);
  if (!p) return *rc ? -1 : 0;
  if (ldb_crc32c(0, p + 8, FEED_HDR - 8 + (size_t)len) != ldb_get32(p + 4))
    return 0;
  if (wal_ops_check(p + FEED_HDR, len, nops)) return 0;
  out->seq = seq;
  out->len = len;
  out->nops = nops;
  out->time_ms = ldb_get64(p + 20);
  out->ops = p + FEED_HDR;
  return 1;
}

/* 1 when [from, to) ends in zeros that start at from or at a sector
 * boundary: the remains of writes a crash lost (unwritten sectors read as
 * zeros), not damage to written records. */
static int zero_gap(ldb_freader *r, uint64_t from, uint64_t to, int *rc) {
  uint64_t z = to;
  while (z > from) {
    uint64_t lo = z - from > FEED_SCAN_CHUNK ? z - FEED_SCAN_CHUNK : from;
    const uint8_t *p = ldb_freader_get(r, lo, (size_t)(z - lo), rc);
    if (!p) return 0;
    size_t i = (size_t)(z - lo);
    while (i > 0 && p[i - 1] == 0)
      i--;
    z = lo + i;
    if (i) break;
  }
  if (z <= from) return 1;
  uint64_t b = (z + FEED_SECTOR - 1) / FEED_SECTOR * FEED_SECTOR;
  return b < to;
}

/* The newest segment's valid records end at x, before its end: 1 when what
 * follows is a torn tail (what a crash mid-append leaves), 0 when it is
 * damage — a valid later record behind a non-zero gap, or a record at x
 * that is complete (its length, or a crc over the rest of the file, says
 * it ends exactly at the end of the file) and not zero-filled. */
static int torn_tail(ldb_freader *r, uint64_t x, uint64_t last_good, int *rc) {
  uint64_t size = r->size;
  /* At most one record per FEED_HDR + WAL_OP_HDR bytes can follow. */
  uint64_t most = (size - x) / (FEED_HDR + WAL_OP_HDR) + 1;
  for (uint64_t o = x + 1; o + FEED_HDR <= size; o++) {
    const uint8_t *h = ldb_freader_get(r, o, FEED_HDR, rc);
    if (!h) return *rc ? 0 : 1;
    uint64_t seq = ldb_get64(h + 8);
    if (seq <= last_good || seq > last_good + most) continue;
    if (!ldb_get32(h + 16) || ldb_get32(h) > size - o - FEED_HDR) continue;
    rec rr;
    int v = rec_at(r, o, &rr, rc);
    if (v < 0) return 0;
    if (v) return zero_gap(r, x, o, rc);
  }
  const uint8_t *h = ldb_freader_get(r, x, FEED_HDR, rc);
  if (!h) return *rc ? 0 : 1;
  int complete = x + FEED_HDR + ldb_get32(h) == size;
  if (!complete && size - x - FEED_HDR <= UINT32_MAX) {
    /* The length field itself may be the damaged part. */
    uint32_t crc = ldb_get32(h + 4);
    const uint8_t *p = ldb_freader_get(r, x, (size_t)(size - x), rc);
    if (!p) return *rc ? 0 : 1;
    complete = ldb_crc32c(0, p + 8, (size_t)(size - x) - 8) == crc;
  }
  if (!complete) return 1;
  return zero_gap(r, x, size, rc);
}

/* Reads the first record of s: its first seq and time (first stays 0 when
 * it has none or it is damaged), end = the file's size. */
static int seg_peek(feed *f, seg *s) {
  /* Only the first record: a small read-ahead. */
  ldb_freader r = {.a = f->a, .file = s->file, .chunk = 4096};
  int rc = ldb_fsize(s->file, &r.size);
  if (rc) return ldb_err(rc, "cannot size the log: %s", ldb_strerror(rc));
  s->end = r.size;
  s->first = 0;
  rec x;
  int v = rec_at(&r, 0, &x, &rc);
  if (v > 0) {
    s->first = x.seq;
    s->time_ms = s->start_ms = x.time_ms;
  }
  s->head_bad = v == 0 && r.size > 0;
  ldb_freader_free(&r);
  return v < 0 ? rc : LDB_OK;
}

int feed_open(ldb_store *st, const ldb_allocator *a, const ldb_env *env,
              const feed_config *cfg, int read_only, feed **out) {
  int rc;
  feed *f = ldb_calloc(a, sizeof *f);
  if (!f) return ldb_err(LDB_NOMEM, "out of memory opening the log");
  f->a = a;
  f->env = env;
  f->store = st;
  f->ret_bytes = cfg->retention_bytes;
  f->ret_ms = cfg->retention_ms;
  f->read_only = read_only;
  /* Segments about an eighth of the retention, so that trimming by whole
   * segments keeps close to what it asks; with the feed off, a quarter of
   * a memtable (recovery needs the records after the older meta page's
   * checkpoint: one or two memtables). When FEED_MAX_SEGS segments are
   * live and none may go yet, the newest grows instead; it also grows
   * past the target until a sync has covered it (up to FEED_SEG_GROW
   * targets: feed_append). */
  f->seg_target =
      cfg->retention_bytes ? cfg->retention_bytes / 8 : cfg->memtable_size / 4;
  if (f->seg_target < FEED_SEG_MIN) f->seg_target = FEED_SEG_MIN;
  if (f->seg_target > FEED_SEG_MAX) f->seg_target = FEED_SEG_MAX;
  ldb_mutex_init(&f->io);
  ldb_mutex_init(&f->head_mu);
  ldb_mutex_init(&f->mu);
  rc = ldb_fopen(st, "feed.head", read_only ? 0 : LDB_STORE_CREATE, &f->head);
  if (rc == LDB_NOTFOUND && read_only) {
    f->head = NULL; /* a read-only open of a database without a log */
    *out = f;
    return LDB_OK;
  }
  if (rc) {
    ldb_err(rc, "cannot open feed.head: %s", ldb_strerror(rc));
    goto fail;
  }
  if ((rc = head_read(f))) goto fail;
  uint64_t first_num = f->head_first;
  f->next_num = first_num;
  if (first_num && !read_only) {
    /* A crash between the head's update and the removal leaves the
     * segment before the first one behind. */
    char name[64];
    seg_name(name, sizeof name, first_num - 1);
    (void)st->methods->remove(st, name);
  }
  for (uint64_t n = first_num; n < first_num + FEED_MAX_SEGS; n++) {
    seg *s;
    rc = seg_open(f, n, 0, &s);
    if (rc == LDB_NOTFOUND) break;
    if (rc) goto fail;
    if ((rc = segs_push(f, s))) {
      seg_free(f, s, 0);
      goto fail;
    }
    f->next_num = n + 1;
    if ((rc = seg_peek(f, s))) goto fail;
  }
  /* Empty files after the last segment with bytes are not segments: a
   * store that must open every file up front (OPFS) keeps placeholders
   * under all the names, and a segment just started holds nothing to keep
   * (the next append starts it again under the same number). */
  while (f->nsegs && !f->segs[f->nsegs - 1]->end) {
    seg *s = f->segs[--f->nsegs];
    f->next_num = s->num;
    seg_free(f, s, 0);
  }
  /* A file left from an older generation under a name that comes next
   * does not continue the seqs: the list ends before it. */
  for (size_t i = 1; i < f->nsegs; i++) {
    if (!f->segs[i]->first || !f->segs[i - 1]->first ||
        f->segs[i]->first > f->segs[i - 1]->first)
      continue;
    drop_tail(f, i);
    f->next_num = f->segs[i - 1]->num + 1;
    break;
  }
  /* The previous segment's newest record is about as old as the next
   * one's first. */
  for (size_t i = 0; i + 1 < f->nsegs; i++)
    f->segs[i]->time_ms = f->segs[i + 1]->start_ms;
  for (size_t i = 0; i < f->nsegs; i++)
    f->bytes += f->segs[i]->end;
  *out = f;
  return LDB_OK;
fail:
  for (size_t i = 0; i < f->nsegs; i++)
    seg_free(f, f->segs[i], 0);
  ldb_mfree(a, f->segs);
  if (f->head) ldb_fclose(f->head);
  ldb_mutex_destroy(&f->io);
  ldb_mutex_destroy(&f->head_mu);
  ldb_mutex_destroy(&f->mu);
  ldb_mfree(a, f);
  return rc;
}

int feed_close(feed *f) {
  if (!f) return LDB_OK;
  int rc = f->read_only || !f->head ? LDB_OK : feed_sync(f);
  for (size_t i = 0; i < f->nsegs; i++)
    seg_free(f, f->segs[i], 0);
  ldb_mfree(f->a, f->segs);
  if (f->head) ldb_fclose(f->head);
  ldb_mfree(f->a, f->buf);
  ldb_mutex_destroy(&f->io);
  ldb_mutex_destroy(&f->head_mu);
  ldb_mutex_destroy(&f->mu);
  ldb_mfree(f->a, f);
  return rc;
}

int feed_set_format2(feed *f, uint64_t ckpt_seq) {
  if (f->read_only || !f->head) return LDB_OK;
  uint64_t num, off;
  feed_end(f, &num, &off);
  ldb_mutex_lock(&f->head_mu);
  uint64_t first = f->nsegs ? f->segs[0]->num : f->next_num;
  /* Both slots: no format-1 slot may outlive the migration. */
  int rc = head_write(f, first, ckpt_seq, num, off);
  if (!rc) rc = head_write(f, first, ckpt_seq, num, off);
  ldb_mutex_unlock(&f->head_mu);
  return rc;
}

/* ---- recovery ----------------------------------------------------------- */

/* Cuts segment j at off and drops the segments after it (single-threaded,
 * at open); durable unless read-only. */
static int cut_at(feed *f, size_t j, uint64_t off) {
  seg *s = f->segs[j];
  drop_tail(f, j + 1);
  f->next_num = s->num + 1;
  f->bytes -= s->end;
  s->end = off;
  f->bytes += off;
  if (!off) s->head_bad = 0; /* it holds nothing now */
  if (f->read_only) return LDB_OK;
  int rc = ldb_ftruncate(s->file, off);
  if (!rc) rc = ldb_fsync(s->file);
  if (rc) {
    char name[64];
    seg_name(name, sizeof name, s->num);
    return ldb_err(rc, "cannot cut the torn end of the log %s: %s", name,
                   ldb_strerror(rc));
  }
  atomic_fetch_add_explicit(&f->syncs, 1, memory_order_relaxed);
  return LDB_OK;
}

/* The seq before the first retained record (mu held, or single-threaded):
 * 0 when the first segment's history is damaged, so that a reader of it
 * meets the damage (CORRUPT) rather than a retention limit; last when the
 * log holds no record. */
static uint64_t base_of(const feed *f, uint64_t last) {
  if (!f->nsegs) return last;
  const seg *s = f->segs[0];
  return s->first ? s->first - 1 : s->head_bad ? 0 : last;
}

/* Index of the segment the head's hint locates the records after seq in
 * (hint_seq == seq: written by that checkpoint), or nsegs. */
static size_t hint_seg(const feed *f, uint64_t seq) {
  if (f->head_format != 2 || f->hint_seq != seq) return f->nsegs;
  for (size_t i = 0; i < f->nsegs; i++)
    if (f->segs[i]->num == f->hint_num)
      return f->hint_off <= f->segs[i]->end ? i : f->nsegs;
  return f->nsegs;
}

int feed_recover(feed *f, uint64_t from, int salvage, wal_apply_fn fn,
                 void *ctx, feed_recovery *out) {
  int rc = LDB_OK;
  memset(out, 0, sizeof *out);
  /* A segment whose first record cannot be read (head_bad) stays: its
   * history is damaged, not gone, and ldb_check and the feed's readers of
   * it report CORRUPT. Recovery that needs records in it meets the damage
   * (CORRUPT naming the file and offset; salvage cuts there), unless the
   * head's hint locates the records after the checkpoint in it: then
   * recovery starts there and needs none of the history before it. */
  size_t hs = hint_seg(f, from);
  if (!f->nsegs) return LDB_OK; /* empty */
  /* Where to start: the segment holding from + 1, at the hint's offset
   * when the hint names from. */
  size_t i = f->nsegs;
  while (i > 0 && i - 1 != hs &&
         (!f->segs[i - 1]->first || f->segs[i - 1]->first > from + 1))
    i--;
  uint64_t off = 0, expect = 0;
  if (i == 0) {
    /* The log starts after from + 1 (or holds no valid first record):
     * scan it all, apply nothing. */
    fn = NULL;
    i = 1;
    expect = f->segs[0]->first;
  } else {
    expect = f->segs[i - 1]->first;
    if (f->head_format == 2 && f->hint_seq == from &&
        f->hint_num == f->segs[i - 1]->num &&
        f->hint_off <= f->segs[i - 1]->end) {
      off = f->hint_off;
      expect = from + 1;
    }
  }
  i--;
  /* The log's first seq. A first segment whose first record is damaged
   * still holds the history up to from, when the hint located the
   * records after from: the log is not empty and starts by from + 1.
   * With from 0 there is no history: a first record that does not read
   * is the torn tail of a log whose commits never became durable (a
   * power cut before its first sync), and the log is empty. */
  for (size_t k = 0; k < f->nsegs && !out->first; k++)
    out->first = f->segs[k]->first;
  if (from && hs < f->nsegs && f->segs[0]->head_bad &&
      (!out->first || out->first > from + 1))
    out->first = from + 1;
  uint64_t last = expect ? expect - 1 : 0;
  for (size_t j = i; j < f->nsegs; j++) {
    seg *s = f->segs[j];
    ldb_freader r = {.a = f->a, .file = s->file};
    rc = ldb_fsize(s->file, &r.size);
    if (rc) {
      ldb_err(rc, "cannot size the log: %s", ldb_strerror(rc));
      goto out;
    }
    uint64_t o = j == i ? off : 0, hint_o = o;
    rec x;
    for (;;) {
      int v = rec_at(&r, o, &x, &rc);
      if (v < 0) break;
      if ((!v && o < r.size) || (v && expect && x.seq != expect)) {
        if (o == hint_o && o && j == i) {
          /* The hint does not lead to the next record: scan the segment
           * from its start, where any damage is judged. */
          o = hint_o = 0;
          expect = s->first;
          last = expect - 1;
          continue;
        }
      }
      if (!v || (expect && x.seq != expect)) break;
      if (fn && x.seq > from) {
        rc = fn(ctx, x.seq, x.ops, x.len, x.nops);
        if (rc) break;
      }
      if (!s->first && !s->head_bad) {
        s->first = x.seq;
        s->start_ms = x.time_ms;
      }
      if (!out->first) out->first = x.seq;
      s->time_ms = x.time_ms;
      last = x.seq;
      expect = x.seq + 1;
      o += FEED_HDR + (uint64_t)x.len;
    }
    if (rc) {
      ldb_freader_free(&r);
      goto out;
    }
    if (o == r.size) {
      f->bytes -= s->end;
      s->end = o;
      f->bytes += o;
      ldb_freader_free(&r);
      continue;
    }
    /* Records stop at o before the end of the file. */
    int torn = j + 1 == f->nsegs && torn_tail(&r, o, last, &rc);
    ldb_freader_free(&r);
    if (rc) goto out;
    if (!torn && !salvage) {
      char name[64];
      seg_name(name, sizeof name, s->num);
      /* Salvage cuts the log here; the checkpoint's commits stay. */
      uint64_t keep = last > from ? last : from;
      rc = ldb_err(LDB_CORRUPT,
                   "the log is damaged: %s has a bad record at offset %llu "
                   "(after seq %llu) that is not a torn tail (%s). Open "
                   "with the salvage option to open at seq %llu and drop "
                   "every later commit",
                   name, (unsigned long long)o, (unsigned long long)last,
                   j + 1 < f->nsegs ? "a newer log segment follows"
                                    : "the record is whole, or valid records "
                                      "follow it",
                   (unsigned long long)keep);
      goto out;
    }
    if (!torn) out->cut = 1;
    rc = cut_at(f, j, o);
    if (rc) goto out;
    break;
  }
  out->last = last;
  if (last) {
    f->next_seq = last + 1;
    f->base = base_of(f, last);
  }
  /* The time of the newest record of each earlier segment. */
  for (size_t k = 0; k + 1 < f->nsegs; k++)
    if (f->segs[k + 1]->start_ms)
      f->segs[k]->time_ms = f->segs[k + 1]->start_ms;
out:
  return rc;
}

int feed_restart(feed *f, uint64_t seq) {
  if (f->nsegs && !f->read_only && f->head) {
    ldb_mutex_lock(&f->head_mu);
    int rc = head_write(f, f->next_num, seq, f->next_num, 0);
    ldb_mutex_unlock(&f->head_mu);
    if (rc) return rc;
  }
  drop_tail(f, 0);
  f->base = seq;
  f->next_seq = seq + 1;
  f->bytes = 0;
  return LDB_OK;
}

static int catch_up(void *ctx, uint64_t seq, const uint8_t *ops, size_t len,
                    uint32_t nops) {
  feed *f = ctx;
  if (seq != f->next_seq) return LDB_OK;
  int rc = feed_append(f, seq, ops, len, nops);
  if (rc) return rc;
  feed_publish(f);
  return LDB_OK;
}

/* Cuts the log after seq (seq >= base, < next_seq - 1). */
static int cut_after(feed *f, uint64_t seq) {
  size_t i = f->nsegs;
  while (i > 0 && f->segs[i - 1]->first > seq)
    i--;
  if (!i) return feed_restart(f, seq);
  seg *s = f->segs[i - 1];
  ldb_freader r = {.a = f->a, .file = s->file, .size = s->end};
  uint64_t off = 0;
  int rc = LDB_OK;
  for (;;) {
    rec x;
    int v = rec_at(&r, off, &x, &rc);
    if (v <= 0 || x.seq > seq) break;
    s->time_ms = x.time_ms;
    off += FEED_HDR + (uint64_t)x.len;
  }
  ldb_freader_free(&r);
  if (rc) return rc;
  rc = cut_at(f, i - 1, off);
  if (rc) return rc;
  f->next_seq = seq + 1;
  return LDB_OK;
}

int feed_reconcile(feed *f, wal *w, uint64_t last_seq) {
  int rc = LDB_OK;
  if (f->read_only) return LDB_OK;
  if (!f->next_seq) {
    /* No record: the log starts after the last commit. */
    rc = feed_restart(f, last_seq);
  } else if (f->next_seq - 1 > last_seq) {
    if (last_seq < f->base)
      rc = feed_restart(f, last_seq);
    else
      rc = cut_after(f, last_seq);
  } else if (f->next_seq - 1 < last_seq) {
    /* Either old log may be the older one: scanning 0, 1, 0 meets every
     * record in seq order at least once. */
    static const int order[3] = {0, 1, 0};
    for (int k = 0; k < 3 && !rc && f->next_seq <= last_seq; k++) {
      uint64_t e, fi, la, sz;
      rc = wal_scan_file(w, order[k], catch_up, f, &e, &fi, &la, &sz);
    }
    if (!rc && f->next_seq != last_seq + 1) rc = feed_restart(f, last_seq);
  }
  if (!rc) rc = feed_sync(f);
  return rc;
}

/* ---- writing ------------------------------------------------------------ */

/* A new, empty segment after the last (io held). */
static int seg_new(feed *f) {
  seg *s;
  int rc = seg_open(f, f->next_num, 1, &s);
  if (rc) return rc;
  /* Empty, and durably so when a file was left under the name (a failed
   * removal): its old bytes must not show behind the new records after a
   * crash. */
  uint64_t size = 0;
  rc = ldb_fsize(s->file, &size);
  if (!rc && size) {
    rc = ldb_ftruncate(s->file, 0);
    if (!rc) rc = ldb_fsync(s->file);
  }
  if (!rc) {
    ldb_mutex_lock(&f->mu);
    rc = segs_push(f, s);
    ldb_mutex_unlock(&f->mu);
  }
  if (rc) {
    seg_free(f, s, 1);
    return ldb_err(rc, "cannot start a log segment: %s", ldb_strerror(rc));
  }
  f->next_num++;
  return LDB_OK;
}

int feed_append(feed *f, uint64_t seq, const uint8_t *ops, size_t len,
                uint32_t nops) {
  int rc = LDB_OK;
  if (len > UINT32_MAX - FEED_HDR)
    return ldb_err(LDB_INVALID,
                   "commit of %zu bytes exceeds the log record "
                   "limit",
                   len);
  size_t n = FEED_HDR + len;
  uint64_t now = f->env->wall_ms(f->env->ctx);
  ldb_mutex_lock(&f->io);
  size_t nsegs;
  seg *cur = newest(f, &nsegs);
  /* A segment spans at most a quarter of the age limit, so age trimming
   * drops data at most that much older than it must. */
  int aged = cur && cur->end && f->ret_ms && now > cur->start_ms &&
             now - cur->start_ms > f->ret_ms / 4;
  int full = cur && cur->end && cur->end + n > f->seg_target;
  if ((full || aged) && nsegs >= FEED_MAX_SEGS) {
    /* With FEED_MAX_SEGS live the current segment grows instead (it holds
     * more than retention asks, never less). */
    ldb_mutex_unlock(&f->io);
    rc = feed_trim(f);
    ldb_mutex_lock(&f->io);
    if (rc) goto out;
    newest(f, &nsegs);
  }
  /* Nothing is appended to a segment whose first record is damaged (its
   * history kept at open): records there could only be located from the
   * checkpoint hint, so new ones start a segment of their own. */
  int start =
      !cur || ((full || aged || cur->head_bad) && nsegs < FEED_MAX_SEGS);
  /* The segment being left must be synced whole (at open only the newest
   * may end torn). Rather than sync it here, on the commit's path, it
   * grows until a sync covers it (each commit's in sync mode full, the
   * interval's in normal, a checkpoint's), and the next segment starts
   * after that sync. Only past FEED_SEG_GROW targets is it synced here. */
  if (start && cur && cur->dirty &&
      cur->end + n <= FEED_SEG_GROW * f->seg_target)
    start = 0;
  if (start && name_held(f, f->next_num)) {
    /* The next segment's name is still held by a dead segment (16 back)
     * a reader is inside: the current one grows until the read ends.
     * Without a current segment (only open drops them all, and no reader
     * exists then) there is nothing to grow. */
    if (!cur) {
      rc = ldb_err(LDB_BUSY, "cannot start a log segment: a reader still holds "
                             "the segment whose name it reuses; retry");
      goto out;
    }
    start = 0;
  }
  if (start) {
    if (cur && cur->dirty) {
      rc = ldb_fsync(cur->file);
      if (rc) {
        ldb_err(rc, "cannot sync the log: %s", ldb_strerror(rc));
        goto out;
      }
      atomic_fetch_add_explicit(&f->syncs, 1, memory_order_relaxed);
      cur->dirty = 0;
    }
    if ((rc = seg_new(f))) goto out;
    cur = newest(f, NULL);
    /* Trimmed before the record is written: a failure refuses the commit
     * before any of its bytes exist. */
    ldb_mutex_unlock(&f->io);
    rc = feed_trim(f);
    ldb_mutex_lock(&f->io);
    if (rc) goto out;
  }
  if (n > f->bcap) {
    size_t nc = f->bcap ? f->bcap : 4096;
    while (nc < n)
      nc *= 2;
    uint8_t *nb = ldb_realloc(f->a, f->buf, 0, nc);
    if (!nb) {
      rc = ldb_err(LDB_NOMEM, "out of memory appending to the log");
      goto out;
    }
    f->buf = nb;
    f->bcap = nc;
  }
  uint8_t *h = f->buf;
  ldb_put32(h, (uint32_t)len);
  ldb_put64(h + 8, seq);
  ldb_put32(h + 16, nops);
  ldb_put64(h + 20, now);
  /* One write per record: recovery judges a torn tail by whole writes (a
   * record written in two parts could lose its header and keep its ops). */
  if (len) memcpy(h + FEED_HDR, ops, len);
  ldb_put32(h + 4, ldb_crc32c(0, h + 8, n - 8));
  rc = ldb_fwrite(cur->file, cur->end, h, n);
  if (f->bcap > (4u << 20)) {
    /* Do not keep a huge buffer around after one large commit. */
    ldb_mfree(f->a, f->buf);
    f->buf = NULL;
    f->bcap = 0;
  }
  if (rc) {
    /* Best effort: drop the partial bytes now (a write that failed with
     * FULL may have stored a prefix); the next append overwrites them. */
    (void)ldb_ftruncate(cur->file, cur->end);
    ldb_err(rc, "cannot append to the log: %s", ldb_strerror(rc));
    goto out;
  }
  cur->dirty = 1;
  atomic_fetch_add_explicit(&f->written, n, memory_order_relaxed);
  f->pending = 1;
  f->pend_seg = cur;
  f->pend_end = cur->end + n;
  f->pend_seq = seq;
  f->pend_time = now;
out:
  ldb_mutex_unlock(&f->io);
  return rc;
}

void feed_publish(feed *f) {
  if (!f->pending) return;
  seg *s = f->pend_seg;
  ldb_mutex_lock(&f->mu);
  if (!s->first) {
    s->first = f->pend_seq;
    s->start_ms = f->pend_time;
  }
  if (!f->nsegs || f->segs[0] == s) f->base = s->first - 1;
  f->bytes += f->pend_end - s->end;
  s->end = f->pend_end;
  s->time_ms = f->pend_time;
  f->next_seq = f->pend_seq + 1;
  ldb_mutex_unlock(&f->mu);
  f->pending = 0;
}

void feed_abort(feed *f) {
  if (!f->pending) return;
  /* Best effort; the next append overwrites the bytes anyway. */
  ldb_mutex_lock(&f->io);
  (void)ldb_ftruncate(f->pend_seg->file, f->pend_seg->end);
  ldb_mutex_unlock(&f->io);
  f->pending = 0;
}

int feed_sync(feed *f) {
  int rc = LDB_OK;
  ldb_mutex_lock(&f->io);
  /* Only the newest segment can be dirty: the others were synced whole
   * when the next began. */
  seg *s = newest(f, NULL);
  if (s && s->dirty) {
    rc = ldb_fsync(s->file);
    if (rc) {
      ldb_err(rc, "cannot sync the log: %s", ldb_strerror(rc));
    } else {
      atomic_fetch_add_explicit(&f->syncs, 1, memory_order_relaxed);
      s->dirty = 0;
    }
  }
  ldb_mutex_unlock(&f->io);
  return rc;
}

int feed_dirty(feed *f) {
  ldb_mutex_lock(&f->io);
  seg *s = newest(f, NULL);
  int d = s && s->dirty;
  ldb_mutex_unlock(&f->io);
  return d;
}

void feed_end(feed *f, uint64_t *num, uint64_t *off) {
  ldb_mutex_lock(&f->mu);
  if (f->nsegs) {
    *num = f->segs[f->nsegs - 1]->num;
    *off = f->segs[f->nsegs - 1]->end;
  } else {
    *num = f->next_num;
    *off = 0;
  }
  ldb_mutex_unlock(&f->mu);
}

int feed_checkpointed(feed *f, uint64_t seq, uint64_t num, uint64_t off,
                      uint64_t keep_seq) {
  if (keep_seq > atomic_load(&f->keep_seq))
    atomic_store(&f->keep_seq, keep_seq);
  if (f->read_only || !f->head) return LDB_OK;
  ldb_mutex_lock(&f->head_mu);
  int rc = head_write(f, f->head_first, seq, num, off);
  ldb_mutex_unlock(&f->head_mu);
  return rc ? rc : feed_trim(f);
}

int feed_trim(feed *f) {
  if (f->read_only || !f->head) return LDB_OK;
  uint64_t now = f->env->wall_ms(f->env->ctx);
  uint64_t keep = atomic_load(&f->keep_seq);
  ldb_mutex_lock(&f->head_mu);
  ldb_mutex_lock(&f->mu);
  size_t k = 0;
  uint64_t bytes = f->bytes;
  /* Never the segment being appended to; dropped segments were synced
   * when the next one began. A segment goes when recovery no longer needs
   * it (its records are all checkpointed: the next one starts at or before
   * keep + 1) and retention does not keep it. */
  while (k + 1 < f->nsegs) {
    seg *s = f->segs[k];
    /* Where the next records start: the next segment with a readable
     * first record (one whose first record is damaged holds records
     * between the two). */
    uint64_t nx_first = 0;
    for (size_t j = k + 1; j < f->nsegs && !nx_first; j++)
      nx_first = f->segs[j]->first;
    if (!nx_first || nx_first > keep + 1) break;
    int over_bytes = bytes - s->end >= f->ret_bytes;
    int over_age = f->ret_ms && s->time_ms + f->ret_ms < now;
    if (!over_bytes && !over_age) break;
    bytes -= s->end;
    k++;
  }
  uint64_t first = k ? f->segs[k]->num : 0;
  ldb_mutex_unlock(&f->mu);
  if (!k) {
    ldb_mutex_unlock(&f->head_mu);
    return LDB_OK;
  }
  /* The head moves first: a crash then leaves only files to collect. */
  int rc = head_write(f, first, f->hint_seq, f->hint_num, f->hint_off);
  ldb_mutex_unlock(&f->head_mu);
  if (rc) return rc;
  ldb_mutex_lock(&f->mu);
  /* Each leaves the list before it is dropped (seg_drop looks at the
   * live segments' names). */
  for (size_t i = 0; i < k; i++) {
    seg *s = f->segs[0];
    memmove(f->segs, f->segs + 1, (f->nsegs - 1) * sizeof *f->segs);
    f->nsegs--;
    f->bytes -= s->end;
    seg_drop(f, s);
  }
  f->base = base_of(f, f->next_seq - 1);
  ldb_mutex_unlock(&f->mu);
  return LDB_OK;
}

int feed_check(feed *f) {
  int rc = LDB_OK;
  uint64_t expect = 0;
  if (!f->head) return LDB_OK;
  /* The segments and their published ends, held against a concurrent trim
   * (the checkpoint's thread). */
  ldb_mutex_lock(&f->mu);
  size_t n = f->nsegs;
  seg **v = ldb_malloc(f->a, (n ? n : 1) * (sizeof *v + sizeof(uint64_t)));
  uint64_t *ends = v ? (uint64_t *)(v + (n ? n : 1)) : NULL;
  for (size_t j = 0; v && j < n; j++) {
    v[j] = f->segs[j];
    ends[j] = v[j]->end;
    v[j]->refs++;
  }
  ldb_mutex_unlock(&f->mu);
  if (!v) return ldb_err(LDB_NOMEM, "out of memory checking the log");
  for (size_t j = 0; j < n && !rc; j++) {
    seg *s = v[j];
    ldb_freader r = {.a = f->a, .file = s->file, .size = ends[j]};
    uint64_t o = 0;
    rec x;
    for (;;) {
      int ok = o < ends[j] ? rec_at(&r, o, &x, &rc) : 0;
      if (ok <= 0 || (expect && x.seq != expect)) break;
      expect = x.seq + 1;
      o += FEED_HDR + (uint64_t)x.len;
    }
    ldb_freader_free(&r);
    if (!rc && o != ends[j]) {
      char name[64];
      seg_name(name, sizeof name, s->num);
      rc = ldb_err(LDB_CORRUPT,
                   "log %s: valid records end at offset %llu but the segment "
                   "holds %llu bytes",
                   name, (unsigned long long)o, (unsigned long long)ends[j]);
    }
  }
  ldb_mutex_lock(&f->mu);
  for (size_t j = 0; j < n; j++)
    seg_release(f, v[j]);
  ldb_mutex_unlock(&f->mu);
  ldb_mfree(f->a, v);
  return rc;
}

void feed_stats(feed *f, uint64_t *base, uint64_t *segments, uint64_t *bytes) {
  ldb_mutex_lock(&f->mu);
  *base = f->base;
  *segments = f->nsegs;
  *bytes = f->bytes;
  ldb_mutex_unlock(&f->mu);
}

uint64_t feed_size(feed *f) {
  ldb_mutex_lock(&f->mu);
  uint64_t b = f->bytes;
  ldb_mutex_unlock(&f->mu);
  return b;
}
uint64_t feed_syncs(feed *f) {
  return atomic_load_explicit(&f->syncs, memory_order_relaxed);
}
uint64_t feed_bytes_written(feed *f) {
  return atomic_load_explicit(&f->written, memory_order_relaxed);
}

/* ---- cursors ------------------------------------------------------------ */

struct feed_cursor {
  feed *f;
  uint64_t num;  /* segment of the next record */
  uint64_t off;  /* its offset there */
  uint64_t next; /* its seq */
  uint8_t *buf;  /* bytes [boff, boff + blen) of segment bnum */
  size_t cap, blen;
  uint64_t bnum, boff;
};

/* The live segment num, or NULL (mu held). */
static seg *find_seg(feed *f, uint64_t num) {
  if (!f->nsegs || num < f->segs[0]->num) return NULL;
  uint64_t i = num - f->segs[0]->num;
  return i < f->nsegs ? f->segs[i] : NULL;
}

static void seg_unref(feed *f, seg *s) {
  ldb_mutex_lock(&f->mu);
  seg_release(f, s);
  ldb_mutex_unlock(&f->mu);
}

/* Makes [off, off + n) of segment s (published end `end`) available in the
 * cursor's buffer; NULL with *rc set on failure. */
static const uint8_t *cur_get(feed_cursor *c, seg *s, uint64_t off, size_t n,
                              uint64_t end, int *rc) {
  *rc = LDB_OK;
  if (c->bnum == s->num && off >= c->boff && off + n <= c->boff + c->blen)
    return c->buf + (off - c->boff);
  size_t want = n > FEED_READ_CHUNK ? n : FEED_READ_CHUNK;
  if (want > end - off) want = (size_t)(end - off);
  if (want < n) {
    *rc = ldb_err(LDB_CORRUPT,
                  "feed: record at %llu of segment %llu runs "
                  "past its end",
                  (unsigned long long)off, (unsigned long long)s->num);
    return NULL;
  }
  if (want > c->cap) {
    uint8_t *nb = ldb_realloc(c->f->a, c->buf, 0, want);
    if (!nb) {
      *rc = ldb_err(LDB_NOMEM, "out of memory reading the feed");
      return NULL;
    }
    c->buf = nb;
    c->cap = want;
  }
  size_t got = 0;
  c->blen = 0;
  int e = ldb_fread(s->file, off, c->buf, want, &got);
  if (e || got < n) {
    *rc = e ? ldb_err(e, "cannot read the feed: %s", ldb_strerror(e))
            : ldb_err(LDB_CORRUPT,
                      "feed: segment %llu is shorter than "
                      "published",
                      (unsigned long long)s->num);
    return NULL;
  }
  c->bnum = s->num;
  c->boff = off;
  c->blen = got;
  return c->buf;
}

int feed_cursor_next(feed_cursor *c, uint64_t visible, uint64_t *seq,
                     uint64_t *time_ms, const uint8_t **ops, size_t *len,
                     uint32_t *nops) {
  feed *f = c->f;
  int rc;
  seg *s;
  uint64_t end;
  ldb_mutex_lock(&f->mu);
  for (;;) {
    s = find_seg(f, c->num);
    if (!s) {
      int gone = f->nsegs ? c->num < f->segs[0]->num : c->num < f->next_num;
      ldb_mutex_unlock(&f->mu);
      if (gone)
        return ldb_err(LDB_COMPACTED,
                       "the feed's retention dropped seq "
                       "%llu before it was read",
                       (unsigned long long)c->next);
      return LDB_NOTFOUND;
    }
    if (c->off < s->end) break;
    if (s == f->segs[f->nsegs - 1]) {
      ldb_mutex_unlock(&f->mu);
      return LDB_NOTFOUND;
    }
    c->num++;
    c->off = 0;
  }
  s->refs++;
  end = s->end;
  ldb_mutex_unlock(&f->mu);
  const uint8_t *h = cur_get(c, s, c->off, FEED_HDR, end, &rc);
  if (!h) goto out;
  uint32_t l = ldb_get32(h);
  uint64_t sq = ldb_get64(h + 8);
  /* The record is checked before its seq is believed: a damaged seq must
   * be CORRUPT, not a commit "not yet visible" that a reader would wait
   * for forever. Every record below the published end is complete. */
  h = cur_get(c, s, c->off, FEED_HDR + (size_t)l, end, &rc);
  if (!h) goto out;
  if (ldb_crc32c(0, h + 8, FEED_HDR - 8 + (size_t)l) != ldb_get32(h + 4) ||
      (c->next && sq != c->next)) {
    /* c->next is 0 until the cursor has read a record: its seq is not
     * known then. */
    char what[48];
    if (c->next)
      snprintf(what, sizeof what, "expected seq %llu",
               (unsigned long long)c->next);
    else
      snprintf(what, sizeof what, "the first record");
    rc = ldb_err(LDB_CORRUPT,
                 "feed: bad record at offset %llu of segment %llu (%s)",
                 (unsigned long long)c->off, (unsigned long long)s->num, what);
    goto out;
  }
  if (sq > visible) {
    rc = LDB_NOTFOUND; /* appended, not yet visible (sync mode full) */
    goto out;
  }
  *seq = sq;
  *nops = ldb_get32(h + 16);
  *time_ms = ldb_get64(h + 20);
  *ops = h + FEED_HDR;
  *len = l;
  c->off += FEED_HDR + (uint64_t)l;
  c->next = sq + 1;
out:
  seg_unref(f, s);
  return rc;
}

int feed_cursor_open(feed *f, uint64_t since, uint64_t limit,
                     feed_cursor **out) {
  feed_cursor *c = ldb_calloc(f->a, sizeof *c);
  if (!c) return ldb_err(LDB_NOMEM, "out of memory opening a feed cursor");
  c->f = f;
  c->bnum = UINT64_MAX;
  /* The head's hint (head_mu before mu, as feed_trim takes them). */
  ldb_mutex_lock(&f->head_mu);
  uint64_t hseq = f->head_format == 2 ? f->hint_seq : UINT64_MAX;
  uint64_t hnum = f->hint_num, hoff = f->hint_off;
  ldb_mutex_lock(&f->mu);
  ldb_mutex_unlock(&f->head_mu);
  uint64_t base = f->base, next = f->next_seq;
  if (!f->head || !next) {
    ldb_mutex_unlock(&f->mu);
    ldb_mfree(f->a, c);
    return ldb_err(LDB_INVALID, "this database has no change feed (opened "
                                "read-only before one was written)");
  }
  if (since < base) {
    ldb_mutex_unlock(&f->mu);
    ldb_mfree(f->a, c);
    return ldb_err(LDB_COMPACTED,
                   "since %llu is older than the retained feed, which "
                   "starts after seq %llu; raise logRetentionBytes / "
                   "logRetentionMs or start again from a backup",
                   (unsigned long long)since, (unsigned long long)base);
  }
  if (since > limit) {
    ldb_mutex_unlock(&f->mu);
    ldb_mfree(f->a, c);
    return ldb_err(LDB_INVALID,
                   "since %llu is after the last commit %llu (a consumer "
                   "ahead of this database: was it restored from an older "
                   "backup?)",
                   (unsigned long long)since, (unsigned long long)limit);
  }
  /* The segment holding since + 1 (or the end of the feed), read from
   * its start; or, when since is at or after the last checkpoint's hint,
   * from the hint, which skips the history before it: a segment whose
   * first record is damaged (head_bad) can only be read that way, and a
   * reader after damaged history does not meet it. Before the hint, a
   * head_bad segment is read from its start and meets the damage. */
  size_t i = f->nsegs;
  int hinted = 0;
  uint64_t plain_num = 0, hint_num = 0;
  while (i > 0) {
    const seg *s = f->segs[i - 1];
    if (!hinted && s->num == hnum && since >= hseq && hoff <= s->end) {
      hinted = 1;
      hint_num = s->num;
    }
    if (s->first && s->first <= since + 1) break;
    i--;
  }
  plain_num =
      i ? f->segs[i - 1]->num : (f->nsegs ? f->segs[0]->num : f->next_num);
  /* A segment that starts at or before since + 1 after the hint's wins. */
  if (hinted && i && f->segs[i - 1]->num > hint_num) hinted = 0;
  ldb_mutex_unlock(&f->mu);
  for (;;) {
    c->num = hinted ? hint_num : plain_num;
    c->off = hinted ? hoff : 0;
    c->next = hinted ? hseq + 1 : 0;
    /* Skip the records up to since. */
    int rc;
    for (;;) {
      uint64_t sq, t;
      const uint8_t *ops;
      size_t len;
      uint32_t nops;
      rc = feed_cursor_next(c, since, &sq, &t, &ops, &len, &nops);
      if (rc) break;
    }
    if (rc == LDB_NOTFOUND) break;
    if (rc == LDB_CORRUPT && hinted) {
      /* The hint does not lead to seq hseq + 1: read from the start. */
      hinted = 0;
      continue;
    }
    feed_cursor_close(c);
    return rc;
  }
  c->next = since + 1;
  *out = c;
  return LDB_OK;
}

void feed_cursor_close(feed_cursor *c) {
  if (!c) return;
  ldb_mfree(c->f->a, c->buf);
  ldb_mfree(c->f->a, c);
}
