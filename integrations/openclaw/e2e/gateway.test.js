// Tools without a model: `openclaw gateway run` with this plugin in the
// memory slot, and the plugin's `command` starting a real `trove serve`
// (nothing answers at baseUrl before). Each of the 13 tools is called
// through the gateway's `POST /tools/invoke` as agent a, then agent b tries
// to reach a's memories; the trove the plugin started stops with the
// gateway.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { answers } from "../lib/service.js";
import { freePort, mockModel, mockProvider, openclawHome, poll, stop, troveBin } from "./harness.js";

const Token = "e2e-gateway-token";

/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];
let gateway = "";
/** @type {() => string} */
let gatewayLog = () => "";

let troveUrl = "";
let gatewayPort = 0;
/** @type {Awaited<ReturnType<typeof openclawHome>> | undefined} */
let home;
/** @type {import("node:child_process").ChildProcess | undefined} */
let gatewayProc;

before(async () => {
  if (!troveBin) return;
  const dir = await mkdtemp(join(tmpdir(), "trove-e2e-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  troveUrl = `http://127.0.0.1:${await freePort()}`;
  const command = [troveBin, "serve", "--http", troveUrl.slice("http://".length), "--db", join(dir, "trove.db")];
  const model = await mockModel({ tool: "memory_store", args: { text: "The release train leaves every second Tuesday" } });
  cleanups.push(() => model.close());
  const provider = mockProvider(model.url);
  const oc = await openclawHome({ baseUrl: troveUrl, enableManagementTools: true, command }, {
    ...provider,
    agents: { ...provider.agents, list: [{ id: "main", default: true }, { id: "a" }, { id: "b" }] },
  });
  home = oc;
  cleanups.push(() => oc.cleanup());
  const port = await freePort();
  gatewayPort = port;
  const g = oc.start(["gateway", "run", "--bind", "loopback", "--auth", "token", "--token", Token, "--port", String(port), "--allow-unconfigured"]);
  gatewayProc = g.proc;
  cleanups.push(() => stop(g.proc));
  gatewayLog = g.log;
  gateway = `http://127.0.0.1:${port}`;
  // The gateway answers HTTP before it starts plugin services: ready is
  // when a tool reaches the trove the plugin started.
  const up = await poll(async () => {
    const r = g.proc.exitCode === null && await invoke("a", "memory_stats", {});
    return r && r.ok && !r.details?.error;
  }, 300, 500);
  if (!up) throw new Error(`the gateway did not come up: ${g.log()}`);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/**
 * POST /tools/invoke as an agent.
 * @param {string} agentId @param {string} tool @param {Record<string, unknown>} args
 * @returns {Promise<{ok: boolean, status: number, text: string, details: any, body: any}>}
 */
async function invoke(agentId, tool, args) {
  const res = await fetch(`${gateway}/tools/invoke`, {
    method: "POST",
    headers: { Authorization: `Bearer ${Token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ tool, agentId, args }),
  });
  const body = await res.json().catch(() => undefined);
  return { ok: res.ok && body?.ok === true, status: res.status, text: body?.result?.content?.[0]?.text ?? "", details: body?.result?.details, body };
}

test("every tool through the gateway's POST /tools/invoke; agent isolation; the plugin starts and stops trove", { skip: troveBin ? false : "set TROVE_BIN to a built trove", timeout: 240_000 }, async (t) => {
  /** @param {string} agent @param {string} tool @param {Record<string, unknown>} args */
  const text = async (agent, tool, args) => {
    const r = await invoke(agent, tool, args);
    assert.ok(r.ok, `${tool} as ${agent}: ${r.status} ${JSON.stringify(r.body)}\n${gatewayLog().slice(-2000)}`);
    return r;
  };

  const stored = await text("a", "memory_store", { text: "I prefer dark mode in every editor", category: "preference" });
  assert.equal(stored.text, "Stored: \"I prefer dark mode in every editor\" in scope 'agent:a'");
  const id = stored.details.id;
  const extra = await text("a", "memory_store", { text: "The staging database is called billing-stg", category: "fact" });

  await t.test("each tool as agent a", async () => {
    const line = `1. [${id}] [preference:agent:a] I prefer dark mode in every editor`;
    for (const name of ["memory_recall", "memory_search", "memory_get"]) {
      const r = await text("a", name, { query: "dark mode editor", limit: 1 });
      assert.equal(r.text, `<relevant-memories>\n<mode:summary>\nFound 1 memories:\n\n${line}\n</relevant-memories>`, name);
    }
    assert.match((await text("a", "memory_update", { memoryId: id, importance: 0.9 })).text, /^Updated memory [0-9a-f]{8}\.\.\.: "I prefer dark mode in every editor"$/);
    assert.match((await text("a", "memory_fact_query", { query: "dark mode" })).text, /^Fact query returned \d+ result\(s\) as of \d{4}-/);
    assert.match((await text("a", "memory_list", { limit: 1 })).text, /^Recent memories \(showing 1\):\n\n1\. \[[0-9a-f-]{36}\] \[\w+:agent:a\] /);
    assert.match((await text("a", "memory_stats", {})).text, /^Memory Statistics:\n• Total memories: 2\n/);
    assert.match((await text("a", "memory_debug", { query: "dark mode" })).text, /^Retrieval Debug Trace:[\s\S]*\nResults \(\d\):\n1\. /);
    assert.equal((await text("a", "memory_promote", { memoryId: id })).text, `Promoted memory ${id.slice(0, 8)} to state=confirmed, layer=durable.`);
    assert.match((await text("a", "memory_compact", {})).text, /^Compaction preview: 0 duplicate\(s\) detected across \d+ entries\.$/);
    assert.equal((await text("a", "memory_archive", { memoryId: extra.details.id, reason: "moved" })).text, `Archived memory ${extra.details.id.slice(0, 8)}.`);
    assert.equal((await text("a", "memory_forget", { memoryId: extra.details.id })).text, `Memory ${extra.details.id} forgotten.`);
  });

  await t.test("agent b cannot reach agent a's memories", async () => {
    assert.equal((await text("b", "memory_recall", { query: "dark mode editor" })).text, "No relevant memories found.");
    assert.equal((await text("b", "memory_search", { query: "dark mode editor", scope: "agent:a" })).text,
      "Ignored inaccessible scope \"agent:a\"; this agent may read: agent:b, global, reflection:agent:b.\nNo relevant memories found.");
    assert.equal((await text("b", "memory_list", {})).text, "No memories found.");
    assert.match((await text("b", "memory_stats", {})).text, /• Total memories: 0\n/);
    assert.equal((await text("b", "memory_update", { memoryId: id, text: "b was here" })).text, `Memory ${id.slice(0, 8)}... not found or access denied.`);
    assert.equal((await text("b", "memory_forget", { memoryId: id })).text, `Memory ${id} not found or access denied.`);
    assert.equal((await text("b", "memory_store", { text: "b's secret is 42", scope: "agent:a" })).text, "Access denied to scope: agent:a");
    assert.match((await text("a", "memory_recall", { query: "dark mode editor" })).text, /I prefer dark mode in every editor/, "a's memory is untouched");
  });

  await t.test("a turn through the gateway (openclaw agent without --local): the tool stores, agent_end captures", async () => {
    const oc = /** @type {NonNullable<typeof home>} */ (home);
    const out = await oc.run(["agent", "--agent", "main", "--session-id", "g1", "-m", "Remember that I deploy billing on Fridays.", "--json"],
      { OPENCLAW_GATEWAY_PORT: String(gatewayPort), OPENCLAW_GATEWAY_TOKEN: Token });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.json?.status, "ok", out.stdout);
    assert.match(out.json.result.payloads[0].text, /^From memory: Stored: "The release train leaves every second Tuesday" in scope 'agent:main'$/);
    const captured = await poll(async () => {
      const r = await invoke("main", "memory_list", { limit: 10 });
      return /I deploy billing on Fridays/.test(r.text) && r.text;
    }, 100, 200);
    assert.ok(captured, "agent_end's capture in agent main's scope");
    assert.match(captured, /The release train leaves every second Tuesday/);
  });

  await t.test("the trove the plugin started stops with the gateway", async () => {
    assert.equal(await answers(troveUrl, 1000), true);
    await stop(gatewayProc);
    assert.equal(await poll(async () => !(await answers(troveUrl, 500)), 50, 200), true, `trove still answers at ${troveUrl} after the gateway stopped`);
  });
});
