// A small client of trove's REST API (`trove serve --http`). Every call
// resolves to a Result and never throws: a tool turns a failure into text,
// a hook into doing nothing.

/**
 * @typedef {object} ClientOptions
 * @property {string} baseUrl    trove's address, e.g. http://127.0.0.1:7777
 * @property {string} [token]    bearer token (a token for a set of agents, not the owner's)
 * @property {number} [timeoutMs] default time limit of one request (10000)
 * @property {typeof fetch} [fetch] for tests
 */

/**
 * @typedef {object} RequestOptions
 * @property {string} [agent]       sent as X-Trove-Agent: the agent the request acts as
 * @property {unknown} [body]       JSON body
 * @property {Record<string, string | number | boolean | string[] | undefined>} [query]
 * @property {number} [timeoutMs]   overrides the client's
 * @property {AbortSignal} [signal] cancels the request
 */

/**
 * @template T
 * @typedef {{ok: true, status: number, body: T} | {ok: false, status: number, code: string, message: string}} Result
 * status 0 means no HTTP answer (trove down, timeout, aborted).
 */

/** Codes of failures that happen before trove answers. */
export const CodeUnavailable = "unavailable";
export const CodeTimeout = "timeout";
export const CodeAborted = "aborted";

export class TroveClient {
  /** @param {ClientOptions} opts */
  constructor(opts) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.token = opts.token || "";
    this.timeoutMs = opts.timeoutMs ?? 10000;
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  /**
   * @template [T=any]
   * @param {string} method
   * @param {string} path  starting with /v1/
   * @param {RequestOptions} [opts]
   * @returns {Promise<Result<T>>}
   */
  async request(method, path, opts = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined || v === "") continue;
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(one));
    }
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (opts.agent) headers["X-Trove-Agent"] = opts.agent;
    let payload;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(opts.body);
    }
    const limit = opts.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(limit);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res;
    try {
      res = await this.fetch(url, { method, headers, body: payload, signal });
    } catch (err) {
      return fetchFailure(err, this.baseUrl, limit, timeout);
    }
    let text = "";
    try {
      text = await res.text();
    } catch (err) {
      return fetchFailure(err, this.baseUrl, limit, timeout);
    }
    /** @type {any} */
    let body;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = undefined;
    }
    if (res.ok && body !== undefined) return { ok: true, status: res.status, body };
    if (body && typeof body === "object" && body.error && typeof body.error.code === "string") {
      return { ok: false, status: res.status, code: body.error.code, message: String(body.error.message ?? "") };
    }
    if (res.status === 401) {
      return { ok: false, status: 401, code: "unauthorized", message: "trove refused the token: set the plugin's token (or TROVE_TOKEN) to one of the server's tokens" };
    }
    return { ok: false, status: res.status, code: res.ok ? "bad_response" : `http_${res.status}`, message: `trove answered ${res.status} with ${text ? "an unexpected body" : "no body"}: is ${this.baseUrl} trove?` };
  }
}

/**
 * @param {unknown} err
 * @param {string} baseUrl
 * @param {number} limit
 * @param {AbortSignal} timeout
 * @returns {{ok: false, status: 0, code: string, message: string}}
 */
function fetchFailure(err, baseUrl, limit, timeout) {
  if (timeout.aborted) {
    return { ok: false, status: 0, code: CodeTimeout, message: `trove at ${baseUrl} did not answer within ${limit} ms` };
  }
  const name = err instanceof Error ? err.name : "";
  if (name === "AbortError") {
    return { ok: false, status: 0, code: CodeAborted, message: "the request was cancelled" };
  }
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
  return { ok: false, status: 0, code: CodeUnavailable, message: `trove is not reachable at ${baseUrl} (${cause}): start it with \`trove serve --http 127.0.0.1:7777\` or set the plugin's baseUrl` };
}
