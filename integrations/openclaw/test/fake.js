// A fake trove: a local HTTP server that records each request and answers
// from a route table the test sets, and a fake OpenClaw api that records
// what the plugin registers.

import http from "node:http";

/**
 * @typedef {{method: string, path: string, query: Record<string, string[]>, headers: http.IncomingHttpHeaders, body: any}} Seen
 * @typedef {(req: Seen) => {status?: number, body?: unknown, delayMs?: number} | undefined} Route
 */

/** @param {Record<string, Route>} [routes] keyed "METHOD /path" */
export async function fakeTrove(routes = {}) {
  /** @type {Seen[]} */
  const seen = [];
  /** @type {Set<ReturnType<typeof setTimeout>>} */
  const timers = new Set();
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => { raw += c; });
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      /** @type {Record<string, string[]>} */
      const query = {};
      for (const [k, v] of url.searchParams) (query[k] ??= []).push(v);
      const one = { method: req.method ?? "", path: url.pathname, query, headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
      seen.push(one);
      const route = routes[`${one.method} ${one.path}`];
      const out = route ? route(one) : { status: 404, body: { error: { code: "not_found", message: `no route ${one.method} ${one.path}` } } };
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(out?.status ?? 200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(out?.body ?? {}));
      };
      if (out?.delayMs) timers.add(setTimeout(send, out.delayMs)); else send();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const addr = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${addr.port}`,
    seen,
    routes,
    close: () => new Promise((resolve) => { for (const t of timers) clearTimeout(t); server.closeAllConnections(); server.close(() => resolve(undefined)); }),
  };
}

/** A port nothing listens on. */
export async function deadUrl() {
  const s = http.createServer();
  await new Promise((resolve) => s.listen(0, "127.0.0.1", () => resolve(undefined)));
  const port = /** @type {import("node:net").AddressInfo} */ (s.address()).port;
  await new Promise((resolve) => s.close(() => resolve(undefined)));
  return `http://127.0.0.1:${port}`;
}

/** @param {Record<string, unknown>} pluginConfig */
export function fakeApi(pluginConfig) {
  /** @type {Map<string, (ctx: any) => any>} */
  const tools = new Map();
  /** @type {Map<string, {handler: Function, opts: any}>} */
  const hooks = new Map();
  /** @type {string[]} */
  const logs = [];
  /** @type {any[]} */
  const services = [];
  const api = {
    id: "trove",
    pluginConfig,
    registrationMode: "full",
    registerService: (/** @type {any} */ service) => { services.push(service); },
    logger: { debug: (/** @type {string} */ m) => logs.push(m), info: (/** @type {string} */ m) => logs.push(m), warn: (/** @type {string} */ m) => logs.push(m), error: (/** @type {string} */ m) => logs.push(m) },
    registerTool: (/** @type {any} */ factory, /** @type {any} */ opts) => { tools.set(opts.name, factory); },
    on: (/** @type {string} */ name, /** @type {Function} */ handler, /** @type {any} */ opts) => { hooks.set(name, { handler, opts }); },
  };
  return { api, tools, hooks, logs, services };
}

/** A memory as trove returns it. @param {Partial<import("../lib/format.js").Memory>} [m] */
export function mem(m = {}) {
  return {
    id: "3f2a9c1e-1111-4222-8333-444455556666", text: "We chose Postgres for billing", category: "decision", scope: "agent:main",
    importance: 0.7, created_at: Date.UTC(2026, 10, 5), updated_at: Date.UTC(2026, 10, 5), revision: 1, format: 1, metadata: {}, ...m,
  };
}
