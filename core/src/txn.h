/*
 * txn.h — a transaction's state (txn.c): its snapshot, write buffer and
 * read set. Iterators (iter.c) read a transaction's snapshot and buffer and
 * record what they visit in its read set.
 */
#ifndef LDB_TXN_H
#define LDB_TXN_H

#include "engine.h"

struct ldb_txn {
  ldb_child node; /* in db's children; node.dead once invalidated */
  ldb_db *db;
  eng *e; /* not to be used once node.dead */
  const ldb_allocator *a;
  unsigned flags;
  snap s;
  mt *wb; /* buffered writes: seq = op counter; NULL when none */
  uint64_t wb_ops;
  uint64_t wb_kv; /* key+value bytes of the newest versions (upper bound) */
  uint8_t *rs;    /* read set: [u32 klen][key]... */
  size_t rs_len, rs_cap;
  int iters; /* live (not invalidated) iterators on this transaction */
};

/* Records a key in a read-write transaction's read set. */
int txn_note_read(ldb_txn *t, const void *key, size_t klen);

#endif /* LDB_TXN_H */
