// Serves an in-memory PGlite database, with its pgvector extension, over
// the PostgreSQL wire protocol on a loopback port, for trove's pgvector
// tests (internal/store/postgres: TestPGlite*).
//
//   node server.mjs [--port N] [--max-connections N]
//
// It prints one line, "PORT <n>", once it listens (port 0, the default,
// lets the system choose), and runs until it is sent SIGINT or SIGTERM or
// its standard input closes (so a test that dies does not leave it behind).
//
// PGlite is one PostgreSQL backend in single-user mode: the socket server
// queues the messages of its connections onto that one session, so what
// needs two real sessions (concurrent transactions, row locks, advisory
// locks held by two connections, LISTEN/NOTIFY) cannot be tested here, and
// COPY over the wire is not supported. Schema, indexes (HNSW) and query
// results are PostgreSQL's own.
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite/vector'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

function flag(name, def) {
  const i = process.argv.indexOf(name)
  if (i < 0) return def
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v < 0) {
    console.error(`${name} wants a whole number, got ${JSON.stringify(process.argv[i + 1])}`)
    process.exit(2)
  }
  return v
}

const port = flag('--port', 0)
const maxConnections = flag('--max-connections', 1)

const db = await PGlite.create({ extensions: { vector } })
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections })
await server.start()
const addr = server.getServerConn()
console.log(`PORT ${addr.slice(addr.lastIndexOf(':') + 1)}`)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  await server.stop()
  await db.close()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
