package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

// Export then import into a fresh store reproduces every row exactly, and a
// second import adds nothing.
func TestExportImportRoundTrip(t *testing.T) {
	src := newEnv(t)
	src.ok("import", "../../internal/archive/testdata/lancedb-pro-export.json")
	src.ok("store", "stored through the CLI", "--category", "decision", "--scope", "project:x", "--metadata", `{"k":[1,"two"]}`)
	file := filepath.Join(t.TempDir(), "all.jsonl")
	src.ok("export", "--output", file)

	dst := newEnv(t)
	var rep struct{ Imported, Skipped, Failed int }
	if err := json.Unmarshal([]byte(dst.ok("import", file, "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	want, got := src.exportAll(), dst.exportAll()
	if rep.Imported != len(want) || rep.Failed != 0 || !reflect.DeepEqual(want, got) {
		t.Fatalf("round trip: report %+v; %d rows exported, %d imported, equal=%v", rep, len(want), len(got), reflect.DeepEqual(want, got))
	}
	if err := json.Unmarshal([]byte(dst.ok("import", file, "--json")), &rep); err != nil || rep.Imported != 0 || rep.Skipped != len(want) {
		t.Fatalf("re-import: %+v %v", rep, err)
	}
	dst.checkStore()
}

// A file with bad rows: each bad row is reported with its line and reason,
// the good rows go in, the exit code says something failed.
func TestImportReportsBadRows(t *testing.T) {
	e := newEnv(t)
	lines := []string{
		`{"id":"ok1","text":"fine row","category":"fact"}`,
		`{"id":"bad1","text":"nan","importance":"NaN"}`,
		`{"id":"bad2","text":"cat","category":"gossip"}`,
		`{"id":"bad3","text":"trunc"`,
		`{"id":"ok2","text":"another fine row","scope":"user:bo"}`,
		`{"id":"ok1","text":"duplicate id"}`,
		`{"id":"bad4","text":"vec","vector":[1,2,3]}`,
	}
	file := filepath.Join(t.TempDir(), "mixed.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("import", file)
	// A NaN importance and an unknown category are kept, adjusted
	// (docs/IMPORT.md); the other bad rows fail.
	if r.code != 1 || !strings.Contains(r.out, "imported 4") || !strings.Contains(r.out, "failed 3") ||
		!strings.Contains(r.out, "adjusted (importance_invalid): 1") || !strings.Contains(r.out, "adjusted (category_unknown): 1") {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"line 4:", "line 6:", "line 7:", "duplicate id", "dimensions"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	rows := e.exportAll()
	if len(rows) != 4 || rows["ok1"].Text != "fine row" || rows["ok2"].Scope != "user:bo" || rows["bad2"].Category != "other" {
		t.Fatalf("rows %v", rows)
	}
}

// A store holding rows of every shape (legacy and smart, every category
// and several scopes, nested metadata, vectors, revisions and edits,
// validity and supersession, rows from a memory-lancedb-pro export)
// exports, imports into an empty store and
// exports again to the same bytes, line for line.
func TestExportImportExportIdentical(t *testing.T) {
	src := newEnv(t)
	lines := []string{
		`{"id":"legacy-nurse","text":"I am a nurse","category":"fact","scope":"global","importance":0.5,"created_at":1700000000000,"updated_at":1700000000000,"revision":1,"format":0,"metadata":{}}`,
		`{"id":"legacy-long","text":"` + strings.Repeat("a long account of the outage & its <fix>; ", 8) + `","category":"fact","scope":"project:atlas","importance":0.123456789,"created_at":1700000000001,"updated_at":1700000100000,"revision":4,"format":0,"metadata":{"source":"manual"}}`,
		`{"id":"legacy-decision","text":"we chose SQLite over Postgres","category":"decision","scope":"agent:bot","importance":0.9,"created_at":1700000000002,"updated_at":1700000000002,"revision":1,"format":0,"metadata":{"type":"memory-reflection-mapped"}}`,
		`{"id":"legacy-entity","text":"Ada leads the billing team","category":"entity","scope":"user:ada","importance":0.7,"created_at":1700000000003,"updated_at":1700000000003,"revision":2,"format":0,"metadata":{}}`,
		`{"id":"legacy-reflection","text":"retros work better on Mondays","category":"reflection","scope":"reflection:agent:bot","importance":0.4,"created_at":1700000000004,"updated_at":1700000000004,"revision":1,"format":0,"metadata":{}}`,
		`{"id":"legacy-other","text":"misc note: 咖啡 ☕ \u00e9t\u00e9 \ud83d\ude00","category":"other","scope":"global","importance":0,"created_at":1700000000005,"updated_at":1700000000005,"revision":1,"format":0,"metadata":{}}`,
		`{"id":"smart-pref","text":"prefers dark mode in every editor","category":"preference","scope":"global","importance":0.8,"created_at":1700000000006,"updated_at":1700000000106,"revision":3,"format":1,` +
			`"metadata":{"memory_category":"preferences","l0_abstract":"dark mode","l1_overview":"- editor: dark","l2_content":"prefers dark mode in every editor","fact_key":"preferences:editor theme","valid_from":1700000000006,` +
			`"nested":{"a":[1,2.5,"x",null,true,{"b":{"c":[]}}],"e":{}},"big":12345678901234567,"tiny":1e-7,"neg":-0.5}}`,
		`{"id":"smart-old","text":"prefers light mode","category":"preference","scope":"global","importance":0.8,"created_at":1690000000000,"updated_at":1700000000006,"revision":2,"format":1,` +
			`"metadata":{"memory_category":"preferences","l0_abstract":"light mode","fact_key":"preferences:editor theme","valid_from":1690000000000,"invalidated_at":1700000000006,"superseded_by":"smart-pref"}}`,
		`{"id":"smart-event","text":"shipped v2 on 2024-03-01","category":"fact","scope":"project:atlas","importance":0.6,"created_at":1700000000007,"updated_at":1700000000007,"revision":1,"format":1,` +
			`"metadata":{"memory_category":"Event","l0_abstract":"v2 shipped","valid_until":1800000000000,"access_count":3,"last_accessed_at":1700000000500}}`,
		`{"id":"smart-case","text":"the deploy failed until the cache was cleared","category":"other","scope":"agent:bot","importance":0.5,"created_at":1700000000008,"updated_at":1700000000008,"revision":1,"format":1,` +
			`"metadata":{"memory_category":"cases","l0_abstract":"cache fix","valid_from":"2023-11-14T22:13:20Z","tags":["ops","cache"]}}`,
		`{"id":"smart-pattern","text":"review PRs before standup","category":"reflection","scope":"global","importance":0.5,"created_at":1700000000009,"updated_at":1700000000009,"revision":1,"format":1,` +
			`"metadata":{"memory_category":"patterns","l0_abstract":"review first"}}`,
		`{"id":"smart-entity","text":"Atlas is the billing service","category":"entity","scope":"project:atlas","importance":0.5,"created_at":1700000000010,"updated_at":1700000000010,"revision":1,"format":1,` +
			`"metadata":{"memory_category":"entities","l0_abstract":"Atlas"}}`,
		`{"id":"smart-profile","text":"my name is Ada","category":"fact","scope":"user:ada","importance":0.5,"created_at":1700000000011,"updated_at":1700000000011,"revision":1,"format":1,` +
			`"metadata":{"memory_category":"profile","l0_abstract":"name Ada"}}`,
	}
	in := filepath.Join(t.TempDir(), "shapes.jsonl")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src.ok("import", in)
	// And a memory-lancedb-pro export, as real stores are filled.
	src.ok("import", "../../internal/archive/testdata/lancedb-pro-export.json")
	// Rows written by this trove too: a store, an edit (revision 2), a
	// superseding store (fact_key, invalidated_at, superseded_by).
	src.ok("store", "uses tabs for indentation", "--category", "preference", "--scope", "project:atlas", "--metadata", `{"k":[1,"two",{"three":3}]}`, "--id", "cli-tabs")
	src.ok("update", "cli-tabs", "--importance", "0.25")
	src.ok("store", "uses spaces for indentation", "--category", "preference", "--scope", "project:atlas")

	dir := t.TempDir()
	first := filepath.Join(dir, "first.jsonl")
	src.ok("export", "--with-vectors", "--output", first)
	dst := newEnv(t)
	dst.ok("import", first)
	second := filepath.Join(dir, "second.jsonl")
	dst.ok("export", "--with-vectors", "--output", second)

	a, b := sortedLines(t, first), sortedLines(t, second)
	if len(a) < len(lines)+2 {
		t.Fatalf("first export has %d rows, want at least %d", len(a), len(lines)+2)
	}
	if !slices.Equal(a, b) {
		for i := range max(len(a), len(b)) {
			var x, y string
			if i < len(a) {
				x = a[i]
			}
			if i < len(b) {
				y = b[i]
			}
			if x != y {
				t.Fatalf("exports differ at sorted line %d:\nfirst:  %s\nsecond: %s", i, x, y)
			}
		}
	}
	dst.checkStore()

	// The memory_category filter of export reads the same mapping.
	var got, want []string
	for _, line := range strings.Split(strings.TrimSpace(dst.ok("export", "--memory-category", "profile")), "\n") {
		var m struct{ ID string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m.ID)
	}
	for id, m := range dst.exportAll() {
		if memory.SmartCategoryOf(m) == memory.SmartProfile {
			want = append(want, id)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || !slices.Contains(got, "legacy-nurse") || !slices.Contains(got, "smart-profile") || slices.Contains(got, "legacy-decision") {
		t.Fatalf("export --memory-category profile: %v, want %v", got, want)
	}
}

func sortedLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	slices.Sort(lines)
	return lines
}
