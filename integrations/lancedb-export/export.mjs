#!/usr/bin/env node
// Exports a memory-lancedb-pro LanceDB store for `trove import` (trove runs
// it from `trove migrate`). It streams the table batch by batch, so memory
// stays bounded whatever the table's size, and writes every row: there is
// no cap like the plugin's own export of the 1,000 newest rows.
//
// Exit codes: 0 done; 1 failed part way or could not read the table;
// 2 usage; 3 no store or no memories table at --db.
import { createWriteStream, existsSync, statSync } from "node:fs";
import { once } from "node:events";
import { parseArgs, rowLine, UsageError, USAGE } from "./lib.mjs";

const EXIT_NOT_FOUND = 3;

async function main(argv) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message) process.stderr.write(`error: ${err.message}\n`);
      process.stderr.write(USAGE + "\n");
      return err.message ? 2 : 0;
    }
    throw err;
  }
  if (!existsSync(opts.db) || !statSync(opts.db).isDirectory()) {
    process.stderr.write(`error: no LanceDB store at ${opts.db} (not a directory)\n`);
    return EXIT_NOT_FOUND;
  }
  const lancedb = await import("@lancedb/lancedb");
  const db = await lancedb.connect(opts.db);
  const names = await db.tableNames();
  if (!names.includes(opts.table)) {
    process.stderr.write(`error: ${opts.db} has no table ${opts.table} (tables: ${names.join(", ") || "none"})\n`);
    return EXIT_NOT_FOUND;
  }
  const table = await db.openTable(opts.table);
  const schema = await table.schema();
  const columns = schema.fields.map((f) => f.name);
  const vectorField = schema.fields.find((f) => f.name === "vector");
  const dims = vectorField?.type?.listSize ?? 0;

  if (opts.count) {
    const rows = await table.countRows();
    process.stdout.write(JSON.stringify({ db: opts.db, table: opts.table, rows, dims, columns }) + "\n");
    return 0;
  }

  const out = opts.out ? createWriteStream(opts.out) : process.stdout;
  const stats = { vectorsDropped: 0 };
  let rows = 0;
  let query = table.query();
  if (!opts.vectors && columns.includes("vector")) {
    query = query.select(columns.filter((c) => c !== "vector"));
  }
  const started = Date.now();
  for await (const batch of query) {
    const cols = batch.schema.fields.map((f) => [f.name, cellGetter(batch.getChild(f.name))]);
    let chunk = "";
    for (let i = 0; i < batch.numRows; i++) {
      const row = {};
      for (const [name, get] of cols) row[name] = get(i);
      chunk += rowLine(row, opts, stats) + "\n";
    }
    rows += batch.numRows;
    // Wait for the reader when the pipe is full: bounded memory.
    if (!out.write(chunk)) await once(out, "drain");
  }
  if (out !== process.stdout) {
    out.end();
    await once(out, "finish");
  }
  const secs = (Date.now() - started) / 1000;
  process.stderr.write(`exported ${rows} rows from ${opts.db} (table ${opts.table}, ${dims} dimensions) in ${secs.toFixed(1)} s\n`);
  if (stats.vectorsDropped > 0) {
    process.stderr.write(`${stats.vectorsDropped} rows had no usable vector (missing, non-finite or all zeros): written without one, trove import embeds their text\n`);
  }
  return 0;
}

// cellGetter reads row i of a column. A fixed-size list of floats (the
// vector) is read straight from its values, without an Arrow object a row.
function cellGetter(col) {
  const d = col.data;
  const child = d.length === 1 ? d[0].children?.[0] : undefined;
  // Only the plain layout (one chunk, no offsets, no nulls); else Arrow's get.
  if (child?.values && col.type?.listSize > 0 && d[0].offset === 0 && child.offset === 0 && !d[0].nullCount && !child.nullCount) {
    const size = col.type.listSize;
    const values = child.values;
    return (i) => values.subarray(i * size, (i + 1) * size);
  }
  return (i) => col.get(i);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`error: ${err?.message ?? err}\n`);
    process.exitCode = 1;
  },
);
