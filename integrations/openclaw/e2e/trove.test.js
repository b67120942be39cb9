// The plugin against a real `trove serve --http` (temp store, the offline
// hash embedder): every tool's answer, agent isolation, the hooks, and the
// hook path's latency. Needs the trove binary: TROVE_BIN=/path/to/trove
// (`go build -o /tmp/trove ./cmd/trove`); skipped without it.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import plugin from "../index.js";
import { fakeApi } from "../test/fake.js";
import { startTrove, troveBin as bin } from "./harness.js";

/** @type {Awaited<ReturnType<typeof startTrove>> | undefined} */
let trove;
let url = "";

before(async () => {
  if (!bin) return;
  trove = await startTrove(bin);
  url = trove.url;
});

after(async () => {
  await trove?.close();
});

function setup() {
  const f = fakeApi({ baseUrl: url, enableManagementTools: true, autoRecall: true, autoRecallTimeoutMs: 2000 });
  plugin.register?.(/** @type {any} */ (f.api));
  /** @param {string} agent @param {string} name @param {object} params */
  const call = async (agent, name, params) => {
    const res = await f.tools.get(name)?.({ agentId: agent }).execute("e2e", params);
    return { text: /** @type {string} */ (res.content[0].text), details: res.details };
  };
  return { ...f, call };
}

/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

test("tools, isolation and hooks against trove serve", { skip: bin ? false : "set TROVE_BIN to a built trove", timeout: 120_000 }, async (t) => {
  const { call, hooks } = setup();

  const stored = await call("alice", "memory_store", { text: "I prefer dark mode in every editor", category: "preference" });
  assert.match(stored.text, /^Stored: "I prefer dark mode in every editor" in scope 'agent:alice'$/);
  const id = stored.details.id;
  assert.equal((await call("alice", "memory_store", { text: "I prefer dark mode in every editor", category: "preference" })).text,
    "Similar memory already exists: \"I prefer dark mode in every editor\"");

  await t.test("recall is the agent's own", async () => {
    const a = await call("alice", "memory_recall", { query: "dark mode editor" });
    assert.match(a.text, /^<relevant-memories>\n<mode:summary>\nFound 1 memories:\n\n1\. \[[0-9a-f-]{36}\] \[preference:agent:alice\] I prefer dark mode in every editor\n<\/relevant-memories>$/);
    const b = await call("bob", "memory_recall", { query: "dark mode editor" });
    assert.equal(b.text, "No relevant memories found.");
    const bs = await call("bob", "memory_search", { query: "dark mode editor", scope: "agent:alice" });
    assert.match(bs.text, /^Ignored inaccessible scope "agent:alice"; this agent may read: agent:bob, global, reflection:agent:bob\.\nNo relevant memories found\.$/);
  });

  await t.test("update, facts, list, stats, debug, promote, archive, compact", async () => {
    assert.match((await call("alice", "memory_update", { memoryId: id.slice(0, 8), importance: 0.9 })).text, /^Updated memory [0-9a-f]{8}\.\.\.: "I prefer dark mode in every editor"$/);
    assert.equal((await call("bob", "memory_update", { memoryId: id, importance: 0.9 })).text, `Memory ${id.slice(0, 8)}... not found or access denied.`);
    assert.match((await call("alice", "memory_fact_query", { query: "dark mode" })).text, /^Fact query returned \d+ result\(s\) as of /);
    assert.match((await call("alice", "memory_list", {})).text, /^Recent memories \(showing 1\):\n\n1\. \[[0-9a-f-]{36}\] \[preference:agent:alice\] I prefer dark mode in every editor \(\d{4}-\d\d-\d\d\)$/);
    assert.match((await call("alice", "memory_stats", {})).text, /^Memory Statistics:\n• Total memories: 1\n[\s\S]*\n• Retrieval mode: hybrid\n• FTS support: Yes\n/);
    assert.match((await call("alice", "memory_debug", { query: "dark mode" })).text, /^Retrieval Debug Trace:[\s\S]*\n {2}Stages \(1 kept, \d+ dropped\):\n {4}\S[\s\S]*Results \(1\):\n1\. /);
    assert.match((await call("alice", "memory_promote", { memoryId: id })).text, /^Promoted memory [0-9a-f]{8} to state=confirmed, layer=durable\.$/);
    assert.match((await call("alice", "memory_compact", {})).text, /^Compaction preview: 0 duplicate\(s\) detected across \d+ entries\.$/);
    const extra = await call("alice", "memory_store", { text: "The staging database is called billing-stg", category: "fact" });
    assert.match((await call("alice", "memory_list", { offset: 1, limit: 5 })).text, /^Recent memories \(showing 1\):\n\n2\. \[[0-9a-f-]{36}\] \[preference:agent:alice\] I prefer dark mode/);
    assert.match((await call("alice", "memory_compact", { limit: 1 })).text, /^Compaction preview: 0 duplicate\(s\) detected across 1 entries\.$/);
    assert.match((await call("alice", "memory_archive", { memoryId: extra.details.id, reason: "moved" })).text, /^Archived memory [0-9a-f]{8}\.$/);
    assert.match((await call("alice", "memory_forget", { memoryId: extra.details.id })).text, / forgotten\.$/);
  });

  await t.test("before_prompt_build injects alice's memory, not bob's", async () => {
    const bpb = /** @type {Function} */ (hooks.get("before_prompt_build")?.handler);
    const a = await bpb({ prompt: "Do you remember which editor theme I prefer?" }, { agentId: "alice", sessionId: "e2e-a" });
    assert.match(a?.prependContext ?? "", /<relevant-memories>[\s\S]*dark mode[\s\S]*<\/relevant-memories>/);
    const b = await bpb({ prompt: "Do you remember which editor theme I prefer?" }, { agentId: "bob", sessionId: "e2e-b" });
    assert.equal(b, undefined);
  });

  await t.test("agent_end captures the user's statement into trove", async () => {
    hooks.get("agent_end")?.handler({ success: true, messages: [{ role: "user", content: "Remember that billing deploys on Fridays." }, { role: "assistant", content: "Noted." }] }, { agentId: "alice", sessionId: "e2e-cap" });
    let found = "";
    for (let i = 0; i < 100 && !found.includes("Fridays"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      found = (await call("alice", "memory_list", { limit: 50 })).text;
    }
    assert.match(found, /billing deploys on Fridays/i);
    assert.doesNotMatch((await call("bob", "memory_list", { limit: 50 })).text, /Fridays/);
  });

  await t.test("latency of the hook path (recall-context round trip from the plugin)", async () => {
    const bpb = /** @type {Function} */ (hooks.get("before_prompt_build")?.handler);
    /** @type {number[]} */
    const ms = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await bpb({ prompt: `What did I say about my editor theme last time? (${i})` }, { agentId: "alice", sessionId: `lat-${i % 10}` });
      ms.push(performance.now() - t0);
    }
    t.diagnostic(`before_prompt_build → /v1/recall-context, 200 calls: p50 ${quantile(ms, 0.5).toFixed(2)} ms, p99 ${quantile(ms, 0.99).toFixed(2)} ms, max ${Math.max(...ms).toFixed(2)} ms`);
  });
});
