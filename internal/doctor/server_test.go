package doctor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/store"
)

// fakeServer is a ServerStore: the common checks run on a real SQLite
// store (only its Store methods are promoted, so it is no FileStore), the
// server's answers are the fields.
type fakeServer struct {
	Store
	pingErr  error
	info     store.ServerInfo
	infoErr  error
	indexes  []store.IndexStatus
	sessions []store.ServerSession
	olderArg time.Duration
}

func (f *fakeServer) Redacted() string           { return "postgres://trove:xxxxx@db.example.com/trove" }
func (f *fakeServer) Ping(context.Context) error { return f.pingErr }
func (f *fakeServer) ServerInfo(context.Context) (store.ServerInfo, error) {
	return f.info, f.infoErr
}
func (f *fakeServer) Indexes(context.Context) ([]store.IndexStatus, error) { return f.indexes, nil }
func (f *fakeServer) LongTransactions(_ context.Context, olderThan time.Duration) ([]store.ServerSession, error) {
	f.olderArg = olderThan
	return f.sessions, nil
}

var _ ServerStore = (*fakeServer)(nil)

func healthyServer(t *testing.T) *fakeServer {
	return &fakeServer{
		Store: newStore(t, row{"a", "alpha", "global", vec4(1)}),
		info: store.ServerInfo{Version: "15.18", VersionNum: 150018, Database: "trove", User: "trove",
			Extensions: []store.Extension{{Name: "plpgsql", Version: "1.0"}, {Name: "vector", Version: "0.8.0"}}, VectorAvailable: true, VectorInUse: true},
		indexes: []store.IndexStatus{{Name: "memories_pkey", Table: "memories", Present: true, Valid: true}},
	}
}

func names(r Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name)
	}
	return out
}

func TestServerStoreChecks(t *testing.T) {
	f := healthyServer(t)
	rep := Run(context.Background(), f, Options{Repair: true, LongTransaction: 45 * time.Second})
	if !rep.OK {
		t.Fatalf("healthy server store failed: %+v", rep.Failed())
	}
	want := []string{CheckConnection, CheckServer, CheckExtensions, CheckSchema, CheckFTS, CheckMetadata, CheckVectors,
		CheckEmbedder, CheckScopes, CheckTombstones, CheckIndexes, CheckTransaction}
	if got := names(rep); !slices.Equal(got, want) {
		t.Fatalf("checks %v, want %v (no file, permission or lock checks on a server)", got, want)
	}
	if rep.DB != f.Redacted() {
		t.Errorf("report db %q, want the redacted URL", rep.DB)
	}
	for _, c := range rep.Checks {
		if c.Status != OK {
			t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
		}
	}
	if f.olderArg != 45*time.Second {
		t.Errorf("LongTransactions asked for %s, want Options.LongTransaction", f.olderArg)
	}
	if c, _ := rep.Check(CheckExtensions); !strings.Contains(c.Detail, "pgvector 0.8.0") {
		t.Errorf("extensions: %s", c.Detail)
	}
}

func TestServerStoreUnreachable(t *testing.T) {
	f := healthyServer(t)
	f.pingErr = errors.New("dial tcp 10.0.0.1:5432: connect: connection refused")
	rep := Run(context.Background(), f, Options{Repair: true})
	c, ok := rep.Check(CheckConnection)
	if !ok || c.Status != Fail || !strings.Contains(c.Detail, "connection refused") || c.Fix == "" {
		t.Fatalf("connection check: %+v", c)
	}
	if rep.OK {
		t.Error("report OK with the server unreachable")
	}
	for _, n := range []string{CheckServer, CheckIndexes, CheckTransaction} {
		if _, ok := rep.Check(n); ok {
			t.Errorf("%s checked on an unreachable server", n)
		}
	}
	for _, r := range rep.Repairs {
		if r.Status == "done" {
			t.Errorf("repair %s ran on an unreachable server", r.Name)
		}
	}
}

func TestServerStoreFindings(t *testing.T) {
	f := healthyServer(t)
	f.info.VectorInUse = false
	f.info.Extensions = f.info.Extensions[:1] // pgvector available, not installed
	f.indexes = append(f.indexes,
		store.IndexStatus{Name: "memories_active_text", Table: "memories", Present: false},
		store.IndexStatus{Name: "memories_fts", Table: "memories", Present: true, Valid: false})
	f.sessions = []store.ServerSession{{PID: 4242, User: "trove", Application: "trove upgrade", State: "idle in transaction",
		Age: 3 * time.Minute, Locks: 7, Blocking: 2}}
	rep := Run(context.Background(), f, Options{})
	ext, _ := rep.Check(CheckExtensions)
	if ext.Status != Warn || !strings.Contains(ext.Fix, "CREATE EXTENSION vector") {
		t.Errorf("extensions: %+v", ext)
	}
	ix, _ := rep.Check(CheckIndexes)
	if ix.Status != Fail || !strings.Contains(ix.Detail, "missing: memories_active_text on memories") || !strings.Contains(ix.Detail, "invalid") {
		t.Errorf("indexes: %+v", ix)
	}
	tr, _ := rep.Check(CheckTransaction)
	if tr.Status != Warn || !strings.Contains(tr.Detail, "pid 4242 (trove upgrade, trove) idle in transaction for 3m0s holding 7 locks, 2 sessions waiting for it") ||
		!strings.Contains(tr.Fix, "pg_terminate_backend") {
		t.Errorf("transactions: %+v", tr)
	}
	if rep.OK {
		t.Error("report OK with an index missing")
	}
}

// A server close to max_connections is a warning: the next trove process
// (or a pool growing) would be refused.
func TestServerStoreConnections(t *testing.T) {
	f := healthyServer(t)
	f.info.Connections, f.info.MaxConnections = 40, 100
	if c, _ := Run(context.Background(), f, Options{}).Check(CheckServer); c.Status != OK || !strings.Contains(c.Detail, "40 of the server's 100 connections in use") {
		t.Fatalf("server at 40%%: %+v", c)
	}
	f.info.Connections = 95
	c, _ := Run(context.Background(), f, Options{}).Check(CheckServer)
	if c.Status != Warn || !strings.Contains(c.Detail, "close to the limit") || !strings.Contains(c.Fix, "max_connections") {
		t.Fatalf("server at 95%%: %+v", c)
	}
}
