/*
 * feed.c — the retained log behind the change feed (see feed.h). Owns the
 * head file, the segment files and their list, the pending (unpublished)
 * append, and the cursors' reads. Knows nothing of memtables, trees or
 * transactions; the engine tells it what was committed and what is
 * visible.
 */
#include "feed.h"

#include <stdio.h>

#include "store.h"

#define FEED_HEAD_MAGIC 0x4844464cu /* "LFDH" */
#define FEED_SLOT 32u
#define FEED_READ_CHUNK (256u << 10)
#define FEED_SEG_MIN (64u << 10)
#define FEED_SEG_MAX (16u << 20)
#define FEED_NAMES 16u
#define FEED_MAX_SEGS (FEED_NAMES - 1)

typedef struct seg {
  uint64_t num;
  ldb_file *file;
  uint64_t first;    /* seq of its first record; 0 while empty */
  uint64_t end;      /* published end offset */
  uint64_t time_ms;  /* time of its newest published record */
  uint64_t start_ms; /* time of its first record */
  int refs;          /* cursors reading it now */
  int dead;          /* dropped from the list; freed by the last reader */
  int dirty;         /* unsynced records */
} seg;

struct feed {
  const ldb_allocator *a;
  const ldb_env *env; /* the engine's: wall_ms for record times */
  ldb_store *store;
  ldb_mutex mu; /* segs, nsegs, each seg's end/time/refs/dead, base, next */
  uint64_t ret_bytes, ret_ms, seg_target;
  int read_only;
  ldb_file *head;
  uint64_t head_gen;
  seg **segs; /* live segments, ascending num (contiguous) */
  size_t nsegs, cap;
  uint64_t next_num; /* number of the next segment to create */
  uint64_t base;     /* seq before the first retained record */
  uint64_t next_seq; /* seq of the next append; 0 until known */
  uint64_t bytes;    /* published bytes of the live segments */
  /* the pending append (commit mutex) */
  int pending;
  seg *pend_seg;
  uint64_t pend_end, pend_seq, pend_time;
  uint8_t *buf; /* record assembly */
  size_t bcap;
};

/* Segment n is file "feed-<n mod FEED_NAMES>.log": a fixed set of names,
 * because some stores must open every file before the engine runs (OPFS
 * sync access handles are created asynchronously). At most FEED_MAX_SEGS
 * are live, so the name of the segment before the first one is never a
 * live segment's (open removes it: a crash may leave it behind). */
static void seg_name(char *out, size_t cap, uint64_t num) {
  snprintf(out, cap, "feed-%02u.log", (unsigned)(num % FEED_NAMES));
}

/* ---- head --------------------------------------------------------------- */

static int head_write(feed *f, uint64_t first_num) {
  uint8_t b[FEED_SLOT] = {0};
  uint64_t gen = f->head_gen + 1;
  ldb_put32(b, FEED_HEAD_MAGIC);
  ldb_put64(b + 8, gen);
  ldb_put64(b + 16, first_num);
  ldb_put32(b + 4, ldb_crc32c(0, b + 8, 16));
  int rc = ldb_fwrite(f->head, (gen & 1) * FEED_SLOT, b, sizeof b);
  if (!rc) rc = ldb_fsync(f->head);
  if (rc) return ldb_err(rc, "cannot write feed.head: %s", ldb_strerror(rc));
  f->head_gen = gen;
  return LDB_OK;
}

