/*
 * feed.h — the log (feed.c): the one append-only record of every commit,
 * written once per commit. It is both the write-ahead log recovery replays
 * and the retained history the change feed (ldb_changes_*) reads: records
 * are kept past checkpoints as long as the retention options say, and
 * dropped only when they are both checkpointed and outside the retention.
 *
 * Files (log format 2, docs/file-format.md): "feed.head" holds two
 * checksummed 64-byte slots, written alternately (a torn write leaves the
 * other): the number of the first live segment and the checkpoint hint
 * {seq, segment, offset}, i.e. where the records after the newest
 * checkpoint start. Segments are "feed-<n mod 16>.log" with n = first,
 * first+1, ...: a fixed set of names, because some stores (OPFS) must open
 * every file before the engine runs. A name has one segment at a time: a
 * segment dropped while a reader is inside a read of it keeps its file and
 * name until the reader lets go, and the newest segment grows meanwhile
 * rather than start the one that would reuse that name. Record (little-endian):
 * header { u32 payload_len, u32 crc32c, u64 seq, u32 op_count, u64 time_ms }
 * then the ops in the log's op format (wal_op_encode). The crc covers the
 * header after the crc field and the payload. Seqs are contiguous across
 * segments. Format 1 (the previous version) kept the same segments beside the
 * write-ahead log "wal-0.log"/"wal-1.log" (wal.h); open.c migrates it.
 *
 * Durability: only the newest segment is ever unsynced (a segment is
 * synced whole before the next one starts), so a crash can tear only the
 * newest segment's end. The next segment starts after a sync that covered
 * the current one (a commit's, the interval's, a checkpoint's), so no sync
 * is added to the commit path; until then the current one grows, up to 8
 * times its target size, where the commit that starts the next syncs it.
 * Recovery tells that torn tail from damage: a bad record followed by a valid
 * one (unless the gap is the zero-filled remains of lost writes), or a bad
 * record that is complete, is corruption and fails the open with LDB_CORRUPT
 * naming the file and offset (the salvage option opens at the last good commit
 * instead).
 *
 * Threads: append, publish, abort, trim and reconcile are called with the
 * engine's commit mutex held (one writer). io (inside) serializes every
 * write, truncate and sync of a segment (the store contract), so a sync in
 * flight delays the next append: that is how commits pile up for the next
 * group sync. mu guards the segment list and each segment's published end;
 * cursors read concurrently and never past the published end. head_mu
 * serializes head writes (trims on the commit path, hints from the
 * checkpoint thread). Order: io, then head_mu, then mu.
 */
#ifndef LDB_FEED_H
#define LDB_FEED_H

#include "util.h"
#include "wal.h"

#define FEED_HDR 28u

typedef struct feed feed;

/* What opens a log: retention (bytes 0 = the change feed is off: the log
 * keeps only what recovery needs) and the segment size it aims for. */
typedef struct feed_config {
  uint64_t retention_bytes, retention_ms;
  uint64_t memtable_size; /* the log holds about three memtables' worth */
} feed_config;

/* Opens the log of store s (created unless read_only): reads the head and
 * finds the live segments and their first seqs, reading nothing else.
 * Record times come from env->wall_ms (env must outlive the log).
 * feed_recover must run before anything else. */
int feed_open(ldb_store *s, const ldb_allocator *a, const ldb_env *env,
              const feed_config *cfg, int read_only, feed **out);
/* Syncs (unless read_only) and closes. NULL is ignored. */
int feed_close(feed *f);
/* 1 when store s holds a file of a log with bytes in it (its name in what,
 * when cap): the head or a segment. Such a file exists only once a
 * database was completely created (its data file is synced before its log
 * is opened). A file that cannot be inspected counts too. Opens nothing
 * for writing. */
int feed_exists(ldb_store *s, char *what, size_t cap);
/* 1 when name is the name of a file of the log (the head, a segment). */
int feed_is_file(const char *name);

