package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// minServerVersion is the oldest PostgreSQL trove's SQL is written for
// (DROP DATABASE … WITH (FORCE) and gen_random_uuid are 13's).
const minServerVersion = 130000

func checkConnection(ctx context.Context, s ServerStore) Check {
	c := Check{Name: CheckConnection}
	start := time.Now()
	if err := s.Ping(ctx); err != nil {
		c.Status = Fail
		c.Detail = fmt.Sprintf("cannot reach the database %s: %v", s.Redacted(), err)
		c.Fix = "check that the server is running and reachable from this host, and the URL's host, port, database, user and password (or PGPASSWORD, ~/.pgpass) and sslmode"
		return c
	}
	rtt := time.Since(start)
	c.Status, c.Detail = OK, fmt.Sprintf("connected to %s (round trip %s)", s.Redacted(), us(rtt))
	c.Figures = map[string]any{"round_trip_ms": ms(rtt)}
	return c
}

// checkServerAndExtensions reports the server's version and its
// extensions, from one ServerInfo.
func checkServerAndExtensions(ctx context.Context, s ServerStore) []Check {
	srv, ext := Check{Name: CheckServer}, Check{Name: CheckExtensions}
	info, err := s.ServerInfo(ctx)
	if err != nil {
		srv.Status, srv.Detail = Fail, fmt.Sprintf("could not read the server's version: %v", err)
		ext.Status, ext.Detail = Fail, fmt.Sprintf("could not read the installed extensions: %v", err)
		return []Check{srv, ext}
	}
	srv.Figures = map[string]any{"version": info.Version, "version_num": info.VersionNum, "database": info.Database, "user": info.User,
		"connections": info.Connections, "max_connections": info.MaxConnections}
	srv.Status = OK
	srv.Detail = fmt.Sprintf("PostgreSQL %s, database %s as role %s", info.Version, info.Database, info.User)
	if info.MaxConnections > 0 {
		srv.Detail += fmt.Sprintf("; %d of the server's %d connections in use", info.Connections, info.MaxConnections)
	}
	switch {
	case info.VersionNum > 0 && info.VersionNum < minServerVersion:
		srv.Status = Warn
		srv.Detail += fmt.Sprintf("; trove is written for PostgreSQL %d or newer", minServerVersion/10000)
		srv.Fix = "upgrade the server; on an older one some commands fail with a syntax error"
	case info.MaxConnections > 0 && info.Connections*10 >= info.MaxConnections*9:
		srv.Status = Warn
		srv.Detail += ": close to the limit, past which new connections (a new trove process, or a pool growing) are refused"
		srv.Fix = "raise max_connections on the server, or put a pooler (PgBouncer in transaction mode) between the hosts and the server"
	}

	var names []string
	vector := ""
	for _, e := range info.Extensions {
		names = append(names, e.Name+" "+e.Version)
		if e.Name == "vector" {
			vector = e.Version
		}
	}
	ext.Figures = map[string]any{"installed": info.Extensions, "vector_available": info.VectorAvailable,
		"vector_installed": vector != "", "vector_in_use": info.VectorInUse}
	installed := "none"
	if len(names) > 0 {
		installed = strings.Join(names, ", ")
	}
	switch {
	case info.VectorInUse:
		ext.Status = OK
		ext.Detail = fmt.Sprintf("pgvector %s: vector search uses its index (installed: %s)", vector, installed)
	case vector != "":
		ext.Status = Warn
		ext.Detail = fmt.Sprintf("pgvector %s is installed but this store does not use it: trove scores the vectors itself (installed: %s)", vector, installed)
		ext.Fix = "restart the trove processes on this database: each detects pgvector when it opens the store"
	case info.VectorAvailable:
		ext.Status = Warn
		ext.Detail = fmt.Sprintf("the server has pgvector but it is not installed in this database, so trove scores the vectors itself, reading all of them (installed: %s)", installed)
		ext.Fix = fmt.Sprintf("a role that may, runs CREATE EXTENSION vector in database %s; trove uses it from the next start", info.Database)
	default:
		ext.Status = OK
		ext.Detail = fmt.Sprintf("pgvector is not on this server: trove scores the vectors itself (the same results; slower on large stores) (installed: %s)", installed)
	}
	return []Check{srv, ext}
}

