// The plugin's config: its block in openclaw.json (plugins.entries.<id>.config),
// then TROVE_URL / TROVE_TOKEN, then defaults. OpenClaw has already checked the
// block against openclaw.plugin.json's configSchema; this only fills defaults
// and clamps numbers to the ranges memory-lancedb-pro used.

/**
 * @typedef {object} PluginConfig
 * @property {string} baseUrl
 * @property {string} token
 * @property {number} timeoutMs               one tool request
 * @property {boolean} autoRecall
 * @property {number} autoRecallMaxItems
 * @property {number} autoRecallMaxChars
 * @property {number} autoRecallMinLength     0: leave the gate to trove
 * @property {number} autoRecallTimeoutMs      trove's recall budget (its autoRecall.timeout); the hook waits 500 ms more
 * @property {number} autoRecallMaxQueryLength
 * @property {string[]} autoRecallIncludeAgents
 * @property {string[]} autoRecallExcludeAgents
 * @property {boolean} autoCapture
 * @property {boolean} captureAssistant
 * @property {boolean} enableManagementTools
 * @property {string[]} command               argv of a trove serve to start when nothing answers at baseUrl ([]: none)
 * @property {number} commandStartTimeoutMs   how long that trove may take to answer
 */

export const DefaultBaseUrl = "http://127.0.0.1:7777";

/**
 * @param {Record<string, unknown> | undefined} raw  api.pluginConfig
 * @param {Record<string, string | undefined>} [env]
 * @returns {PluginConfig}
 */
export function resolveConfig(raw, env = process.env) {
  const c = raw ?? {};
  return {
    baseUrl: str(c.baseUrl) || env.TROVE_URL || DefaultBaseUrl,
    token: str(c.token) || env.TROVE_TOKEN || "",
    timeoutMs: int(c.timeoutMs, 10000, 500, 120000),
    // memory-lancedb-pro's defaults: recall off, capture on.
    autoRecall: bool(c.autoRecall, false),
    autoRecallMaxItems: int(c.autoRecallMaxItems, 3, 1, 20),
    autoRecallMaxChars: int(c.autoRecallMaxChars, 600, 64, 8000),
    autoRecallMinLength: int(c.autoRecallMinLength, 0, 0, 200),
    autoRecallTimeoutMs: int(c.autoRecallTimeoutMs, 5000, 500, 60000),
    autoRecallMaxQueryLength: int(c.autoRecallMaxQueryLength, 2000, 100, 10000),
    autoRecallIncludeAgents: strs(c.autoRecallIncludeAgents),
    autoRecallExcludeAgents: strs(c.autoRecallExcludeAgents),
    autoCapture: bool(c.autoCapture, true),
    captureAssistant: bool(c.captureAssistant, false),
    enableManagementTools: bool(c.enableManagementTools, false),
    command: strs(c.command),
    commandStartTimeoutMs: int(c.commandStartTimeoutMs, 15000, 1000, 120000),
  };
}

/** @param {unknown} v */
function str(v) {
  return typeof v === "string" ? v.trim() : "";
}

/** @param {unknown} v @param {boolean} def */
function bool(v, def) {
  return typeof v === "boolean" ? v : def;
}

/** @param {unknown} v @param {number} def @param {number} min @param {number} max */
function int(v, def, min, max) {
  if (typeof v !== "number" || !Number.isFinite(v)) return def;
  return Math.min(max, Math.max(min, Math.trunc(v)));
}

/** @param {unknown} v @returns {string[]} */
function strs(v) {
  return Array.isArray(v) ? v.filter((x) => typeof x === "string" && x.trim() !== "").map((x) => x.trim()) : [];
}
