import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import plugin from "../index.js";
import { deadUrl, fakeApi, fakeTrove, mem } from "./fake.js";

const M = mem();
const M2 = mem({ id: "9b8c7d6e-aaaa-4bbb-8ccc-ddddeeeeffff", text: "Billing deploys on Fridays", category: "fact", scope: "global", metadata: { l0_abstract: "Billing deploys Fridays" } });

/** @type {Awaited<ReturnType<typeof fakeTrove>>} */
let trove;

before(async () => {
  trove = await fakeTrove({
    "POST /v1/search": (r) => {
      if (r.body.query === "nothing") return { body: { results: [] } };
      if (r.body.scopes?.[0] === "agent:other") return { body: { results: [], ignored_scopes: ["agent:other"], accessible_scopes: ["agent:main", "global", "reflection:agent:main"] } };
      const results = [{ memory: M, score: 0.82, sources: { vector: 0.8, bm25: 0.5 } }, { memory: M2, score: 0.61, sources: { bm25: 0.6 } }];
      if (!r.body.debug) return { body: { results } };
      const trace = (/** @type {number[]} */ ...scores) => ({ stages: scores.map((score, i) => ({ name: ["fuse", "score"][i], score })) });
      return {
        body: {
          results: results.map((x) => ({ ...x, trace: trace(x.score + 0.1, x.score) })),
          dropped: [{ memory: mem({ id: "0d0d0d0d-1111-4222-8333-444455556666" }), score: 0.1, sources: {}, trace: { ...trace(0.2, 0.1), dropped: "below min score" } }],
        },
      };
    },
    "POST /v1/memories": (r) => ({ status: 201, body: { ...mem({ text: r.body.text, scope: r.body.scope ?? "agent:main" }), outcome: "created" } }),
    "PATCH /v1/memories/3f2a9c1e": (r) => ({ body: mem({ ...r.body, revision: 2 }) }),
    "PATCH /v1/memories/deadbeef": () => ({ status: 404, body: { error: { code: "not_found", message: "memory deadbeef not found" } } }),
    "DELETE /v1/memories/3f2a9c1e": () => ({ body: { id: M.id, deleted: true } }),
    "POST /v1/facts": () => ({ body: { at: Date.UTC(2026, 11, 1), facts: [{ fact_key: "entities:home city", active: true, valid_from: Date.UTC(2026, 0, 1), memory: mem({ text: "Home city is Oslo" }) }, { fact_key: "entities:home city", active: false, valid_from: Date.UTC(2025, 0, 1), valid_until: Date.UTC(2026, 0, 1), memory: mem({ text: "Home city is Bergen" }) }] } }),
    "GET /v1/memories": (r) => ({ body: { memories: [M, M2].slice(Number(r.query.offset?.[0] ?? 0)) } }),
    "GET /v1/stats": () => ({ body: { total: 2, inactive: 1, legacy: 0, smart: 2, by_scope: { "agent:main": 1, global: 1 }, by_category: { decision: 1, fact: 1 }, by_tier: { working: 2 }, retrieval: { mode: "hybrid", fts: true, embedding_model: "hash-v1", dimensions: 256 } } }),
    "POST /v1/promote": (r) => ({ body: { memory: mem({ metadata: { state: r.body.state, memory_layer: r.body.layer ?? "durable" } }), changed: true } }),
    "POST /v1/archive": () => ({ body: { memory: mem({ metadata: { state: "archived" } }), changed: true } }),
    "POST /v1/compact": (r) => ({ body: { dry_run: r.body.dry_run, scanned: 40, duplicates: 2, archived: r.body.dry_run ? 0 : 2, groups: [{ key: "k", keep: M.id, archive: [M2.id, "x"] }] } }),
  });
});
after(() => trove.close());

/** @param {Record<string, unknown>} cfg @param {string} name @param {any} params @param {any} [ctx] */
async function call(cfg, name, params, ctx = { agentId: "main" }) {
  const { api, tools } = fakeApi(cfg);
  plugin.register?.(/** @type {any} */ (api));
  const factory = tools.get(name);
  assert.ok(factory, `${name} is registered`);
  const tool = factory(ctx);
  const from = trove.seen.length;
  const res = await tool.execute("call-1", params);
  return { res, text: res.content[0].text, reqs: trove.seen.slice(from) };
}

const all = () => ({ baseUrl: trove.url, enableManagementTools: true });

