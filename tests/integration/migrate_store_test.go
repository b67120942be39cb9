package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

type migrateStoreOut struct {
	Tables []struct {
		Table    string `json:"table"`
		Source   int64  `json:"source_rows"`
		Copied   int64  `json:"copied"`
		Skipped  int64  `json:"skipped"`
		Target   int64  `json:"target_rows"`
		Verified int64  `json:"verified"`
	} `json:"tables"`
	Rows     int64 `json:"rows"`
	Verified bool  `json:"verified"`
}

// The real binary copies a SQLite store into PostgreSQL, is SIGKILLed
// midway, refuses to copy into the half-filled target without --resume,
// continues with it, and copies the result back into a new SQLite file
// whose export (vectors included) is the first store's.
func TestMigrateStoreProcesses(t *testing.T) {
	pg := newPGEnv(t)
	src := newEnv(t)
	const n = 3000
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"ms-%05d","text":"migrated memory %d about subject %d","category":"fact","scope":"global","importance":0.%d,"created_at":%d,"metadata":{"i":%d}}`+"\n",
			i, i, i%13, 1+i%9, 1700000000000+i, i)
	}
	file := filepath.Join(t.TempDir(), "rows.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	src.ok("import", file)
	src.ok("update", "ms-00001", "--text", "migrated memory one, edited")
	src.ok("delete", "ms-00002")

	// A copy killed after its first batches.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := src.cmd(ctx, "migrate-store", "--from", "sqlite:"+src.db, "--to", pg.db, "--batch", "10")
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "memories: ") {
			break
		}
	}
	c.Process.Signal(syscall.SIGKILL)
	c.Wait()

	r := src.run("migrate-store", "--from", src.db, "--to", pg.db)
	noPassword(t, "migrate-store into a non-empty target", r)
	if r.code != 4 || !strings.Contains(r.err, "not empty") || !strings.Contains(r.err, "--resume") {
		t.Fatalf("a second copy without --resume: exit %d, want 4 naming --resume\n%s%s", r.code, r.out, r.err)
	}
	r = src.run("migrate-store", "--from", src.db, "--to", pg.db, "--resume", "--json")
	noPassword(t, "migrate-store --resume", r)
	if r.code != 0 {
		t.Fatalf("migrate-store --resume: exit %d\n%s%s", r.code, r.out, r.err)
	}
	var res migrateStoreOut
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("migrate-store --json: %v\n%s", err, r.out)
	}
	mem := res.Tables[0]
	if !res.Verified || mem.Table != "memories" || mem.Source != n-1 || mem.Skipped == 0 || mem.Skipped+mem.Copied != mem.Source || mem.Verified != mem.Source {
		t.Fatalf("resumed copy: %+v", res)
	}
	for _, tr := range res.Tables[1:] {
		want := map[string]int64{"history": 2, "tombstones": 1}[tr.Table]
		if tr.Source != want || tr.Verified != want {
			t.Errorf("resumed copy, %s: %+v, want %d rows", tr.Table, tr, want)
		}
	}

	// The binary reads the PostgreSQL copy as it reads the file.
	for _, args := range [][]string{{"get", "ms-00001", "--json", "--with-vector"}, {"history", "ms-00002", "--json"}, {"stats", "--json"}} {
		a, z := src.ok(args...), pg.ok(args...)
		if args[0] == "stats" { // the retrieval block names the backend's search
			a, z = a[:strings.Index(a, `"retrieval"`)], z[:strings.Index(z, `"retrieval"`)]
		}
		if a != z {
			t.Errorf("trove %s: the file says\n%s\nthe PostgreSQL copy says\n%s", strings.Join(args, " "), a, z)
		}
	}

	back := newEnv(t)
	r = src.run("migrate-store", "--from", pg.db, "--to", "sqlite:"+back.db, "--json")
	noPassword(t, "migrate-store back", r)
	if r.code != 0 {
		t.Fatalf("migrate-store back: exit %d\n%s%s", r.code, r.out, r.err)
	}
	a, z := src.ok("export", "--with-vectors"), back.ok("export", "--with-vectors")
	if a != z {
		t.Errorf("the store copied there and back exports differently (%d and %d bytes)", len(a), len(z))
	}
	if h1, h2 := src.ok("history", "ms-00002", "--json"), back.ok("history", "ms-00002", "--json"); !reflect.DeepEqual(h1, h2) {
		t.Errorf("history of a deleted memory: first %s, back %s", h1, h2)
	}
}
