/*
 * feed.h — the retained log behind the change feed (feed.c): every commit's
 * record, kept past checkpoints in numbered segment files as long as the
 * retention options say, and the cursors that read it (ldb_changes_*).
 *
 * Files: "feed.head" names the first live segment (two checksummed slots,
 * written alternately, so a torn write leaves the other); segments are
 * "feed-<n>.log" with n = first, first+1, ... Segment record
 * (little-endian): header { u32 payload_len, u32 crc32c, u64 seq,
 * u32 op_count, u64 time_ms } then the ops in the log's op format
 * (wal_op_encode). The crc covers the header after the crc field and the
 * payload. Seqs are contiguous across segments.
 *
 * Durability: the feed is written before the log, at every commit, and is
 * not synced per commit. It is synced before any log record can be dropped
 * (a memtable freeze, close), and at open feed_reconcile copies from the
 * log whatever a crash lost and drops what the log lost (sync off). So the
 * feed always holds every commit recovery restores, up to the last one.
 *
 * Thread safety: appends, publish, abort, sync and reconcile are called
 * with the engine's commit mutex held (one writer). Cursors read
 * concurrently; the feed's mutex guards the segment list and the
 * published end of each segment, and a cursor never reads past it.
 */
#ifndef LDB_FEED_H
#define LDB_FEED_H

#include "util.h"
#include "wal.h"

#define FEED_HDR 28u

typedef struct feed feed;

/* Opens the feed of store s (a missing feed is created unless read_only):
 * finds the live segments and the last valid record; a torn tail is cut
 * (not when read_only). Record times come from env->wall_ms (env must
 * outlive the feed). */
int feed_open(ldb_store *s, const ldb_allocator *a, const ldb_env *env,
              uint64_t retention_bytes, uint64_t retention_ms, int read_only,
              feed **out);
/* Syncs (unless read_only) and closes. NULL is ignored. */
int feed_close(feed *f);

/* Makes the feed end exactly at last_seq, the seq recovery restored: drops
 * records after it, copies the missing ones from the log w, and when the
 * two cannot be joined (a gap) starts the feed over after last_seq. Syncs.
 * Called at open, single-threaded. */
int feed_reconcile(feed *f, wal *w, uint64_t last_seq);

/* Writes the record of commit seq after the last one, unpublished: cursors
 * do not see it until feed_publish. On error nothing is published and the
 * next append overwrites whatever was written. */
int feed_append(feed *f, uint64_t seq, const uint8_t *ops, size_t len,
                uint32_t nops);
/* Publishes the appended record / forgets it (its seq will be reused). */
void feed_publish(feed *f);
void feed_abort(feed *f);
/* Syncs every segment with unsynced records. */
int feed_sync(feed *f);
/* Drops the oldest segments that retention no longer needs (never the one
 * being appended to). */
void feed_trim(feed *f);

/* The seq before the first retained record ("since" may not be older),
 * the count and bytes of the live segments. */
void feed_stats(feed *f, uint64_t *base, uint64_t *segments, uint64_t *bytes);

/* ---- cursors ------------------------------------------------------------ */

typedef struct feed_cursor feed_cursor;

/* A cursor at since (the next record read is since + 1). LDB_COMPACTED
 * when since is older than the feed's base, LDB_INVALID when it is after
 * the last record appended (limit). */
int feed_cursor_open(feed *f, uint64_t since, uint64_t limit,
                     feed_cursor **out);
/* Reads the next record with seq <= visible: LDB_OK with its seq, time and
 * ops (pointing into the cursor's buffer, valid until the next call);
 * LDB_NOTFOUND when caught up; LDB_COMPACTED when retention dropped the
 * cursor's position meanwhile; LDB_CORRUPT. */
int feed_cursor_next(feed_cursor *c, uint64_t visible, uint64_t *seq,
                     uint64_t *time_ms, const uint8_t **ops, size_t *len,
                     uint32_t *nops);
void feed_cursor_close(feed_cursor *c);

#endif /* LDB_FEED_H */
