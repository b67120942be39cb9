// memory-lancedb-pro's tools, each a request to trove's REST API and a text
// answer in memory-lancedb-pro's form. A failure is text naming trove's error
// code, never a thrown error: the agent reads it and carries on.

import { categoryTag, ignoredNotice, inline, isoDay, lines, memoryBody, scopeDetails, serialize, truncate } from "./format.js";

/** @typedef {import("./client.js").TroveClient} TroveClient */
/** @typedef {import("./format.js").Memory} Memory */
/** @typedef {{content: {type: "text", text: string}[], details: any}} ToolResult */
/**
 * @typedef {object} ToolDef
 * @property {string} name
 * @property {string} label
 * @property {string} description
 * @property {Record<string, unknown>} parameters  JSON Schema of the arguments
 * @property {(client: TroveClient, agent: string, params: any, signal?: AbortSignal) => Promise<ToolResult>} run
 */

export const CoreTools = ["memory_recall", "memory_search", "memory_get", "memory_fact_query", "memory_store", "memory_update", "memory_forget"];
export const ManagementTools = ["memory_list", "memory_stats", "memory_promote", "memory_archive", "memory_compact", "memory_debug"];

const Categories = ["preference", "fact", "decision", "entity", "reflection", "other"];

/** @param {Record<string, unknown>} props @param {string[]} [required] */
function schema(props, required = []) {
  return { type: "object", properties: props, required, additionalProperties: false };
}
const S = (/** @type {string} */ description) => ({ type: "string", description });
const N = (/** @type {string} */ description) => ({ type: "number", description });
const B = (/** @type {string} */ description) => ({ type: "boolean", description });
const category = { type: "string", enum: Categories, description: "Memory category" };

/** @param {string} text @param {any} details @returns {ToolResult} */
export function text(text, details) {
  return { content: [{ type: "text", text }], details };
}

/**
 * A failed request as text: what failed, trove's message and its code.
 * @param {string} what  e.g. "Memory recall failed"
 * @param {{code: string, message: string, status: number}} r
 */
export function failure(what, r) {
  return text(`${what}: ${r.message} [${r.code}]`, { error: r.code, message: r.message, status: r.status });
}

/** @param {unknown} v @param {number} def @param {number} min @param {number} max */
function clamp(v, def, min, max) {
  const n = typeof v === "number" && Number.isFinite(v) ? Math.trunc(v) : def;
  return Math.min(max, Math.max(min, n));
}

/** @param {unknown} s */
function opt(s) {
  return typeof s === "string" && s.trim() !== "" ? s.trim() : undefined;
}

const id8 = (/** @type {string} */ id) => String(id).slice(0, 8);

/** @type {ToolDef["run"]} */
async function recall(client, agent, p, signal) {
  const full = p.includeFullText === true;
  const limit = full ? clamp(p.limit, 3, 1, 20) : clamp(p.limit, 3, 1, 6);
  const perItem = clamp(p.maxCharsPerItem, 180, 60, 1000);
  const scope = opt(p.scope);
  const query = String(p.query ?? "");
  const r = await client.request("POST", "/v1/search", {
    agent, signal, body: { query, scopes: scope ? [scope] : undefined, category: opt(p.category), limit },
  });
  if (!r.ok) return failure("Memory recall failed", r);
  /** @type {{memory: Memory, score: number, sources: any}[]} */
  const results = r.body.results ?? [];
  const notice = ignoredNotice(r.body);
  const base = { query, scopes: scope ? [scope] : undefined, ...scopeDetails(r.body), warnings: r.body.warnings };
  if (results.length === 0) {
    return text(lines(notice, "No relevant memories found."), { count: 0, ...base });
  }
  const body = results.map((res, i) => {
    const one = inline(memoryBody(res.memory, full));
    return `${i + 1}. [${res.memory.id}] [${categoryTag(res.memory)}] ${full ? one : truncate(one, perItem)}`;
  }).join("\n");
  const mode = full ? "full" : "summary";
  return text(
    lines(notice, `<relevant-memories>\n<mode:${mode}>\nFound ${results.length} memories:\n\n${body}\n</relevant-memories>`),
    {
      count: results.length,
      memories: results.map((res) => ({ ...serialize(res.memory), score: res.score, sources: res.sources, ...(full ? { fullText: memoryBody(res.memory, true) } : {}) })),
      ...base,
      recallMode: mode,
    },
  );
}

