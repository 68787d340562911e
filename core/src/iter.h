/*
 * iter.h — what the engine needs of iterators (iter.c) beyond the public
 * API: the sequence number of an iterator's snapshot (backup tags its copy
 * with it).
 */
#ifndef LDB_ITER_H
#define LDB_ITER_H

#include "engine.h"

/* The sequence number of an iterator's snapshot. */
uint64_t iter_snap_seq(const ldb_iter *it);

#endif /* LDB_ITER_H */
