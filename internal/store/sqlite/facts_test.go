package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// undoFacts takes a store back from schema 6 to schema 5 (the caller sets
// user_version), as a trove before the fact columns left it.
var undoFacts = []string{
	"DROP INDEX memories_fact",
	"DROP INDEX memories_scope",
	"CREATE INDEX memories_scope ON memories(scope, created_at)",
	"ALTER TABLE memories DROP COLUMN fact_key",
	"ALTER TABLE memories DROP COLUMN valid_from",
	"ALTER TABLE memories DROP COLUMN valid_until",
	"ALTER TABLE memories DROP COLUMN invalidated_at",
}

// undoArchive takes a store back from schema 9 to schema 7 (the caller
// sets user_version; schema 8 is a placeholder until its branch merges).
var undoArchive = []string{
	"DROP TABLE recall_injections",
	"DROP INDEX memories_scope",
	"CREATE INDEX memories_scope ON memories(scope, created_at, valid_from, valid_until, invalidated_at)",
	"ALTER TABLE memories DROP COLUMN archived_at",
}

// checkValidityColumns fails unless every row's columns are what its
// metadata says (validityArgs), and unless, at each of times, the rows
// ActiveAt lets through are those memory.ActiveAt keeps.
func checkValidityColumns(t *testing.T, s *Store, times ...int64) {
	t.Helper()
	ctx := context.Background()
	rows, err := s.rdb.QueryContext(ctx, "SELECT id, metadata, fact_key, valid_from, valid_until, invalidated_at, archived_at FROM memories")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, raw string
		var got [5]any
		if err := rows.Scan(&id, &raw, &got[0], &got[1], &got[2], &got[3], &got[4]); err != nil {
			t.Fatal(err)
		}
		var m memory.Memory
		if err := jsonUnmarshal(raw, &m.Metadata); err != nil {
			continue // unreadable metadata: left to doctor
		}
		k, f, u, i, a := validityArgs(m.Metadata)
		if want := [5]any{k, f, u, i, a}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("row %s (metadata %s): columns %v, want %v", id, raw, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var all []memory.Memory
	if err := s.Scan(ctx, memory.Owner(), store.ScanOptions{}, func(m memory.Memory) error { all = append(all, m); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, at := range times {
		var want, got []string
		for _, m := range all {
			if memory.ActiveAt(m, at) {
				want = append(want, m.ID)
			}
		}
		if err := s.Scan(ctx, memory.Owner(), store.ScanOptions{Filter: store.Filter{ActiveAt: at}}, func(m memory.Memory) error { got = append(got, m.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("active at %d: the store keeps %v, memory.ActiveAt %v", at, got, want)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// validityCases are metadata that state validity in every way
// memory.MetaMillis reads, and ways it does not.
var validityCases = []struct {
	id, md string
}{
	{"plain", `{}`},
	{"smart", `{"l0_abstract":"no validity here","tier":"core"}`},
	{"fact", `{"fact_key":"preferences:editor","valid_from":1000}`},
	{"rfc3339", `{"fact_key":"preferences:editor","valid_from":"1970-01-01T00:00:03.5Z","invalidated_at":"1970-01-01T02:00:04+02:00"}`},
	{"numeric-text", `{"valid_from":" 1234 ","valid_until":"5000"}`},
	{"fraction", `{"valid_until":5000.7}`},
	{"not-a-key", `{"fact_key":5,"valid_from":true,"valid_until":"soon","invalidated_at":{"at":1}}`},
	{"zero", `{"invalidated_at":0,"valid_until":"0","valid_from":0}`},
	{"epoch-text", `{"valid_from":"1970-01-01T00:00:00Z"}`},
	{"escaped", `{"valid\u005ffrom":777,"fact\u005fkey":"entities:cat"}`},
	{"mentions", `{"note":"valid_until and fact_key are words here"}`},
	{"archived", `{"state":"archived","archived_at":3500}`},
	{"archived-text", `{"state":"archived","archived_at":"1970-01-01T00:00:04Z","memory_layer":"archive"}`},
	{"archived-notime", `{"state":"archived"}`},
	{"archived-escaped", `{"st\u0061te":"archived","archived_at":2500}`},
	{"promoted", `{"state":"confirmed","archived_at":3500}`},
	{"negative", `{"invalidated_at":"1969-12-31T23:59:59Z"}`},
	{"broken", `{"valid_from": 12`},
}

var validityTimes = []int64{1, 999, 1000, 1233, 1234, 2500, 3499, 3500, 3999, 4000, 4999, 5000, 5001, 100_000}

// A store from schema 5 gets its fact columns from its rows' metadata
// when this binary opens it, parsed as the writer parses it.
func TestMigrationBackfillsFactColumns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "five.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for i, script := range loadMigrations()[:5] {
		if _, err := db.Exec(script); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	for i, c := range validityCases {
		if _, err := db.Exec(`INSERT INTO memories(id, text, category, scope, importance, created_at, updated_at, revision, format, metadata, seq)
			VALUES (?, ?, 'fact', 'global', 0.5, ?, ?, 1, 0, ?, 1)`, c.id, "row "+c.id, 2000+i, 2000+i, c.md); err != nil {
			t.Fatal(c.id, err)
		}
	}
	if _, err := db.Exec("PRAGMA user_version = 5"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.userVersion(ctx); v != SchemaVersion() {
		t.Fatalf("schema %d after the migration, want %d", v, SchemaVersion())
	}
	// Spelled out for the rows whose parsing matters most.
	for id, want := range map[string]string{
		"plain":        "[<nil> <nil> <nil> <nil>]",
		"fact":         "[preferences:editor 1000 <nil> <nil>]",
		"rfc3339":      "[preferences:editor 3500 <nil> 4000]",
		"numeric-text": "[<nil> 1234 5000 <nil>]",
		"fraction":     "[<nil> <nil> 5000 <nil>]",
		"not-a-key":    "[<nil> <nil> <nil> <nil>]",
		"zero":         "[<nil> <nil> <nil> <nil>]",
		"epoch-text":   "[<nil> 0 <nil> <nil>]", // MetaMillis reads it as 0 ms, not as missing
		"escaped":      "[entities:cat 777 <nil> <nil>]",
		"negative":     "[<nil> <nil> <nil> -1000]",
		"broken":       "[<nil> <nil> <nil> <nil>]",
	} {
		var got [4]any
		if err := s.rdb.QueryRow("SELECT fact_key, valid_from, valid_until, invalidated_at FROM memories WHERE id = ?", id).Scan(&got[0], &got[1], &got[2], &got[3]); err != nil {
			t.Fatal(id, err)
		}
		if fmt.Sprint(got) != want {
			t.Errorf("%s: columns %v, want %s", id, got, want)
		}
	}
	// The broken row cannot be read by Scan; take it out before comparing.
	if err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
		_, err := stx.(*tx).tx.ExecContext(ctx, "DELETE FROM memories WHERE id = 'broken'")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	checkValidityColumns(t, s, validityTimes...)
	if ms, err := s.Facts(ctx, memory.Owner(), store.FactQuery{FactKey: "preferences:editor"}); err != nil || len(ms) != 2 || ms[0].ID != "rfc3339" {
		t.Fatalf("facts after the migration: %v %v", ms, err)
	}
}

// Every write path keeps the columns equal to the metadata: insert,
// batches, update, patch, touch, delete and restore, a failed write.
func TestFactColumnsFollowEveryWrite(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	owner := memory.Owner()
	var ms []memory.Memory
	for i, c := range validityCases {
		if c.id == "broken" {
			continue
		}
		m := memory.Memory{ID: c.id, Text: "row " + c.id, CreatedAt: int64(2000 + i)}
		if err := jsonUnmarshal(c.md, &m.Metadata); err != nil {
			t.Fatal(c.id, err)
		}
		ms = append(ms, m)
	}
	if _, err := store.PutMany(ctx, s, owner, ms); err != nil {
		t.Fatal(err)
	}
	checkValidityColumns(t, s, validityTimes...)

	steps := []struct {
		name  string
		apply func(m *memory.Memory)
	}{
		{"invalidate", func(m *memory.Memory) { m.Metadata[memory.KeyInvalidatedAt] = 4500 }},
		{"expire as text", func(m *memory.Memory) { m.Metadata[memory.KeyValidUntil] = "1970-01-01T00:00:04.2Z" }},
		{"move valid_from", func(m *memory.Memory) { m.Metadata[memory.KeyValidFrom] = 3000 }},
		{"rename the fact", func(m *memory.Memory) { m.Metadata[memory.KeyFactKey] = "preferences:font" }},
		{"drop every key", func(m *memory.Memory) {
			for _, k := range []string{memory.KeyFactKey, memory.KeyValidFrom, memory.KeyValidUntil, memory.KeyInvalidatedAt} {
				delete(m.Metadata, k)
			}
		}},
		{"nil metadata", func(m *memory.Memory) { m.Metadata = nil }},
	}
	for _, st := range steps {
		var ps []store.Patch
		for _, m := range ms {
			ps = append(ps, store.Patch{ID: m.ID, Apply: func(m *memory.Memory) error { st.apply(m); return nil }})
		}
		if _, err := store.PatchMany(ctx, s, owner, ps); err != nil {
			t.Fatal(st.name, err)
		}
		checkValidityColumns(t, s, validityTimes...)
	}

	// Update through Tx, a touch (metadata counters only), a failed write.
	if err := s.Write(ctx, owner, func(stx store.Tx) error {
		m, err := stx.Get("fact")
		if err != nil {
			return err
		}
		m.Metadata = map[string]any{memory.KeyFactKey: "preferences:editor", memory.KeyValidFrom: 1500, memory.KeyInvalidatedAt: "1970-01-01T00:00:02Z"}
		if err := stx.Update(&m); err != nil {
			return err
		}
		return stx.Touch("fact", 2, 9000)
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.Write(ctx, owner, func(stx store.Tx) error {
		m, err := stx.Get("fact")
		if err != nil {
			return err
		}
		delete(m.Metadata, memory.KeyInvalidatedAt)
		if err := stx.Update(&m); err != nil {
			return err
		}
		return fmt.Errorf("abort")
	})
	checkValidityColumns(t, s, validityTimes...)
	if got, _ := s.Get(ctx, owner, "fact"); memory.InvalidatedAt(got) != 2000 {
		t.Fatalf("the failed write changed the row: %+v", got.Metadata)
	}

	// Delete and restore: the restored row has its columns back.
	if err := s.Write(ctx, owner, func(stx store.Tx) error { return stx.Delete("fact", 0) }); err != nil {
		t.Fatal(err)
	}
	vs, err := s.History(ctx, owner, "fact", 1)
	if err != nil {
		t.Fatal(err)
	}
	back := vs[0].Memory()
	back.Revision++
	if err := s.Write(ctx, owner, func(stx store.Tx) error { return stx.Restore(&back) }); err != nil {
		t.Fatal(err)
	}
	checkValidityColumns(t, s, validityTimes...)
	if ms, err := s.Facts(ctx, owner, store.FactQuery{FactKey: "preferences:editor"}); err != nil || len(ms) != 1 || ms[0].ID != "fact" {
		t.Fatalf("facts after restore: %v %v", ms, err)
	}
}

// The fact query and Tx.FactRows are served by memories_fact, whatever
// the scopes: no scan of memories. An active count is served by
// memories_scope alone.
func TestFactQueryPlans(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	seedFacts(t, s, 2000)
	plan := func(q string, args ...any) string {
		t.Helper()
		rows, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			b.WriteString(detail + "\n")
		}
		return b.String()
	}
	for name, acc := range map[string]memory.Access{
		"owner":           memory.Owner(),
		"agent":           memory.AgentAccess("a"),
		"one scope":       memory.Scopes("agent:a"),
		"many scopes":     memory.Scopes("global", "agent:a", "agent:b", "user:c", "project:d"),
		"owner, narrowed": memory.Owner(),
	} {
		var scopes []memory.Scope
		if name == "owner, narrowed" {
			scopes = []memory.Scope{"agent:a", "agent:b"}
		}
		where, args := scopeClause(acc, scopes)
		p := plan(factsQuery(where), append(append([]any{"preferences:topic 7"}, args...), 50)...)
		t.Logf("Facts, %s:\n%s", name, p)
		if !strings.Contains(p, "USING INDEX memories_fact (fact_key=?") || strings.Contains(p, "SCAN memories") {
			t.Errorf("%s: plan of Facts:\n%s", name, p)
		}
	}
	p := plan(sqlFactRows, "preferences:topic 7", "agent:a")
	if !strings.Contains(p, "USING INDEX memories_fact (fact_key=? AND scope=?)") || strings.Contains(p, "SCAN memories") {
		t.Errorf("plan of FactRows:\n%s", p)
	}
	// Counting active rows reads the scope index alone, not the rows.
	for name, acc := range map[string]memory.Access{"owner": memory.Owner(), "agent": memory.AgentAccess("a")} {
		where, args := filterClause(acc, store.Filter{ActiveAt: time.Now().UnixMilli()})
		if p := plan("SELECT count(*) FROM memories WHERE "+where, args...); !strings.Contains(p, "USING COVERING INDEX memories_scope") {
			t.Errorf("%s: plan of an active count:\n%s", name, p)
		}
	}
}

// seedFacts writes n fact rows in four scopes: n/5 facts of five values
// each, the older four invalidated by the next; text and 384-dim vectors
// as in the write benchmarks.
func seedFacts(tb testing.TB, s *Store, n int) {
	tb.Helper()
	scopes := []memory.Scope{memory.GlobalScope, "agent:a", "agent:b", "user:c"}
	const batch = 500
	for from := 0; from < n; from += batch {
		ms := make([]memory.Memory, 0, batch)
		for i := from; i < min(from+batch, n); i++ {
			f, v := i/5, int64(i%5)
			md := map[string]any{memory.KeyFactKey: fmt.Sprintf("preferences:topic %d", f), memory.KeyValidFrom: 1_700_000_000_000 + v*1000}
			if v < 4 {
				md[memory.KeyInvalidatedAt] = 1_700_000_000_000 + (v+1)*1000
			}
			ms = append(ms, memory.Memory{ID: fmt.Sprintf("f%05d-%d", f, v), Text: fmt.Sprintf("prefers value %d of topic %d", v, f),
				Category: memory.CategoryPreference, Scope: scopes[f%len(scopes)], Metadata: md, Vector: benchVec(i)})
		}
		if _, err := store.PutMany(context.Background(), s, memory.Owner(), ms); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkFacts reads one fact's five values from a 10k-row store, as
// the owner and as an agent (three scopes).
//
//	go test -run '^$' -bench Facts -count 5 ./internal/store/sqlite
func BenchmarkFacts(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "facts.db"), Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seedFacts(b, s, 10_000)
	for _, c := range []struct {
		name string
		acc  memory.Access
	}{{"owner", memory.Owner()}, {"agent", memory.AgentAccess("a")}} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				// Facts 4k+1 are agent a's: the agent finds all five values.
				f := 4*(i%500) + 1
				ms, err := s.Facts(context.Background(), c.acc, store.FactQuery{FactKey: fmt.Sprintf("preferences:topic %d", f)})
				if err != nil || len(ms) != 5 {
					b.Fatalf("%d rows, %v", len(ms), err)
				}
				i++
			}
		})
	}
}

// BenchmarkCountActive is Count over 10k rows (four fifths of them
// superseded) without and with ActiveAt: the validity predicate reads
// the rows, where a plain count reads only an index.
func BenchmarkCountActive(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "count.db"), Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seedFacts(b, s, 10_000)
	at := time.Now().UnixMilli()
	for _, c := range []struct {
		name string
		f    store.Filter
		want int
	}{{"all", store.Filter{}, 10_000}, {"active", store.Filter{ActiveAt: at}, 2000}} {
		for _, acc := range []memory.Access{memory.Owner(), memory.AgentAccess("a")} {
			name := c.name + "/owner"
			want := c.want
			if !acc.All() {
				name, want = c.name+"/agent", c.want/2
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					if n, err := s.Count(context.Background(), acc, c.f); err != nil || n != want {
						b.Fatalf("count %d, want %d: %v", n, want, err)
					}
				}
			})
		}
	}
}
