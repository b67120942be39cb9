package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// undoSmartCategory takes a store back from schema 10 to schema 7 (the
// caller sets user_version), as a trove before the column left it.
var undoSmartCategory = []string{
	"DROP INDEX memories_smart",
	"ALTER TABLE memories DROP COLUMN smart_category",
}

// A store from schema 7 gets smart_category for every row when this
// binary opens it, derived as the writer derives it.
func TestMigrationBackfillsSmartCategory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "seven.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for i, script := range loadMigrations()[:7] {
		if _, err := db.Exec(script); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	rows := []struct {
		id, cat, text string
		format        int
		md            string
		want          memory.SmartCategory
	}{
		{"nurse", "fact", "I am a nurse", 0, "{}", memory.SmartProfile},
		{"long", "fact", "I am " + strings.Repeat("x", 300), 0, "{}", memory.SmartCases},
		{"decision", "decision", "we chose sqlite", 0, "{}", memory.SmartEvents},
		{"mapped", "decision", "my lesson", 0, `{"type":"memory-reflection-mapped"}`, memory.SmartProfile},
		{"smart", "fact", "tabs over spaces", 1, `{"memory_category":"preferences"}`, memory.SmartPreferences},
		{"escaped", "other", "x", 1, `{"memory_c\u0061tegory":"Entity"}`, memory.SmartEntities},
		{"broken", "decision", "not json metadata", 1, `{"memory_category":`, memory.SmartEvents},
		{"refl", "reflection", "went well", 0, "{}", memory.SmartPatterns},
	}
	for i, r := range rows {
		if _, err := db.Exec(`INSERT INTO memories(id, text, category, scope, importance, created_at, updated_at, revision, format, metadata, seq)
			VALUES (?, ?, ?, 'global', 0.5, ?, ?, 1, ?, ?, 1)`, r.id, r.text, r.cat, 1000+i, 1000+i, r.format, r.md); err != nil {
			t.Fatal(r.id, err)
		}
	}
	if _, err := db.Exec("PRAGMA user_version = 7"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, r := range rows {
		var got string
		if err := s.rdb.QueryRowContext(ctx, "SELECT smart_category FROM memories WHERE id = ?", r.id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if memory.SmartCategory(got) != r.want {
			t.Errorf("%s: smart_category %q, want %q", r.id, got, r.want)
		}
	}
	n, err := s.Count(ctx, memory.Owner(), store.Filter{MemoryCategories: []memory.SmartCategory{memory.SmartProfile}})
	if err != nil || n != 2 {
		t.Fatalf("profile rows after the migration: %d %v, want 2", n, err)
	}
}

// The planner reads a one-memory_category listing by its index in the
// page's order (no sort), for the owner (no scope condition) and for an
// agent (its scopes).
func TestMemoryCategoryPlan(t *testing.T) {
	s := openTemp(t)
	for _, acc := range []memory.Access{memory.Owner(), memory.AgentAccess("a")} {
		where, args := filterClause(acc, store.Filter{MemoryCategories: []memory.SmartCategory{memory.SmartProfile}})
		rows, err := s.rdb.Query("EXPLAIN QUERY PLAN SELECT "+cols+" FROM memories WHERE "+where+" ORDER BY created_at DESC, id DESC LIMIT 21", args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		t.Logf("plan: %q", plan)
		if p := strings.Join(plan, "\n"); !strings.Contains(p, "memories_smart") || strings.Contains(p, "TEMP B-TREE") {
			t.Fatalf("plan does not use memories_smart: %q", plan)
		}
	}
}

// BenchmarkMigrateSmartCategory times migration 10 on a schema 7 store of
// 100,000 rows (a fifth smart, a fifth decisions: the rows whose metadata
// the backfill decodes), the time the first open by this binary takes.
func BenchmarkMigrateSmartCategory(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "seven.db")
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			b.Fatal(err)
		}
		for _, script := range loadMigrations()[:7] {
			if _, err := db.Exec(script); err != nil {
				b.Fatal(err)
			}
		}
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		cats := []string{"fact", "decision", "preference", "entity", "other"}
		for j := range n {
			md := `{"source":"bench"}`
			if j%5 == 4 {
				md = `{"memory_category":"cases","l0_abstract":"x"}`
			}
			if _, err := tx.Exec(`INSERT INTO memories(id, text, category, scope, importance, created_at, updated_at, revision, format, metadata, seq)
				VALUES (?, ?, ?, 'global', 0.5, ?, ?, 1, ?, ?, 1)`, fmt.Sprintf("m%06d", j), fmt.Sprintf("I am row %d of a benchmark store", j),
				cats[j%5], j, j, j%5/4, md); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec("PRAGMA user_version = 7"); err != nil {
			b.Fatal(err)
		}
		db.Close()
		b.StartTimer()
		s, err := Open(ctx, path, Options{Version: "test"})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
