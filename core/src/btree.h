/*
 * btree.h — the data file: pager (page cache with ARC under a byte budget,
 * crc32c on every page), the copy-on-write B+tree with overflow pages, the
 * free-page list, and the two alternating meta pages.
 *
 * This layer knows nothing of the log, the memtable, transactions or
 * sequence numbers beyond the one checkpoint_seq it stores in the meta page
 * for the layer above. It reaches bytes only through the store seam, in the
 * file "data.ldb".
 *
 * Versions: every successful checkpoint (bt_merge_commit) produces a new
 * immutable tree version. Readers hold a reference to a version
 * (bt_current + bt_tree_release); the pages of an old version are reused
 * only after it is released and a newer meta page is durable.
 *
 * Thread safety: bt_file functions may be called from many threads. A tree
 * version may be read by many threads at once. A bt_cursor and a bt_merge
 * belong to one thread at a time. At most one bt_merge exists at a time.
 */
#ifndef LDB_BTREE_H
#define LDB_BTREE_H

/* The data file's name in its store. */
#define BT_FILE_NAME "data.ldb"

#include "util.h"

typedef struct bt_file bt_file;
typedef struct bt_tree bt_tree;
typedef struct bt_cursor bt_cursor;
typedef struct bt_merge bt_merge;

typedef struct bt_config {
  uint32_t page_size;  /* used when creating */
  uint64_t cache_size; /* byte budget of the page cache */
  uint64_t map_size;   /* bytes of the file read through a mapping (0 none) */
  int compression;     /* codec for values written from now on */
  int compression_level;
  int create;    /* create the file when missing or empty */
  int read_only; /* never write */
  const ldb_allocator *allocator;
  int map_unbounded; /* mapped pages not bounded by cache_size (0: bounded) */
  /* NULL, or 1 when the store shows that the database was completely
   * created before (its log holds bytes; what names the file). A data file
   * that is then missing, empty or never completely created is damage,
   * not a creation to finish: LDB_CORRUPT, the file left as it is. */
  int (*created_before)(ldb_store *s, char *what, size_t cap);
  /* 1: a file shorter than a sector that no interrupted creation explains
   * (neither zeros nor the start of a new file's meta page) is replaced
   * as well when creating (salvage); 0: LDB_CORRUPT. */
  int replace_damaged;
} bt_config;

/* Opens "data.ldb" in store: picks the newest meta page whose checksum is
 * valid (LDB_CORRUPT when neither is). Missing/empty file, or one that an
 * interrupted creation left (power loss before both meta pages were
 * synced): creates an empty tree when cfg->create (writing and syncing both
 * meta pages), else LDB_NOTFOUND; but LDB_CORRUPT when cfg->created_before
 * says the database existed, or a file shorter than a sector holds bytes
 * that no creation writes (see cfg). *created is set to 1 when it did.
 * Page size comes from the file when it exists. */
int bt_open(ldb_store *store, const bt_config *cfg, bt_file **out,
            int *created);
/* Closes the file. Every tree reference, cursor and merge must be released
 * first. */
void bt_close(bt_file *f);

/* The meta slot (0 or 1) that bt_open found invalid while the other one was
 * valid, or -1. Either a checkpoint was cut short by a crash (nothing is
 * lost: the log still holds its commits) or the page was damaged after it
 * was written (then the version it named is gone, and only the log can
 * restore its commits); the layer above tells them apart by the log. */
int bt_damaged_meta(const bt_file *f);

/* Syncs the data file. */
int bt_sync(bt_file *f);

uint32_t bt_page_size(const bt_file *f);

/* The current (newest committed) version, with a reference the caller
 * releases with bt_tree_release. Never fails. */
bt_tree *bt_current(bt_file *f);
void bt_tree_acquire(bt_tree *t);
void bt_tree_release(bt_tree *t);
/* The checkpoint_seq stored with this version (0 for a new database). */
uint64_t bt_tree_seq(const bt_tree *t);
/* Number of keys in this version. */
uint64_t bt_tree_count(const bt_tree *t);

/* Point lookup in version t. On LDB_OK sets *len to the value's full
 * length and copies the value into buf when it fits (cap >= *len). One
 * that does not fit: its first cap bytes when it is stored plain in its
 * leaf, nothing when it is on overflow pages or compressed (a prefix
 * would cost reading or decompressing it; the caller asks again with a
 * buffer of *len bytes). LDB_NOTFOUND when absent. */
int bt_get(bt_tree *t, const void *key, size_t klen, void *buf, size_t cap,
           size_t *len);

/* Cursors over one version (the cursor holds its own reference). */
int bt_cursor_open(bt_tree *t, bt_cursor **out);
void bt_cursor_close(bt_cursor *c);
/* Positioning: LDB_OK when on an entry, LDB_NOTFOUND when there is none.
 * seek_ge: first key >= key. seek_le: last key <= key. */
