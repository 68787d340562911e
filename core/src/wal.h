/*
 * wal.h — the write-ahead log: two alternating files "wal-0.log" and
 * "wal-1.log" of commit records, their append offset, syncs, the switch at a
 * checkpoint and the replay at recovery.
 *
 * Record (little-endian): header { u32 payload_len, u32 crc32c, u64 seq,
 * u32 op_count } then the payload: op_count ops { u8 type (1 put, 2 del),
 * u32 klen, u32 vlen, key, value }. The crc covers the header after the crc
 * field (seq, op_count) and the payload. One record per commit.
 *
 * The log does not know about memtables or trees: recovery hands each valid
 * record to a callback.
 *
 * Thread safety: every function takes the log's own mutex, so appends,
 * syncs, switches and truncations never run concurrently on one file (the
 * store contract) — a sync in flight delays the next append, which is how
 * commits pile up for the next group sync.
 */
#ifndef LDB_WAL_H
#define LDB_WAL_H

#include "util.h"

#define WAL_HDR 20u
#define WAL_OP_HDR 9u
#define WAL_PUT 1
#define WAL_DEL 2

typedef struct wal wal;

/* One decoded op; pointers into the record buffer. */
typedef struct wal_op {
  int type;
  const uint8_t *key;
  uint32_t klen;
  const uint8_t *val;
  uint32_t vlen;
} wal_op;

static inline size_t wal_op_size(size_t klen, size_t vlen) {
  return WAL_OP_HDR + klen + vlen;
}
/* Encodes one op at p; returns the end. */
uint8_t *wal_op_encode(uint8_t *p, int type, const void *key, uint32_t klen,
                       const void *val, uint32_t vlen);
/* Decodes the op at *p (bounded by end) and advances *p. LDB_CORRUPT when it
 * does not fit or is malformed. */
int wal_op_decode(const uint8_t **p, const uint8_t *end, wal_op *op);

/* The two log files' names in their store. */
extern const char *const wal_names[2];

/* Opens both log files (created unless read_only). */
int wal_open(ldb_store *s, const ldb_allocator *a, int read_only, wal **out);
void wal_close(wal *w);

/* Called for every record replayed, in seq order. A non-zero return stops
 * recovery with that code. */
typedef int (*wal_apply_fn)(void *ctx, uint64_t seq, const uint8_t *ops,
                            size_t len, uint32_t nops);

/* Replays, in seq order, the records of both logs with seq > ckpt_seq, up to
 * the first invalid one (bad crc, short, malformed, or seq not contiguous).
 * *last_seq receives the last seq replayed (ckpt_seq when none); *seen_seq
 * the highest seq of any valid record in either log (0 when none), so
 * *seen_seq > *last_seq means records exist that could not be replayed (a
 * hole in the history: the caller decides). *dirty is set when the logs
 * hold anything (valid or not) beyond what a fresh log would, i.e. when
 * wal_reset is needed before appending. */
int wal_recover(wal *w, uint64_t ckpt_seq, wal_apply_fn fn, void *ctx,
                uint64_t *last_seq, uint64_t *seen_seq, int *dirty);

/* Scans one file: calls fn (may be NULL) for each valid, seq-contiguous
 * record from the start. *end is the offset after the last valid record,
 * *first and *last their seqs (0 when none), *size the file size. */
int wal_scan_file(wal *w, int idx, wal_apply_fn fn, void *ctx, uint64_t *end,
                  uint64_t *first, uint64_t *last, uint64_t *size);

/* Truncates both logs to 0, syncs them, makes wal-0 current. */
int wal_reset(wal *w);

/* After wal_recover on a log with no hole: continues appending after the
 * newest valid record, in the log that holds it (a torn tail after it is
 * cut and synced first), and keeps the other log's records. */
int wal_resume(wal *w);

/* Appends one record to the current log (not synced). On error nothing is
 * considered written: the append offset stays put so the next append
 * overwrites any partial bytes. */
int wal_append(wal *w, uint64_t seq, const uint8_t *ops, size_t len,
               uint32_t nops);
/* Syncs the current log if it has unsynced appends. */
int wal_sync(wal *w);
/* Syncs both logs (anything unsynced). */
int wal_sync_all(wal *w);
/* 1 when the current log has appends not yet synced. */
int wal_dirty(wal *w);
/* Starts the other log: syncs the current one (in every sync mode: its
 * records must outlive the checkpoint being started, see below), truncates
 * the other to 0 and makes it current. On error nothing changes.
 *
 * Retention: the log switched away from is kept until the next switch, not
 * trimmed when its checkpoint completes. So while the newest meta page
 * covers seq S_new and the older one S_old, the logs hold every record
 * after S_old (except between a switch and the next meta write, when they
 * start after S_new; a record missing then shows as a hole), and recovery
 * can replay from the older meta page when the newer one is damaged. */
int wal_switch(wal *w);
/* Verifies both logs: every record up to the current log's append offset,
 * and the other log's records up to where they ended when it was switched
 * away from (it is kept for recovery, so it must read back whole).
 * Meaningful after wal_reset (the engine resets at open). LDB_CORRUPT with
 * the file and offset. */
int wal_check(wal *w);
/* Total bytes in both logs. */
uint64_t wal_size(wal *w);
/* Number of syncs done. */
uint64_t wal_syncs(wal *w);
uint64_t wal_bytes_written(wal *w);

#endif /* LDB_WAL_H */
