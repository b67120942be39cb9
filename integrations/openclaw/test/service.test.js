import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";
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