const recallParams = schema({
  query: S("Search query for finding relevant memories"),
  limit: N("Max results to return (default: 3; summary mode max 6, full mode max 20)"),
  includeFullText: B("Return full memory text instead of the summary (default: false)"),
  maxCharsPerItem: N("Maximum characters per returned memory in summary mode (default: 180)"),
  scope: S("Specific memory scope to search in (optional)"),
  category,
}, ["query"]);

/** @type {ToolDef["run"]} */
async function store(client, agent, p, signal) {
  const txt = String(p.text ?? "");
  const scope = opt(p.scope);
  const r = await client.request("POST", "/v1/memories", {
    agent, signal,
    body: {
      text: txt, category: opt(p.category), scope,
      importance: typeof p.importance === "number" ? p.importance : undefined,
      force: p.force === true ? true : undefined,
    },
  });
  if (!r.ok) {
    if (r.code === "scope_access_denied") return text(`Access denied to scope: ${scope ?? "(default)"}`, { error: r.code, message: r.message });
    return failure("Memory storage failed", r);
  }
  /** @type {Memory & {outcome: string, supersedes?: string[]}} */
  const m = r.body;
  const details = { action: m.outcome, id: m.id, scope: m.scope, category: m.category, importance: m.importance, supersedes: m.supersedes };
  if (m.outcome === "duplicate") {
    return text(`Similar memory already exists: "${m.text}"`, { ...details, action: "duplicate", existingId: m.id });
  }
  if (m.outcome === "superseded" && m.supersedes?.length) {
    const old = m.supersedes.map((s) => `${id8(s)}...`).join(", ");
    return text(`Superseded ${old} → new version ${id8(m.id)}...: "${truncate(txt, 80)}"`, details);
  }
  return text(`Stored: "${truncate(txt, 100)}" in scope '${m.scope}'`, details);
}

/** @type {ToolDef["run"]} */
async function update(client, agent, p, signal) {
  const id = String(p.memoryId ?? "");
  /** @type {Record<string, unknown>} */
  const body = {};
  if (typeof p.text === "string") body.text = p.text;
  if (typeof p.importance === "number") body.importance = p.importance;
  if (typeof p.category === "string") body.category = p.category;
  if (Object.keys(body).length === 0) {
    return text("Nothing to update. Provide at least one of: text, importance, category.", { error: "nothing_to_update" });
  }
  const r = await client.request("PATCH", `/v1/memories/${encodeURIComponent(id)}`, { agent, signal, body });
  if (!r.ok) {
    if (r.code === "not_found") return text(`Memory ${id8(id)}... not found or access denied.`, { error: r.code, message: r.message });
    return failure("Memory update failed", r);
  }
  /** @type {Memory} */
  const m = r.body;
  return text(`Updated memory ${id8(m.id)}...: "${truncate(m.text, 80)}"`, { action: "updated", id: m.id, fieldsUpdated: Object.keys(body), revision: m.revision });
}

/** @type {ToolDef["run"]} */
async function forget(client, agent, p, signal) {
  const id = opt(p.memoryId);
  const query = opt(p.query);
  const scope = opt(p.scope);
  if (id) {
    const r = await client.request("DELETE", `/v1/memories/${encodeURIComponent(id)}`, { agent, signal });
    if (!r.ok) {
      if (r.code === "not_found") return text(`Memory ${id} not found or access denied.`, { error: r.code, message: r.message });
      return failure("Memory deletion failed", r);
    }
    return text(`Memory ${r.body.id ?? id} forgotten.`, { action: "deleted", id: r.body.id ?? id });
  }
  if (!query) return text("Provide either query or memoryId.", { error: "missing_param" });
  const r = await client.request("POST", "/v1/search", { agent, signal, body: { query, scopes: scope ? [scope] : undefined, limit: 5 } });
  if (!r.ok) return failure("Memory deletion failed", r);
  /** @type {{memory: Memory, score: number}[]} */
  const results = r.body.results ?? [];
  if (results.length === 0) return text("No matching memories found.", { found: 0, query });
  if (results.length === 1 && results[0].score > 0.9) {
    const m = results[0].memory;
    const d = await client.request("DELETE", `/v1/memories/${encodeURIComponent(m.id)}`, { agent, signal, query: { expected_revision: m.revision } });
    if (d.ok) return text(`Forgotten: "${m.text}"`, { action: "deleted", id: m.id });
    if (d.code !== "not_found" && d.code !== "conflict") return failure("Memory deletion failed", d);
  }
  const list = results.map((res) => `- [${id8(res.memory.id)}] ${truncate(res.memory.text, 63)}`).join("\n");
  return text(`Found ${results.length} candidates. Specify memoryId to delete:\n${list}`, {
    action: "candidates", candidates: results.map((res) => ({ ...serialize(res.memory), score: res.score })),
  });
}

