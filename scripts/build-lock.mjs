// scripts/build-lock.mjs — an exclusive lock for a build directory that
// several build scripts of one checkout write: `npm pack` (its prepack runs
// scripts/prebuild.mjs) and `npm test` (npm run addon:release) both build
// build/prebuild-<target> and write prebuilds/<target>; run at the same
// time, each configured, compiled and stripped over the other's files.
// Whoever takes the lock builds; the others wait for it, then go on.
//
// The lock is a file created exclusively (open with O_EXCL, 'wx') next to
// the directory (build/prebuild-linux-x64.lock), holding the holder's pid,
// host name, start time and what it builds. It is removed when the holder
// is done, also when the build throws. A holder killed before that (SIGKILL,
// a crash, Ctrl-C) leaves the file behind: a waiter on the same host sees
// that its pid is gone and removes it (stale). A file left half-written by
// a holder killed between create and write is stale once it is 10 s old.
// A holder on another host (a checkout on a network file system) cannot be
// checked: it is waited for, up to the time bound.
//
// Synchronous on purpose: prebuild() is called synchronously by
// scripts/pack.mjs and blocks in spawnSync for minutes. proper-lockfile is
// not a dependency here, and its lockSync neither waits (no retries) nor
// keeps its mtime heartbeat fresh while the event loop is blocked, so a
// long synchronous build would look stale to the other process.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

/** Blocks the thread for ms (no busy loop). */
function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Whether process pid exists on this host (EPERM: it does, not ours). */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** The lock file's text and its parsed holder (null: unreadable or
 * half-written); null text when the file is gone. */
function readHolder(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return { text: null, holder: null };
    throw e;
  }
  try {
    const h = JSON.parse(text);
    return { text, holder: Number.isInteger(h.pid) && typeof h.host === 'string' ? h : null };
  } catch {
    return { text, holder: null };
  }
}

/** Why the lock in `file` is stale, or null when its holder may be alive. */
function staleReason(file, holder) {
  if (holder === null) {
    try {
      return Date.now() - statSync(file).mtimeMs > 10_000 ? 'an unreadable lock file older than 10 s' : null;
    } catch {
      return null; // gone meanwhile: the next try creates it
    }
  }
  if (holder.host === hostname() && !alive(holder.pid)) return `its holder, pid ${holder.pid}, has ended without removing it`;
  return null;
}

/**
 * Takes the exclusive lock `file` (created with its directory when
 * missing), waiting while another live process holds it: at most
 * timeoutMs, then throws, naming the holder. `what` names the work in the
 * lock file and in the messages; `log` gets one line when it starts
 * waiting and one when it removes a stale lock. Returns release(), which
 * removes the file if it is still this holder's (idempotent).
 */
export function acquireLock(file, { what = 'build', timeoutMs = 60 * 60_000, pollMs = 200, log = (m) => console.error(m) } = {}) {
  mkdirSync(dirname(file), { recursive: true });
  const mine = `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), what })}\n`;
  const deadline = Date.now() + timeoutMs;
  let waited = false;
  for (;;) {
    let fd = -1;
    try {
      fd = openSync(file, 'wx');
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    if (fd >= 0) {
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (readHolder(file).text === mine) unlinkSync(file);
      };
    }
    const { text, holder } = readHolder(file);
    if (text === null) continue; // released meanwhile
    const reason = staleReason(file, holder);
    if (reason) {
      // Removed only if it is still the file judged stale (another waiter
      // may have replaced it by its own lock meanwhile).
      if (readHolder(file).text === text) {
        try {
          unlinkSync(file);
          log(`${what}: removed the stale lock ${file}: ${reason}`);
        } catch (e) {
          if (e.code !== 'ENOENT') throw e;
        }
      }
      continue;
    }
    const who = holder ? `pid ${holder.pid} on ${holder.host} (${holder.what}, since ${holder.since})` : 'a process that is starting';
    if (Date.now() >= deadline) {
      throw new Error(`${what}: ${file} is still held by ${who} after ${Math.round(timeoutMs / 1000)} s; ` +
        'if no such build runs, delete the file');
    }
    if (!waited) {
      log(`${what}: waiting for ${who}, which builds into the same directory (lock ${file})`);
      waited = true;
    }
    sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}

/** Runs fn() holding the lock `file` (see acquireLock) and returns its
 * result; the lock is released however fn ends. */
export function withLock(file, options, fn) {
  const release = acquireLock(file, options);
  try {
    return fn();
  } finally {
    release();
  }
}
