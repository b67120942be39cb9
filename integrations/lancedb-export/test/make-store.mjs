#!/usr/bin/env node
// Creates a LanceDB store in memory-lancedb-pro's schema (table memories:
// id, text, vector FixedSizeList<Float32>, category, scope, importance
// Float64, timestamp Float64, metadata Utf8 — src/store.ts at f6e63af) with
// the same npm package, filled with rows of every shape such stores hold.
//
//   node test/make-store.mjs DIR [--rows 2000] [--dims 384] [--shapes all|clean] [--legacy]
//
// --shapes clean writes only rows trove imports without adjustment;
// --legacy writes the older memory-lancedb plugin's table (createdAt, no
// scope or metadata). Prints {"rows","shapes":{shape:count}} on stdout.
import * as arrow from "apache-arrow";
import * as lancedb from "@lancedb/lancedb";
import { fileURLToPath } from "node:url";

// Each legacy shape memory-lancedb-pro's stores hold, and what it is.
export const LEGACY_SHAPES = [
  "null_scope", // NULL scope: "legacy scope" rows no reader there sees
  "blank_scope", // whitespace-only scope
  "seconds_timestamp", // timestamp in unix seconds
  "legacy_importance", // the old 1-5 importance scale
  "importance_over_one", // 7 on some other scale: clamped
  "nan_importance", // NaN importance
  "non_json_metadata", // metadata a plain string
  "array_metadata", // metadata "[1,2]"
  "unknown_category", // a category memory-lancedb-pro never validated
  "custom_scope", // a scope name declared in its config
  "reflection_scope", // reflection:agent:<id>
  "camel_metadata", // accessCount / lastAccessedAt
  "seconds_last_accessed", // metadata.last_accessed_at in seconds
];

const SCOPES = ["global", "agent:main", "agent:helper", "project:x", "user:u1", "custom:notes"];
const CATEGORIES = ["preference", "fact", "decision", "entity", "other", "reflection"];
const BASE_MS = 1_735_689_600_000; // 2025-01-01

export function idOf(i) {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}

// vectorOf is a deterministic unit-free vector with no zero direction.
export function vectorOf(i, dims) {
  const v = new Array(dims);
  let x = (i + 1) * 2654435761 % 4294967296;
  for (let d = 0; d < dims; d++) {
    x = (x * 1664525 + 1013904223) % 4294967296;
    v[d] = (x / 4294967296) * 2 - 1;
  }
  return v;
}

// shapeOf gives row i a shape: one in three rows is a legacy shape (in
// turn), the others are clean.
export function shapeOf(i, shapes) {
  if (shapes === "clean" || i % 3 !== 0) return "clean";
  return LEGACY_SHAPES[(i / 3) % LEGACY_SHAPES.length];
}

export function makeRow(i, dims, shapes = "all") {
  const shape = shapeOf(i, shapes);
  const smart = i % 2 === 0;
  const meta = smart
    ? { l0_abstract: `abstract ${i}`, memory_category: "cases", tier: "working", access_count: i % 7, source: "test" }
    : { source: "test", n: i };
  const row = {
    id: idOf(i),
    text: `memory ${i}: the user's note about topic ${i % 97} — ünïcode ✓`,
    vector: vectorOf(i, dims),
    category: CATEGORIES[i % CATEGORIES.length],
    scope: SCOPES[i % SCOPES.length],
    importance: Math.round(((i % 10) / 10 + 0.05) * 100) / 100,
    timestamp: BASE_MS + i * 60_000,
    metadata: JSON.stringify(meta),
  };
  switch (shape) {
    case "null_scope": row.scope = null; break;
    case "blank_scope": row.scope = "   "; break;
    case "seconds_timestamp": row.timestamp = Math.floor(row.timestamp / 1000); break;
    case "legacy_importance": row.importance = 1 + (i % 5); break;
    case "importance_over_one": row.importance = 7; break;
    case "nan_importance": row.importance = NaN; break;
    case "non_json_metadata": row.metadata = `legacy note ${i}, not JSON`; break;
    case "array_metadata": row.metadata = "[1,2]"; break;
    case "unknown_category": row.category = "stress"; break;
    case "custom_scope": row.scope = i % 2 ? "shared-team" : "project-x"; break;
    case "reflection_scope": row.scope = "reflection:agent:main"; break;
    case "camel_metadata": row.metadata = JSON.stringify({ ...meta, access_count: undefined, accessCount: 4, lastAccessedAt: BASE_MS + 5 }); break;
    case "seconds_last_accessed": row.metadata = JSON.stringify({ ...meta, last_accessed_at: Math.floor(BASE_MS / 1000) + i }); break;
  }
  return { row, shape };
}

export function schemaOf(dims) {
  return new arrow.Schema([
    new arrow.Field("id", new arrow.Utf8(), false),
    new arrow.Field("text", new arrow.Utf8(), false),
    new arrow.Field("vector", new arrow.FixedSizeList(dims, new arrow.Field("item", new arrow.Float32(), true)), false),
    new arrow.Field("category", new arrow.Utf8(), true),
    new arrow.Field("scope", new arrow.Utf8(), true),
    new arrow.Field("importance", new arrow.Float64(), true),
    new arrow.Field("timestamp", new arrow.Float64(), true),
    new arrow.Field("metadata", new arrow.Utf8(), true),
  ]);
}

// makeStore writes n rows into DIR's memories table (replacing it) in
// batches of 500 and returns the count of each shape.
export async function makeStore(dir, { rows = 2000, dims = 384, shapes = "all", legacy = false } = {}) {
  const db = await lancedb.connect(dir);
  if ((await db.tableNames()).includes("memories")) await db.dropTable("memories");
  const counts = {};
  let table = null;
  for (let start = 0; start < rows; start += 500) {
    const batch = [];
    for (let i = start; i < Math.min(rows, start + 500); i++) {
      const { row, shape } = makeRow(i, dims, shapes);
      counts[shape] = (counts[shape] ?? 0) + 1;
      if (legacy) {
        batch.push({ id: row.id, text: row.text, vector: row.vector, importance: row.importance, category: row.category, createdAt: row.timestamp });
      } else {
        batch.push(row);
      }
    }
    if (!table) {
      table = legacy
        ? await db.createTable("memories", batch)
        : await db.createTable("memories", batch, { schema: schemaOf(dims) });
    } else {
      await table.add(batch);
    }
  }
  if (!table) {
    table = await db.createEmptyTable("memories", schemaOf(dims));
  }
  return counts;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const dir = args[0];
  const opt = (name, def) => {
    const k = args.indexOf(name);
    return k >= 0 ? args[k + 1] : def;
  };
  if (!dir || dir.startsWith("--")) {
    process.stderr.write("usage: make-store.mjs DIR [--rows N] [--dims D] [--shapes all|clean] [--legacy]\n");
    process.exit(2);
  }
  const rows = Number(opt("--rows", "2000"));
  const counts = await makeStore(dir, { rows, dims: Number(opt("--dims", "384")), shapes: opt("--shapes", "all"), legacy: args.includes("--legacy") });
  process.stdout.write(JSON.stringify({ rows, shapes: counts }) + "\n");
}