/** @type {ToolDef["run"]} */
async function factQuery(client, agent, p, signal) {
  const query = opt(p.query);
  const factKey = opt(p.factKey);
  const scope = opt(p.scope);
  if (!query && !factKey) return text("Provide query or factKey.", { error: "missing_param" });
  const includeHistory = p.includeHistory === true;
  const r = await client.request("POST", "/v1/facts", {
    agent, signal,
    body: { query, fact_key: factKey, at: opt(p.at), include_history: includeHistory || undefined, scopes: scope ? [scope] : undefined, limit: clamp(p.limit, 10, 1, 100) },
  });
  if (!r.ok) return failure("Fact query failed", r);
  const asOf = new Date(typeof r.body.at === "number" ? r.body.at : Date.now()).toISOString();
  /** @type {{fact_key: string, active: boolean, valid_from: number, valid_until?: number, memory: Memory}[]} */
  const facts = r.body.facts ?? [];
  const out = facts.map((f, i) => {
    const dates = [f.valid_from ? `from=${new Date(f.valid_from).toISOString()}` : "", f.valid_until ? `until=${new Date(f.valid_until).toISOString()}` : ""].filter(Boolean).join(" ");
    return `${i + 1}. [${f.active ? "active" : "historical"}] ${f.fact_key} ${dates} ${truncate(inline(f.memory.text), 180)}`.replace(/\s+/g, " ").trim();
  });
  return text(
    lines(ignoredNotice(r.body), out.length > 0 ? `Fact query returned ${facts.length} result(s) as of ${asOf}:\n${out.join("\n")}` : `Fact query returned 0 result(s) as of ${asOf}.`),
    { action: "fact_query", query, factKey, asOf, includeHistory, count: facts.length, facts },
  );
}

/** @type {ToolDef["run"]} */
async function list(client, agent, p, signal) {
  const limit = clamp(p.limit, 10, 1, 50);
  const offset = clamp(p.offset, 0, 0, 1000);
  const scope = opt(p.scope);
  const cat = opt(p.category);
  const r = await client.request("GET", "/v1/memories", { agent, signal, query: { scope, category: cat, limit, offset } });
  if (!r.ok) return failure("Failed to list memories", r);
  const body = r.body;
  /** @type {Memory[]} */
  const page = body.memories ?? [];
  const filters = { scope, category: cat, limit, offset };
  if (page.length === 0) return text(lines(ignoredNotice(body), "No memories found."), { count: 0, filters, ...scopeDetails(body) });
  const out = page.map((m, i) => `${offset + i + 1}. [${m.id}] [${categoryTag(m)}] ${truncate(m.text, 103)} (${isoDay(m.created_at)})`).join("\n");
  return text(lines(ignoredNotice(body), `Recent memories (showing ${page.length}):\n\n${out}`), { count: page.length, memories: page.map(serialize), filters, ...scopeDetails(body) });
}

/** @type {ToolDef["run"]} */
async function stats(client, agent, p, signal) {
  const scope = opt(p.scope);
  const r = await client.request("GET", "/v1/stats", { agent, signal, query: { scope } });
  if (!r.ok) return failure("Failed to get memory stats", r);
  const s = r.body;
  /** @param {Record<string, number> | undefined} m */
  const counts = (m) => Object.entries(m ?? {}).map(([k, n]) => `  • ${k}: ${n}`);
  const out = [
    "Memory Statistics:",
    `• Total memories: ${s.total}`,
    `• Inactive (history): ${s.inactive ?? 0}`,
    `• Available scopes: ${Object.keys(s.by_scope ?? {}).length}`,
    `• Retrieval mode: ${s.retrieval?.mode ?? "unknown"}`,
    `• FTS support: ${s.retrieval?.fts ? "Yes" : "No"}`,
    ...(s.retrieval?.embedding_model ? [`• Embedding model: ${s.retrieval.embedding_model} (${s.retrieval.dimensions} dimensions)`] : []),
    "",
    "Memories by scope:", ...counts(s.by_scope),
    "",
    "Memories by category:", ...counts(s.by_category),
  ];
  if (s.by_tier && Object.keys(s.by_tier).length > 0) out.push("", "Memories by tier:", ...counts(s.by_tier));
  return text(lines(ignoredNotice(s), out.join("\n")), { stats: s, scope, hasFtsSupport: s.retrieval?.fts === true, retrievalMode: s.retrieval?.mode, ...scopeDetails(s) });
}

