// The optional `trove serve` the plugin runs itself: with `command` in the
// config, the gateway's service start checks baseUrl and, when nothing
// answers there, starts the command and waits until trove answers; the
// service stop ends the process it started (SIGTERM, then SIGKILL). A trove
// that already answers is left alone and never stopped by us.

import { spawn } from "node:child_process";

/** @typedef {import("./config.js").PluginConfig} PluginConfig */
/** @typedef {{info: (m: string) => void, warn: (m: string) => void}} Logger */

const StopGraceMs = 10_000;
const PollMs = 100;
const StderrTail = 4000;

/**
 * The process started for each baseUrl, so that the several registries
 * OpenClaw builds share one.
 * @type {Map<string, {proc: import("node:child_process").ChildProcess, stderr: () => string}>}
 */
const running = new Map();

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
      const proc = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
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
          if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
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
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => {
        ctx.logger.warn(`trove: ${config.command[0]} (pid ${proc.pid}) did not stop within ${StopGraceMs} ms; killing it`);
        proc.kill("SIGKILL");
      }, StopGraceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
