// node --test: the exporter's row conversion, and the exporter run as a
// process against LanceDB stores made with the same npm package.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, rowLine, usableVector, vectorText, plain, UsageError } from "../lib.mjs";
import { makeStore, makeRow, idOf, LEGACY_SHAPES } from "./make-store.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const exporter = join(here, "..", "export.mjs");

function run(...args) {
  const r = spawnSync(process.execPath, [exporter, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tempDir(t) {
  const d = mkdtempSync(join(tmpdir(), "lancedb-export-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test("parseArgs", () => {
  assert.deepEqual(parseArgs(["--db", "d"]), { db: "d", table: "memories", out: "", vectors: true, count: false });
  assert.deepEqual(parseArgs(["--db", "d", "--no-vectors", "--count", "--table", "t", "--out", "f"]),
    { db: "d", table: "t", out: "f", vectors: false, count: true });
  assert.throws(() => parseArgs([]), UsageError);
  assert.throws(() => parseArgs(["--db"]), UsageError);
  assert.throws(() => parseArgs(["--db", "d", "--bogus"]), UsageError);
});

test("rowLine writes the row as the table holds it, in memory-lancedb-pro's field order", () => {
  const line = rowLine({
    id: "a", text: "t", vector: new Float32Array([0.5, -1]), category: "stress", scope: null,
    importance: 5, timestamp: 1700000000, metadata: "not json",
  });
  assert.equal(line, '{"id":"a","text":"t","vector":[0.500000000,-1.00000000],"category":"stress","scope":null,"importance":5,"timestamp":1700000000,"metadata":"not json"}');
});

test("rowLine: NaN importance stays visible, int64 timestamps become numbers, extra columns are kept", () => {
  const o = JSON.parse(rowLine({ id: "a", text: "t", importance: NaN, timestamp: 1735689600000n, metadata: null, extra: 3n }));
  assert.equal(o.importance, "NaN");
  assert.equal(o.timestamp, 1735689600000);
  assert.equal(o.metadata, null);
  assert.equal(o.extra, 3);
  assert.equal("vector" in o, false);
});

test("rowLine: the older memory-lancedb table's createdAt is the timestamp", () => {
  const o = JSON.parse(rowLine({ id: "a", text: "t", vector: [1], importance: 0.5, category: "fact", createdAt: 1700000000000 }));
  assert.equal(o.timestamp, 1700000000000);
  assert.equal(o.scope, null);
  assert.equal("createdAt" in o, false);
});

test("vectors that cannot be kept are left out and counted", () => {
  const stats = { vectorsDropped: 0 };
  for (const v of [null, [], [0, 0], [1, NaN], new Float32Array([Infinity])]) {
    assert.equal("vector" in JSON.parse(rowLine({ id: "a", text: "t", vector: v }, {}, stats)), false);
  }
  assert.equal(stats.vectorsDropped, 5);
  assert.deepEqual(usableVector(new Float32Array([0, 0.25])), [0, 0.25]);
  assert.equal(vectorText(new Float32Array([0, 0.1, -3e-7])), "[0,0.100000001,-3.00000011e-7]");
  const f = new Float32Array(1000).map((_, i) => Math.sin(i) * 10 ** ((i % 9) - 6));
  assert.deepEqual(JSON.parse(vectorText(f)).map(Math.fround), Array.from(f));
  const o = JSON.parse(rowLine({ id: "a", text: "t", vector: [1, 2] }, { vectors: false }));
  assert.equal("vector" in o, false);
  assert.deepEqual(plain([1n, null, Infinity]), [1, null, null]);
});

test("exports every row of a store of every shape, past 1,000, with vectors", async (t) => {
  const dir = tempDir(t);
  const counts = await makeStore(join(dir, "db"), { rows: 1500, dims: 8 });
  for (const s of LEGACY_SHAPES) assert.ok(counts[s] > 0, `no row of shape ${s}`);

  const c = run("--db", join(dir, "db"), "--count");
  assert.equal(c.code, 0, c.err);
  const info = JSON.parse(c.out);
  assert.equal(info.rows, 1500);
  assert.equal(info.dims, 8);

  const r = run("--db", join(dir, "db"));
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /exported 1500 rows/);
  const lines = r.out.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 1500);
  const byId = new Map(lines.map((o) => [o.id, o]));
  for (let i = 0; i < 1500; i++) {
    const { row } = makeRow(i, 8);
    const o = byId.get(idOf(i));
    assert.ok(o, `row ${i} missing`);
    assert.equal(o.text, row.text);
    assert.equal(o.scope, row.scope);
    assert.equal(o.category, row.category);
    assert.equal(o.metadata, row.metadata);
    assert.equal(o.timestamp, row.timestamp);
    assert.equal(o.importance, Number.isNaN(row.importance) ? "NaN" : row.importance);
    // float32 exactly: nine significant digits read back to the same float32
    assert.deepEqual(o.vector.map(Math.fround), row.vector.map(Math.fround));
  }
});

test("--out and --no-vectors", async (t) => {
  const dir = tempDir(t);
  await makeStore(join(dir, "db"), { rows: 20, dims: 4 });
  const r = run("--db", join(dir, "db"), "--out", join(dir, "o.jsonl"), "--no-vectors");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "");
  const lines = readFileSync(join(dir, "o.jsonl"), "utf8").trimEnd().split("\n");
  assert.equal(lines.length, 20);
  assert.equal("vector" in JSON.parse(lines[0]), false);
});

test("the older memory-lancedb plugin's table", async (t) => {
  const dir = tempDir(t);
  await makeStore(join(dir, "db"), { rows: 5, dims: 4, legacy: true });
  const r = run("--db", join(dir, "db"));
  assert.equal(r.code, 0, r.err);
  const o = JSON.parse(r.out.split("\n")[0]);
  assert.deepEqual(Object.keys(o), ["id", "text", "vector", "category", "scope", "importance", "timestamp", "metadata"]);
  assert.equal(o.scope, null);
  assert.equal(o.metadata, null);
});

test("an empty table exports nothing", async (t) => {
  const dir = tempDir(t);
  await makeStore(join(dir, "db"), { rows: 0, dims: 4 });
  const r = run("--db", join(dir, "db"));
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, "");
  assert.match(r.err, /exported 0 rows/);
});

test("no store, no table, bad usage", (t) => {
  const dir = tempDir(t);
  let r = run("--db", join(dir, "missing"));
  assert.equal(r.code, 3);
  assert.match(r.err, /no LanceDB store/);
  r = run("--db", dir, "--count");
  assert.equal(r.code, 3);
  assert.match(r.err, /has no table memories/);
  r = run("--bogus");
  assert.equal(r.code, 2);
  assert.match(r.err, /usage:/);
});
