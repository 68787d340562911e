/*
 * env.c — the system's environment (ldb_env_default): CLOCK_MONOTONIC, the
 * real-time clock, POSIX threads and a wake-up event made of a mutex, a
 * condition variable on CLOCK_MONOTONIC and a flag (on Windows the same
 * through util.c's QueryPerformanceCounter, SRW locks and condition
 * variables, whose timed waits are relative); and the check of an env a
 * caller passes in ldb_options. The engine reaches clocks and threads
 * only through an ldb_env (engine.h, eng_now); the primitives used here are
 * util.h's, which nothing above this file calls for time or threads.
 *
 * In a build without threads (LDB_NO_THREADS, the WebAssembly build) the
 * default env has clocks only: thread_start is NULL, so every engine runs
 * its checkpoints in bounded steps.
 */
#include "env.h"

static uint64_t sys_now_ns(void *ctx) {
  (void)ctx;
  return ldb_now_ns();
}

static uint64_t sys_wall_ms(void *ctx) {
  (void)ctx;
  return ldb_wall_ms();
}

#ifndef LDB_NO_THREADS
/* The thread handle: the system thread and what it runs. */
typedef struct sys_thread {
  ldb_thread t;
  void (*fn)(void *);
  void *arg;
} sys_thread;

static void *sys_trampoline(void *p) {
  sys_thread *st = p;
  st->fn(st->arg);
  return NULL;
}

static int sys_thread_start(void *ctx, void (*fn)(void *), void *arg,
                            void **thread) {
  (void)ctx;
  sys_thread *st = ldb_calloc(NULL, sizeof *st);
  if (!st) return ldb_err(LDB_NOMEM, "out of memory starting a thread");
  st->fn = fn;
  st->arg = arg;
  int rc = ldb_thread_start(&st->t, sys_trampoline, st);
  if (rc) {
    ldb_mfree(NULL, st);
    return rc;
  }
  *thread = st;
  return LDB_OK;
}

static void sys_thread_join(void *ctx, void *thread) {
  (void)ctx;
  sys_thread *st = thread;
  ldb_thread_join(st->t);
  ldb_mfree(NULL, st);
}

typedef struct sys_event {
  ldb_mutex mu;
  ldb_cond cv; /* on CLOCK_MONOTONIC, the clock of sys_now_ns */
  int signalled;
} sys_event;

static int sys_event_create(void *ctx, void **ev) {
  (void)ctx;
  sys_event *e = ldb_calloc(NULL, sizeof *e);
  if (!e) return ldb_err(LDB_NOMEM, "out of memory for a wake-up event");
  ldb_mutex_init(&e->mu);
  ldb_cond_init(&e->cv);
  *ev = e;
  return LDB_OK;
}

static void sys_event_signal(void *ctx, void *ev) {
  (void)ctx;
  sys_event *e = ev;
  ldb_mutex_lock(&e->mu);
  e->signalled = 1;
  ldb_cond_signal(&e->cv);
  ldb_mutex_unlock(&e->mu);
}

static void sys_sleep_until(void *ctx, void *ev, uint64_t deadline_ns) {
  (void)ctx;
  sys_event *e = ev;
  ldb_mutex_lock(&e->mu);
  while (!e->signalled) {
    uint64_t now = ldb_now_ns();
    if (now >= deadline_ns) break;
    ldb_cond_timedwait(&e->cv, &e->mu, deadline_ns - now);
  }
  e->signalled = 0;
  ldb_mutex_unlock(&e->mu);
}

static void sys_event_destroy(void *ctx, void *ev) {
  (void)ctx;
  sys_event *e = ev;
  ldb_cond_destroy(&e->cv);
  ldb_mutex_destroy(&e->mu);
  ldb_mfree(NULL, e);
}

static const ldb_env sys_env = {
    NULL,
    sys_now_ns,
    sys_wall_ms,
    sys_thread_start,
    sys_thread_join,
    sys_event_create,
    sys_event_signal,
    sys_sleep_until,
    sys_event_destroy,
};
#else
static const ldb_env sys_env = {
    NULL, sys_now_ns, sys_wall_ms, NULL, NULL, NULL, NULL, NULL, NULL,
};
#endif

const ldb_env *ldb_env_default(void) {
  return &sys_env;
}

int env_check(const ldb_env *env) {
  if (!env) return LDB_OK;
  if (!env->now_ns || !env->wall_ms)
    return ldb_err(LDB_INVALID, "ldb_options.env: now_ns and wall_ms are "
                                "required");
  if (env->thread_start &&
      (!env->thread_join || !env->event_create || !env->event_signal ||
       !env->sleep_until || !env->event_destroy))
    return ldb_err(LDB_INVALID,
                   "ldb_options.env: with thread_start, thread_join, "
                   "event_create, event_signal, sleep_until and "
                   "event_destroy are required too");
  return LDB_OK;
}
