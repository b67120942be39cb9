import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import plugin from "../index.js";
import { resolveConfig } from "../lib/config.js";
import { answers, troveService } from "../lib/service.js";
import { deadUrl, fakeApi } from "./fake.js";

// A stand-in for `trove serve`: answers /healthz on the port given, after
// a short start-up, until SIGTERM.
const fakeServe = `
const port = Number(process.argv[1]);
setTimeout(() => require("node:http").createServer((q, s) => { s.writeHead(q.url === "/healthz" ? 200 : 404); s.end("{}"); })
  .listen(port, "127.0.0.1"), 300);
process.on("SIGTERM", () => process.exit(0));`;

const logger = { info: () => undefined, warn: () => undefined };

// The same as a file, for a wrapper command to start as its own child:
// `sh -c '"$0" "$1" "$2"; exit 0' node serve.cjs PORT [unhealthy]` keeps the
// shell (no exec of the last command), so trove is the gateway's grandchild.
// "unhealthy" listens but answers /healthz 503, so it never counts as started.
const serveFile = `
const [port, mode] = process.argv.slice(2);
require("node:http").createServer((q, s) => { s.writeHead(q.url === "/healthz" && mode !== "unhealthy" ? 200 : q.url === "/healthz" ? 503 : 404); s.end("{}"); })
  .listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));`;

/** @type {string} */
let dir;
/** @type {string} */
let serveScript;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "trove-plugin-service-"));
  serveScript = join(dir, "serve.cjs");
  await writeFile(serveScript, serveFile);
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** @param {string} url @param {string[]} [extra] */
const wrapped = (url, extra = []) => ["sh", "-c", '"$0" "$@"; exit 0', process.execPath, serveScript, new URL(url).port, ...extra];

/**
 * Whether anything listens at url (any HTTP answer, not only a healthy one).
 * @param {string} url
 */
async function listening(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(500) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** @param {() => Promise<boolean>} gone @param {number} ms */
async function within(gone, ms) {
  const deadline = Date.now() + ms;
  while (!(await gone())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

test("with command: starts trove when nothing answers at baseUrl, stops it with the gateway", async () => {
  const url = await deadUrl();
  const config = resolveConfig({ baseUrl: url, command: [process.execPath, "-e", fakeServe, new URL(url).port] }, {});
  const svc = troveService(config);
  await svc.start({ logger });
  assert.equal(await answers(url, 1000), true, "the started process answers");
  await svc.start({ logger }); // a second registry's start: the same process
  await svc.stop({ logger });
  assert.equal(await answers(url, 500), false, "stopped with the gateway");
});

test("with a wrapper command: stop() ends the trove it started too", async () => {
  const url = await deadUrl();
  const svc = troveService(resolveConfig({ baseUrl: url, command: wrapped(url) }, {}));
  await svc.start({ logger });
  assert.equal(await answers(url, 1000), true, "the wrapper's child answers");
  await svc.stop({ logger });
  assert.equal(await listening(url), false, "nothing answers after stop()");
});

test("with a wrapper command: the startup timeout kills the trove it started too", async () => {
  const url = await deadUrl();
  const svc = troveService(resolveConfig({ baseUrl: url, command: wrapped(url, ["unhealthy"]), commandStartTimeoutMs: 1000 }, {}));
  await assert.rejects(svc.start({ logger }), /did not answer within 1000 ms/);
  assert.equal(await within(async () => !(await listening(url)), 3000), true, "the wrapper's child still listens after the startup timeout");
});

test("with a wrapper command: the gateway's own exit ends the trove it started", async () => {
  const url = await deadUrl();
  const service = new URL("../lib/service.js", import.meta.url).href;
  const config = resolveConfig({ baseUrl: url, command: wrapped(url) }, {});
  // A gateway that starts the service and exits without stopping it.
  const gateway = spawn(process.execPath, ["--input-type=module", "-e", `
    const { troveService } = await import(${JSON.stringify(service)});
    const logger = { info: () => undefined, warn: () => undefined };
    await troveService(${JSON.stringify(config)}).start({ logger });
    console.log("started");
    process.exit(0);`], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  gateway.stdout.on("data", (c) => { out += c; });
  const code = await new Promise((r) => gateway.once("exit", r));
  assert.equal(code, 0);
  assert.equal(out.trim(), "started");
  assert.equal(await within(async () => !(await listening(url)), 3000), true, "the started trove outlived the gateway's exit");
});

test("with command: a trove that already answers is neither started nor stopped", async () => {
  const running = http.createServer((_q, s) => { s.end("{}"); });
  await new Promise((r) => running.listen(0, "127.0.0.1", () => r(undefined)));
  const url = `http://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (running.address()).port}`;
  const svc = troveService(resolveConfig({ baseUrl: url, command: [process.execPath, "-e", "process.exit(3)"] }, {}));
  await svc.start({ logger });
  await svc.stop({ logger });
  assert.equal(await answers(url, 1000), true);
  running.close();
});

test("with command: a command that fails says why, with its stderr", async () => {
  const url = await deadUrl();
  const svc = troveService(resolveConfig({ baseUrl: url, command: [process.execPath, "-e", "console.error('error: database is locked'); process.exit(2)"] }, {}));
  await assert.rejects(svc.start({ logger }), (err) => {
    assert.match(String(err), /started .* for http:\/\/127\.0\.0\.1:\d+ but it exited \(2\): error: database is locked; check the plugin's command and baseUrl/);
    return true;
  });
  const missing = troveService(resolveConfig({ baseUrl: url, command: ["/nonexistent/trove", "serve"] }, {}));
  await assert.rejects(missing.start({ logger }), /ENOENT/);
});

test("the service is registered only with command, and only in a live runtime", () => {
  const plain = fakeApi({ baseUrl: "http://127.0.0.1:9" });
  plugin.register?.(/** @type {any} */ (plain.api));
  assert.equal(plain.services.length, 0);
  const withCommand = fakeApi({ baseUrl: "http://127.0.0.1:9", command: ["trove", "serve"] });
  plugin.register?.(/** @type {any} */ (withCommand.api));
  assert.deepEqual(withCommand.services.map((s) => s.id), ["trove-serve"]);
  const discovery = fakeApi({ baseUrl: "http://127.0.0.1:9", command: ["trove", "serve"] });
  plugin.register?.(/** @type {any} */ ({ ...discovery.api, registrationMode: "discovery" }));
  assert.equal(discovery.services.length, 0);
});
