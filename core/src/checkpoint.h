/*
 * checkpoint.h — memtable freezes and checkpoints (checkpoint.c): the
 * bounded merge step, the freeze that starts a checkpoint, and the
 * background thread that runs them. Knows nothing of commits or
 * transactions.
 */
#ifndef LDB_CHECKPOINT_H
#define LDB_CHECKPOINT_H

#include "engine.h"

/* Runs up to budget keys of the pending checkpoint. *more: work remains.
 * On failure the merge is discarded and retried later from the start. */
int ckpt_run(eng *e, uint64_t budget, int *more);

/* Freezes the active memtable and syncs the log; commit_mu held. With
 * force 0, a recent failure postpones the attempt. */
int eng_freeze(eng *e, int force);

/* Starts the background thread (NORMAL-mode syncs and checkpoints) and
 * sets e->threaded; stops and joins it (nothing when not started). */
int ckpt_thread_start(eng *e);
void ckpt_thread_stop(eng *e);

#endif /* LDB_CHECKPOINT_H */
