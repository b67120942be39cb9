// Auto-recall and auto-capture: before_prompt_build asks trove for the block
// to put before the turn, agent_end sends the turn's new messages to trove's
// capture buffer, session_end flushes it. A hook never throws and never holds
// the turn longer than autoRecallTimeoutMs + RecallGraceMs: when trove is
// slow or down it does nothing.

/** @typedef {import("./client.js").TroveClient} TroveClient */
/** @typedef {import("./config.js").PluginConfig} PluginConfig */
/** @typedef {{role: string, content: string}} Message */

export const DefaultAgent = "main";
const MaxTrackedSessions = 1000;
const MaxCaptureMessages = 100; // trove's limit per capture request

/**
 * How much longer than autoRecallTimeoutMs before_prompt_build waits for
 * trove's answer. autoRecallTimeoutMs is meant to match trove's own recall
 * budget (autoRecall.timeout, 5 s by default; /v1/recall-context takes no
 * budget of its own). Trove records the memories it injects when it
 * answers, so an answer committed just within that budget must still reach
 * us: aborting at the same moment would drop a block trove counts as
 * injected (and then suppresses for the next turns).
 */
export const RecallGraceMs = 500;

/**
 * The host timeout before_prompt_build is registered with: above the
 * plugin's own bound (autoRecallTimeoutMs + RecallGraceMs), so that the
 * plugin, not OpenClaw, gives up first.
 * @param {PluginConfig} config
 */
export function recallHookTimeoutMs(config) {
  return config.autoRecallTimeoutMs + RecallGraceMs + 250;
}

/**
 * What agent_end has already sent per session: how many eligible messages
 * and the last one, to send only the new tail of the cumulative snapshot.
 * @type {Map<string, {count: number, last: string}>}
 */
const sent = new Map();

/** @param {{agentId?: string}} ctx */
export function agentOf(ctx) {
  return (ctx && typeof ctx.agentId === "string" && ctx.agentId.trim()) || DefaultAgent;
}

/**
 * Sessions whose turns are not a conversation of their own, as
 * memory-lancedb-pro judges them: a sub-agent's or an active-memory
 * sub-build's (`…:subagent:…`, `…:active-memory:…`; their context comes from
 * the parent) and a memory-internal run (`temp:memory-reflection…`). They get
 * no auto-recall and are not captured.
 * @param {{sessionKey?: string}} ctx
 */
export function isInternalSession(ctx) {
  const key = typeof ctx?.sessionKey === "string" ? ctx.sessionKey.trim() : "";
  return key.includes(":subagent:") || key.includes(":active-memory:") || key.startsWith("temp:memory-reflection");
}

/** @param {{sessionId?: string, sessionKey?: string}} ctx */
function sessionOf(ctx) {
  return ctx?.sessionId || ctx?.sessionKey || "";
}

/**
 * The text of a message's content: a string, or an array of parts of which
 * the text parts count.
 * @param {unknown} content
 */
