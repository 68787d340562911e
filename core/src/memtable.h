/*
 * memtable.h — the in-memory table of committed versions not yet merged into
 * the B+tree (and, reused, a transaction's write buffer).
 *
 * A skip list ordered by (key ascending, seq descending): every entry is one
 * version of a key (a value or a tombstone) tagged with the sequence number of
 * the commit that wrote it. Entries with equal (key, seq) are allowed; the one
 * inserted last comes first, so "later wins" inside one batch.
 *
 * Concurrency: one writer at a time (the engine's commit mutex), any number
 * of lock-free readers. A node is fully written before it is published with
 * a release store; readers follow links with acquire loads (LevelDB style).
 * Nodes are never removed: a memtable only grows until it is dropped.
 *
 * Memory comes from arena blocks allocated through the allocator hook;
 * mt_reserve() allocates up front so that the inserts of one commit cannot
 * fail halfway (a commit is applied entirely or not at all).
 *
 * Lifetime: reference counted. A memtable may hold a reference to its
 * successor (mt_set_next), so pinning one memtable pins every later one: a
 * transaction's snapshot can check conflicts against all commits made after
 * it even across checkpoints.
 */
#ifndef LDB_MEMTABLE_H
#define LDB_MEMTABLE_H

#include "util.h"

#define MT_PUT 1
#define MT_DEL 2

typedef struct mt mt;
typedef struct mt_node mt_node;

/* block_size: arena block size in bytes (e.g. 64 KiB for the engine, 4 KiB
 * for a transaction's write buffer). The new memtable has one reference. */
int mt_create(const ldb_allocator *a, size_t block_size, mt **out);
/* A pool of free arena blocks shared by memtables of one block size (an
 * engine's successive memtables): a memtable using it gives its blocks
 * back when it is freed, while the pool holds less than cap bytes, and
 * mt_reserve takes a pooled block before it allocates one. A write-heavy
 * engine then reuses memory it has already touched instead of faulting in
 * fresh pages (zeroed by the kernel) for every memtable. Reference
 * counted: the creator holds one reference and every memtable using the
 * pool another, so it outlives them all. Thread-safe (a mutex; taken once
 * per block).
 * Lifetime rules: a memtable's blocks reach the pool only when its last
 * reference is dropped (mt_unref), so whoever reads a memtable must hold a
 * reference (a snapshot) or a lock that keeps its owner from dropping it
 * (state_lk for the engine's peeks); and a block is handed on with the old
 * nodes' bytes in it, never zeroed, so a memtable publishes a node only
 * once every field and link of it is written (memtable.c, struct mt_node):
 * nothing may read arena memory the writer has not written.
 * test_read_ahead_meets_half_linked_node (test_memtable_race.c) checks the
 * second rule. */
typedef struct mt_pool mt_pool;
int mt_pool_create(const ldb_allocator *a, size_t block_size, size_t cap,
                   mt_pool **out);
/* Drops a reference; the last one frees the pool and its blocks. NULL is
 * ignored. */
void mt_pool_unref(mt_pool *p);
/* Bytes of the free blocks the pool holds now. */
uint64_t mt_pool_bytes(mt_pool *p);
/* Frees every block the pool holds (it keeps working). */
void mt_pool_trim(mt_pool *p);
/* m takes its arena blocks from p and gives them back to it (when its
 * block size is p's). Call before the first mt_reserve. */
void mt_use_pool(mt *m, mt_pool *p);
/* Adds a blocked bloom filter of about `bytes` bytes (rounded down to a
 * power of two, at least 64) over the keys, so that lookups of absent keys
 * (mt_get, mt_newest_seq) usually stop after one cache line. Call before the
 * first insert. LDB_NOMEM leaves the memtable usable without a filter. */
int mt_enable_bloom(mt *m, size_t bytes);
/* Adds a hash index from each key to its newest version, so that mt_get and
 * mt_newest_seq cost a probe or two instead of a skip-list search (the
 * index costs about 16-32 bytes per distinct key, not counted in mt_bytes).
 * It starts with room for `keys` distinct keys (at least 32) and grows
 * as needed; a good guess saves the rehashes of growing (each one reads
 * every node). Call before the first insert. LDB_NOMEM leaves the memtable
 * usable without an index. */
int mt_enable_index(mt *m, uint64_t keys);
void mt_ref(mt *m);
/* Drops a reference; the last one frees the memtable and drops its
 * reference on the successor. NULL is ignored. */
void mt_unref(mt *m);
/* Links m to its successor, taking a reference on next. Called once, by the
 * single writer. */
void mt_set_next(mt *m, mt *next);
mt *mt_next(const mt *m);

/* Ensures that the next inserts totalling at most nops entries and kv_bytes
 * key+value bytes cannot fail. LDB_NOMEM otherwise (nothing changes). */