func checkIndexes(ctx context.Context, s ServerStore) Check {
	c := Check{Name: CheckIndexes}
	ixs, err := s.Indexes(ctx)
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("could not list the indexes: %v", err)
		return c
	}
	var missing, invalid, creates []string
	foreign := 0 // invalid indexes that are not the schema's
	for _, ix := range ixs {
		switch {
		case !ix.Present:
			missing = append(missing, ix.Name+" on "+ix.Table)
		case !ix.Valid:
			invalid = append(invalid, ix.Name+" on "+ix.Table)
			if ix.Create == "" {
				foreign++
			}
		default:
			continue
		}
		if ix.Create != "" {
			creates = append(creates, ix.Create)
		}
	}
	c.Figures = map[string]any{"expected": len(ixs), "missing": missing, "invalid": invalid}
	if len(missing) == 0 && len(invalid) == 0 {
		c.Status, c.Detail = OK, fmt.Sprintf("%s the schema expects %s present and valid",
			pick(len(ixs), "the 1 index", fmt.Sprintf("all %d indexes", len(ixs))), pick(len(ixs), "is", "are"))
		return c
	}
	c.Status = Fail
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing: %s", strings.Join(missing, ", ")))
	}
	if len(invalid) > 0 {
		parts = append(parts, fmt.Sprintf("invalid (left by a failed CREATE INDEX CONCURRENTLY, never used): %s", strings.Join(invalid, ", ")))
	}
	c.Detail = "indexes the schema expects are not usable, so queries that need them scan whole tables or, for a unique one, duplicates are not prevented: " + strings.Join(parts, "; ")
	var fixes []string
	if len(invalid) > 0 {
		fixes = append(fixes, "drop each invalid index (DROP INDEX CONCURRENTLY name)")
	}
	if len(creates) > 0 {
		fixes = append(fixes, "create the schema's indexes again, without holding up writers: "+psqlEach(s, concurrently(creates)))
	}
	if foreign > 0 {
		fixes = append(fixes, "an invalid index that is not trove's needs only the drop")
	}
	c.Fix = strings.Join(fixes, "; then ")
	return c
}

// checkTransactions reports sessions whose open transaction holds or waits
// for locks for longer than opts.LongTransaction: they hold back writers
// waiting for the same rows, and vacuum.
func checkTransactions(ctx context.Context, s ServerStore, opts Options) Check {
	c := Check{Name: CheckTransaction}
	sessions, err := s.LongTransactions(ctx, opts.LongTransaction)
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("could not list the server's sessions: %v", err)
		c.Fix = "the role needs to read pg_stat_activity and pg_locks (granted to pg_read_all_stats, or run trove doctor as the database owner)"
		return c
	}
	c.Figures = map[string]any{"older_than": opts.LongTransaction.String(), "sessions": sessions}
	if len(sessions) == 0 {
		c.Status = OK
		c.Detail = fmt.Sprintf("no transaction has held locks for longer than %s", opts.LongTransaction)
		return c
	}
	c.Status = Warn
	var parts, pids []string
	for i, se := range sessions {
		pids = append(pids, fmt.Sprint(se.PID))
		if i == examples {
			parts = append(parts, fmt.Sprintf("and %d more", len(sessions)-examples))
			break
		}
		p := fmt.Sprintf("pid %d (%s, %s) %s for %s holding %s", se.PID, orUnknown(se.Application), orUnknown(se.User), se.State, roundAge(se.Age), plural(se.Locks, "lock"))
		if se.Blocking > 0 {
			p += fmt.Sprintf(", %s waiting for it", plural(se.Blocking, "session"))
		}
		if se.Waiting {
			p += fmt.Sprintf(", itself waiting for pid %s", joinInts(se.BlockedBy))
		}
		parts = append(parts, p)
	}
	c.Detail = fmt.Sprintf("%s open for longer than %s with locks: %s", pick(len(sessions), "1 transaction has been", fmt.Sprintf("%d transactions have been", len(sessions))),
		opts.LongTransaction, strings.Join(parts, "; "))
	c.Fix = fmt.Sprintf("writers to the rows they lock wait for them; if one is stuck, end it: SELECT pg_terminate_backend(PID) (pids %s); "+
		"the server rolls back its transaction and frees its locks", strings.Join(pids, ", "))
	return c
}

// psqlEach is the psql command that runs each statement on its own (one
// -c each: CREATE INDEX CONCURRENTLY cannot run inside a transaction,
// which several statements in one -c would be).
func psqlEach(s ServerStore, stmts []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "psql '%s'", s.Redacted())
	for _, st := range stmts {
		fmt.Fprintf(&b, " -c \"%s\"", st)
	}
	b.WriteString(" (with the password)")
	return b.String()
}

// concurrently rewrites CREATE INDEX statements to build without
// blocking writes (CREATE INDEX CONCURRENTLY, which psql -c runs outside
// a transaction, one statement at a time).
func concurrently(creates []string) []string {
	out := make([]string, len(creates))
	for i, c := range creates {
		out[i] = strings.Replace(c, "CREATE INDEX ", "CREATE INDEX CONCURRENTLY ", 1)
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unnamed"
	}
	return s
}

func joinInts(ns []int) string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprint(n))
	}
	if len(out) == 0 {
		return "unknown"
	}
	return strings.Join(out, ", ")
}
