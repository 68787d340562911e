/*
 * backup.c — ldb_backup: a consistent snapshot written as a new, compact
 * database, read through a public iterator while writers continue.
 */
#include <inttypes.h>

#include "iter.h"
#include "store.h"

/* LDB_OK when dst holds none of the engine's files with any bytes in them
 * (a file left empty by an interrupted create does not count); else
 * LDB_INVALID naming the file. The only definition of "the target already
 * holds a database": hosts do not check themselves. */
static int target_empty(ldb_store *dst) {
  const char *names[] = {BT_FILE_NAME, "feed.head", wal_names[0], wal_names[1]};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    ldb_file *f = NULL;
    int rc = ldb_fopen(dst, names[i], 0, &f);
    if (rc == LDB_NOTFOUND) continue;
    if (rc)
      return ldb_err(rc, "backup: cannot inspect the target's %s: %s", names[i],
                     ldb_strerror(rc));
    uint64_t sz = 0;
    rc = ldb_fsize(f, &sz);
    ldb_fclose(f);
    if (rc)
      return ldb_err(rc, "backup: cannot inspect the target's %s: %s", names[i],
                     ldb_strerror(rc));
    if (sz)
      return ldb_err(LDB_INVALID,
                     "backup: the target already holds a database (%s has "
                     "%" PRIu64 " bytes); back up into an empty location",
                     names[i], sz);
  }
  return LDB_OK;
}

int ldb_backup_to_store(ldb_db *db, ldb_store *dst) {
  int rc = check_db(db), created = 0;
  if (rc) return rc;
  if (!dst) return ldb_err(LDB_INVALID, "backup: target store is NULL");
  eng *e = db->e;
  if (dst == e->store || (dst->id && e->id && !strcmp(dst->id, e->id)))
    return ldb_err(LDB_INVALID, "backup: the target is the database itself");
  char holder[128] = "";
  bt_file *bf = NULL;
  bt_merge *m = NULL;
  ldb_iter *it = NULL;
  int locked = 0;
  /* Checked before the lock too: a target holding a database is INVALID
   * whether or not that database is open (its lock would answer BUSY on
   * some stores and not on others), and again under the lock below. */
  if ((rc = target_empty(dst))) return rc;
  rc = dst->methods->lock(dst, 1, holder, sizeof holder);
  if (rc) {
    ldb_err(rc, "backup: target is locked by %s",
            holder[0] ? holder : "another user");
    goto out;
  }
  locked = 1;
  if ((rc = target_empty(dst))) goto out;
  bt_config cfg = {bt_page_size(e->bf),
                   16ull * bt_page_size(e->bf) + (8u << 20),
                   0,
                   e->opts.compression,
                   e->opts.compression_level,
                   1,
                   0,
                   e->a,
                   0,
                   NULL,
                   0};
  rc = bt_open(dst, &cfg, &bf, &created);
  if (rc) goto out;
  if (!created) {
    rc = ldb_err(LDB_INVALID, "backup: the target already holds a database");
    goto out;
  }
  /* No log: the copy's first open starts one after seq (the target holds
   * no log file with bytes in it, checked above). */
  rc = ldb_iter_create(db, NULL, NULL, &it);
  if (rc) goto out;
  uint64_t seq = iter_snap_seq(it);
  size_t chunk = 0;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    if ((rc = ldb_iter_key(it, &k, &kl)) || (rc = ldb_iter_value(it, &v, &vl)))
      goto out;
    if (!m && (rc = bt_merge_begin(bf, &m))) {
      m = NULL;
      goto out;
    }
    if ((rc = bt_merge_put(m, k, kl, v, vl))) goto out;
    chunk += kl + vl + 16;
    if (chunk >= (16u << 20)) {
      /* Bounded memory: commit in pieces; each is a consistent prefix. */
      rc = bt_merge_commit(m, seq);
      m = NULL;
      if (rc) goto out;
      chunk = 0;
    }
  }
  if (rc != LDB_NOTFOUND) goto out;
  if (!m && (rc = bt_merge_begin(bf, &m))) {
    m = NULL;
    goto out;
  }
  rc = bt_merge_commit(m, seq);
  m = NULL;
  /* Once more, empty: both meta pages then name the whole copy, so a
   * damaged newer one falls back to the same tree, never to a chunk. */
  if (!rc && !(rc = bt_merge_begin(bf, &m))) {
    rc = bt_merge_commit(m, seq);
    m = NULL;
  }
out:
  ldb_iter_destroy(it);
  if (m) bt_merge_abort(m);
  if (bf) bt_close(bf);
  if (locked) dst->methods->unlock(dst);
  return rc;
}

int ldb_backup(ldb_db *db, const char *path) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!path || !*path) return ldb_err(LDB_INVALID, "backup: path is empty");
  ldb_store *s = NULL;
  rc = ldb_store_default(path, 1, &s);
  if (rc) return rc;
  rc = ldb_backup_to_store(db, s);
  ldb_store_destroy(s);
  return rc;
}