/** @param {any} p */
function target(p) {
  return { id: opt(p.memoryId), query: opt(p.query), scope: opt(p.scope) };
}

/** @type {ToolDef["run"]} */
async function promote(client, agent, p, signal) {
  const t = target(p);
  if (!t.id && !t.query) return text("Provide memoryId or query.", { error: "missing_param" });
  const state = opt(p.state) ?? "confirmed";
  // memory-lancedb-pro's promote also archives (state=archived); trove has a route for it.
  const r = state === "archived"
    ? await client.request("POST", "/v1/archive", { agent, signal, body: { ...t, reason: "promote_archived" } })
    : await client.request("POST", "/v1/promote", { agent, signal, body: { ...t, state, layer: opt(p.layer) } });
  if (!r.ok) {
    if (r.code === "not_found") return text(`Memory ${id8(t.id ?? t.query ?? "")} not found.`, { error: r.code, message: r.message });
    if (r.code === "scope_access_denied") return text(`Access denied to scope: ${t.scope ?? "(memory's scope)"}`, { error: r.code, message: r.message });
    return failure(`Failed to promote memory ${id8(t.id ?? "")}`.trim(), r);
  }
  /** @type {Memory} */
  const m = r.body.memory;
  const st = m.metadata?.state ?? state;
  const layer = m.metadata?.memory_layer ?? opt(p.layer) ?? "durable";
  return text(`Promoted memory ${id8(m.id)} to state=${st}, layer=${layer}.`, { action: "promoted", id: m.id, state: st, layer, changed: r.body.changed });
}

/** @type {ToolDef["run"]} */
async function archive(client, agent, p, signal) {
  const t = target(p);
  if (!t.id && !t.query) return text("Provide memoryId or query.", { error: "missing_param" });
  const r = await client.request("POST", "/v1/archive", { agent, signal, body: { ...t, reason: opt(p.reason) ?? "manual_archive" } });
  if (!r.ok) {
    if (r.code === "not_found") return text(`Memory ${id8(t.id ?? t.query ?? "")} not found.`, { error: r.code, message: r.message });
    if (r.code === "scope_access_denied") return text(`Access denied to scope: ${t.scope ?? "(memory's scope)"}`, { error: r.code, message: r.message });
    return failure("Failed to archive memory", r);
  }
  const m = r.body.memory;
  return text(`Archived memory ${id8(m.id)}.`, { action: "archived", id: m.id, changed: r.body.changed });
}

/** @type {ToolDef["run"]} */
async function compact(client, agent, p, signal) {
  const scope = opt(p.scope);
  const dryRun = p.dryRun !== false;
  const limit = typeof p.limit === "number" && Number.isFinite(p.limit) ? clamp(p.limit, 200, 1, 100000) : undefined;
  const r = await client.request("POST", "/v1/compact", { agent, signal, body: { scopes: scope ? [scope] : undefined, dry_run: dryRun, limit } });
  if (!r.ok) return failure("Memory compaction failed", r);
  const c = r.body;
  const sample = (c.groups ?? []).flatMap((/** @type {{key: string, keep: string, archive: string[]}} */ g) => g.archive.map((d) => ({ duplicateId: d, canonicalId: g.keep, key: g.key }))).slice(0, 20);
  return text(
    c.dry_run
      ? `Compaction preview: ${c.duplicates} duplicate(s) detected across ${c.scanned} entries.`
      : `Compaction complete: archived ${c.archived} duplicate memory record(s).`,
    { action: c.dry_run ? "compact_preview" : "compact_applied", limit, scanned: c.scanned, duplicates: c.duplicates, archived: c.archived, sample, warnings: c.warnings },
  );
}

/** @typedef {{memory: Memory, score: number, sources?: {vector?: number, bm25?: number, rerank?: number}, trace?: {stages?: {name: string, score: number}[], dropped?: string}}} Scored */

/**
 * memory-lancedb-pro's per-stage lines, from trove's per-candidate traces:
 * each stage with how many candidates reached it and their score range,
 * then the dropped candidates by reason.
 * @param {Scored[]} kept
 * @param {Scored[]} dropped
 */