describe("register", () => {
  test("registers the core tools and capture hooks by default, without network", () => {
    const { api, tools, hooks } = fakeApi({ baseUrl: trove.url });
    const from = trove.seen.length;
    plugin.register?.(/** @type {any} */ (api));
    plugin.register?.(/** @type {any} */ (api)); // idempotent
    assert.deepEqual([...tools.keys()].sort(), ["memory_fact_query", "memory_forget", "memory_get", "memory_recall", "memory_search", "memory_store", "memory_update"]);
    assert.deepEqual([...hooks.keys()].sort(), ["agent_end", "session_end"]);
    assert.equal(trove.seen.length, from, "register made no request");
  });

  test("management tools and auto-recall when enabled", () => {
    const { api, tools, hooks } = fakeApi({ ...all(), autoRecall: true, autoRecallTimeoutMs: 800 });
    plugin.register?.(/** @type {any} */ (api));
    assert.equal(tools.size, 13);
    assert.deepEqual([...hooks.keys()].sort(), ["agent_end", "before_prompt_build", "session_end"]);
    // above the hook's own bound, 800 + 500 ms
    assert.deepEqual(hooks.get("before_prompt_build")?.opts, { priority: 10, timeoutMs: 1550 });
  });

  test("the manifest lists every tool and the schema refuses unknown keys", async () => {
    const { readFile } = await import("node:fs/promises");
    const manifest = JSON.parse(await readFile(new URL("../openclaw.plugin.json", import.meta.url), "utf8"));
    const { api, tools } = fakeApi(all());
    plugin.register?.(/** @type {any} */ (api));
    assert.equal(manifest.id, plugin.id);
    assert.equal(manifest.kind, "memory");
    assert.deepEqual([...manifest.contracts.tools].sort(), [...tools.keys()].sort());
    assert.equal(manifest.configSchema.additionalProperties, false);
  });
});

