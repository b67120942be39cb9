// OpenClaw memory plugin backed by trove: a thin client of a running
// `trove serve --http`. It registers memory-lancedb-pro's tools and its
// auto-recall / auto-capture hooks and forwards each to trove's REST API.
//
// register() is cheap and does no I/O: OpenClaw calls it for every registry
// it builds (several per turn). Tools are factories, so each call of a tool
// acts as the calling agent (toolCtx.agentId → X-Trove-Agent).

import { TroveClient } from "./lib/client.js";
import { resolveConfig } from "./lib/config.js";
import { agentOf, makeHooks, recallHookTimeoutMs } from "./lib/hooks.js";
import { troveService } from "./lib/service.js";
import { CoreTools, ManagementTools, Tools } from "./lib/tools.js";

/** @typedef {import("openclaw/plugin-sdk/plugin-entry").OpenClawPluginApi} OpenClawPluginApi */
/** @typedef {import("openclaw/plugin-sdk/plugin-entry").OpenClawPluginDefinition} OpenClawPluginDefinition */
/** @typedef {import("openclaw/plugin-sdk/plugin-entry").AnyAgentTool} AnyAgentTool */
/** @typedef {import("./lib/tools.js").ToolDef} ToolDef */

export const PluginId = "trove";

/** One client per connection setting, shared by every registration. */
const clients = new Map();

/** @param {import("./lib/config.js").PluginConfig} cfg */
function clientFor(cfg) {
  const key = `${cfg.baseUrl}\u0000${cfg.token}\u0000${cfg.timeoutMs}`;
  let c = clients.get(key);
  if (!c) {
    c = new TroveClient({ baseUrl: cfg.baseUrl, token: cfg.token, timeoutMs: cfg.timeoutMs });
    clients.set(key, c);
  }
  return c;
}

/**
 * The tool an agent sees: the definition bound to trove and to that agent.
 * @param {ToolDef} def
 * @param {TroveClient} client
 * @param {string} agent
 * @returns {AnyAgentTool}
 */
export function bindTool(def, client, agent) {
  return {
    name: def.name,
    label: def.label,
    description: def.description,
    parameters: def.parameters,
    async execute(_toolCallId, params, signal) {
      try {
        return await def.run(client, agent, params ?? {}, signal);
      } catch (err) {
        // Only a bug gets here; still answer in text rather than fail the turn.
        return { content: [{ type: "text", text: `${def.label} failed: ${String(err)} [internal]` }], details: { error: "internal", message: String(err) } };
      }
    },
  };
}

/** @param {OpenClawPluginApi} api */
export function register(api) {
  const config = resolveConfig(api.pluginConfig);
  const client = clientFor(config);
  const names = new Set(config.enableManagementTools ? [...CoreTools, ...ManagementTools] : CoreTools);
  for (const def of Tools) {
    if (!names.has(def.name)) continue;
    api.registerTool((ctx) => bindTool(def, client, agentOf(ctx)), { name: def.name });
  }
  const hooks = makeHooks({ client, config, logger: api.logger });
  if (config.autoRecall) {
    // OpenClaw would wait up to 15 s; the hook gives up by itself at
    // autoRecallTimeoutMs + RecallGraceMs, and the host's timeout, just above
    // that, is only a backstop.
    api.on("before_prompt_build", (event, ctx) => hooks.beforePromptBuild(event, ctx), {
      priority: 10, timeoutMs: recallHookTimeoutMs(config),
    });
  }
  // Only a live runtime starts processes; discovery and metadata passes do not.
  if (config.command.length > 0 && (api.registrationMode ?? "full") === "full") {
    api.registerService(troveService(config));
  }
  if (config.autoCapture) {
    // Return at once: OpenClaw awaits a void hook's promise.
    api.on("agent_end", (event, ctx) => { void hooks.agentEnd(event, ctx); });
    api.on("session_end", (event, ctx) => { void hooks.sessionEnd(event, ctx); });
  }
}

/** @type {OpenClawPluginDefinition} */
const plugin = {
  id: PluginId,
  name: "Memory (trove)",
  description: "Long-term memory served by trove: memory-lancedb-pro's tools and auto-recall/auto-capture hooks over trove's REST API",
  register,
};

export default plugin;
