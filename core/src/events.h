/*
 * events.h — a bounded event ring (events.c): what the public
 * ldb_events_read() returns. The engine embeds one and records through
 * ev_record() (engine.h) at the few places events happen (checkpoint
 * install, background errors, CONFLICT and BUSY refusals, slow commits,
 * reads and log syncs); recording never allocates and never fails, so a hook
 * cannot change an operation's outcome. The ring knows nothing of the engine.
 */
#ifndef LDB_EVENTS_H
#define LDB_EVENTS_H

#include <stdatomic.h>

#include "lightningdb.h"

/* Embedded in struct eng; all zero is the empty ring (no init needed). */
typedef struct ev_ring {
  _Atomic int lock;  /* a spin lock: held for a copy of a few events */
  uint64_t next_seq; /* seq of the newest event (0: none yet) */
  ldb_event ev[LDB_EVENT_RING];
} ev_ring;

/* Records an event that happened at now (ns since the engine opened), or
 * folds it into the newest one, for burst types. */
void ev_ring_record(ev_ring *r, uint64_t now, int type, int code,
                    uint64_t value);
/* Copies the events after seq `after` still in the ring, oldest first, at
 * most cap of them, into out; returns how many. */
size_t ev_ring_read(ev_ring *r, uint64_t after, ldb_event *out, size_t cap);

#endif /* LDB_EVENTS_H */
