// The exporter's parts that need no LanceDB: reading arguments and turning
// one row of the memories table into one JSON line. Values are written as
// the table holds them (memory-lancedb-pro's row shape); every mapping to
// trove's vocabulary is trove import's job, so that it is done, counted and
// reported in one place.

// The columns of memory-lancedb-pro's memories table, in its order
// (src/store.ts MemoryEntry at f6e63af).
export const COLUMNS = ["id", "text", "vector", "category", "scope", "importance", "timestamp", "metadata"];

export const USAGE = `usage: export.mjs --db DIR [--table memories] [--out FILE] [--no-vectors] [--count]

Writes every row of the LanceDB table (default memories) in DIR as JSON Lines
(id, text, vector, category, scope, importance, timestamp, metadata) to
stdout or FILE; prints the row count and any problems to stderr.
  --count       print {"rows","dims","columns"} as one JSON line and stop
  --no-vectors  leave vectors out (trove import then embeds the text)`;

export class UsageError extends Error {}

export function parseArgs(argv) {
  const opts = { db: "", table: "memories", out: "", vectors: true, count: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case "--db": opts.db = value(); break;
      case "--table": opts.table = value(); break;
      case "--out": opts.out = value(); break;
      case "--no-vectors": opts.vectors = false; break;
      case "--count": opts.count = true; break;
      case "-h": case "--help": throw new UsageError("");
      default: throw new UsageError(`unknown argument ${a}`);
    }
  }
  if (!opts.db) throw new UsageError("--db is required");
  return opts;
}

// plain turns an Arrow cell into a JSON-able value: int64 columns arrive as
// BigInt, list columns as Arrow vectors.
export function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (ArrayBuffer.isView(v)) return Array.from(v, plain);
  if (typeof v === "object" && typeof v.toArray === "function") return plain(v.toArray());
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Date) return v.getTime();
  if (typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

// usableVector returns the vector as an array of numbers, or null when it
// cannot be kept: absent, empty, a non-finite element, or all zeros (no
// direction to compare). memory-lancedb-pro drops such vectors on read too
// (toNumberVector); a row written without one is embedded by trove import.
export function usableVector(v) {
  if (v === null || v === undefined) return null;
  const arr = ArrayBuffer.isView(v) ? v : typeof v.toArray === "function" ? v.toArray() : v;
  if (!arr || arr.length === 0) return null;
  let nonzero = false;
  for (let i = 0; i < arr.length; i++) {
    const x = Number(arr[i]);
    if (!Number.isFinite(x)) return null;
    if (x !== 0) nonzero = true;
  }
  return nonzero ? Array.from(arr, Number) : null;
}

// vectorText is a usable vector as JSON array text, or null (see
// usableVector). Nine significant digits give back every float32 exactly,
// in about 12 characters a number instead of the 19 of a float64's.
export function vectorText(v) {
  if (v === null || v === undefined) return null;
  const arr = ArrayBuffer.isView(v) ? v : typeof v.toArray === "function" ? v.toArray() : v;
  if (!arr || arr.length === 0) return null;
  const parts = new Array(arr.length);
  let nonzero = false;
  for (let i = 0; i < arr.length; i++) {
    const x = Number(arr[i]);
    if (!Number.isFinite(x)) return null;
    if (x !== 0) nonzero = true;
    parts[i] = x === 0 ? "0" : x.toPrecision(9);
  }
  return nonzero ? "[" + parts.join(",") + "]" : null;
}

// rowLine is one row as a JSON line: memory-lancedb-pro's fields in its
// order, then any other column the table has. A table from the older
// memory-lancedb plugin has createdAt instead of timestamp and may lack
// scope and metadata; those are written as the timestamp and null.
// stats counts rows whose vector was left out.
export function rowLine(row, { vectors = true } = {}, stats = { vectorsDropped: 0 }) {
  const head = JSON.stringify({ id: plain(row.id), text: plain(row.text) });
  let vec = null;
  if (vectors && "vector" in row) {
    vec = vectorText(row.vector);
    if (vec === null) stats.vectorsDropped++;
  }
  const tail = {
    category: plain(row.category),
    scope: plain(row.scope),
    importance: importanceValue(row.importance),
    timestamp: plain("timestamp" in row ? row.timestamp : row.createdAt),
    metadata: plain(row.metadata),
  };
  for (const [k, v] of Object.entries(row)) {
    if (COLUMNS.includes(k) || k === "createdAt" || k in tail) continue;
    tail[k] = plain(v);
  }
  const rest = JSON.stringify(tail);
  return head.slice(0, -1) + (vec === null ? "" : ',"vector":' + vec) + "," + rest.slice(1);
}

// importanceValue keeps a non-finite importance visible: JSON has no NaN,
// and null would read as "absent", so it is written as the string "NaN"
// (trove import reads it as memory-lancedb-pro does: 0.7, counted).
function importanceValue(v) {
  if (v === null || v === undefined) return null;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n === "number" && !Number.isFinite(n)) return String(n);
  return plain(n);
}
