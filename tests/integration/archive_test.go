package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
