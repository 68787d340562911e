/*
 * events.h — the engine's bounded event ring (events.c): what the public
 * ldb_events_read() returns. Engine code records with ev_record() at the
 * few places events happen (checkpoint install, background errors, CONFLICT
 * and BUSY refusals, slow commits and log syncs); it never allocates and
 * never fails, so a hook cannot change an operation's outcome.
 */
#ifndef LDB_EVENTS_H
#define LDB_EVENTS_H

#include <stdatomic.h>

#include "lightningdb.h"

typedef struct eng eng;

/* Embedded in struct eng; all zero is the empty ring (no init needed). */
typedef struct ev_ring {
  _Atomic int lock;  /* a spin lock: held for a copy of a few events */
  uint64_t next_seq; /* seq of the newest event (0: none yet) */
  ldb_event ev[LDB_EVENT_RING];
} ev_ring;

/* Records an event (or folds it into the newest one, for burst types). */
void ev_record(eng *e, int type, int code, uint64_t value);
/* A log sync that began at t0 (ldb_now_ns()) just ended: records a
 * SYNC_STALL when it took over LDB_EVENT_STALL_NS. */
void ev_sync_done(eng *e, uint64_t t0);
/* The background error changed from old to rc (set_bg_error). */
void ev_bg_error(eng *e, int old, int rc);

#endif /* LDB_EVENTS_H */