/* *found 0 when no slot is valid (a new feed). */
static int head_read(feed *f, uint64_t *first_num, int *found) {
  uint8_t b[2 * FEED_SLOT];
  size_t got = 0;
  *found = 0;
  int rc = ldb_fread(f->head, 0, b, sizeof b, &got);
  if (rc) return ldb_err(rc, "cannot read feed.head: %s", ldb_strerror(rc));
  for (int i = 0; i < 2; i++) {
    const uint8_t *p = b + i * FEED_SLOT;
    if (got < (size_t)(i + 1) * FEED_SLOT) break;
    if (ldb_get32(p) != FEED_HEAD_MAGIC) continue;
    if (ldb_get32(p + 4) != ldb_crc32c(0, p + 8, 16)) continue;
    uint64_t gen = ldb_get64(p + 8);
    if (*found && gen <= f->head_gen) continue;
    *found = 1;
    f->head_gen = gen;
    *first_num = ldb_get64(p + 16);
  }
  return LDB_OK;
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

/* Unlinks segs[i..] from the list (mu held by callers that run
 * concurrently with cursors); a segment a cursor reads is freed by it. */
static void drop_tail(feed *f, size_t from) {
  while (f->nsegs > from) {
    seg *s = f->segs[--f->nsegs];
    f->bytes -= s->end;
    if (s->refs)
      s->dead = 1;
    else
      seg_free(f, s, 1);
  }
}

static int segs_push(feed *f, seg *s) {
  if (f->nsegs == f->cap) {
    size_t nc = f->cap ? f->cap * 2 : 8;
    seg **ns = ldb_realloc(f->a, f->segs, f->cap * sizeof *ns, nc * sizeof *ns);
    if (!ns) return ldb_err(LDB_NOMEM, "out of memory growing the feed");
    f->segs = ns;
    f->cap = nc;
  }
  f->segs[f->nsegs++] = s;
  return LDB_OK;
}

static int seg_open(feed *f, uint64_t num, int create, seg **out) {
  char name[64];
  seg_name(name, sizeof name, num);
  seg *s = ldb_calloc(f->a, sizeof *s);
  if (!s) return ldb_err(LDB_NOMEM, "out of memory opening the feed");
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

/* Reads the record at off of s (bounded by end) into *buf (grown as
 * needed). LDB_NOTFOUND when no valid record starts there. */
static int read_record(feed *f, ldb_file *file, uint64_t off, uint64_t end,
                       uint8_t **buf, size_t *cap, uint64_t *seq,
                       uint64_t *time_ms, uint32_t *len, uint32_t *nops) {
  uint8_t h[FEED_HDR];
  size_t got = 0;
  if (end - off < FEED_HDR) return LDB_NOTFOUND;
  int rc = ldb_fread(file, off, h, FEED_HDR, &got);
  if (rc) return ldb_err(rc, "cannot read the feed: %s", ldb_strerror(rc));
  if (got < FEED_HDR) return LDB_NOTFOUND;
  *len = ldb_get32(h);
  *seq = ldb_get64(h + 8);
  *nops = ldb_get32(h + 16);
  *time_ms = ldb_get64(h + 20);
  if (*seq == 0 || *nops == 0 || end - off - FEED_HDR < *len)
    return LDB_NOTFOUND;
  size_t n = FEED_HDR + (size_t)*len;
  if (n > *cap) {
    uint8_t *nb = ldb_realloc(f->a, *buf, 0, n);
    if (!nb) return ldb_err(LDB_NOMEM, "out of memory reading the feed");
    *buf = nb;
    *cap = n;
  }
  rc = ldb_fread(file, off, *buf, n, &got);
  if (rc) return ldb_err(rc, "cannot read the feed: %s", ldb_strerror(rc));
  if (got < n) return LDB_NOTFOUND;
  if (ldb_crc32c(0, *buf + 8, n - 8) != ldb_get32(*buf + 4))
    return LDB_NOTFOUND;
  const uint8_t *p = *buf + FEED_HDR, *pe = p + *len;
  wal_op op;
  for (uint32_t i = 0; i < *nops; i++)
    if (wal_op_decode(&p, pe, &op)) return LDB_NOTFOUND;
  return p == pe ? LDB_OK : LDB_NOTFOUND;
}

/* Scans s from the start: its first seq, the end of its valid,
 * seq-contiguous records, its last seq and time. */
static int seg_scan(feed *f, seg *s, uint64_t *last) {
  uint64_t size = 0, off = 0, expect = 0, seq = 0, t = 0;
  uint32_t len = 0, nops = 0;
  uint8_t *buf = NULL;
  size_t cap = 0;
  int rc = ldb_fsize(s->file, &size);
  if (rc) return ldb_err(rc, "cannot size the feed: %s", ldb_strerror(rc));
  *last = 0;
  for (;;) {
    rc = read_record(f, s->file, off, size, &buf, &cap, &seq, &t, &len, &nops);
    if (rc == LDB_NOTFOUND || (!rc && expect && seq != expect)) {
      rc = LDB_OK;
      break;
    }
    if (rc) break;
    if (!s->first) {
      s->first = seq;
      s->start_ms = t;
    }
    *last = seq;
    s->time_ms = t;
    expect = seq + 1;
    off += FEED_HDR + (uint64_t)len;
  }
  ldb_mfree(f->a, buf);
  s->end = off;
  if (!rc && off < size && !f->read_only) {
    rc = ldb_ftruncate(s->file, off); /* a torn tail */
    if (rc) ldb_err(rc, "cannot cut the feed's tail: %s", ldb_strerror(rc));
  }
  return rc;
}

/* First seq and time of s, from its first record only. */
static int seg_peek(feed *f, seg *s) {
  uint64_t size = 0, seq = 0, t = 0;
  uint32_t len = 0, nops = 0;
  uint8_t *buf = NULL;
  size_t cap = 0;
  int rc = ldb_fsize(s->file, &size);
  if (rc) return ldb_err(rc, "cannot size the feed: %s", ldb_strerror(rc));
  rc = read_record(f, s->file, 0, size, &buf, &cap, &seq, &t, &len, &nops);
  ldb_mfree(f->a, buf);
  if (rc == LDB_NOTFOUND) return LDB_OK; /* first stays 0: a gap */
  if (rc) return rc;
  s->first = seq;
  s->time_ms = s->start_ms = t;
  s->end = size;
  return LDB_OK;
}

int feed_open(ldb_store *st, const ldb_allocator *a, const ldb_env *env,
              uint64_t retention_bytes, uint64_t retention_ms, int read_only,
              feed **out) {
  int rc, found = 0;
  uint64_t first_num = 0;
  feed *f = ldb_calloc(a, sizeof *f);
  if (!f) return ldb_err(LDB_NOMEM, "out of memory opening the feed");
  f->a = a;
  f->env = env;
  f->store = st;
  f->ret_bytes = retention_bytes;
  f->ret_ms = retention_ms;
  f->read_only = read_only;
  f->seg_target = retention_bytes / 8;
  if (f->seg_target < FEED_SEG_MIN) f->seg_target = FEED_SEG_MIN;
  if (f->seg_target > FEED_SEG_MAX) f->seg_target = FEED_SEG_MAX;
  ldb_mutex_init(&f->mu);
  rc = ldb_fopen(st, "feed.head", read_only ? 0 : LDB_STORE_CREATE, &f->head);
  if (rc == LDB_NOTFOUND && read_only) {
    f->head = NULL; /* a read-only open of a database without a feed */
    *out = f;
    return LDB_OK;
  }
  if (rc) {
    ldb_err(rc, "cannot open feed.head: %s", ldb_strerror(rc));
    goto fail;
  }
  if ((rc = head_read(f, &first_num, &found))) goto fail;
  if (!found && !read_only && (rc = head_write(f, 0))) goto fail;
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
  }
  /* Every segment but the last was synced whole when the next began; the
   * last may end in a torn record. */
  uint64_t last = 0;
  for (size_t i = 0; i < f->nsegs; i++) {
    seg *s = f->segs[i];
    rc = i + 1 < f->nsegs ? seg_peek(f, s) : seg_scan(f, s, &last);
    if (rc) goto fail;
    f->bytes += s->end;
  }
  /* A file left from an older generation under a name that comes next
   * does not continue the seqs: the list ends before it. */
  for (size_t i = 1; i < f->nsegs; i++) {
    if (f->segs[i]->first > f->segs[i - 1]->first) continue;
    size_t k = f->nsegs;
    while (k > i) {
      seg *s = f->segs[--k];
      f->bytes -= s->end;
      seg_free(f, s, !read_only);
    }
    f->nsegs = i;
    f->next_num = f->segs[i - 1]->num + 1;
    rc = seg_scan(f, f->segs[i - 1], &last);
    if (rc) goto fail;
    f->bytes = 0;
    for (size_t j = 0; j < f->nsegs; j++)
      f->bytes += f->segs[j]->end;
    break;
  }
  /* The previous segment's newest record is about as old as the next
   * one's first. */
  for (size_t i = 0; i + 1 < f->nsegs; i++)
    f->segs[i]->time_ms = f->segs[i + 1]->time_ms;
  int gap = 0;
  for (size_t i = 0; i < f->nsegs; i++)
    if (!f->segs[i]->first && i + 1 < f->nsegs) gap = 1;
  if (gap) {
    /* Only reconcile may repair it; a reader sees no feed. */
    if (!read_only) {
      drop_tail(f, 0);
    } else {
      for (size_t i = 0; i < f->nsegs; i++)
        seg_free(f, f->segs[i], 0);
      f->nsegs = 0;
      f->bytes = 0;
    }
  }
  if (f->nsegs && f->segs[0]->first) {
    f->base = f->segs[0]->first - 1;
    f->next_seq = last ? last + 1 : 0;
  }
  *out = f;
  return LDB_OK;
fail:
  for (size_t i = 0; i < f->nsegs; i++)
    seg_free(f, f->segs[i], 0);
  ldb_mfree(a, f->segs);
  if (f->head) ldb_fclose(f->head);
  ldb_mutex_destroy(&f->mu);
  ldb_mfree(a, f);
  return rc;
}

int feed_close(feed *f) {
  if (!f) return LDB_OK;
  int rc = f->read_only ? LDB_OK : feed_sync(f);
  for (size_t i = 0; i < f->nsegs; i++)
    seg_free(f, f->segs[i], 0);
  ldb_mfree(f->a, f->segs);
  if (f->head) ldb_fclose(f->head);
  ldb_mfree(f->a, f->buf);
  ldb_mutex_destroy(&f->mu);
  ldb_mfree(f->a, f);
  return rc;
}

/* ---- writing ------------------------------------------------------------ */

/* Drops every segment and starts over after seq (single-threaded). */
static int feed_restart(feed *f, uint64_t seq) {
  if (f->nsegs) {
    int rc = head_write(f, f->next_num);
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

/* Cuts the feed after seq (seq >= base, < next_seq - 1). */
static int cut_after(feed *f, uint64_t seq) {
  size_t i = f->nsegs;
  while (i > 0 && f->segs[i - 1]->first > seq)
    i--;
  drop_tail(f, i);
  if (!i) return feed_restart(f, seq);
  seg *s = f->segs[i - 1];
  uint64_t off = 0, rs = 0, t = 0;
  uint32_t len = 0, nops = 0;
  int rc;
  for (;;) {
    rc = read_record(f, s->file, off, s->end, &f->buf, &f->bcap, &rs, &t, &len,
                     &nops);
    if (rc == LDB_NOTFOUND || (!rc && rs > seq)) break;
    if (rc) return rc;
    s->time_ms = t;
    off += FEED_HDR + (uint64_t)len;
  }
  rc = ldb_ftruncate(s->file, off);
  if (rc) return ldb_err(rc, "cannot cut the feed: %s", ldb_strerror(rc));
  f->bytes -= s->end - off;
  s->end = off;
  s->dirty = 1;
  f->next_seq = seq + 1;
  return LDB_OK;
}

int feed_reconcile(feed *f, wal *w, uint64_t last_seq) {
  int rc = LDB_OK;
  if (f->read_only) return LDB_OK;
  if (!f->next_seq) {
    /* No record: the feed starts after the last commit. */
    drop_tail(f, 0);
    f->base = last_seq;
    f->next_seq = last_seq + 1;
    f->bytes = 0;
  } else if (f->next_seq - 1 > last_seq) {
    if (last_seq < f->base)
      rc = feed_restart(f, last_seq);
    else
      rc = cut_after(f, last_seq);
  } else if (f->next_seq - 1 < last_seq) {
    /* Either log may be the older one: scanning 0, 1, 0 meets every
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

static int seg_new(feed *f) {
  seg *s;
  int rc = seg_open(f, f->next_num, 1, &s);
  if (rc) return rc;
  rc = ldb_ftruncate(s->file, 0);
  if (!rc) {
    ldb_mutex_lock(&f->mu);
    rc = segs_push(f, s);
    ldb_mutex_unlock(&f->mu);
  }
  if (rc) {
    seg_free(f, s, 1);
    return rc;
  }
  f->next_num++;
  return LDB_OK;
}

int feed_append(feed *f, uint64_t seq, const uint8_t *ops, size_t len,
                uint32_t nops) {
  int rc;
  if (len > UINT32_MAX - FEED_HDR)
    return ldb_err(LDB_INVALID,
                   "commit of %zu bytes exceeds the log record "
                   "limit",
                   len);
  size_t n = FEED_HDR + len;
  seg *cur = f->nsegs ? f->segs[f->nsegs - 1] : NULL;
  uint64_t now = f->env->wall_ms(f->env->ctx);
  /* A segment spans at most a quarter of the age limit, so age trimming
   * drops data at most that much older than it must. */
  int aged = cur && cur->end && f->ret_ms && now > cur->start_ms &&
             now - cur->start_ms > f->ret_ms / 4;
  /* With FEED_MAX_SEGS live the current segment grows instead (it holds
   * more than retention asks, never less). */
  int full = cur && cur->end && cur->end + n > f->seg_target;
  if ((full || aged) && f->nsegs >= FEED_MAX_SEGS) feed_trim(f);
  if (!cur || ((full || aged) && f->nsegs < FEED_MAX_SEGS)) {
    /* The segment being left is synced whole: at open only the last one
     * may end in a torn record. */
    if (cur && cur->dirty) {
      rc = ldb_fsync(cur->file);
      if (rc) return ldb_err(rc, "cannot sync the feed: %s", ldb_strerror(rc));
      cur->dirty = 0;
    }
    if ((rc = seg_new(f))) return rc;
    cur = f->segs[f->nsegs - 1];
    feed_trim(f);
  }
  if (n > f->bcap) {
    size_t nc = f->bcap ? f->bcap : 4096;
    while (nc < n)
      nc *= 2;
    uint8_t *nb = ldb_realloc(f->a, f->buf, 0, nc);
    if (!nb) return ldb_err(LDB_NOMEM, "out of memory appending to the feed");
    f->buf = nb;
    f->bcap = nc;
  }
  uint8_t *h = f->buf;
  ldb_put32(h, (uint32_t)len);
  ldb_put64(h + 8, seq);
  ldb_put32(h + 16, nops);
  ldb_put64(h + 20, now);
  if (len) memcpy(h + FEED_HDR, ops, len);
  ldb_put32(h + 4, ldb_crc32c(0, h + 8, n - 8));
  rc = ldb_fwrite(cur->file, cur->end, h, n);
  if (f->bcap > (4u << 20)) {
    ldb_mfree(f->a, f->buf);
    f->buf = NULL;
    f->bcap = 0;
  }
  if (rc) {
    (void)ldb_ftruncate(cur->file, cur->end);
    return ldb_err(rc, "cannot append to the feed: %s", ldb_strerror(rc));
  }
  cur->dirty = 1;
  f->pending = 1;
  f->pend_seg = cur;
  f->pend_end = cur->end + n;
  f->pend_seq = seq;
  f->pend_time = now;
  return LDB_OK;
}

void feed_publish(feed *f) {
  if (!f->pending) return;
  seg *s = f->pend_seg;
  ldb_mutex_lock(&f->mu);
  if (!s->first) {
    s->first = f->pend_seq;
    s->start_ms = f->pend_time;
  }
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
  (void)ldb_ftruncate(f->pend_seg->file, f->pend_seg->end);
  f->pending = 0;
}

int feed_sync(feed *f) {
  for (size_t i = 0; i < f->nsegs; i++) {
    seg *s = f->segs[i];
    if (!s->dirty) continue;
    int rc = ldb_fsync(s->file);
    if (rc) return ldb_err(rc, "cannot sync the feed: %s", ldb_strerror(rc));
    s->dirty = 0;
  }
  return LDB_OK;
}

void feed_trim(feed *f) {
  if (f->read_only || f->nsegs < 2) return;
  uint64_t now = f->env->wall_ms(f->env->ctx);
  size_t k = 0;
  uint64_t bytes = f->bytes;
  /* Never the segment being appended to; dropped segments were synced
   * when the next one began. */
  while (k + 1 < f->nsegs) {
    seg *s = f->segs[k];
    int over_bytes = bytes - s->end >= f->ret_bytes;
    int over_age = f->ret_ms && s->time_ms + f->ret_ms < now;
    if (!over_bytes && !over_age) break;
    bytes -= s->end;
    k++;
  }
  if (!k) return;
  /* The head moves first: a crash then leaves only files to collect. */
  if (head_write(f, f->segs[k]->num)) return;
  ldb_mutex_lock(&f->mu);
  for (size_t i = 0; i < k; i++) {
    seg *s = f->segs[i];
    f->bytes -= s->end;
    if (s->refs)
      s->dead = 1;
    else
      seg_free(f, s, 1);
  }
  memmove(f->segs, f->segs + k, (f->nsegs - k) * sizeof *f->segs);
  f->nsegs -= k;
  f->base = f->segs[0]->first ? f->segs[0]->first - 1 : f->next_seq - 1;
  ldb_mutex_unlock(&f->mu);
}

void feed_stats(feed *f, uint64_t *base, uint64_t *segments, uint64_t *bytes) {
  ldb_mutex_lock(&f->mu);
  *base = f->base;
  *segments = f->nsegs;
  *bytes = f->bytes;
  ldb_mutex_unlock(&f->mu);
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
  if (--s->refs == 0 && s->dead) seg_free(f, s, 1);
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
  if (sq > visible) {
    rc = LDB_NOTFOUND; /* appended, not yet visible (sync mode full) */
    goto out;
  }
  h = cur_get(c, s, c->off, FEED_HDR + (size_t)l, end, &rc);
  if (!h) goto out;
  if (ldb_crc32c(0, h + 8, FEED_HDR - 8 + (size_t)l) != ldb_get32(h + 4) ||
      (c->next && sq != c->next)) {
    rc = ldb_err(LDB_CORRUPT,
                 "feed: bad record at offset %llu of segment "
                 "%llu (expected seq %llu)",
                 (unsigned long long)c->off, (unsigned long long)s->num,
                 (unsigned long long)c->next);
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
  ldb_mutex_lock(&f->mu);
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
  /* The segment holding since + 1 (or the end of the feed). */
  size_t i = f->nsegs;
  while (i > 0 && (!f->segs[i - 1]->first || f->segs[i - 1]->first > since + 1))
    i--;
  if (i == 0) {
    c->num = f->nsegs ? f->segs[0]->num : f->next_num;
    c->off = 0;
  } else {
    c->num = f->segs[i - 1]->num;
    c->off = 0;
  }
  ldb_mutex_unlock(&f->mu);
  /* Skip the records up to since. */
  for (;;) {
    uint64_t sq, t;
    const uint8_t *ops;
    size_t len;
    uint32_t nops;
    int rc = feed_cursor_next(c, since, &sq, &t, &ops, &len, &nops);
    if (rc == LDB_NOTFOUND) break;
    if (rc) {
      feed_cursor_close(c);
      return rc;
    }
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
