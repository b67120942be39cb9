// Whole agent turns: `openclaw agent --local` with this plugin in the memory
// slot, a mock model that calls memory_recall and then answers, and
// (1) a real `trove serve`: the stored memory reaches the model through
// before_prompt_build and through the tool, and agent_end captures the
// user's statement; (2) a trove that accepts connections and never answers:
// the turn still completes and the tool says it timed out.
// The first turn's transcript is printed (node --test diagnostics).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { blackHole, mockModel, mockProvider, openclawHome, poll, startTrove, troveBin } from "./harness.js";

/** @type {Awaited<ReturnType<typeof startTrove>> | undefined} */
let trove;
/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];

before(async () => {
  if (!troveBin) return;
  trove = await startTrove(troveBin);
  cleanups.push(() => /** @type {NonNullable<typeof trove>} */ (trove).close());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const Prompt = "Which editor theme do I prefer? Remember that I deploy billing on Fridays.";

/** The text of a chat message's content. @param {any} m @returns {string} */
function textOf(m) {
  if (typeof m?.content === "string") return m.content;
  return Array.isArray(m?.content) ? m.content.map((/** @type {any} */ p) => p.text ?? "").join("\n") : "";
}

/**
 * One turn of agent main against trove at baseUrl.
 * @param {string} baseUrl
 * @param {Record<string, unknown>} pluginConfig
 * @param {string} session
 */
async function turn(baseUrl, pluginConfig, session) {
  const model = await mockModel({ tool: "memory_recall", args: { query: "editor theme" } });
  const oc = await openclawHome({ baseUrl, autoRecall: true, autoCapture: true, ...pluginConfig }, mockProvider(model.url));
  cleanups.push(() => oc.cleanup(), () => model.close());
  const out = await oc.run(["agent", "--local", "--agent", "main", "--session-id", session, "-m", Prompt, "--json"]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(model.requests.length, 2, "the model is asked twice: before and after the tool call");
  const [first, second] = model.requests;
  const user = first.messages.find((/** @type {any} */ m) => m.role === "user" && textOf(m).includes(Prompt));
  const toolCall = second.messages.find((/** @type {any} */ m) => m.role === "assistant" && m.tool_calls?.length)?.tool_calls[0];
  const toolResult = second.messages.find((/** @type {any} */ m) => m.role === "tool");
  return { out, user: textOf(user), toolCall, toolResult: textOf(toolResult), answer: out.json?.payloads?.[0]?.text ?? "", tools: first.tools.map((/** @type {any} */ t) => t.function.name) };
}

test("a whole agent turn: recall hook, memory_recall, agent_end capture; trove hung: the turn completes", { skip: troveBin ? false : "set TROVE_BIN to a built trove", timeout: 240_000 }, async (t) => {
  const tr = /** @type {NonNullable<typeof trove>} */ (trove);
  const hole = await blackHole();
  cleanups.push(() => hole.close());
  const stored = await tr.api("POST", "/v1/memories", "main", { text: "I prefer dark mode in every editor", category: "preference" });

  // The two turns run side by side: each is one openclaw process.
  const [ok, down] = await Promise.all([
    turn(tr.url, {}, "t1"),
    turn(hole.url, { timeoutMs: 2000, autoRecallTimeoutMs: 1000 }, "t2"),
  ]);

  await t.test("the stored memory is in the model request (before_prompt_build)", () => {
    assert.match(ok.user, /I prefer dark mode in every editor/);
    assert.ok(ok.user.indexOf("dark mode") < ok.user.indexOf(Prompt), "the memory comes before the prompt");
    for (const name of ["memory_recall", "memory_store", "memory_forget", "memory_update"]) assert.ok(ok.tools.includes(name), `${name} offered to the model`);
  });

  await t.test("the model's memory_recall call returns it", () => {
    assert.equal(ok.toolCall.function.name, "memory_recall");
    assert.equal(ok.toolResult, `<relevant-memories>\n<mode:summary>\nFound 1 memories:\n\n1. [${stored.id}] [preference:agent:main] I prefer dark mode in every editor\n</relevant-memories>`);
    assert.equal(ok.answer, `From memory: 1. [${stored.id}] [preference:agent:main] I prefer dark mode in every editor`);
    assert.deepEqual(ok.out.json.meta.agentMeta.terminalReceipt.successfulToolNames, ["memory_recall"]);
  });

  /** @type {any} */
  let captured;
  await t.test("agent_end captured the user's statement into trove", async () => {
    captured = await poll(async () => {
      const page = await tr.api("GET", "/v1/memories?limit=50", "main");
      return page.memories.find((/** @type {any} */ m) => /billing on Fridays/.test(m.text));
    }, 100, 100);
    assert.ok(captured, "a memory about billing on Fridays in agent main's scope");
    assert.equal(captured.scope, "agent:main");
    assert.equal(captured.metadata.session, "t1");
    // The injected block was in the user message OpenClaw kept; it is not
    // captured back as a new memory.
    const page = await tr.api("GET", "/v1/memories?limit=50", "main");
    const echoed = page.memories.filter((/** @type {any} */ m) => m.id !== stored.id && /dark mode/.test(m.text));
    assert.deepEqual(echoed, [], "the recalled memory is not captured again");
  });

  await t.test("trove hung: no memory injected, the tool answers with a timeout, the turn completes", () => {
    assert.doesNotMatch(down.user, /relevant-memories/);
    assert.match(down.toolResult, /^Memory recall failed: trove at http:\/\/127\.0\.0\.1:\d+ did not answer within 2000 ms \[timeout\]$/);
    assert.equal(down.answer, `From memory: ${down.toolResult}`);
    assert.equal(down.out.json.meta.aborted, false);
  });

  const transcript = [
    `$ openclaw agent --local --agent main --session-id t1 -m ${JSON.stringify(Prompt)} --json   (${ok.out.json.meta.durationMs} ms)`,
    "model request 1, user message:",
    ...ok.user.split("\n").map((l) => `  | ${l}`),
    `model reply 1: tool call ${ok.toolCall.function.name}(${ok.toolCall.function.arguments})`,
    "tool result:",
    ...ok.toolResult.split("\n").map((l) => `  | ${l}`),
    `final answer: ${ok.answer}`,
    `captured by agent_end: [${captured?.id}] [${captured?.category}:${captured?.scope}] ${captured?.text} (source ${captured?.metadata?.source}, session ${captured?.metadata?.session})`,
    `trove hung (turn t2, ${down.out.json.meta.durationMs} ms): tool result: ${down.toolResult}`,
  ];
  for (const line of transcript) t.diagnostic(line);
});