/* The head's format: 2 (this version), 1 (a previous version's feed,
 * beside wal-0/1) or 0 (no head: a new or format-1 feed-less database). */
int feed_format(const feed *f);
/* Writes a format-2 head (both slots) naming the checkpoint hint
 * (seq, the current end of the log). */
int feed_set_format2(feed *f, uint64_t ckpt_seq);

/* What recovery found. */
typedef struct feed_recovery {
  uint64_t first; /* first seq in the log (0: the log is empty); from + 1
                     when the first record is damaged and the hint located
                     the records after from (the history before them is
                     kept: ldb_check and the feed's readers report it) */
  uint64_t last;  /* last seq of the valid, contiguous records */
  int cut;        /* salvage dropped damaged records (their seqs return) */
} feed_recovery;

/* Scans the log from the record after seq `from` to its end, calling fn
 * (may be NULL) for every record with seq > from, in order; uses the head's
 * checkpoint hint when it names `from`. A torn tail is cut (durably, unless
 * read_only). Damage (see above) is LDB_CORRUPT naming the file and offset,
 * unless salvage: then the log is cut before it and r->cut is set. When the
 * log starts after from + 1 nothing is applied (r->first tells the caller,
 * who reports the hole). Single-threaded, at open. */
int feed_recover(feed *f, uint64_t from, int salvage, wal_apply_fn fn,
                 void *ctx, feed_recovery *r);
/* Drops every record and starts the log over after seq (a log behind the
 * tree, a backup, salvage). Single-threaded, at open. */
int feed_restart(feed *f, uint64_t seq);
/* Format 1 only: makes the log end exactly at last_seq, the seq the old
 * write-ahead log w restored: drops records after it, copies the missing
 * ones from w, and when the two cannot be joined starts over after
 * last_seq. Syncs. */
int feed_reconcile(feed *f, wal *w, uint64_t last_seq);

/* Writes the record of commit seq after the last one, unpublished: cursors
 * do not see it until feed_publish. On error nothing is published and the
 * next append overwrites whatever was written. */
int feed_append(feed *f, uint64_t seq, const uint8_t *ops, size_t len,
                uint32_t nops);
/* Publishes the appended record / forgets it (its seq will be reused). */
void feed_publish(feed *f);
void feed_abort(feed *f);
/* Syncs the log (the newest segment) if it has unsynced records. */
int feed_sync(feed *f);
/* 1 when the log has records not yet synced. */
int feed_dirty(feed *f);
/* The end of the published log: the segment number and offset after the
 * newest record (commit mutex held). */
void feed_end(feed *f, uint64_t *num, uint64_t *off);
/* A checkpoint covering seq completed; the records after seq start at
 * (num, off). Records up to keep_seq (the checkpoint before it, which the
 * older meta page names) are no longer needed by recovery. Writes the
 * head's hint and trims. On failure the checkpoint stands (the hint only
 * saves the next open a scan); the error is for the caller to report. */
int feed_checkpointed(feed *f, uint64_t seq, uint64_t num, uint64_t off,
                      uint64_t keep_seq);
/* Drops the oldest segments that neither recovery nor retention needs
 * (never the one being appended to). Fails only when the head cannot be
 * written (nothing is dropped then). Commit mutex held, or the
 * checkpoint's thread (trims are serialized by head_mu). */
int feed_trim(feed *f);
/* Verifies every retained record (crc, ops, contiguous seqs) up to the
 * published end. LDB_CORRUPT with the file and offset. Commit mutex held. */
int feed_check(feed *f);

/* The seq before the first retained record ("since" may not be older),
 * the count and bytes of the live segments. */
void feed_stats(feed *f, uint64_t *base, uint64_t *segments, uint64_t *bytes);
/* Bytes in the live segments, syncs done, bytes appended. */
uint64_t feed_size(feed *f);
uint64_t feed_syncs(feed *f);
uint64_t feed_bytes_written(feed *f);

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
