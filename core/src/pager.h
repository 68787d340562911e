/*
 * pager.h — fixed-size pages of the data file: reading and writing whole
 * pages through the store seam with a crc32c on each, and a shared page
 * cache with ARC replacement (T1/T2 resident lists, B1/B2 ghost lists)
 * under a byte budget.
 *
 * Page image: bytes [0,4) hold crc32c(page number as 8 LE bytes ++ bytes
 * [4, page_size)). Covering the page number catches a page written to or
 * read from the wrong offset. Everything else in the page belongs to the
 * layer above (btree.c).
 *
 * Not responsible for what pages mean, for allocation or for durability
 * ordering: btree.c decides what to write and when to sync.
 *
 * Natively, pages can also be read through a read-only memory mapping of
 * the file (the store's map method, up to map_bytes): pager_get (and
 * pager_get_mapped, for overflow pages) then returns a pointer into the
 * mapping, with no lock and no copy. Each page
 * is verified once per page version: a bit per page records that its
 * image passed the checksum; pager_write and pager_forget clear it (a
 * copy-on-write page never changes in place, so a verified page stays
 * valid until it is freed and written again). A mapped page stays valid
 * while the version that reaches it is held. If the file shrinks under
 * the mapping (another process truncates it) or the device fails, reads
 * through it see zeros instead of killing the process and the store
 * counts a fault: every read operation brackets itself with
 * pager_map_faults / pager_map_check, which turn such a read into
 * LDB_IOERR, and from the first fault on the pager stops using the
 * mapping (pages then come through the cache, checked by read()).
 *
 * The mapping is bounded by the same byte budget as the cache: when the
 * store has a release method, the pager keeps a CLOCK over 64 KiB chunks
 * of the mapping (one page when pages are larger) and releases cold
 * chunks (the posix store: madvise(MADV_DONTNEED), which drops this
 * process's page-table entries; the bytes stay in the OS page cache) once
 * the chunks touched since their last release exceed the budget less what
 * the cache holds (at least 16 chunks). pager_map_bound turns it off.
 *
 * Thread safety: every function may be called from many threads at once;
 * a page returned by pager_get stays valid and unchanged until its
 * pager_unpin (a pinned page is never evicted or freed).
 */
#ifndef LDB_PAGER_H
#define LDB_PAGER_H

#include "util.h"

typedef struct pager pager;
typedef struct pg_ent pg_ent;

/* Reads through the mapping per residency sample, per thread. */
#define PAGER_MAP_SAMPLE 1024

typedef struct pager_stats {
  uint64_t hits, misses, evictions;
  /* cache_capacity: the budget; cache_lent: what pager_borrow lent of it
   * (the cache holds at most cache_capacity - cache_lent) */
  uint64_t cache_bytes, cache_capacity, cache_lent;
  /* map_bytes: the mapping's length, 0 when there is none or it stopped
   * (a read through it failed). map_resident / map_nonresident: sampled
   * mapped reads (1 in PAGER_MAP_SAMPLE per thread) whose page the store's
   * resident method found in memory, or not, just before the read. */
  uint64_t map_bytes, map_resident, map_nonresident;
  /* map_resident_bytes: chunks of the mapping counted resident now, times
   * the chunk size (an estimate, usually from above: a chunk counts from
   * its first read until the hand releases it); map_released_bytes: the
   * same measure of every chunk released so far. Both 0 when unbounded. */
  uint64_t map_resident_bytes, map_released_bytes;
  uint64_t bytes_read, bytes_written, syncs;
} pager_stats;

/* Takes over nothing: file stays owned by the caller. cache_bytes is the
 * byte budget (at least 16 pages are always allowed). map_bytes: how much
 * of the file to read through a mapping (0: none; also none when the
 * store has no map method or mapping fails: the cache serves every page,
 * as it serves pages past map_bytes). */
int pager_open(ldb_file *file, uint32_t page_size, uint64_t cache_bytes,
               uint64_t map_bytes, const ldb_allocator *a, pager **out);
void pager_close(pager *p);
uint32_t pager_page_size(const pager *p);

/* Sets/verifies the checksum of a page image for page number pgno. */
void pager_seal(uint8_t *page, uint32_t page_size, uint64_t pgno);
bool pager_verify(const uint8_t *page, uint32_t page_size, uint64_t pgno);

/* A verified page, from the mapping (*ent is then NULL: *data stays valid
 * while a version reaching the page is held) or through the cache, pinned
 * (*data stays valid until pager_unpin(p, *ent)). LDB_CORRUPT (bad
 * checksum or short read, message naming the page) or LDB_IOERR /
 * LDB_NOMEM. */
int pager_get(pager *p, uint64_t pgno, const uint8_t **data, pg_ent **ent);
/* NULL is ignored. */
void pager_unpin(pager *p, pg_ent *ent);

