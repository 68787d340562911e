// scripts/step-runner.mjs — runs one step of `npm test` (scripts/test.mjs)
// as a child process with a bound on its time.
//
// The child leads a process group of its own (spawn's `detached`), so a
// step that outlives its limit is ended together with everything it
// started — mocha and the servers, browsers and workers of its tests —
// first with SIGTERM, then, after a grace period, with SIGKILL. The step
// then counts as failed with a message saying so. Without the bound one
// hung step (mocha waiting on a handle a failed `after` hook left open)
// kept CI waiting forever.
//
// The result is settled when the child's output ends, or, once the child
// has exited, at most SETTLE_MS later: a grandchild that keeps the output
// pipe open (a server left running) does not hold the runner after the
// step's own process is gone; the runner then ends that group too.
//
// Ctrl-C (SIGINT) or SIGTERM to the runner ends the running steps' groups
// before the runner exits, since a detached group does not get the
// terminal's signals.
import { spawn } from 'node:child_process';

const SETTLE_MS = 5000;
const running = new Set(); // process group ids of steps under way
let signalsHooked = false;

/** "0.8", "12.5", "600": seconds for messages. */
export function seconds(ms) {
  return ms < 60_000 ? String(Math.round(ms / 100) / 10) : String(Math.round(ms / 1000));
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already
  }
}

function hookSignals() {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      for (const pid of running) killGroup(pid, 'SIGKILL');
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

/**
 * Runs `cmd args` in `cwd` with `env` added to the environment, streaming
 * its output to `out` / `err` (default: this process's), and resolves
 * { code, output, timedOut, ms }: code is the exit status (128 + n for a
 * signal, 127 when it could not start); timedOut is true when timeoutMs
 * (0: no limit) passed first and the step's process group was killed.
 * graceMs: how long SIGTERM gets before SIGKILL.
 */
export function runStep(cmd, args, { cwd, env = {}, timeoutMs = 0, graceMs = 10_000, out = process.stdout, err = process.stderr } = {}) {
  hookSignals();
  const started = Date.now();
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    let settled = false;
    const timers = [];
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pid = child.pid;
    if (pid) running.add(pid);
    const finish = (code) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      if (pid) {
        running.delete(pid);
        // Whatever the step left behind in its group (a server, a browser)
        // goes with it.
        killGroup(pid, 'SIGKILL');
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (timedOut) {
        const note = `\nstep timed out after ${seconds(timeoutMs)} s: its process group was killed\n`;
        output += note;
        err.write(note);
      }
      resolve({ code: timedOut && code === 0 ? 1 : code, output, timedOut, ms: Date.now() - started });
    };
    child.stdout.on('data', (d) => { output += d; out.write(d); });
    child.stderr.on('data', (d) => { output += d; err.write(d); });
    child.on('error', (e) => {
      output += `\n${e.message}`;
      finish(127);
    });
    let exitCode = null;
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : 1);
      // The output may stay open in a grandchild: settle soon regardless.
      timers.push(setTimeout(() => finish(exitCode), SETTLE_MS));
    });
    child.on('close', (code, signal) => finish(exitCode ?? code ?? (signal ? 128 : 1)));
    if (timeoutMs > 0 && pid) {
      timers.push(setTimeout(() => {
        timedOut = true;
        killGroup(pid, 'SIGTERM');
        timers.push(setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs));
        // Settle even when nothing in the group reacts (unkillable, or
        // output held open elsewhere).
        timers.push(setTimeout(() => finish(exitCode ?? 137), graceMs + SETTLE_MS));
      }, timeoutMs));
    }
  });
}
