// Text in memory-lancedb-pro's forms, built from trove's JSON.

/**
 * A memory as trove's REST API returns it.
 * @typedef {object} Memory
 * @property {string} id
 * @property {string} text
 * @property {string} category
 * @property {string} scope
 * @property {number} importance
 * @property {number} created_at  unix ms
 * @property {number} updated_at  unix ms
 * @property {number} revision
 * @property {Record<string, any>} [metadata]
 * @property {string} [inactive]
 */

/** @param {string} s */
export function inline(s) {
  return String(s ?? "").replace(/\s+/g, " ").trim();
}

/** @param {string} s @param {number} max */
export function truncate(s, max) {
  return s.length > max ? `${s.slice(0, Math.max(0, max - 3))}...` : s;
}

/** memory-lancedb-pro's display tag: category:scope, or reflection:scope. @param {Memory} m */
export function categoryTag(m) {
  const t = m.metadata?.type;
  if (t === "memory-reflection" || t === "memory-reflection-event" || t === "memory-reflection-item" || m.category === "reflection") {
    return `reflection:${m.scope}`;
  }
  return `${m.category}:${m.scope}`;
}

/** The L0 abstract in summary mode, L2/L1 in full mode, else the text. @param {Memory} m @param {boolean} full */
export function memoryBody(m, full) {
  const md = m.metadata ?? {};
  const pick = full ? md.l2_content || md.l1_overview || m.text : md.l0_abstract || m.text;
  return typeof pick === "string" && pick ? pick : m.text;
}

/** @param {Memory} m */
export function serialize(m) {
  return { id: m.id, text: m.text, category: categoryTag(m), rawCategory: m.category, scope: m.scope, importance: m.importance, timestamp: m.created_at };
}

/**
 * The notice for a read that named a scope the agent may not read, as
 * memory-lancedb-pro prints one, with trove's accessible_scopes: the scopes
 * the agent may read. That is not a claim about what was searched (trove
 * searches the other requested scopes, or every readable one when none is
 * left), and list and stats do not search at all.
 * @param {{ignored_scopes?: string[], accessible_scopes?: string[]}} body
 */
export function ignoredNotice(body) {
  const ig = body?.ignored_scopes;
  if (!ig || ig.length === 0) return undefined;
  const readable = body.accessible_scopes?.length ? body.accessible_scopes.join(", ") : "(none)";
  return `Ignored inaccessible scope "${ig.join(", ")}"; this agent may read: ${readable}.`;
}

/**
 * What a response says of an ignored scope, for a tool's details.
 * @param {{ignored_scopes?: string[], accessible_scopes?: string[]}} body
 */
export function scopeDetails(body) {
  return { ignoredScope: body?.ignored_scopes?.[0], accessibleScopes: body?.accessible_scopes };
}

/** @param {number} ms */
export function isoDay(ms) {
  return new Date(ms).toISOString().split("T")[0];
}

/** @param {...(string | undefined)} parts */
export function lines(...parts) {
  return parts.filter(Boolean).join("\n");
}
