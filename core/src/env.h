/*
 * env.h — the environment seam inside the core: the default env and the
 * check of a caller's env (env.c). The seam itself, ldb_env, is public
 * (lightningdb.h); the engine reads its clock through eng_now (engine.h).
 */
#ifndef LDB_ENV_H
#define LDB_ENV_H

#include "util.h"

/* LDB_OK for NULL (the default) or a complete env; LDB_INVALID naming
 * what is missing otherwise. */
int env_check(const ldb_env *env);

/* Reads env's monotonic clock. */
static inline uint64_t env_now(const ldb_env *env) {
  return env->now_ns(env->ctx);
}

#endif /* LDB_ENV_H */
