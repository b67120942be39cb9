package integration

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// doctorReport is `trove doctor --json` as scripts read it.
type doctorReport struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name    string         `json:"name"`
		Status  string         `json:"status"`
		Detail  string         `json:"detail"`
		Fix     string         `json:"fix"`
		Figures map[string]any `json:"figures"`
	} `json:"checks"`
	Repairs []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"repairs"`
}

func parseDoctor(t *testing.T, out string) doctorReport {
	t.Helper()
	var rep doctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	if rep.Checks == nil || rep.Repairs == nil {
		t.Fatalf("doctor --json must always have checks and repairs arrays:\n%s", out)
	}
	return rep
}

// status returns the named check's status and detail.
func (r doctorReport) status(name string) (string, string) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Status, c.Detail
		}
	}
	return "", ""
}

// trove doctor against a real store: healthy, then with its search index
// damaged behind trove's back (exit 1, a fix that says --repair), then
// repaired by --repair under the lock, and with the write lock held by
// another process (named, a warning only).
func TestDoctor(t *testing.T) {
	e := newEnv(t)

	r := e.run("doctor", "--json")
	if rep := parseDoctor(t, r.out); r.code != 1 || rep.OK || rep.Checks[0].Name != "store" || !strings.Contains(rep.Checks[0].Detail, "no store at") {
		t.Fatalf("doctor on no store: exit %d %s %s", r.code, r.out, r.err)
	}
	if _, err := os.Stat(e.db); err == nil {
		t.Fatal("doctor created the store it was checking for")
	}

	e.ok("store", "alpha prefers dark mode in every editor", "--id", "alpha-0001")
	e.ok("store", "billing runs on postgres", "--id", "billing-0001", "--scope", "project:billing")
	rep := parseDoctor(t, e.ok("doctor", "--json"))
	if !rep.OK {
		t.Fatalf("healthy store: %+v", rep.Checks)
	}
	for _, c := range rep.Checks {
		want := "ok"
		if c.Name == "scopes" {
			want = "warn" // project:billing is granted to no agent
		}
		if c.Status != want {
			t.Errorf("%s: %s, want %s: %s", c.Name, c.Status, want, c.Detail)
		}
	}
	if st, d := rep.status("scopes"); !strings.Contains(d, "project:billing (1)") {
		t.Errorf("scopes: %s %s", st, d)
	}

	// Damage the search index behind trove's back.
	db, err := sql.Open("sqlite", "file:"+e.db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM memories_fts"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r = e.run("doctor")
	if r.code != 1 || !strings.Contains(r.out, "FAIL  fts") || !strings.Contains(r.out, "2 of 2 rows are not indexed") ||
		!strings.Contains(r.err, "error: 1 check failed: fts") || !strings.Contains(r.err, "try: trove doctor --repair") {
		t.Fatalf("doctor on a damaged index: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if out := e.ok("search", "alpha dark mode", "--json"); strings.Contains(out, `"bm25"`) {
		t.Fatalf("the damaged index still answers keyword search: %s", out)
	}

	r = e.run("doctor", "--repair", "--json")
	rep = parseDoctor(t, r.out)
	if r.code != 0 || !rep.OK || len(rep.Repairs) != 2 || rep.Repairs[0].Name != "fts" || rep.Repairs[0].Status != "done" ||
		rep.Repairs[1].Name != "vector_cache" || rep.Repairs[1].Status != "skipped" {
		t.Fatalf("doctor --repair: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if st, _ := rep.status("fts"); st != "ok" {
		t.Fatalf("fts after repair: %s", r.out)
	}
	e.checkStore()
	if out := e.ok("search", "alpha dark mode", "--json"); !strings.Contains(out, `"bm25"`) || !strings.Contains(out, "alpha-0001") {
		t.Fatalf("keyword search after the repair: %s", out)
	}
	rows := e.exportAll()
	if len(rows) != 2 || rows["alpha-0001"].Revision != 1 || rows["billing-0001"].Revision != 1 {
		t.Fatalf("repair changed rows: %+v", rows)
	}

	if r := e.run("doctor", "--agent", "bot"); r.code != 2 {
		t.Fatalf("doctor --agent: exit %d %s", r.code, r.err)
	}

	// Another process holds the write lock: doctor names it and still passes.
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = e.environ("TROVE_TEST_HELPER=hold-lock")
	out, _ := holder.StdoutPipe()
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || strings.TrimSpace(line) != "holding" {
		t.Fatalf("holder did not start: %q %v", line, err)
	}
	c := e.cmd(t.Context(), "doctor", "--json")
	c.Env = append(c.Env, "TROVE_LOCK_TIMEOUT=300ms")
	b, err := c.Output()
	if err != nil {
		t.Fatalf("doctor with the lock held: %v\n%s", err, b)
	}
	rep = parseDoctor(t, string(b))
	held := fmt.Sprintf("held by pid %d (hold-lock helper)", holder.Process.Pid)
	if st, d := rep.status("lock_holder"); st != "ok" || !strings.Contains(d, held) {
		t.Fatalf("lock_holder: %s %s", st, d)
	}
	if st, d := rep.status("lock_wait"); st != "warn" || !strings.Contains(d, "not free for 300ms") || !strings.Contains(d, held) {
		t.Fatalf("lock_wait: %s %s", st, d)
	}
	holder.Process.Kill()
	holder.Wait()

	rep = parseDoctor(t, e.ok("doctor", "--json"))
	if st, d := rep.status("lock_holder"); st != "ok" || !strings.Contains(d, "free") {
		t.Fatalf("lock_holder after the holder died: %s %s", st, d)
	}
	if st, _ := rep.status("fts"); st != "ok" || !rep.OK {
		t.Fatalf("store after the holder died: %+v", rep.Checks)
	}
}
