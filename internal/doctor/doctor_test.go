package doctor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/lock"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

var space = store.Space{Model: "test-model", Dimensions: 4}

// quick keeps the lock probe short in tests.
var quick = Options{Probes: 3, ProbeTimeout: 50 * time.Millisecond}

// row is a memory to put in a test store; vec nil stores no vector.
type row struct {
	id, text, scope string
	vec             []float32
}

func vec4(i int) []float32 { return []float32{1, float32(i), 2, 3} }

// newStore opens a store in a temp dir holding rows.
func newStore(t *testing.T, rows ...row) *sqlite.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trove.db")
	s := open(t, path, sqlite.Options{Space: space})
	put(t, s, rows...)
	return s
}

func open(t *testing.T, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	if opts.Command == "" {
		opts.Command = "doctor test"
	}
	s, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s *sqlite.Store, rows ...row) {
	t.Helper()
	err := s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
		for _, r := range rows {
			m := memory.Memory{ID: r.id, Text: r.text, Scope: memory.Scope(r.scope), Category: memory.CategoryFact, Importance: 0.5, Vector: r.vec}
			if err := tx.Insert(&m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// healthyRows are rows every agent setup can reach, all with vectors.
func healthyRows() []row {
	return []row{
		{"a", "alpha prefers dark mode", "global", vec4(1)},
		{"b", "beta uses postgres for billing", "agent:bot", vec4(2)},
		{"c", "gamma deploys on fridays", "global", vec4(3)},
	}
}

// rawSQL changes the store's file behind trove's back, as damage or an
// outside tool would.
func rawSQL(t *testing.T, s *sqlite.Store, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		execArgs(t, s, q)
	}
}

func execArgs(t *testing.T, s *sqlite.Store, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func run(t *testing.T, s Store, opts Options) Report {
	t.Helper()
	if opts.Probes == 0 {
		opts.Probes, opts.ProbeTimeout = quick.Probes, quick.ProbeTimeout
	}
	rep := Run(context.Background(), s, opts)
	// Every report must survive the --json contract.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("marshal report: %v", err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ok", "checks", "repairs"} {
		if _, ok := back[k]; !ok {
			t.Fatalf("report JSON lacks %q: %s", k, b)
		}
	}
	return rep
}

func get(t *testing.T, rep Report, name string) Check {
	t.Helper()
	c, ok := rep.Check(name)
	if !ok {
		t.Fatalf("no check %q in %+v", name, rep.Checks)
	}
	return c
}

func wantStatus(t *testing.T, rep Report, name string, want Status, detailHas ...string) Check {
	t.Helper()
	c := get(t, rep, name)
	if c.Status != want {
		t.Fatalf("%s: status %s, want %s: %s (fix: %s)", name, c.Status, want, c.Detail, c.Fix)
	}
	for _, s := range detailHas {
		if !strings.Contains(c.Detail, s) {
			t.Errorf("%s: detail %q lacks %q", name, c.Detail, s)
		}
	}
	if want != OK && c.Fix == "" && name != CheckLockWait {
		t.Errorf("%s: %s without a fix: %s", name, want, c.Detail)
	}
	return c
}

func TestHealthyStore(t *testing.T) {
	s := newStore(t, healthyRows()...)
	for _, repair := range []bool{false, true} {
		t.Run(fmt.Sprintf("repair=%v", repair), func(t *testing.T) {
			rep := run(t, s, Options{Repair: repair})
			if !rep.OK || len(rep.Failed()) != 0 {
				t.Fatalf("healthy store not ok: %+v", rep.Checks)
			}
			var names []string
			for _, c := range rep.Checks {
				names = append(names, c.Name)
				if c.Status != OK {
					t.Errorf("%s: %s: %s", c.Name, c.Status, c.Detail)
				}
			}
			want := []string{CheckIntegrity, CheckSchema, CheckFTS, CheckMetadata, CheckVectors, CheckEmbedder, CheckScopes, CheckTombstones, CheckPermissions, CheckLockHolder, CheckLockWait}
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Fatalf("checks %v, want %v", names, want)
			}
			wantStatus(t, rep, CheckVectors, OK, "all 3 rows have 4-dimension vectors (model test-model)")
			if c := get(t, rep, CheckLockWait); c.Figures["acquisitions"] != 3 {
				t.Errorf("lock probe: %+v", c.Figures)
			}
			if !repair {
				if len(rep.Repairs) != 0 {
					t.Fatalf("repairs without --repair: %+v", rep.Repairs)
				}
				return
			}
			// Nothing to do, and it says so for each repair it knows.
			if len(rep.Repairs) != 2 || rep.Repairs[0].Name != RepairFTS || rep.Repairs[0].Status != "skipped" ||
				rep.Repairs[1].Name != RepairVectorCache || rep.Repairs[1].Status != "skipped" || !strings.Contains(rep.Repairs[1].Detail, "no vector cache on disk") {
				t.Fatalf("repairs on a healthy store: %+v", rep.Repairs)
			}
		})
	}
}

func TestBrokenSearchIndexIsRebuiltByRepair(t *testing.T) {
	s := newStore(t, healthyRows()...)
	ctx := context.Background()
	before, err := s.Get(ctx, memory.Owner(), "a")
	if err != nil {
		t.Fatal(err)
	}
	rawSQL(t, s, "DELETE FROM memories_fts WHERE rowid IN (SELECT rid FROM memories WHERE id IN ('a', 'c'))")
	if hits, _ := s.SearchText(ctx, memory.Owner(), store.Filter{}, "alpha", 5); len(hits) != 0 {
		t.Fatalf("the index should have lost row a: %+v", hits)
	}

	rep := run(t, s, Options{})
	c := wantStatus(t, rep, CheckFTS, Fail, "2 of 3 rows are not indexed")
	if !c.Repairable() || rep.OK || !strings.Contains(c.Fix, "--repair") {
		t.Fatalf("broken index: ok=%v %+v", rep.OK, c)
	}
	if c.Figures["missing"] != 2 {
		t.Fatalf("figures %+v", c.Figures)
	}

	rep = run(t, s, Options{Repair: true})
	if !rep.OK {
		t.Fatalf("after repair: %+v", rep.Checks)
	}
	wantStatus(t, rep, CheckFTS, OK, "3 rows indexed")
	if r := rep.Repairs[0]; r.Name != RepairFTS || r.Status != "done" || !strings.Contains(r.Detail, "3 rows indexed") {
		t.Fatalf("repair: %+v", rep.Repairs)
	}
	if hits, _ := s.SearchText(ctx, memory.Owner(), store.Filter{}, "alpha", 5); len(hits) != 1 || hits[0].ID != "a" {
		t.Fatalf("search after the rebuild: %+v", hits)
	}
	after, err := s.Get(ctx, memory.Owner(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if after.Revision != before.Revision || after.UpdatedAt != before.UpdatedAt || after.Text != before.Text {
		t.Fatalf("repair changed the row: %+v -> %+v", before, after)
	}
}

func TestWrongVectors(t *testing.T) {
	s := newStore(t, healthyRows()...)
	execArgs(t, s, "UPDATE memories SET vector = ? WHERE id = 'b'", []byte{0, 0, 128, 63, 0, 0, 0, 64}) // 2 float32s
	execArgs(t, s, "UPDATE memories SET vector = ? WHERE id = 'c'", []byte{1, 2, 3, 4, 5, 6})           // not whole float32s

	rep := run(t, s, Options{})
	c := wantStatus(t, rep, CheckVectors, Fail,
		"2 of 3 vectors do not have the store's 4 dimensions (model test-model)", "1 with 2 dimensions", "1 not a whole number of float32s", "ids b, c")
	if c.Figures["wrong_dimensions"] != 2 || c.Figures["malformed"] != 1 {
		t.Fatalf("figures %+v", c.Figures)
	}
	if rep.OK {
		t.Fatal("wrong vectors must fail the report")
	}
	// --repair does not touch rows: the finding stays.
	rep = run(t, s, Options{Repair: true})
	wantStatus(t, rep, CheckVectors, Fail)
}

func TestRowsWithoutVectorsWarn(t *testing.T) {
	s := newStore(t, append(healthyRows(), row{"n", "no vector here", "global", nil})...)
	rep := run(t, s, Options{})
	wantStatus(t, rep, CheckVectors, Warn, "1 of 4 rows has no vector", "id n")
	if !rep.OK {
		t.Fatalf("a warning must not fail the report: %+v", rep.Failed())
	}
}

func TestEmbedderMismatch(t *testing.T) {
	s := newStore(t, healthyRows()...)
	path := s.Path()
	s.Close()
	for _, tc := range []struct {
		name string
		sp   store.Space
		want Status
		has  string
	}{
		{"same", space, OK, "the configured embedder is the one"},
		{"other model", store.Space{Model: "openai:text-embedding-3-small", Dimensions: 4}, Fail, "differs in model"},
		{"other dimensions", store.Space{Model: "test-model", Dimensions: 8}, Fail, "differs in dimensions"},
		{"none configured", store.Space{}, OK, "no embedder configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, path, sqlite.Options{Space: tc.sp})
			defer s.Close()
			rep := run(t, s, Options{})
			c := wantStatus(t, rep, CheckEmbedder, tc.want, tc.has)
			if tc.want == Fail && !strings.Contains(c.Fix, "model test-model with 4 dimensions") {
				t.Errorf("fix should name the store's model: %s", c.Fix)
			}
		})
	}
}

func TestNewerSchema(t *testing.T) {
	s := newStore(t, healthyRows()...)
	path := s.Path()
	s.Close()
	rawSQL(t, s, "PRAGMA user_version = 99", "UPDATE meta SET value = 'v9.9.9' WHERE key = 'schema_written_by'")
	s = open(t, path, sqlite.Options{Space: space, Version: "v0.1.0"})

	for _, repair := range []bool{false, true} {
		rep := run(t, s, Options{Repair: repair, Version: "v0.1.0"})
		c := wantStatus(t, rep, CheckSchema, Fail, "schema version 99", "written by trove v9.9.9", "this trove (v0.1.0)", fmt.Sprintf("up to %d", sqlite.SchemaVersion()))
		if !strings.Contains(c.Fix, "install trove v9.9.9 or newer") {
			t.Errorf("fix: %s", c.Fix)
		}
		if rep.OK {
			t.Fatal("a newer schema must fail the report")
		}
		wantStatus(t, rep, CheckIntegrity, OK)
		wantStatus(t, rep, CheckFTS, Warn, "not checked")
		wantStatus(t, rep, CheckLockHolder, OK)
		if repair && (rep.Repairs[0].Status != "skipped" || !strings.Contains(rep.Repairs[0].Detail, "newer")) {
			t.Fatalf("repair on a newer store: %+v", rep.Repairs)
		}
	}
}

func TestHeldLock(t *testing.T) {
	s := newStore(t, healthyRows()...)
	other, err := lock.Open(s.Path()+".lock", "trove upgrade (test holder)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	g, err := other.Acquire(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()

	pid := fmt.Sprintf("pid %d", os.Getpid())
	rep := run(t, s, Options{})
	c := wantStatus(t, rep, CheckLockHolder, OK, "held by "+pid, "trove upgrade (test holder)")
	if c.Figures["pid"] != os.Getpid() {
		t.Errorf("figures %+v", c.Figures)
	}
	wantStatus(t, rep, CheckLockWait, Warn, "not free for 50ms", "held by "+pid)
	if !rep.OK {
		t.Fatalf("a held lock is a warning, not a failure: %+v", rep.Failed())
	}

	// Held for longer than writers wait: a warning that says what to do.
	later := func() time.Time { return g.Acquired().Add(time.Hour) }
	rep = run(t, s, Options{Now: later, LockTimeout: 30 * time.Second})
	c = wantStatus(t, rep, CheckLockHolder, Warn, "1h0m0s ago", "longer than writers wait (30s)")
	if !strings.Contains(c.Fix, fmt.Sprintf("kill %d", os.Getpid())) {
		t.Errorf("fix: %s", c.Fix)
	}
}

func TestUnreachableScopes(t *testing.T) {
	s := newStore(t,
		row{"g", "for everyone", "global", vec4(1)},
		row{"a", "the bot's own", "agent:bot", vec4(2)},
		row{"p1", "billing one", "project:billing", vec4(3)},
		row{"p2", "billing two", "project:billing", vec4(4)},
		row{"u", "alice's", "user:alice", vec4(5)},
		row{"x", "notes", "custom:notes", vec4(6)},
		row{"w", "weird", "global", vec4(7)},
	)
	rawSQL(t, s, "UPDATE memories SET scope = 'weird scope' WHERE id = 'w'")

	rep := run(t, s, Options{AgentAccess: map[string][]string{"bot": {"project:billing"}}})
	c := wantStatus(t, rep, CheckScopes, Warn, "2 rows in 2 scopes no agent is granted", "custom:notes (1)", "user:alice (1)", "weird scope (1)")
	unreachable, _ := c.Figures["unreachable"].(map[string]int)
	if len(unreachable) != 2 || unreachable["user:alice"] != 1 || unreachable["custom:notes"] != 1 {
		t.Fatalf("unreachable %+v", c.Figures)
	}
	if malformed, _ := c.Figures["malformed"].(map[string]int); malformed["weird scope"] != 1 {
		t.Fatalf("malformed %+v", c.Figures)
	}
	if !strings.Contains(c.Fix, "agentAccess") || !rep.OK {
		t.Fatalf("fix %q, ok %v", c.Fix, rep.OK)
	}

	// With no grants, project:billing is reachable by no agent either.
	rep = run(t, s, Options{})
	wantStatus(t, rep, CheckScopes, Warn, "4 rows in 3 scopes", "project:billing (2)")

	// Granting everything leaves only the malformed scope.
	rep = run(t, s, Options{AgentAccess: map[string][]string{"bot": {"project:billing", "user:alice"}, "scribe": {"custom:notes"}}})
	c = wantStatus(t, rep, CheckScopes, Warn, "weird scope")
	if strings.Contains(c.Detail, "no agent is granted") {
		t.Fatalf("granted scopes reported: %s", c.Detail)
	}
}

func TestBadMetadata(t *testing.T) {
	s := newStore(t, healthyRows()...)
	rawSQL(t, s, "UPDATE memories SET metadata = '[1, 2]' WHERE id = 'a'", "UPDATE memories SET metadata = '{broken' WHERE id = 'b'")
	rep := run(t, s, Options{})
	wantStatus(t, rep, CheckMetadata, Fail, "2 rows have metadata that is not a JSON object", "ids a, b")
}

// integrityFake damages nothing: it reports what a damaged file would,
// so the check and the repair's refusal can be tested.
type integrityFake struct {
	*sqlite.Store
	integrity func() ([]string, error)
}

func (f integrityFake) IntegrityCheck(context.Context) ([]string, error) { return f.integrity() }

func TestDamagedFileBlocksRepair(t *testing.T) {
	s := newStore(t, healthyRows()...)
	rawSQL(t, s, "DELETE FROM memories_fts")
	for _, tc := range []struct {
		name string
		fn   func() ([]string, error)
	}{
		{"findings", func() ([]string, error) {
			return []string{"*** in database main ***", "Page 7: btreeInitPage() returns error code 11"}, nil
		}},
		{"error", func() ([]string, error) { return nil, errors.New("database disk image is malformed") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := run(t, integrityFake{s, tc.fn}, Options{Repair: true})
			c := wantStatus(t, rep, CheckIntegrity, Fail, "the file is damaged")
			if !strings.Contains(c.Fix, "trove export") {
				t.Errorf("fix: %s", c.Fix)
			}
			if r := rep.Repairs[0]; r.Name != RepairFTS || r.Status != "skipped" || !strings.Contains(r.Detail, "integrity") {
				t.Fatalf("repair on a damaged file: %+v", rep.Repairs)
			}
			wantStatus(t, rep, CheckFTS, Fail)
		})
	}
}

func TestMissingAndUnopenable(t *testing.T) {
	rep := Missing("/nowhere/trove.db")
	if rep.OK || rep.Checks[0].Status != Fail || !strings.Contains(rep.Checks[0].Detail, "no store at /nowhere/trove.db") {
		t.Fatalf("%+v", rep)
	}
	rep = Missing("postgres://trove:xxxxx@db.example/none")
	if c := rep.Checks[0]; rep.OK || c.Status != Fail || !strings.Contains(c.Detail, "no trove store at postgres://trove:xxxxx@db.example/none") ||
		!strings.Contains(c.Fix, "createdb") {
		t.Fatalf("%+v", rep)
	}
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("not a database, just notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	rep = OpenFailed(path, err)
	if rep.OK || !strings.Contains(rep.Checks[0].Detail, "not an SQLite database") || !strings.Contains(rep.Checks[0].Fix, "--db") {
		t.Fatalf("%+v", rep)
	}
	b, _ := json.Marshal(rep)
	if !strings.Contains(string(b), `"repairs":[]`) {
		t.Fatalf("repairs must be an array: %s", b)
	}
}

func TestLoosePermissionsAreReportedAndRepaired(t *testing.T) {
	s := newStore(t, healthyRows()...)
	path := s.Path()
	rep := Run(context.Background(), s, quick)
	if c, _ := rep.Check(CheckPermissions); c.Status != OK {
		t.Fatalf("a new store's permissions: %+v", c)
	}
	for _, p := range []string{path, path + ".lock"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Dir(path)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)

	rep = Run(context.Background(), s, quick)
	c, _ := rep.Check(CheckPermissions)
	if c.Status != Warn || !rep.OK {
		t.Fatalf("loose permissions: want a warning that leaves the report OK: %+v", c)
	}
	for _, want := range []string{path + " has mode 0644", path + ".lock has mode 0644", "chmod 600 " + path, dir + " (mode 0777)", "chmod 700 " + dir} {
		if !strings.Contains(c.Detail+" "+c.Fix, want) {
			t.Errorf("permissions check lacks %q: %s / %s", want, c.Detail, c.Fix)
		}
	}

	rep = Run(context.Background(), s, Options{Repair: true, Probes: 1, ProbeTimeout: 50 * time.Millisecond})
	var r *Repair
	for i := range rep.Repairs {
		if rep.Repairs[i].Name == RepairPermissions {
			r = &rep.Repairs[i]
		}
	}
	if r == nil || r.Status != "done" {
		t.Fatalf("repair: %+v", rep.Repairs)
	}
	for _, p := range []string{path, path + ".lock"} {
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o after repair, want 0600", p, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o777 {
		t.Errorf("repair changed the directory's mode to %04o; it must leave it", fi.Mode().Perm())
	}
	if c, _ := rep.Check(CheckPermissions); c.Status != Warn || strings.Contains(c.Detail, path+" has mode") {
		t.Errorf("after repair only the directory should remain: %+v", c)
	}
}

func TestRepairPrunesOldTombstones(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	path := filepath.Join(t.TempDir(), "trove.db")
	s := open(t, path, sqlite.Options{Space: space, Clock: func() time.Time { return now }})
	put(t, s, healthyRows()...)
	if err := s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error { return tx.Delete("a", 0) }); err != nil {
		t.Fatal(err)
	}
	now = now.Add(31 * 24 * time.Hour)
	month := 30 * 24 * time.Hour
	rep := Run(context.Background(), s, Options{TombstoneRetention: month, Probes: 1, ProbeTimeout: 50 * time.Millisecond})
	if c, _ := rep.Check(CheckTombstones); c.Status != OK || !c.Repairable() || !strings.Contains(c.Detail, "1 past the retention") {
		t.Fatalf("check: %+v", c)
	}
	rep = Run(context.Background(), s, Options{Repair: true, TombstoneRetention: month, Probes: 1, ProbeTimeout: 50 * time.Millisecond})
	var got *Repair
	for i := range rep.Repairs {
		if rep.Repairs[i].Name == RepairTombstones {
			got = &rep.Repairs[i]
		}
	}
	if got == nil || got.Status != "done" || !strings.Contains(got.Detail, "pruned 1 tombstone") || !strings.Contains(got.Detail, "at most") {
		t.Fatalf("repair: %+v", rep.Repairs)
	}
	if total, _, _ := s.TombstoneCount(context.Background(), month); total != 0 {
		t.Fatalf("%d tombstones left", total)
	}
	if c, _ := rep.Check(CheckTombstones); c.Repairable() {
		t.Fatalf("after repair: %+v", c)
	}
}