int mt_reserve(mt *m, size_t nops, size_t kv_bytes);
/* Inserts a version. Must be covered by a previous mt_reserve. */
void mt_insert(mt *m, uint64_t seq, int type, const void *key, uint32_t klen,
               const void *val, uint32_t vlen);
/* Hints the CPU to start loading what an insert of key will touch first
 * (its filter block and index slot); call a key ahead of mt_insert so the
 * misses overlap with the previous insert. Changes nothing. */
void mt_prefetch(const mt *m, const void *key, size_t klen);
/* Writer only. Loads into the CPU's caches, in parallel, the nodes that
 * the inserts of up to MT_WARM_MAX keys (all under seq) will step
 * through, so that their searches then hit the cache: a skip-list search
 * is a chain of dependent cache misses, and running several at once in
 * lockstep overlaps them. Changes nothing; call right before inserting
 * those keys. */
#define MT_WARM_MAX 32
void mt_warm(const mt *m, uint64_t seq, const void *const *keys,
             const uint32_t *klens, int n);
/* Writer only. Announces a batch of inserts whose first key is key
 * (ordered: the batch comes in ascending key order). A batch that sorts
 * after every key of the memtable (a bulk load in key order; in an empty
 * memtable, any ordered batch) starts or extends the unindexed tail: its
 * versions, and every later version of a key at or after its first, skip the
 * filter and the hash index (two cache misses per insert), and lookups of those
 * keys search the skip list instead. Any other batch first indexes the tail
 * (when the index can grow; else it stays), so that mixed workloads keep their
 * one-probe reads; the index then grows for the tail's keys and for the
 * batch's (the nops of the last mt_reserve, called before or after this),
 * so that it stays at most half full. Changes what a lookup costs, never
 * what it finds. */
void mt_batch_begin(mt *m, const void *key, size_t klen, int ordered);
/* mt_reserve + mt_insert. */
int mt_add(mt *m, uint64_t seq, int type, const void *key, uint32_t klen,
           const void *val, uint32_t vlen);

/* The newest version of key with seq <= snap: returns 1 and fills *type,
 * *val, *vlen (pointers valid while m is referenced), or 0 when there is
 * none. */
int mt_get(const mt *m, const void *key, size_t klen, uint64_t snap, int *type,
           const void **val, uint32_t *vlen);
/* The seq of the newest version of key, 0 when none. */
uint64_t mt_newest_seq(const mt *m, const void *key, size_t klen);

/* 1 once some key has more than one version (a reader that sees 0 may
 * assume that every key whose versions are visible to it has exactly one). */
int mt_has_dups(const mt *m);

/* Bytes of the versions (entries, keys, values, node overhead). */
uint64_t mt_bytes(const mt *m);
/* Heap bytes the memtable holds: arena blocks (with the unused room of
 * the newest one and the spare mt_reserve keeps), index tables, filter
 * and fixed parts. What the memory budget counts. */
uint64_t mt_mem(const mt *m);
/* Number of versions. */
uint64_t mt_count(const mt *m);
/* Versions in the unindexed tail now (see mt_batch_begin; writer only):
 * 0 unless the batches since the last non-append batch all sorted after
 * every key already in the memtable. */
uint64_t mt_unindexed(const mt *m);

/* Raw navigation over every version. NULL means "none". */
mt_node *mt_first(const mt *m);
mt_node *mt_last(const mt *m);
/* First node >= (key, seq) in (key asc, seq desc) order. */
mt_node *mt_seek(const mt *m, const void *key, size_t klen, uint64_t seq);
/* Last node whose key is < key (any seq). */
mt_node *mt_find_lt(const mt *m, const void *key, size_t klen);
mt_node *mt_node_next(const mt_node *n);
/* The node before n in list order (NULL for the first). May skip a node
 * whose insert is still in progress (see memtable.c), never a node whose
 * insert completed before the caller learned of its seq. */
mt_node *mt_node_prev(const mt_node *n);
void mt_node_prefetch_prev(const mt_node *n);
/* Hints the CPU to start loading n's successor (sequential scans overlap
 * the cache miss of the next node with the work on this one). */
void mt_node_prefetch_next(const mt_node *n);

/* Read-ahead for a forward scan; prefetch hints only, never changes what
 * a scan sees. Start with run = the scan's first node and *credit = 0,
 * then call once per step with the returned runner. The runner may meet
 * nodes whose insert is in progress (newer than the scan's snapshot) and
 * climbs from level 0 to their level-1 links, which mt_insert writes
 * before it publishes a node. */
mt_node *mt_scan_ahead(mt_node *run, long *credit);

const uint8_t *mt_node_key(const mt_node *n, size_t *klen);
const uint8_t *mt_node_val(const mt_node *n, size_t *vlen);
uint64_t mt_node_seq(const mt_node *n);
int mt_node_type(const mt_node *n);

/* Verifies ordering on every level and the byte count. LDB_CORRUPT with a
 * message on failure. Call with no concurrent writer. */
int mt_check(const mt *m);

#endif /* LDB_MEMTABLE_H */
