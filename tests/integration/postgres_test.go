package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

// pgPassword is put in the URL every process gets, to prove no output
// shows it (the test server trusts loopback, so it is not checked).
const pgPassword = "pw-never-printed"

// newPGEnv is an env whose store is a fresh PostgreSQL database on the
// server TROVE_PG_URL names (skipped without it).
func newPGEnv(t *testing.T) *env {
	t.Helper()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), pgPassword)
	e := newEnv(t)
	e.db = u.String()
	return e
}

// noPassword fails the test when a process printed the password.
func noPassword(t *testing.T, what string, r result) {
	t.Helper()
	if strings.Contains(r.out+r.err, pgPassword) {
		t.Errorf("%s printed the database password:\n%s%s", what, r.out, r.err)
	}
}

// The real binary on PostgreSQL (TROVE_DB=postgres://…): a command that
// only reads finds no store in an empty database; store creates it; later
// processes search, list and check what earlier ones wrote.
func TestPostgresSmoke(t *testing.T) {
	e := newPGEnv(t)

	r := e.run("config")
	noPassword(t, "config", r)
	if r.code != 0 || !strings.Contains(r.out, ":xxxxx@") {
		t.Errorf("trove config: exit %d, want the db URL with its password masked\n%s%s", r.code, r.out, r.err)
	}

	r = e.run("list", "--json")
	noPassword(t, "list on an empty database", r)
	if r.code != 3 || !strings.Contains(r.err, "no store at postgres://") || !strings.Contains(r.err, "xxxxx") {
		t.Fatalf("list on a database without trove's tables: exit %d, want 3 (no store) naming the masked URL\n%s%s", r.code, r.out, r.err)
	}

	rows := map[string]string{
		"pg-smoke-1": "The build cache lives on the NFS share",
		"pg-smoke-2": "I prefer dark mode in every editor",
		"pg-smoke-3": "Deploys to production happen on Tuesdays after the standup",
	}
	for _, id := range slices.Sorted(maps.Keys(rows)) {
		r := e.run("store", rows[id], "--id", id, "--category", "fact")
		noPassword(t, "store", r)
		if r.code != 0 {
			t.Fatalf("trove store %s: exit %d\n%s%s", id, r.code, r.out, r.err)
		}
	}

	var found searchOut
	r = e.run("search", "which editor theme does the user like", "--json")
	noPassword(t, "search", r)
	if r.code != 0 {
		t.Fatalf("search: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if err := json.Unmarshal([]byte(r.out), &found); err != nil {
		t.Fatalf("search --json: %v\n%s", err, r.out)
	}
	if len(found.Results) == 0 || found.Results[0].Memory.ID != "pg-smoke-2" {
		t.Fatalf("search for the editor theme: %+v, want pg-smoke-2 first", found.Results)
	}

	var page struct {
		Memories []struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		} `json:"memories"`
	}
	r = e.run("list", "--json")
	noPassword(t, "list", r)
	if r.code != 0 {
		t.Fatalf("list: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if err := json.Unmarshal([]byte(r.out), &page); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.out)
	}
	got := map[string]string{}
	for _, m := range page.Memories {
		got[m.ID] = m.Text
	}
	if len(got) != len(rows) || len(page.Memories) != len(rows) {
		t.Fatalf("list: %d rows %v, want exactly %v", len(page.Memories), got, rows)
	}
	for id, text := range rows {
		if got[id] != text {
			t.Errorf("list: %s is %q, want %q", id, got[id], text)
		}
	}

	r = e.run("doctor", "--json")
	noPassword(t, "doctor", r)
	if strings.TrimSpace(r.out) == "" {
		t.Fatalf("doctor --json printed no report: exit %d\n%s", r.code, r.err)
	}
	rep := parseDoctor(t, r.out)
	if r.code != 0 || !rep.OK {
		t.Fatalf("doctor on a sound PostgreSQL store: exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, name := range []string{"connection", "server", "extensions", "schema", "fts", "vectors", "indexes", "transactions"} {
		if st, detail := rep.status(name); st == "" || st == "fail" {
			t.Errorf("doctor check %s: %q %s", name, st, detail)
		}
	}
	for _, name := range []string{"integrity", "permissions", "lock_holder", "lock_wait"} {
		if st, _ := rep.status(name); st != "" {
			t.Errorf("doctor ran the file store check %s on a PostgreSQL store", name)
		}
	}
}

// trove doctor on PostgreSQL names a transaction that holds a row lock
// open in another session (--long-transaction sets the age, so the test
// does not wait 30 s), and with --repair rebuilds a text index damaged
// behind trove's back.
func TestPostgresDoctorFindings(t *testing.T) {
	e := newPGEnv(t)
	if r := e.run("store", "The build cache lives on the NFS share", "--id", "pg-doc-1"); r.code != 0 {
		t.Fatalf("store: exit %d\n%s%s", r.code, r.out, r.err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pid int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE memories SET tokens = NULL"); err != nil {
		t.Fatal(err)
	}
	held, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := held.Exec(ctx, "SELECT 1 FROM memories WHERE id = 'pg-doc-1' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	r := e.run("doctor", "--json", "--long-transaction", "1ms")
	noPassword(t, "doctor", r)
	rep := parseDoctor(t, r.out)
	if st, detail := rep.status("transactions"); st != "warn" || !strings.Contains(detail, fmt.Sprintf("pid %d (", pid)) || !strings.Contains(detail, "idle in transaction") {
		t.Errorf("transactions with a row lock held open: %s %s", st, detail)
	}
	if st, detail := rep.status("fts"); st != "fail" || !strings.Contains(detail, "not indexed") || r.code != 1 {
		t.Errorf("fts with the index emptied: exit %d, %s %s", r.code, st, detail)
	}
	if err := held.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	r = e.run("doctor", "--json", "--repair")
	rep = parseDoctor(t, r.out)
	if r.code != 0 || !rep.OK {
		t.Fatalf("doctor --repair: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if st, _ := rep.status("transactions"); st != "ok" {
		t.Errorf("transactions after the holder ended: %s", st)
	}
	var found searchOut
	r = e.run("search", "where does the build cache live", "--json")
	if err := json.Unmarshal([]byte(r.out), &found); err != nil || len(found.Results) == 0 || found.Results[0].Memory.ID != "pg-doc-1" {
		t.Fatalf("search after the repair: %v %+v\n%s", err, found.Results, r.err)
	}
}
