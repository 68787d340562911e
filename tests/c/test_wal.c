/*
 * test_wal.c — the write-ahead log: append and replay, checkpoint_seq
 * filtering, torn tails, crc flips, two logs in seq order with gaps, failed
 * appends that must leave the log usable, and the check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/store_faulty.h"
#include "wal.h"

typedef struct rec {
  uint64_t seqs[4096];
  int n;
  int bad;
  uint64_t seen; /* wal_recover's seen_seq */
} rec;

static int collect(void *ctx, uint64_t seq, const uint8_t *ops, size_t len,
                   uint32_t nops) {
  rec *r = ctx;
  const uint8_t *p = ops, *end = ops + len;
  for (uint32_t i = 0; i < nops; i++) {
    wal_op op;
    if (wal_op_decode(&p, end, &op)) r->bad = 1;
    /* key "k<seq>-<i>", value "v<seq>" (puts) */
    char k[32], v[32];
    int kl = snprintf(k, sizeof k, "k%llu-%u", (unsigned long long)seq, i);
    int vl = snprintf(v, sizeof v, "v%llu", (unsigned long long)seq);
    if (op.klen != (uint32_t)kl || memcmp(op.key, k, kl)) r->bad = 1;
    if (op.type == WAL_PUT &&
        (op.vlen != (uint32_t)vl || memcmp(op.val, v, vl)))
      r->bad = 1;
  }
  if (p != end) r->bad = 1;
  if (r->n < 4096) r->seqs[r->n++] = seq;
  return LDB_OK;
}

static int append(wal *w, uint64_t seq, uint32_t nops) {
  uint8_t buf[4096], *p = buf;
  for (uint32_t i = 0; i < nops; i++) {
    char k[32], v[32];
    int kl = snprintf(k, sizeof k, "k%llu-%u", (unsigned long long)seq, i);
    int vl = snprintf(v, sizeof v, "v%llu", (unsigned long long)seq);
    p = wal_op_encode(p, (i % 3 == 2) ? WAL_DEL : WAL_PUT, k, (uint32_t)kl, v,
                      (uint32_t)vl);
  }
  return wal_append(w, seq, buf, (size_t)(p - buf), nops);
}

static wal *open_wal(ldb_store *s) {
  wal *w;
  assert_int_equal(wal_open(s, NULL, 0, &w), LDB_OK);
  return w;
}

static rec *recover(ldb_store *s, uint64_t ckpt, uint64_t *last, int *dirty) {
  static rec r;
  memset(&r, 0, sizeof r);
  wal *w = open_wal(s);
  assert_int_equal(wal_recover(w, ckpt, collect, &r, last, &r.seen, dirty),
                   LDB_OK);
  wal_close(w);
  assert_int_equal(r.bad, 0);
  return &r;
}

static void test_append_replay(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  wal *w = open_wal(s);
  for (uint64_t q = 1; q <= 100; q++)
    assert_int_equal(append(w, q, 1 + q % 5), LDB_OK);
  assert_int_equal(wal_sync(w), LDB_OK);
  assert_int_equal(wal_check(w), LDB_OK);
  assert_true(wal_size(w) > 100 * WAL_HDR);
  wal_close(w);
  uint64_t last;
  int dirty;
  rec *r = recover(s, 0, &last, &dirty);
  assert_int_equal(r->n, 100);
  assert_int_equal(last, 100);
  assert_int_equal(dirty, 1);
  for (int i = 0; i < 100; i++)
    assert_int_equal(r->seqs[i], (uint64_t)i + 1);
  /* only records after the checkpoint are replayed */
  r = recover(s, 60, &last, &dirty);
  assert_int_equal(r->n, 40);
  assert_int_equal(r->seqs[0], 61);
  assert_int_equal(last, 100);
  /* a checkpoint past everything replays nothing */
  r = recover(s, 100, &last, &dirty);
  assert_int_equal(r->n, 0);
  assert_int_equal(last, 100);
  /* reset empties both logs */
  w = open_wal(s);
  assert_int_equal(wal_reset(w), LDB_OK);
  assert_int_equal(wal_size(w), 0);
  wal_close(w);
  r = recover(s, 0, &last, &dirty);
  assert_int_equal(r->n, 0);
  assert_int_equal(dirty, 0);
  ldb_store_destroy(s);
}