function stageLines(kept, dropped) {
  /** @type {Map<string, number[]>} */
  const stages = new Map();
  for (const c of [...kept, ...dropped]) {
    for (const st of c.trace?.stages ?? []) {
      if (!stages.has(st.name)) stages.set(st.name, []);
      stages.get(st.name)?.push(st.score);
    }
  }
  const out = [...stages].map(([name, scores]) => `    ${name}: ${scores.length} scores=[${Math.min(...scores).toFixed(3)}, ${Math.max(...scores).toFixed(3)}]`);
  /** @type {Map<string, string[]>} */
  const why = new Map();
  for (const c of dropped) {
    const reason = c.trace?.dropped || "dropped";
    if (!why.has(reason)) why.set(reason, []);
    why.get(reason)?.push(id8(c.memory.id));
  }
  for (const [reason, ids] of why) {
    out.push(`      dropped (${reason}): ${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ` (+${ids.length - 3} more)` : ""}`);
  }
  return out;
}

/**
 * trove's own account of the ranking (explain, with debug: true): the
 * fusion, the expansion terms, and per stage the candidates in and out,
 * its time and the scores it let through — what trove search --debug and
 * MCP memory_debug show.
 * @param {{fusion?: string, expansion?: string[], stages?: {name: string, in: number, out: number, ms: number, min: number, max: number, note?: string}[]} | undefined} ex
 */
function explainLines(ex) {
  if (!ex) return [];
  return [
    ...(ex.fusion ? [`  Fusion: ${ex.fusion}`] : []),
    ...(ex.expansion?.length ? [`  Expansion terms: ${ex.expansion.join(", ")}`] : []),
    ...(ex.stages ?? []).map((st) => `    ${st.name}: ${st.in} → ${st.out} in ${st.ms.toFixed(2)}ms` +
      (st.out > 0 ? `, scores [${st.min.toFixed(3)}, ${st.max.toFixed(3)}]` : "") + (st.note ? ` (${st.note})` : "")),
  ];
}

/** @type {ToolDef["run"]} */
async function debug(client, agent, p, signal) {
  const scope = opt(p.scope);
  const query = String(p.query ?? "");
  const limit = clamp(p.limit, 5, 1, 20);
  const t0 = performance.now();
  const r = await client.request("POST", "/v1/search", { agent, signal, body: { query, scopes: scope ? [scope] : undefined, limit, debug: true } });
  if (!r.ok) return failure("Memory debug failed", r);
  const ms = Math.round(performance.now() - t0);
  /** @type {Scored[]} */
  const results = r.body.results ?? [];
  /** @type {Scored[]} */
  const dropped = r.body.dropped ?? [];
  const head = [
    ...(ignoredNotice(r.body) ? [ignoredNotice(r.body), ""] : []),
    "Retrieval Debug Trace:",
    "  Mode: hybrid",
    `  Total: ${ms}ms (round trip from the plugin)`,
    ...(r.body.warnings ?? []).map((/** @type {string} */ w) => `  Warning: ${w}`),
    ...explainLines(r.body.explain),
    `  Stages (${results.length} kept, ${dropped.length} dropped):`,
    ...stageLines(results, dropped),
  ];
  const details = { query, totalMs: ms, dropped: dropped.map((d) => ({ id: d.memory.id, score: d.score, reason: d.trace?.dropped })), ...scopeDetails(r.body) };
  if (results.length === 0) return text([...head, "", "No results survived the pipeline."].join("\n"), { count: 0, ...details });
  const out = results.map((res, i) => {
    const src = [res.sources?.vector != null ? "vector" : "", res.sources?.bm25 != null ? "BM25" : "", res.sources?.rerank != null ? "reranked" : ""].filter(Boolean);
    return `${i + 1}. [${res.memory.id}] [${categoryTag(res.memory)}] ${truncate(res.memory.text, 123)} (${(res.score * 100).toFixed(1)}%${src.length ? `, ${src.join("+")}` : ""})`;
  });
  return text([...head, "", `Results (${results.length}):`, ...out].join("\n"), {
    count: results.length, memories: results.map((res) => ({ ...serialize(res.memory), score: res.score, sources: res.sources, trace: res.trace })), ...details,
  });
}

const governTarget = {
  memoryId: S("Memory id (UUID or a unique prefix of at least 8 characters). Optional when query is given."),
  query: S("Search query to locate the memory when memoryId is omitted."),
  scope: S("Optional scope filter."),
};

