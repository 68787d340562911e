/*
 * hello.c — the C API in one page: open, put/get/delete, a write batch, a
 * transaction, a prefix scan, stats, close. Built by CMake as
 * `example_hello` and run by ctest; usage: example_hello [DIR].
 */
#include <stdio.h>
#include <string.h>

#include "lightningdb.h"

#define CHECK(call)                                                            \
  do {                                                                         \
    int rc_ = (call);                                                          \
    if (rc_ != LDB_OK) {                                                       \
      fprintf(stderr, "%s: %s (%s)\n", #call, ldb_code_name(rc_),              \
              ldb_errmsg(NULL));                                               \
      return 1;                                                                \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "./hello-db";
  ldb_options opts;
  ldb_options_default(&opts);
  opts.sync_mode = LDB_SYNC_FULL; /* each commit durable when it returns */

  ldb_db *db;
  CHECK(ldb_open(path, &opts, &db));

  CHECK(ldb_put(db, "hello", 5, "world", 5));
  char buf[64];
  size_t len;
  CHECK(ldb_get_buf(db, "hello", 5, buf, sizeof buf, &len));
  printf("hello -> %.*s\n", (int)len, buf);

  /* Several writes, applied atomically. */
  ldb_batch *b;
  CHECK(ldb_batch_create(db, &b));
  CHECK(ldb_batch_put(b, "user:1", 6, "Alice", 5));
  CHECK(ldb_batch_put(b, "user:2", 6, "Bob", 3));
  CHECK(ldb_batch_delete(b, "hello", 5));
  CHECK(ldb_write(db, b));
  ldb_batch_destroy(b);

  /* A read-write transaction; LDB_CONFLICT at commit means retry. */
  ldb_txn *txn;
  CHECK(ldb_txn_begin(db, 0, &txn));
  CHECK(ldb_txn_put(txn, "user:3", 6, "Charlie", 7));
  CHECK(ldb_txn_commit(txn)); /* ends txn in every case */

  /* Every key starting with "user:", in order. */
  ldb_iter_options io;
  memset(&io, 0, sizeof io);
  io.prefix = "user:";
  io.prefix_len = 5;
  ldb_iter *it;
  CHECK(ldb_iter_create(db, NULL, &io, &it));
  int rc;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    CHECK(ldb_iter_key(it, &k, &kl));
    CHECK(ldb_iter_value(it, &v, &vl));
    printf("%.*s = %.*s\n", (int)kl, (const char *)k, (int)vl, (const char *)v);
  }
  ldb_iter_destroy(it);
  if (rc != LDB_NOTFOUND) CHECK(rc);

  if (ldb_get_buf(db, "hello", 5, buf, sizeof buf, &len) == LDB_NOTFOUND)
    printf("hello is gone\n");

  ldb_stats st;
  CHECK(ldb_stats_get(db, &st));
  printf("commits: %llu, p99 commit latency: %.0f us\n",
         (unsigned long long)st.commits,
         ldb_hist_percentile(st.commit_latency, 99) / 1e3);
  CHECK(ldb_check(db));
  return ldb_close(db) == LDB_OK ? 0 : 1;
}