static uint64_t file_size(ldb_store *s, const char *name) {
  ldb_file *f;
  uint64_t sz;
  assert_int_equal(ldb_fopen(s, name, 0, &f), LDB_OK);
  assert_int_equal(ldb_fsize(f, &sz), LDB_OK);
  ldb_fclose(f);
  return sz;
}

static void test_torn_tail_and_crc(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  wal *w = open_wal(s);
  for (uint64_t q = 1; q <= 50; q++)
    assert_int_equal(append(w, q, 2), LDB_OK);
  wal_close(w);
  uint64_t sz = file_size(s, "wal-0.log"), last;
  int dirty;
  /* cut the last record in half */
  ldb_file *f;
  assert_int_equal(ldb_fopen(s, "wal-0.log", 0, &f), LDB_OK);
  assert_int_equal(ldb_ftruncate(f, sz - 10), LDB_OK);
  ldb_fclose(f);
  rec *r = recover(s, 0, &last, &dirty);
  assert_int_equal(r->n, 49);
  assert_int_equal(last, 49);
  assert_int_equal(r->seen, 49); /* a torn tail is no hole */
  /* flip one byte inside record 20: replay stops at 19 */
  uint64_t off = 0;
  uint8_t h[WAL_HDR];
  assert_int_equal(ldb_fopen(s, "wal-0.log", 0, &f), LDB_OK);
  for (int i = 1; i < 20; i++) {
    assert_int_equal(ldb_fread_full(f, off, h, WAL_HDR), LDB_OK);
    off += WAL_HDR + ldb_get32(h);
  }
  uint8_t b;
  assert_int_equal(ldb_fread_full(f, off + WAL_HDR + 3, &b, 1), LDB_OK);
  b ^= 0x40;
  assert_int_equal(ldb_fwrite(f, off + WAL_HDR + 3, &b, 1), LDB_OK);
  ldb_fclose(f);
  r = recover(s, 0, &last, &dirty);
  assert_int_equal(r->n, 19);
  assert_int_equal(last, 19);
  /* the check reports the damage */
  w = open_wal(s);
  uint64_t e, fi, la, si;
  assert_int_equal(wal_scan_file(w, 0, NULL, NULL, &e, &fi, &la, &si), LDB_OK);
  assert_int_equal(e, off);
  assert_int_equal(la, 19);
  wal_close(w);
  ldb_store_destroy(s);
}

static void test_two_logs(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  wal *w = open_wal(s);
  for (uint64_t q = 1; q <= 30; q++)
    assert_int_equal(append(w, q, 1), LDB_OK);
  assert_int_equal(wal_switch(w), LDB_OK); /* now wal-1 */
  for (uint64_t q = 31; q <= 45; q++)
    assert_int_equal(append(w, q, 1), LDB_OK);
  assert_int_equal(wal_check(w), LDB_OK);
  wal_close(w);
  uint64_t last;
  int dirty;
  rec *r = recover(s, 0, &last, &dirty);
  assert_int_equal(r->n, 45);
  assert_int_equal(last, 45);
  for (int i = 0; i < 45; i++)
    assert_int_equal(r->seqs[i], (uint64_t)i + 1);
  r = recover(s, 30, &last, &dirty);
  assert_int_equal(r->n, 15);
  assert_int_equal(r->seqs[0], 31);
  /* older log loses its tail: the newer log is not contiguous and is not
   * replayed (a crash never yields a hole in the history) */
  uint64_t sz = file_size(s, "wal-0.log");
  ldb_file *f;
  assert_int_equal(ldb_fopen(s, "wal-0.log", 0, &f), LDB_OK);
  assert_int_equal(ldb_ftruncate(f, sz - 1), LDB_OK);
  ldb_fclose(f);
  r = recover(s, 0, &last, &dirty);
  assert_int_equal(r->n, 29);
  assert_int_equal(last, 29);
  /* ... but the records beyond the hole are reported, so the engine can
   * tell a hole from a torn tail */
  assert_int_equal(r->seen, 45);
  r = recover(s, 28, &last, &dirty);
  assert_int_equal(r->n, 1);
  assert_int_equal(last, 29);
  assert_int_equal(r->seen, 45);
  /* switch back: wal-0 is truncated and reused; old records in wal-1 are
   * then the older generation */
  w = open_wal(s);
  assert_int_equal(wal_reset(w), LDB_OK);
  for (uint64_t q = 1; q <= 5; q++)
    assert_int_equal(append(w, q, 1), LDB_OK);
  assert_int_equal(wal_switch(w), LDB_OK);
  for (uint64_t q = 6; q <= 8; q++)
    assert_int_equal(append(w, q, 1), LDB_OK);
  assert_int_equal(wal_switch(w), LDB_OK); /* back to wal-0 */
  for (uint64_t q = 9; q <= 10; q++)
    assert_int_equal(append(w, q, 1), LDB_OK);
  wal_close(w);
  r = recover(s, 5, &last, &dirty);
  assert_int_equal(r->n, 5);
  assert_int_equal(r->seqs[0], 6);
  assert_int_equal(last, 10);
  ldb_store_destroy(s);
}