/** @type {ToolDef[]} */
export const Tools = [
  {
    name: "memory_recall", label: "Memory Recall", parameters: recallParams, run: recall,
    description: "Search through long-term memories using hybrid retrieval (vector + keyword search). Use when you need context about user preferences, past decisions, or previously discussed topics.",
  },
  {
    name: "memory_search", label: "Memory Search", parameters: recallParams, run: recall,
    description: "Compatibility alias for memory_recall. Search through long-term memories for OpenClaw profiles that request memory_search.",
  },
  {
    name: "memory_get", label: "Memory Get", parameters: recallParams, run: recall,
    description: "Compatibility alias for memory_recall. Search and return relevant long-term memories for OpenClaw profiles that request memory_get.",
  },
  {
    name: "memory_fact_query", label: "Memory Fact Query", run: factQuery,
    description: "Deterministically query current or historical temporal facts by fact key or text without semantic reranking.",
    parameters: schema({
      query: S("Text to match against fact keys and fact summaries."),
      factKey: S("Exact temporal fact key, such as preferences:drink."),
      at: S("ISO timestamp/date for as-of lookup. Defaults to now."),
      scope: S("Optional scope filter."),
      includeHistory: B("Include inactive superseded/expired facts (default false)."),
      limit: N("Maximum facts to return (default 10, max 100)."),
    }),
  },
  {
    name: "memory_store", label: "Memory Store", run: store,
    description: "Save important information in long-term memory. Use for preferences, facts, decisions.",
    parameters: schema({
      text: S("Information to remember"),
      importance: N("Importance score 0-1 (default: 0.7)"),
      category,
      scope: S("Memory scope (optional, defaults to the agent's own scope)"),
      force: B("Store even when a stored memory already says the same (default: false)"),
    }, ["text"]),
  },
  {
    name: "memory_update", label: "Memory Update", run: update,
    description: "Update an existing memory in place: its text, importance or category.",
    parameters: schema({
      memoryId: S("ID of the memory to update (full UUID or a unique prefix of at least 8 characters)"),
      text: S("New text content (triggers re-embedding)"),
      importance: N("New importance score 0-1"),
      category,
    }, ["memoryId"]),
  },
  {
    name: "memory_forget", label: "Memory Forget", run: forget,
    description: "Delete specific memories. Supports both search-based and direct ID-based deletion.",
    parameters: schema({
      query: S("Search query to find memory to delete"),
      memoryId: S("Specific memory ID to delete"),
      scope: S("Scope to search in (optional)"),
    }),
  },
  {
    name: "memory_list", label: "Memory List", run: list,
    description: "List recent memories with optional filtering by scope and category.",
    parameters: schema({
      limit: N("Max memories to list (default: 10, max: 50)"),
      scope: S("Filter by specific scope (optional)"),
      category,
      offset: N("Number of memories to skip (default: 0)"),
    }),
  },
  {
    name: "memory_stats", label: "Memory Statistics", run: stats,
    description: "Get statistics about memory usage, scopes, and categories.",
    parameters: schema({ scope: S("Specific scope to get stats for (optional)") }),
  },
  {
    name: "memory_promote", label: "Memory Promote", run: promote,
    description: "Promote a memory into confirmed/durable governance state so it can participate in auto-recall.",
    parameters: schema({
      ...governTarget,
      state: { type: "string", enum: ["pending", "confirmed", "archived"], description: "Target state (default: confirmed)" },
      layer: { type: "string", enum: ["durable", "working", "reflection", "archive"], description: "Target layer (default: durable)" },
    }),
  },
  {
    name: "memory_archive", label: "Memory Archive", run: archive,
    description: "Archive a memory to remove it from default auto-recall while preserving history.",
    parameters: schema({ ...governTarget, reason: S("Archive reason for audit trail.") }),
  },
  {
    name: "memory_compact", label: "Memory Compact", run: compact,
    description: "Compact duplicate low-value memories by archiving redundant entries and linking them to a canonical memory.",
    parameters: schema({
      scope: S("Optional scope filter."),
      dryRun: B("Preview compaction only (default true)."),
      limit: N("Scan only the newest this many active memories (default: every one; max 100000)."),
    }),
  },
  {
    name: "memory_debug", label: "Memory Debug", run: debug,
    description: "Debug memory retrieval: run a search and show each stage's scores, what was dropped and why, and every result's score and which signals found it.",
    parameters: schema({
      query: S("Search query to debug"),
      limit: N("Max results to return (default: 5, max: 20)"),
      scope: S("Specific memory scope to search in (optional)"),
    }, ["query"]),
  },
];
