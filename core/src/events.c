/*
 * events.c — the event ring: a fixed array of the newest LDB_EVENT_RING
 * events under a spin lock, and the names of event types. Owns nothing
 * else: the engine decides what is an event and when (ev_record and its
 * kin in engine.c), stats.c serves ldb_events_read().
 *
 * Bursts: SLOW_COMMIT, SLOW_READ, SYNC_STALL, CONFLICT and BUSY fold into
 * the newest
 * event when it has the same type and code and its last occurrence is
 * under LDB_EVENT_BURST_NS old, so a storm of refused commits is one entry
 * with a count rather than a flushed ring.
 */
#include <string.h>

#include "events.h"
#include "util.h"

static void ring_lock(ev_ring *r) {
  while (atomic_exchange_explicit(&r->lock, 1, memory_order_acquire)) {
  }
}

static void ring_unlock(ev_ring *r) {
  atomic_store_explicit(&r->lock, 0, memory_order_release);
}

static int bursts(int type) {
  return type == LDB_EVENT_SLOW_COMMIT || type == LDB_EVENT_SLOW_READ ||
         type == LDB_EVENT_SYNC_STALL || type == LDB_EVENT_CONFLICT ||
         type == LDB_EVENT_BUSY;
}

void ev_ring_record(ev_ring *r, uint64_t now, int type, int code,
                    uint64_t value) {
  ring_lock(r);
  if (r->next_seq > 0 && bursts(type)) {
    ldb_event *last = &r->ev[(r->next_seq - 1) % LDB_EVENT_RING];
    if (last->type == type && last->code == code &&
        now - last->last_ns < LDB_EVENT_BURST_NS) {
      last->count++;
      last->last_ns = now;
      if (value > last->value) last->value = value;
      ring_unlock(r);
      return;
    }
  }
  ldb_event *ev = &r->ev[r->next_seq % LDB_EVENT_RING];
  r->next_seq++;
  ev->seq = r->next_seq;
  ev->time_ns = ev->last_ns = now;
  ev->count = 1;
  ev->value = value;
  ev->type = type;
  ev->code = code;
  ring_unlock(r);
}

size_t ev_ring_read(ev_ring *r, uint64_t after, ldb_event *out, size_t cap) {
  size_t n = 0;
  ring_lock(r);
  uint64_t newest = r->next_seq;
  uint64_t oldest = newest > LDB_EVENT_RING ? newest - LDB_EVENT_RING + 1 : 1;
  if (after < newest) {
    for (uint64_t s = after + 1 > oldest ? after + 1 : oldest;
         s <= newest && n < cap; s++)
      out[n++] = r->ev[(s - 1) % LDB_EVENT_RING];
  }
  ring_unlock(r);
  return n;
}

const char *ldb_event_name(int type) {
  static const char *const names[] = {
      "unknown",   "checkpoint", "slow_commit", "sync_stall", "error",
      "disk_full", "recovered",  "conflict",    "busy",       "slow_read"};
  if (type < 0 || (size_t)type >= sizeof names / sizeof names[0])
    return "unknown";
  return names[type];
}
