/*
 * workload.h — a deterministic transaction workload for the crash, I/O
 * error and disk-full tests, and the verifier that decides whether a
 * recovered database holds an acceptable set of those transactions.
 *
 * Every transaction i (1-based) writes a few data keys "d%04u" (puts with
 * values that embed i, some large enough for overflow pages, and some
 * deletes) plus its marker key "m%06u". After recovery the set S of markers
 * present says which transactions survived; the database must then equal
 * exactly the state produced by applying the transactions of S in order.
 * A partial transaction, a lost middle commit or a stale value all show up
 * as a mismatch. Keys starting with "zz" are probes and are ignored.
 */
#ifndef LDB_WORKLOAD_H
#define LDB_WORKLOAD_H

#include "testutil.h"

typedef struct wl_op {
  uint16_t key;  /* data key index */
  uint8_t del;   /* 1: delete */
  uint32_t vlen; /* value length */
} wl_op;

typedef struct wl_txn {
  uint32_t id; /* 1-based */
  uint8_t nops;
  uint8_t as_batch; /* apply with ldb_write instead of a transaction */
  wl_op ops[8];
} wl_txn;

typedef struct wl {
  wl_txn *txns;
  uint32_t n;
  uint32_t page_size; /* for sizing overflow values */
} wl;

/* n transactions over nkeys data keys, derived from seed. */
void wl_init(wl *w, uint64_t seed, uint32_t n, uint32_t nkeys,
             uint32_t page_size);
void wl_free(wl *w);

/* The value txn id writes to key (deterministic). buf must hold vlen. */
void wl_value(uint32_t id, uint16_t key, uint32_t vlen, uint8_t *buf);

/* Applies transaction i (0-based index into w->txns) to db. Returns the
 * code of the commit (or of the first failing call). */
int wl_apply(ldb_db *db, const wl *w, uint32_t i);

/* Acceptance status of each transaction for wl_verify. */
#define WL_ABSENT 0  /* never attempted: must be absent */
#define WL_PRESENT 1 /* acknowledged and durable: must be present */
#define WL_MAYBE 2   /* attempted (unacknowledged, or not yet durable) */

/* Scans db and checks it equals the result of applying, in order, the
 * transactions whose markers are present, where the marker set honours
 * status[] (n entries) and, when prefix is set, is a prefix 1..P.
 * Returns LDB_OK, or LDB_CORRUPT with a description in msg; *survived
 * receives |S|. Engine errors during the scan are returned as they are. */
int wl_verify(ldb_db *db, const wl *w, const uint8_t *status, int prefix,
              uint32_t *survived, char *msg, size_t msg_cap);

/* Options used by the robustness tests: deterministic (no background
 * thread), small memtable and cache so checkpoints, evictions and
 * overflow pages happen within a short workload. */
void wl_options(ldb_options *o, ldb_store *store, int sync_mode,
                uint32_t page_size);

#endif

/* Runs transactions [from, to) of w on db, calling ldb_checkpoint after
 * every ckpt_every-th (0: never). Marks status[] (WL_PRESENT when a commit
 * returned LDB_OK and is durable in sync_mode, WL_MAYBE otherwise; in
 * NORMAL/OFF mode acknowledged commits become WL_PRESENT after a
 * successful checkpoint or flush). Stops at the first failing call and
 * returns its code (LDB_OK when all ran); *next receives the index of the
 * first transaction not attempted. */
int wl_run(ldb_db *db, const wl *w, uint32_t from, uint32_t to,
           uint32_t ckpt_every, int sync_mode, uint8_t *status, uint32_t *next);

/* Copies the named files (those that exist) from one store to another. */
void wl_copy_store(ldb_store *src, ldb_store *dst);