static void test_failed_append(void **st) {
  (void)st;
  ldb_store *mem, *s;
  assert_int_equal(ldb_store_memory(&mem), LDB_OK);
  assert_int_equal(ldb_store_faulty(mem, &s), LDB_OK);
  wal *w = open_wal(s);
  for (uint64_t q = 1; q <= 10; q++)
    assert_int_equal(append(w, q, 50), LDB_OK);
  ldb_faulty_fail_nth(s, 1, LDB_FAULT_WRITE, LDB_FULL, 0);
  assert_int_equal(append(w, 11, 50), LDB_FULL);
  ldb_faulty_fail_nth(s, 1, LDB_FAULT_WRITE, LDB_IOERR, 0);
  assert_int_equal(append(w, 11, 50), LDB_IOERR);
  /* the next append reuses the seq and the offset */
  assert_int_equal(append(w, 11, 3), LDB_OK);
  assert_int_equal(append(w, 12, 3), LDB_OK);
  assert_int_equal(wal_sync(w), LDB_OK);
  assert_int_equal(wal_check(w), LDB_OK);
  wal_close(w);
  uint64_t last;
  int dirty;
  rec *r = recover(s, 0, &last, &dirty);
  assert_int_equal(r->n, 12);
  assert_int_equal(last, 12);
  ldb_store_destroy(s);
  ldb_store_destroy(mem);
}

static void test_op_decode(void **st) {
  (void)st;
  uint8_t buf[64];
  uint8_t *e = wal_op_encode(buf, WAL_PUT, "key", 3, "val", 3);
  assert_int_equal(e - buf, (long)wal_op_size(3, 3));
  const uint8_t *p = buf;
  wal_op op;
  assert_int_equal(wal_op_decode(&p, e, &op), LDB_OK);
  assert_int_equal(op.klen, 3);
  assert_memory_equal(op.val, "val", 3);
  p = buf;
  assert_int_equal(wal_op_decode(&p, e - 1, &op), LDB_CORRUPT);
  buf[0] = 9;
  p = buf;
  assert_int_equal(wal_op_decode(&p, e, &op), LDB_CORRUPT);
  /* the empty key is a key: it round-trips */
  const uint8_t *e0 = wal_op_encode(buf, WAL_PUT, "", 0, "val", 3);
  p = buf;
  assert_int_equal(wal_op_decode(&p, e0, &op), LDB_OK);
  assert_int_equal(op.klen, 0);
  assert_int_equal(op.vlen, 3);
  assert_ptr_equal(p, e0);
  ldb_put32(buf + 1, LDB_MAX_KEY_SIZE + 1); /* oversized key */
  p = buf;
  assert_int_equal(wal_op_decode(&p, e, &op), LDB_CORRUPT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_replay),
      cmocka_unit_test(test_torn_tail_and_crc),
      cmocka_unit_test(test_two_logs),
      cmocka_unit_test(test_failed_append),
      cmocka_unit_test(test_op_decode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