/* A hint for a page about to be read: when the mapping serves pgno,
 * starts loading its bytes [off, off + len) into the CPU caches (and its
 * address into the TLB). Reads nothing, verifies nothing and never faults;
 * a page pager_get does not serve from the mapping is ignored. */
void pager_prefetch(const pager *p, uint64_t pgno, uint32_t off, uint32_t len);

/* on: the mapping's resident set is bounded by the cache's budget (the
 * pager's default when the store has a release method; bt_open turns it
 * off unless ldb_options.mmap_bounded); off: mapped pages stay resident
 * until the OS reclaims them. Call before the first read. */
void pager_map_bound(pager *p, bool on);

/* Bracket for every operation that reads pages from pager_get: the fault
 * count of the mapping before it (0 without a mapping), then
 * pager_map_check(p, before, rc), which returns rc when no read through
 * the mapping failed meanwhile and LDB_IOERR (with a message) when one
 * did, since such a read saw zeros. Bytes copied out of mapped pages are
 * trustworthy only after the check. */
uint64_t pager_map_faults(const pager *p);
int pager_map_check(const pager *p, uint64_t before, int rc);

/* Reads and verifies one page into buf, bypassing the cache and the
 * mapping (meta pages, free-list pages, the integrity check, which must
 * see what the file holds now). */
int pager_read_direct(pager *p, uint64_t pgno, uint8_t *buf);

/* A page from the mapping, bypassing the cache (overflow pages: read
 * once per value, in the cache they would only push the tree's pages
 * out): exactly pager_get's mapped path (*data points into the mapping,
 * verified once per page version, valid while a version reaching the
 * page is held; bracket with pager_map_faults / pager_map_check).
 * LDB_NOTFOUND, with no message, when the mapping does not serve pgno
 * (none, stopped after a fault, or pgno past it or past the file's end):
 * the caller then reads it with pager_read_direct. */
int pager_get_mapped(pager *p, uint64_t pgno, const uint8_t **data);

/* Seals buf (modifies bytes [0,4)) and writes it as page pgno. With
 * cache_it the cache takes a copy (the page is hot); otherwise any cached
 * copy of pgno is dropped. Either way the cache never keeps a stale image
 * of pgno. */
int pager_write(pager *p, uint64_t pgno, uint8_t *buf, bool cache_it);

/* pager_write of n consecutive pages pgno.. whose images lie one after
 * another in buf, in one store write. */
int pager_write_run(pager *p, uint64_t pgno, uint8_t *buf, uint32_t n,
                    bool cache_it);

/* Drops any cached image of pgno (unpinned or not). */
void pager_forget(pager *p, uint64_t pgno);

/* Syncs the file, counting it. */
int pager_sync(pager *p);

/* Cuts the file to `pages` pages when it is longer. The caller guarantees
 * that no reader reaches a page past the cut (btree.c cuts only pages no
 * version or meta page reaches); the mapping stops serving them first, so
 * even a stray read is a short read (LDB_CORRUPT), never a fault. */
int pager_truncate(pager *p, uint64_t pages);

void pager_stats_get(pager *p, pager_stats *out);

/* One memory budget for the cache and its neighbour (the engine's
 * memtables, which hold at most memtable_size plus what they borrowed
 * here, the frozen one included: eng_mt_room; so the two together stay
 * within cache_size + memtable_size): pager_borrow lends up to want bytes
 * (rounded up to pages) of the budget the cache is not using now and returns
 * how many it lent (a multiple of the page size, maybe 0). In use counts the
 * resident pages and, when the mapping is bounded, its resident chunks; the
 * cache keeps at least 16 pages. Until repaid, the cache's capacity (and the
 * bounded mapping's resident set) is the budget less every loan, so what was
 * lent and what the cache holds stay within the budget together. Lending takes
 * only unused bytes, so it evicts nothing. pager_repay gives bytes back
 * (at most what is lent). */
uint64_t pager_borrow(pager *p, uint64_t want);
void pager_repay(pager *p, uint64_t bytes);

#ifdef LDB_PAGER_INTROSPECTION
/* Introspection for test_pager only: which ARC list holds pgno (0 none,
 * 1 T1, 2 T2, 3 B1, 4 B2) and the adaptive target p. Compiled only with
 * LDB_PAGER_INTROSPECTION, which the library never is: test_pager links
 * its own copy of pager.c built with it (CMakeLists.txt). */
int pager_debug_list(pager *p, uint64_t pgno);
uint64_t pager_debug_target(pager *p);
/* Samples 1 in n mapped reads (n = 1: every one) from now on, the calling
 * thread's next mapped read first. */
void pager_debug_sample_every(pager *p, uint32_t n);
#endif

#endif /* LDB_PAGER_H */