export function contentText(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((p) => p && typeof p === "object" && p.type === "text" && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}

/**
 * The messages worth capturing: the user's (and the assistant's with
 * captureAssistant), with text.
 * @param {unknown[]} messages
 * @param {boolean} withAssistant
 * @returns {Message[]}
 */
export function eligibleMessages(messages, withAssistant) {
  /** @type {Message[]} */
  const out = [];
  for (const m of messages ?? []) {
    if (!m || typeof m !== "object") continue;
    const role = /** @type {any} */ (m).role;
    if (role !== "user" && !(withAssistant && role === "assistant")) continue;
    const content = contentText(/** @type {any} */ (m).content).trim();
    if (content) out.push({ role, content });
  }
  return out;
}

/**
 * The part of this agent_end's snapshot not sent before for the session.
 * @param {string} key
 * @param {Message[]} msgs
 */
function newTail(key, msgs) {
  const prev = sent.get(key);
  const lastOf = (/** @type {Message[]} */ a) => (a.length ? `${a[a.length - 1].role}\u0000${a[a.length - 1].content}` : "");
  let tail = msgs;
  if (prev && msgs.length >= prev.count && prev.count > 0) {
    const at = msgs[prev.count - 1];
    if (`${at.role}\u0000${at.content}` === prev.last) tail = msgs.slice(prev.count);
  }
  sent.delete(key);
  sent.set(key, { count: msgs.length, last: lastOf(msgs) });
  if (sent.size > MaxTrackedSessions) sent.delete(/** @type {string} */ (sent.keys().next().value));
  return tail.slice(-MaxCaptureMessages);
}

/**
 * @param {{client: TroveClient, config: PluginConfig, logger?: {debug?: (m: string) => void, warn: (m: string) => void}}} deps
 */
export function makeHooks({ client, config, logger }) {
  /**
   * @param {{prompt?: string, currentUserMessage?: string}} event
   * @param {{agentId?: string, sessionId?: string, sessionKey?: string}} ctx
   * @returns {Promise<{prependContext: string} | undefined>}
   */
  async function beforePromptBuild(event, ctx) {
    try {
      if (isInternalSession(ctx)) return undefined;
      const agent = agentOf(ctx);
      if (config.autoRecallIncludeAgents.length > 0) {
        if (!config.autoRecallIncludeAgents.includes(agent)) return undefined;
      } else if (config.autoRecallExcludeAgents.includes(agent)) {
        return undefined;
      }
      let prompt = String((typeof event?.currentUserMessage === "string" && event.currentUserMessage) || event?.prompt || "").trim();
      if (!prompt) return undefined;
      if (config.autoRecallMinLength > 0 && prompt.length < config.autoRecallMinLength) return undefined;
      prompt = prompt.slice(0, config.autoRecallMaxQueryLength);
      const limit = config.autoRecallTimeoutMs + RecallGraceMs;
      const ask = client.request("POST", "/v1/recall-context", {
        agent, timeoutMs: limit,
        body: { prompt, agent, session: sessionOf(ctx) || undefined, limit: config.autoRecallMaxItems, max_chars: config.autoRecallMaxChars },
      });
      // The request is aborted at the limit; the race covers a body that
      // keeps trickling in after the headers.
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(() => resolve(undefined), limit); });
      const r = await Promise.race([ask, late]);
      clearTimeout(timer);
      if (!r) {
        logger?.debug?.(`trove: auto-recall gave up after ${limit} ms`);
        return undefined;
      }
      if (!r.ok) {
        logger?.debug?.(`trove: auto-recall skipped: ${r.message} [${r.code}]`);
        return undefined;
      }
      const context = typeof r.body.context === "string" ? r.body.context.trim() : "";
      return context ? { prependContext: context } : undefined;
    } catch (err) {
      logger?.debug?.(`trove: auto-recall failed: ${String(err)}`);
      return undefined;
    }
  }

  /**
   * Fire-and-forget: returns before trove answers.
   * @param {{messages?: unknown[], success?: boolean}} event
   * @param {{agentId?: string, sessionId?: string, sessionKey?: string}} ctx
   * @returns {Promise<void> | undefined} the background request (tests await it)
   */
  function agentEnd(event, ctx) {
    try {
      if (!event?.success || isInternalSession(ctx)) return undefined;
      const agent = agentOf(ctx);
      const session = sessionOf(ctx);
      const msgs = eligibleMessages(event.messages ?? [], config.captureAssistant);
      const tail = newTail(`${agent}\u0000${session}`, msgs);
      if (tail.length === 0) return undefined;
      return client.request("POST", "/v1/capture", {
        agent,
        body: { agent, session: session || undefined, messages: tail, async: true },
      }).then((r) => {
        if (!r.ok) logger?.warn(`trove: auto-capture failed: ${r.message} [${r.code}]`);
      }, () => undefined);
    } catch (err) {
      logger?.warn(`trove: auto-capture failed: ${String(err)}`);
      return undefined;
    }
  }

  /**
   * @param {{sessionId?: string, sessionKey?: string}} event
   * @param {{agentId?: string, sessionId?: string, sessionKey?: string}} ctx
   * @returns {Promise<void> | undefined}
   */
  function sessionEnd(event, ctx) {
    try {
      const agent = agentOf(ctx);
      const session = event?.sessionId || sessionOf(ctx);
      if (!session) return undefined;
      sent.delete(`${agent}\u0000${session}`);
      return client.request("POST", "/v1/capture", {
        agent,
        body: { agent, session, messages: [], flush: true, async: true },
      }).then((r) => {
        if (!r.ok) logger?.warn(`trove: flushing session ${session} failed: ${r.message} [${r.code}]`);
      }, () => undefined);
    } catch (err) {
      logger?.warn(`trove: session flush failed: ${String(err)}`);
      return undefined;
    }
  }

  return { beforePromptBuild, agentEnd, sessionEnd };
}
