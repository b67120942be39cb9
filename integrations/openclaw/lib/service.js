// The optional `trove serve` the plugin runs itself: with `command` in the
// config, the gateway's service start checks baseUrl and, when nothing
// answers there, starts the command and waits until trove answers; the
// service stop ends the process it started (SIGTERM, then SIGKILL). A trove
// that already answers is left alone and never stopped by us.
//
// The command runs in a process group of its own (`detached`), and every
// signal goes to the whole group: a wrapper (`["sh", "-c", "trove serve …"]`)
// is stopped together with the trove it started, which would otherwise
// outlive it, keep answering at baseUrl and be taken for a trove someone
// else runs at the next start. Being its own group, it no longer gets the
// terminal's Ctrl-C with the gateway; the gateway stops its services on
// SIGINT and SIGTERM, and when this process exits without that (an
// uncaught error, process.exit) its exit handler still sends SIGTERM.

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** @typedef {import("./config.js").PluginConfig} PluginConfig */
/** @typedef {{info: (m: string) => void, warn: (m: string) => void}} Logger */

const StopGraceMs = 10_000;
const KillWaitMs = 2_000;
const PollMs = 100;
const StderrTail = 4000;

/**
 * The process started for each baseUrl, so that the several registries
 * OpenClaw builds share one.
 * @type {Map<string, {proc: import("node:child_process").ChildProcess, stderr: () => string}>}
 */
const running = new Map();

/**
 * Sends sig to the process group led by pid (the started command and all it
 * started). False when no process of the group is left.
 * @param {number | undefined} pid @param {NodeJS.Signals | 0} sig
 */
export function signalGroup(pid, sig) {
  if (!pid) return false;
  try {
    process.kill(-pid, sig);
    return true;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === "ESRCH") return false;
    throw err;
  }
}

/**
 * Whether a process of the group led by pid still runs. A member that has
 * exited but is not reaped yet (a zombie: the orphaned trove of a wrapper
 * waits for init, or for the container's first process, to reap it) still
 * takes signals; on Linux /proc tells it apart and it does not count.
 * @param {number | undefined} pid
 */
export function groupAlive(pid) {
  if (!signalGroup(pid, 0)) return false;
  if (process.platform !== "linux") return true;
  try {
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      let stat;
      try { stat = readFileSync(`/proc/${d}/stat`, "utf8"); } catch { continue; }
      // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pid && state !== "Z" && state !== "X") return true;
    }
    return false;
  } catch {
    return true;
  }
}

/**
 * Waits until the command and every process of its group are gone, or ms.
 * True when they are.
 * @param {import("node:child_process").ChildProcess} proc @param {number} ms
 */
async function groupGone(proc, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const exited = proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined;
    if (exited && !groupAlive(proc.pid)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, exited ? PollMs / 2 : PollMs));
  }
}

let exitHookInstalled = false;

/**
 * When the gateway's process exits while a started trove runs (without its
 * service stop), SIGTERM goes to that trove's group: exit handlers run
 * synchronously, so it cannot wait for it.
 */
function stopAllOnExit() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const { proc } of running.values()) {
      try { signalGroup(proc.pid, "SIGTERM"); } catch { /* nothing to do at exit */ }
    }
  });
}

/**
 * Whether trove answers /healthz at baseUrl within ms.
 * @param {string} baseUrl @param {number} ms
 */
export async function answers(baseUrl, ms) {
  try {
    const res = await fetch(`${baseUrl.replace(/\/+$/, "")}/healthz`, { signal: AbortSignal.timeout(ms) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * The service OpenClaw starts with the gateway and stops with it.
 * @param {PluginConfig} config
 */
export function troveService(config) {
  return {
    id: "trove-serve",
    /** @param {{logger: Logger}} ctx */
    async start(ctx) {
      const have = running.get(config.baseUrl);
      if (have && have.proc.exitCode === null && have.proc.signalCode === null) return;
      if (await answers(config.baseUrl, 1000)) {
        ctx.logger.info(`trove: ${config.baseUrl} answers; not starting ${config.command[0]}`);
        return;
      }
      const [cmd, ...args] = config.command;
      // Its own process group, so that stop() reaches what it starts. Not
      // unref'd: the gateway waits for it like any child.
      const proc = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
      stopAllOnExit();
      let tail = "";
      proc.stderr?.on("data", (c) => { tail = (tail + c).slice(-StderrTail); });
      /** @type {Error | undefined} */
      let spawnError;
      proc.once("error", (err) => { spawnError = err; });
      const stderr = () => tail.trim();
      running.set(config.baseUrl, { proc, stderr });
      const deadline = Date.now() + config.commandStartTimeoutMs;
      while (!(await answers(config.baseUrl, 1000))) {
        if (spawnError || proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
          running.delete(config.baseUrl);
          // The group too: a wrapper that exited may have left its trove.
          signalGroup(proc.pid, "SIGKILL");
          const why = spawnError ? spawnError.message
            : proc.exitCode !== null || proc.signalCode !== null ? `it exited (${proc.exitCode ?? proc.signalCode})`
              : `it did not answer within ${config.commandStartTimeoutMs} ms`;
          throw new Error(`trove: started ${JSON.stringify(config.command)} for ${config.baseUrl} but ${why}${stderr() ? `: ${stderr()}` : ""}; check the plugin's command and baseUrl (the command must listen there)`);
        }
        await new Promise((r) => setTimeout(r, PollMs));
      }
      ctx.logger.info(`trove: started ${cmd} (pid ${proc.pid}); it answers at ${config.baseUrl}`);
    },
    /** @param {{logger: Logger}} ctx */
    async stop(ctx) {
      const have = running.get(config.baseUrl);
      running.delete(config.baseUrl);
      if (!have) return;
      const { proc } = have;
      // Even when the command itself has exited, what it started may not have.
      if (!signalGroup(proc.pid, "SIGTERM")) return;
      if (await groupGone(proc, StopGraceMs)) return;
      ctx.logger.warn(`trove: ${config.command[0]} (pid ${proc.pid}) did not stop within ${StopGraceMs} ms; killing its process group`);
      signalGroup(proc.pid, "SIGKILL");
      if (!(await groupGone(proc, KillWaitMs))) {
        ctx.logger.warn(`trove: process group ${proc.pid} of ${config.command[0]} is still there ${KillWaitMs} ms after SIGKILL`);
      }
    },
  };
}