describe("tools", () => {
  test("memory_recall searches and answers in memory-lancedb-pro's block", async () => {
    const { text, reqs, res } = await call(all(), "memory_recall", { query: "billing database", limit: 9, scope: "global", category: "decision" });
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].method, "POST");
    assert.equal(reqs[0].path, "/v1/search");
    assert.deepEqual(reqs[0].body, { query: "billing database", scopes: ["global"], category: "decision", limit: 6 });
    assert.equal(text, [
      "<relevant-memories>", "<mode:summary>", "Found 2 memories:", "",
      `1. [${M.id}] [decision:agent:main] We chose Postgres for billing`,
      `2. [${M2.id}] [fact:global] Billing deploys Fridays`,
      "</relevant-memories>",
    ].join("\n"));
    assert.equal(res.details.count, 2);
    assert.equal(res.details.memories[0].score, 0.82);
  });

  test("memory_search and memory_get are aliases; nothing found", async () => {
    for (const name of ["memory_search", "memory_get"]) {
      const { text, reqs } = await call(all(), name, { query: "nothing" });
      assert.equal(reqs[0].path, "/v1/search");
      assert.equal(text, "No relevant memories found.");
    }
  });

  test("memory_store", async () => {
    const { text, reqs } = await call(all(), "memory_store", { text: "I prefer dark mode", category: "preference", importance: 0.9, scope: "global" });
    assert.deepEqual(reqs[0].body, { text: "I prefer dark mode", category: "preference", scope: "global", importance: 0.9 });
    assert.equal(text, "Stored: \"I prefer dark mode\" in scope 'global'");
  });

  test("memory_store: duplicate, superseded and access denied", async () => {
    trove.routes["POST /v1/memories"] = () => ({ status: 200, body: { ...M, outcome: "duplicate" } });
    assert.equal((await call(all(), "memory_store", { text: "We chose Postgres" })).text, `Similar memory already exists: "${M.text}"`);
    trove.routes["POST /v1/memories"] = () => ({ status: 201, body: { ...M2, outcome: "superseded", supersedes: [M.id] } });
    assert.equal((await call(all(), "memory_store", { text: "Billing deploys on Fridays" })).text, `Superseded 3f2a9c1e... → new version 9b8c7d6e...: "Billing deploys on Fridays"`);
    trove.routes["POST /v1/memories"] = () => ({ status: 403, body: { error: { code: "scope_access_denied", message: "agent main may not write scope project:x" } } });
    assert.equal((await call(all(), "memory_store", { text: "x y z", scope: "project:x" })).text, "Access denied to scope: project:x");
  });

  test("memory_update maps to PATCH; not found", async () => {
    const ok = await call(all(), "memory_update", { memoryId: "3f2a9c1e", importance: 0.2, text: "We chose Postgres 17 for billing" });
    assert.equal(ok.reqs[0].method, "PATCH");
    assert.deepEqual(ok.reqs[0].body, { text: "We chose Postgres 17 for billing", importance: 0.2 });
    assert.equal(ok.text, `Updated memory 3f2a9c1e...: "We chose Postgres 17 for billing"`);
    const missing = await call(all(), "memory_update", { memoryId: "deadbeef", importance: 0.2 });
    assert.equal(missing.text, "Memory deadbeef... not found or access denied.");
    assert.equal(missing.res.details.error, "not_found");
  });

  test("memory_forget by id and by query", async () => {
    const byId = await call(all(), "memory_forget", { memoryId: "3f2a9c1e" });
    assert.equal(byId.reqs[0].method, "DELETE");
    assert.equal(byId.reqs[0].path, "/v1/memories/3f2a9c1e");
    assert.equal(byId.text, `Memory ${M.id} forgotten.`);
    const byQuery = await call(all(), "memory_forget", { query: "billing" });
    assert.deepEqual(byQuery.reqs.map((r) => r.path), ["/v1/search"]);
    assert.equal(byQuery.text, `Found 2 candidates. Specify memoryId to delete:\n- [3f2a9c1e] ${M.text}\n- [9b8c7d6e] ${M2.text}`);
  });

  test("memory_fact_query", async () => {
    const { text, reqs } = await call(all(), "memory_fact_query", { factKey: "entities:home city", includeHistory: true, scope: "global" });
    assert.deepEqual(reqs[0].body, { fact_key: "entities:home city", include_history: true, scopes: ["global"], limit: 10 });
    assert.equal(text, [
      "Fact query returned 2 result(s) as of 2026-12-01T00:00:00.000Z:",
      "1. [active] entities:home city from=2026-01-01T00:00:00.000Z Home city is Oslo",
      "2. [historical] entities:home city from=2025-01-01T00:00:00.000Z until=2026-01-01T00:00:00.000Z Home city is Bergen",
    ].join("\n"));
  });

  test("memory_list pages by offset", async () => {
    const { text, reqs } = await call(all(), "memory_list", { limit: 1, offset: 1, scope: "global", category: "fact" });
    assert.deepEqual(reqs[0].query, { scope: ["global"], category: ["fact"], limit: ["1"], offset: ["1"] });
    assert.equal(text, `Recent memories (showing 1):\n\n2. [${M2.id}] [fact:global] ${M2.text} (2026-11-05)`);
  });

  test("memory_stats", async () => {
    const { text, reqs } = await call(all(), "memory_stats", { scope: "global" });
    assert.deepEqual(reqs[0].query, { scope: ["global"] });
    assert.match(text, /^Memory Statistics:\n• Total memories: 2\n/);
    assert.match(text, /\n• Retrieval mode: hybrid\n• FTS support: Yes\n• Embedding model: hash-v1 \(256 dimensions\)\n/);
    assert.match(text, /Memories by scope:\n {2}• agent:main: 1\n {2}• global: 1/);
  });

  test("memory_promote, memory_archive", async () => {
    const p = await call(all(), "memory_promote", { memoryId: "3f2a9c1e", layer: "working" });
    assert.deepEqual(p.reqs[0].body, { id: "3f2a9c1e", state: "confirmed", layer: "working" });
    assert.equal(p.text, "Promoted memory 3f2a9c1e to state=confirmed, layer=working.");
    const pa = await call(all(), "memory_promote", { query: "billing", state: "archived" });
    assert.equal(pa.reqs[0].path, "/v1/archive");
    const a = await call(all(), "memory_archive", { memoryId: "3f2a9c1e" });
    assert.deepEqual(a.reqs[0].body, { id: "3f2a9c1e", reason: "manual_archive" });
    assert.equal(a.text, "Archived memory 3f2a9c1e.");
    const none = await call(all(), "memory_archive", {});
    assert.equal(none.reqs.length, 0);
    assert.equal(none.text, "Provide memoryId or query.");
  });

  test("memory_compact: preview by default, apply on dryRun false", async () => {
    const dry = await call(all(), "memory_compact", {});
    assert.deepEqual(dry.reqs[0].body, { dry_run: true });
    assert.equal(dry.text, "Compaction preview: 2 duplicate(s) detected across 40 entries.");
    const apply = await call(all(), "memory_compact", { scope: "global", dryRun: false, limit: 200 });
    assert.deepEqual(apply.reqs[0].body, { scopes: ["global"], dry_run: false, limit: 200 });
    assert.equal(apply.text, "Compaction complete: archived 2 duplicate memory record(s).");
  });

  test("memory_debug shows scores and sources", async () => {
    const { text, reqs } = await call(all(), "memory_debug", { query: "billing", limit: 50 });
    assert.equal(reqs[0].body.limit, 20);
    assert.equal(reqs[0].body.debug, true);
    assert.match(text, /^Retrieval Debug Trace:/);
    assert.match(text, /\n {2}Stages \(2 kept, 1 dropped\):\n {4}fuse: 3 scores=\[0\.200, 0\.920\]\n {4}score: 3 scores=\[0\.100, 0\.820\]\n {6}dropped \(below min score\): 0d0d0d0d\n/);
    assert.match(text, new RegExp(`1\\. \\[${M.id}\\] \\[decision:agent:main\\] ${M.text} \\(82\\.0%, vector\\+BM25\\)`));
  });

  test("memory_debug shows trove's explanation: fusion, expansion, each stage", async () => {
    const explain = { fusion: "seed: 0.70·vector + 0.30·bm25", expansion: ["invoice"],
      stages: [{ name: "lexical", in: 20, out: 2, ms: 1.25, min: 0.5, max: 0.6 }, { name: "rerank", in: 2, out: 2, ms: 0, min: 0.7, max: 0.8, note: "no cross-encoder configured" }] };
    const plain = trove.routes["POST /v1/search"];
    trove.routes["POST /v1/search"] = () => ({ body: { explain, results: [{ memory: M, score: 0.82, sources: { vector: 0.8, bm25: 0.6 } }] } });
    try {
      const { text } = await call(all(), "memory_debug", { query: "billing", limit: 1 });
      assert.match(text, /  Fusion: seed: 0\.70·vector \+ 0\.30·bm25\n  Expansion terms: invoice\n    lexical: 20 → 2 in 1\.25ms, scores \[0\.500, 0\.600\]\n    rerank: 2 → 2 in 0\.00ms, scores \[0\.700, 0\.800\] \(no cross-encoder configured\)\n/);
    } finally {
      trove.routes["POST /v1/search"] = plain;
    }
  });
});

