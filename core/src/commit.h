/*
 * commit.h — the commit path (commit.c): one commit at a time appends to the
 * log and inserts into the memtable under a new seq; durability follows the
 * sync mode. Callers that must validate (transactions) pass a callback run
 * under the commit mutex, so this layer knows nothing of transactions.
 */
#ifndef LDB_COMMIT_H
#define LDB_COMMIT_H

#include "engine.h"

/* Called with commit_mu held before the log append; a non-zero return
 * (e.g. LDB_CONFLICT) refuses the commit and nothing is applied. */
typedef int (*eng_validate_fn)(void *ctx);

/* One commit's writes, as every path (single op, batch, transaction)
 * hands them to the commit path. */
typedef struct eng_ops {
  const uint8_t *ops; /* log-format ops (wal_op_encode), len bytes */
  size_t len;
  uint32_t nops;  /* ops in the record */
  uint32_t nputs; /* of which puts; the rest are deletes */
  size_t kv;      /* key+value bytes */
} eng_ops;

/* Commits w as one atomic commit and counts it (commits, puts, deletes:
 * the only place write statistics are counted, so every path counts the
 * same way). validate may be NULL. Returns LDB_OK once the commit is
 * durable per the sync mode. */
int eng_commit(eng *e, const eng_ops *w, eng_validate_fn validate, void *ctx);

/* Scratch for apply_ops (NULL: apply unsorted); free with ldb_mfree. */
void *sort_scratch(eng *e, uint32_t nops);

/* Inserts a committed batch of ops into m under one seq (also used by
 * recovery to replay the log). */
void apply_ops(mt *m, uint64_t seq, const uint8_t *ops, size_t len,
               uint32_t nops, void *scratch);

#endif /* LDB_COMMIT_H */