int bt_cursor_first(bt_cursor *c);
int bt_cursor_last(bt_cursor *c);
int bt_cursor_seek_ge(bt_cursor *c, const void *key, size_t klen);
int bt_cursor_seek_le(bt_cursor *c, const void *key, size_t klen);
int bt_cursor_next(bt_cursor *c);
int bt_cursor_prev(bt_cursor *c);
/* The current entry; pointers owned by the cursor, valid until it moves
 * or closes. Values are decompressed / read from overflow pages into a
 * cursor-owned buffer. */
int bt_cursor_key(bt_cursor *c, const void **key, size_t *klen);
int bt_cursor_value(bt_cursor *c, const void **val, size_t *vlen);

/* A checkpoint: copy-on-write changes on top of the current version,
 * invisible to readers until bt_merge_commit. Operations should come in
 * ascending key order (any order is correct, ascending is fastest).
 * bt_merge_begin returns LDB_BUSY while another merge exists. After a put
 * or delete fails (other than LDB_INVALID for bad arguments) the merge is
 * poisoned: later calls and bt_merge_commit return that same error, so
 * abort it (or commit, which then frees it without changing anything). */
int bt_merge_begin(bt_file *f, bt_merge **out);
int bt_merge_put(bt_merge *m, const void *key, size_t klen, const void *val,
                 size_t vlen);
/* bt_merge_put for bytes that stay valid and unchanged until the merge
 * ends (commit or abort), such as a frozen memtable's: a small value
 * (inline, not compressed) is then not copied until its page is written. */
int bt_merge_put_ref(bt_merge *m, const void *key, size_t klen, const void *val,
                     size_t vlen);
/* Deleting an absent key is LDB_OK. */
int bt_merge_delete(bt_merge *m, const void *key, size_t klen);
/* Writes every new page, syncs the data file, writes the older meta page
 * slot with checkpoint_seq, syncs again, and installs the new version as
 * current. Frees m in every case. On failure nothing is visible, the
 * previous version stays current and durable, and the pages this merge
 * allocated are free again. */
int bt_merge_commit(bt_merge *m, uint64_t checkpoint_seq);
/* Discards the merge and frees m. */
void bt_merge_abort(bt_merge *m);
/* Gives the free pages at the end of the file back to the store when at
 * least min_pages (> 0) of them are reusable: a commit that changes no key
 * (same checkpoint seq) writes a meta page ending the file before them and
 * truncates it. LDB_OK without doing anything when fewer are, or while a
 * merge runs. The caller switches to the new current version. */
int bt_shrink(bt_file *f, uint64_t min_pages);
/* Pages the merge holds so far: base pages it copied (and releases) plus
 * pages it allocated. Its memory grows with it; a caller bounding the
 * merge commits and begins a new one when it gets large. */
uint64_t bt_merge_pages(const bt_merge *m);

/* Integrity check of the file (see ldb_check): the current version's
 * tree, both meta pages, every page of the previous version (which the
 * older meta page names and recovery may fall back to), the free list,
 * that every page is in exactly one of tree and free set, and the checksum
 * of every other free page (damage there is harmless: counted in *res,
 * not an error). LDB_OK or LDB_CORRUPT with the first problem, naming the
 * page, recorded by ldb_err. bt_check_report also fills *res (the
 * caller's, zeroed by it). */
int bt_check(bt_file *f);
int bt_check_report(bt_file *f, ldb_check_result *res);

typedef struct bt_stats {
  uint64_t cache_hits, cache_misses, cache_evictions;
  uint64_t cache_bytes, cache_capacity;
  uint64_t mmap_bytes, mmap_sampled_resident, mmap_sampled_faults;
  uint64_t mmap_resident_bytes, mmap_released_bytes;
  uint64_t bytes_read, bytes_written, syncs;
  uint64_t file_size, page_count, free_pages;
  /* values compressible by size written while compression was on, by the
   * codec stored ([0] raw, [LDB_COMPRESSION_*]) */
  uint64_t codec_values[4];
  /* bt_get and cursor calls that answered LDB_CORRUPT */
  uint64_t reads_corrupt;
} bt_stats;
void bt_stats_get(bt_file *f, bt_stats *out);

/* The page cache's budget lent to the engine's memtables (pager_borrow,
 * pager_repay): up to want bytes the cache is not using; returns the bytes
 * lent (0 when the cache uses its whole budget). */
uint64_t bt_cache_borrow(bt_file *f, uint64_t want);
void bt_cache_repay(bt_file *f, uint64_t bytes);

/* Sets the codec used for values written from now on. */
void bt_set_compression(bt_file *f, int codec, int level);

#endif /* LDB_BTREE_H */