describe("scopes", () => {
  test("an ignored scope: the notice names the scopes this agent may read", async () => {
    const { text, res } = await call(all(), "memory_recall", { query: "billing", scope: "agent:other" });
    assert.equal(text, "Ignored inaccessible scope \"agent:other\"; this agent may read: agent:main, global, reflection:agent:main.\nNo relevant memories found.");
    assert.equal(res.details.ignoredScope, "agent:other");
    assert.deepEqual(res.details.accessibleScopes, ["agent:main", "global", "reflection:agent:main"]);
  });
});

describe("agents and failures", () => {
  test("each agent's calls carry its id; no agent means main", async () => {
    for (const [ctx, want] of [[{ agentId: "a" }, "a"], [{ agentId: "b" }, "b"], [{}, "main"]]) {
      const { reqs } = await call(all(), "memory_recall", { query: "billing" }, ctx);
      assert.equal(reqs[0].headers["x-trove-agent"], want);
    }
  });

  test("the token goes in Authorization; TROVE_URL and TROVE_TOKEN are the fallback", async () => {
    const { reqs } = await call({ baseUrl: trove.url, token: "tok-for-agents-0123" }, "memory_recall", { query: "billing" });
    assert.equal(reqs[0].headers.authorization, "Bearer tok-for-agents-0123");
    process.env.TROVE_URL = trove.url;
    process.env.TROVE_TOKEN = "env-token-456789";
    try {
      const env = await call({}, "memory_recall", { query: "billing" });
      assert.equal(env.reqs[0].headers.authorization, "Bearer env-token-456789");
    } finally {
      delete process.env.TROVE_URL;
      delete process.env.TROVE_TOKEN;
    }
  });

  test("trove down: the tool answers with a clear error in text", async () => {
    const { api, tools } = fakeApi({ baseUrl: await deadUrl(), enableManagementTools: true });
    plugin.register?.(/** @type {any} */ (api));
    /** @type {[string, object][]} */
    const calls = [["memory_recall", { query: "x" }], ["memory_store", { text: "remember this" }], ["memory_stats", {}]];
    for (const [name, params] of calls) {
      const res = await tools.get(name)?.({ agentId: "main" }).execute("c", params);
      assert.match(res.content[0].text, /^(Memory recall failed|Memory storage failed|Failed to get memory stats): trove is not reachable at http:\/\/127\.0\.0\.1:\d+ .*\[unavailable\]$/);
      assert.equal(res.details.error, "unavailable");
    }
  });

  test("trove's error body keeps its code; a slow trove times out", async () => {
    trove.routes["GET /v1/stats"] = () => ({ status: 503, body: { error: { code: "unavailable", message: "store is locked: retry" } } });
    assert.equal((await call(all(), "memory_stats", {})).text, "Failed to get memory stats: store is locked: retry [unavailable]");
    trove.routes["GET /v1/stats"] = () => ({ delayMs: 3000, body: {} });
    const slow = await call({ ...all(), timeoutMs: 500 }, "memory_stats", {});
    assert.match(slow.text, /did not answer within 500 ms \[timeout\]$/);
  });
});
