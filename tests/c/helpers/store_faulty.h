/*
 * store_faulty.h — the fault-injecting store of the C tests (a test tool:
 * compiled into the test programs only, never into the library, the addon
 * or the .wasm).
 *
 * The faulty store wraps another store (usually memory). Writes are kept in
 * an overlay until sync() moves them to the inner store, so "power loss"
 * can be simulated: every unsynced write vanishes, or (TEAR) a random
 * subset of them survives, the last one possibly cut at a 512-byte sector
 * boundary. It can also fail the Nth operation with an error, and it
 * counts operations (syncs, writes, ...) by kind.
 */
#ifndef LDB_STORE_FAULTY_H
#define LDB_STORE_FAULTY_H

#include "store.h"

/* Wraps inner (not owned: the caller destroys inner after the faulty
 * store). The faulty store starts transparent. */
int ldb_store_faulty(ldb_store *inner, ldb_store **out);

/* Operation kinds a fault can be aimed at. */
#define LDB_FAULT_READ 1
#define LDB_FAULT_WRITE 2
#define LDB_FAULT_SYNC 4
#define LDB_FAULT_SIZE 8
#define LDB_FAULT_TRUNCATE 16
#define LDB_FAULT_OPEN 32
#define LDB_FAULT_ANY 63

/* From now on, the nth (1-based) operation of a kind in mask fails with
 * code (LDB_IOERR or LDB_FULL). A failed write of more than one sector
 * first writes a prefix of whole sectors, as a full disk does. With sticky,
 * every later operation of those kinds fails too, until
 * ldb_faulty_clear(). */
void ldb_faulty_fail_nth(ldb_store *s, uint64_t nth, int mask, int code,
                         int sticky);
/* Offers map() from now on (on != 0) or not (the default): the data file
 * is then read through a mapping of the store's image (see
 * store_faulty.c), inside the same crash and fault injection. */
void ldb_faulty_set_map(ldb_store *s, int on);
/* Bytes the engine asked the store's release() to drop from its mappings
 * (the images are kept: they are the data). */
uint64_t ldb_faulty_released(ldb_store *s);
/* From now on failures (ldb_faulty_fail_nth) hit only operations on the
 * file called name (e.g. "data.ldb": checkpoints fail while the log takes
 * commits); NULL: every file, the default. The nth operation of a pending
 * failure then counts operations on that file only. */
void ldb_faulty_only_file(ldb_store *s, const char *name);
/* Clears a pending or sticky failure (space "returns"). */
void ldb_faulty_clear(ldb_store *s);
/* Operations seen of the kinds in mask since the store was made. */
uint64_t ldb_faulty_count(ldb_store *s, int mask);

#define LDB_CRASH_DROP 0 /* every unsynced write vanishes */
#define LDB_CRASH_TEAR                                                         \
  1 /* a random subset of unsynced writes survives;                            \
       one may be cut at a sector boundary */

/* Power loss at the nth (1-based) sync from now: that sync does not happen,
 * the unsynced writes are dropped or torn (mode, seeded by seed) into the
 * inner store, and from then on every operation on the faulty store fails
 * with LDB_IOERR. The inner store then holds the image a reboot would see. */
void ldb_faulty_crash_at_sync(ldb_store *s, uint64_t nth, int mode,
                              uint64_t seed);
/* Power loss now (same effects). */
void ldb_faulty_crash_now(ldb_store *s, int mode, uint64_t seed);
/* 1 once a simulated crash has happened. */
int ldb_faulty_crashed(ldb_store *s);
/* The name of the file of the nth (1-based) sync call since the store was
 * made, copied into name (NUL-terminated, at most cap bytes), so a crash
 * test can aim at log, data and meta syncs. LDB_NOTFOUND when fewer syncs
 * happened. */
int ldb_faulty_sync_file(ldb_store *s, uint64_t nth, char *name, size_t cap);

#endif /* LDB_STORE_FAULTY_H */
