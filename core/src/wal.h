/*
 * wal.h — the log's op format (shared by the log, commits, range deletes
 * and the change feed), and the reader of log format 1's write-ahead log:
 * two alternating files "wal-0.log" and "wal-1.log" that a database written
 * by a previous version holds beside its feed segments. The log itself is
 * feed.h (format 2); open.c replays a format-1 log once through this reader
 * and then removes it (docs/file-format.md).
 *
 * Op (little-endian): { u8 type (1 put, 2 del), u32 klen, u32 vlen, key,
 * value }. Format-1 record: header { u32 payload_len, u32 crc32c, u64 seq,
 * u32 op_count } then op_count ops; the crc covers the header after the
 * crc field and the payload. One record per commit.
 *
 * The reader does not know about memtables or trees: recovery hands each
 * valid record to a callback. Single-threaded (open).
 */
#ifndef LDB_WAL_H
#define LDB_WAL_H

#include "util.h"

#define WAL_HDR 20u /* format-1 record header */
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
/* LDB_OK when [p, p+len) holds exactly nops well-formed ops (a record's
 * payload), else LDB_CORRUPT: the log readers take such a record for the
 * end of the valid log. */
int wal_ops_check(const uint8_t *p, size_t len, uint32_t nops);

/* The two log files' names in their store. */
extern const char *const wal_names[2];

/* Opens the format-1 log files that exist (a missing one reads as empty).
 * *bytes receives their total size: 0 means there is nothing to replay. */
int wal_open(ldb_store *s, const ldb_allocator *a, uint64_t *bytes, wal **out);
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
 * hole in the history: the caller decides). */
int wal_recover(wal *w, uint64_t ckpt_seq, wal_apply_fn fn, void *ctx,
                uint64_t *last_seq, uint64_t *seen_seq);

/* Scans one file: calls fn (may be NULL) for each valid, seq-contiguous
 * record from the start. *end is the offset after the last valid record,
 * *first and *last their seqs (0 when none), *size the file size. */
int wal_scan_file(wal *w, int idx, wal_apply_fn fn, void *ctx, uint64_t *end,
                  uint64_t *first, uint64_t *last, uint64_t *size);

/* Truncates both format-1 logs to 0, syncs them and removes them (after
 * a migration made them redundant). */
int wal_remove(wal *w);

#endif /* LDB_WAL_H */
