package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// cliEnv runs the CLI in-process against one store file, the way the
// binary does: every invocation opens the store, runs, and closes it.
type cliEnv struct {
	t     *testing.T
	db    string
	stdin string
	env   map[string]string // more environment (TROVE_CONFIG, ...)
}

func newCLIEnv(t *testing.T) *cliEnv {
	return &cliEnv{t: t, db: filepath.Join(t.TempDir(), "trove.db")}
}

type cliResult struct {
	code     int
	out, err string
}

// openTestService wires a real SQLite store and the offline hash embedder
// behind the service, as cmd/trove does, with servicetest's recall.
func openTestService(ctx context.Context, cfg config.Config, o OpenOptions) (*service.Service, error) {
	if !o.Create {
		if _, err := os.Stat(cfg.DB); errors.Is(err, os.ErrNotExist) {
			return nil, &service.NoStoreError{Path: cfg.DB}
		}
	}
	emb := servicetest.Embedder()
	h := emb.Info()
	st, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{Space: store.Space{Model: h.Model, Dimensions: h.Dimensions}, Command: o.Command})
	if err != nil {
		return nil, err
	}
	var search service.Searcher = &servicetest.Searcher{Store: st, Embedder: emb}
	if realRecall != nil {
		search = retrieve.New(st, emb, nil, retrieve.Options{Now: realRecall})
	}
	return service.New(service.Options{Store: st, Embedder: emb, Access: cfg.Access, Declared: cfg.Declared, DefaultScope: cfg.DefaultScope(),
		Searcher: search}), nil
}

// realRecall, when set, makes openTestService search with the real recall
// pipeline, on this clock, instead of servicetest's brute-force cosine.
var realRecall func() time.Time

func (e *cliEnv) run(args ...string) cliResult {
	e.t.Helper()
	home := e.t.TempDir()
	env := map[string]string{"HOME": home, "TROVE_DB": e.db}
	for k, v := range e.env {
		env[k] = v
	}
	var stdout, stderr bytes.Buffer
	code := Execute(context.Background(), Deps{
		Getenv: func(k string) string { return env[k] },
		Stdin:  strings.NewReader(e.stdin),
		Open:   openTestService,
	}, args, &stdout, &stderr)
	return cliResult{code: code, out: stdout.String(), err: stderr.String()}
}

// ok runs a command that must succeed and returns its stdout.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("trove %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// jsonKeys decodes one JSON object and returns its top-level keys, sorted.
func jsonKeys(t *testing.T, s string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var memoryKeys = []string{"category", "created_at", "format", "id", "importance", "metadata", "revision", "scope", "text", "updated_at"}

func TestCommandsJSONShapes(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("store", "prefers dark mode in every editor", "--id", "mem-0001", "--category", "preference")
	e.ok("store", "billing deploys on Fridays", "--id", "mem-0002", "--scope", "project:billing", "--category", "decision")

	for _, c := range []struct {
		name string
		args []string
		keys []string
	}{
		{"store", []string{"store", "a third memory", "--id", "mem-0003", "--json"}, append(slices.Clone(memoryKeys), "outcome")},
		{"get", []string{"get", "mem-0001", "--json"}, memoryKeys},
		{"get --with-vector", []string{"get", "mem-0001", "--json", "--with-vector"}, append(slices.Clone(memoryKeys), "vector")},
		{"update", []string{"update", "mem-0001", "--importance", "0.9", "--json"}, memoryKeys},
		{"list", []string{"list", "--json", "--limit", "1"}, []string{"memories", "next_cursor"}},
		{"stats", []string{"stats", "--json"}, []string{"by_category", "by_layer", "by_scope", "by_state", "by_tier", "inactive", "legacy", "newest_created_at", "oldest_created_at", "retrieval", "smart", "total"}},
		{"search", []string{"search", "dark mode editor", "--json"}, []string{"results"}},
		{"delete-bulk", []string{"delete-bulk", "--scope", "custom:none", "--dry-run", "--json"}, []string{"deleted", "dry_run"}},
		{"upgrade --dry-run", []string{"upgrade", "--dry-run", "--json"}, nil},
		{"maintain --dry-run", []string{"maintain", "--dry-run", "--json"}, []string{"batches", "dry_run", "duration_ms", "lock_ms", "max_batch_ms", "moves", "scanned", "stale", "started_at", "transitions"}},
		{"delete", []string{"delete", "mem-0003", "--json"}, []string{"deleted", "id"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := e.ok(c.args...)
			got := jsonKeys(t, out)
			if c.keys != nil {
				want := slices.Sorted(slices.Values(c.keys))
				if !slices.Equal(got, want) {
					t.Fatalf("keys %v, want %v\n%s", got, want, out)
				}
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("store", "a memory", "--id", "mem-0001")
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown flag", []string{"list", "--nope"}, ExitUsage, "unknown flag"},
		{"bad scope", []string{"list", "--scope", "nope:x y"}, ExitUsage, "scope"},
		{"limit over the table", []string{"search", "memory", "--limit", "51"}, ExitUsage, "limit 51 is out of range: use 1 to 50"},
		{"list limit over the table", []string{"list", "--limit", "201"}, ExitUsage, "limit 201 is out of range: use 1 to 200"},
		{"negative revision", []string{"delete", "mem-0001", "--expected-revision", "-1"}, ExitUsage, "expected_revision -1 is negative"},
		{"not found", []string{"get", "mem-9999"}, ExitNotFound, "not found"},
		{"conflict", []string{"update", "mem-0001", "--importance", "0.2", "--expected-revision", "7"}, ExitConflict, "changed since it was read"},
		{"id exists", []string{"store", "again", "--id", "mem-0001"}, ExitConflict, "already exists"},
		{"scope denied", []string{"--agent", "bob", "store", "x", "--scope", "agent:alice"}, ExitDenied, "not accessible"},
		{"no llm", []string{"upgrade"}, ExitUnavailable, "no LLM is configured"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.run(c.args...)
			if r.code != c.code || !strings.Contains(r.err, c.msg) {
				t.Fatalf("trove %s: exit %d, want %d with %q\n%s%s", strings.Join(c.args, " "), r.code, c.code, c.msg, r.out, r.err)
			}
			if !strings.HasPrefix(r.err, "error: ") {
				t.Fatalf("stderr does not start with error: %q", r.err)
			}
		})
	}
}

func TestReadCommandsNeedAStore(t *testing.T) {
	for _, args := range [][]string{
		{"list"}, {"search", "anything"}, {"get", "mem-0001"}, {"stats"}, {"export"},
		{"update", "mem-0001", "--importance", "0.1"}, {"delete", "mem-0001"},
		{"delete-bulk", "--scope", "global"}, {"upgrade", "--no-llm"},
	} {
		t.Run(args[0], func(t *testing.T) {
			e := newCLIEnv(t)
			r := e.run(args...)
			if r.code != ExitNotFound || !strings.Contains(r.err, "no store at "+e.db) {
				t.Fatalf("exit %d, want %d and 'no store at':\n%s", r.code, ExitNotFound, r.err)
			}
			if _, err := os.Stat(e.db); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s created a store at %s", args[0], e.db)
			}
		})
	}
	t.Run("doctor", func(t *testing.T) {
		e := newCLIEnv(t)
		r := e.run("doctor")
		if r.code != ExitFailure || !strings.Contains(r.out, e.db) {
			t.Fatalf("doctor on no store: exit %d\n%s%s", r.code, r.out, r.err)
		}
		if _, err := os.Stat(e.db); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("doctor created a store")
		}
	})
	t.Run("store creates one", func(t *testing.T) {
		e := newCLIEnv(t)
		e.ok("store", "the first memory")
		if _, err := os.Stat(e.db); err != nil {
			t.Fatal(err)
		}
	})
}

func TestListCursorKeepsFilters(t *testing.T) {
	e := newCLIEnv(t)
	for i := range 5 {
		e.ok("store", "billing memory "+string(rune('a'+i)), "--scope", "project:billing")
		e.ok("store", "other memory "+string(rune('a'+i)))
	}
	var page struct {
		Memories []struct {
			ID    string `json:"id"`
			Scope string `json:"scope"`
		} `json:"memories"`
		Next string `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(e.ok("list", "--scope", "project:billing", "--limit", "2", "--json")), &page); err != nil {
		t.Fatal(err)
	}
	seen := len(page.Memories)
	for page.Next != "" {
		next := page.Next
		page.Memories, page.Next = nil, ""
		// The cursor alone continues the filtered listing.
		if err := json.Unmarshal([]byte(e.ok("list", "--cursor", next, "--limit", "2", "--json")), &page); err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Memories {
			if m.Scope != "project:billing" {
				t.Fatalf("page after the cursor lists %s from %s", m.ID, m.Scope)
			}
		}
		seen += len(page.Memories)
		if seen > 5 {
			t.Fatal("more rows than the scope holds")
		}
		// The cursor with other filters is refused.
		if next != "" {
			r := e.run("list", "--cursor", next, "--scope", "global")
			if r.code != ExitUsage || !strings.Contains(r.err, "other filters (scope project:billing)") {
				t.Fatalf("cursor with other filters: exit %d\n%s", r.code, r.err)
			}
		}
	}
	if seen != 5 {
		t.Fatalf("listed %d billing rows, want 5", seen)
	}
	r := e.run("list", "--cursor", "garbage")
	if r.code != ExitUsage || !strings.Contains(r.err, "not one this server gave out") {
		t.Fatalf("bad cursor: exit %d\n%s", r.code, r.err)
	}
}

func TestListPrintsWholeIDs(t *testing.T) {
	e := newCLIEnv(t)
	long := "a-rather-long-identifier-0001"
	e.ok("store", "the first memory", "--id", long)
	e.ok("store", "the second memory", "--id", "a-rather-long-identifier-0002")
	out := e.ok("list")
	if !strings.Contains(out, long+" ") {
		t.Fatalf("list cuts ids:\n%s", out)
	}
	// What list prints is what get takes.
	id := strings.Fields(strings.Split(out, "\n")[0])[0]
	e.ok("get", id)
}

func TestStoreReadsStdinAndFile(t *testing.T) {
	e := newCLIEnv(t)
	e.stdin = "from standard input\n"
	id := strings.TrimSpace(e.ok("store", "-"))
	var m struct{ Text string }
	if err := json.Unmarshal([]byte(e.ok("get", id, "--json")), &m); err != nil || m.Text != "from standard input" {
		t.Fatalf("stdin: %q %v", m.Text, err)
	}
	f := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(f, []byte("from a file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(e.ok("store", "--file", f))
	if err := json.Unmarshal([]byte(e.ok("get", id, "--json")), &m); err != nil || m.Text != "from a file" {
		t.Fatalf("file: %q %v", m.Text, err)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"store"}, ExitUsage, "no text"},
		{[]string{"store", "x", "--file", f}, ExitUsage, "not both"},
		{[]string{"store", "--file", f + ".missing"}, ExitFailure, "no such file"},
	} {
		r := e.run(c.args...)
		if r.code != c.code || !strings.Contains(r.err, c.msg) {
			t.Fatalf("trove %v: exit %d, want %d with %q\n%s", c.args, r.code, c.code, c.msg, r.err)
		}
	}
	e.stdin = strings.Repeat("x", service.MaxTextBytes+10)
	r := e.run("store", "-")
	if r.code != ExitUsage || !strings.Contains(r.err, "limit") {
		t.Fatalf("oversized stdin: exit %d\n%s", r.code, r.err)
	}
}

func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	p := progressLines(&buf, "upgrade", func() time.Time { return now }, 5*time.Second)
	step := func(d time.Duration, done int) {
		now = now.Add(d)
		p(service.UpgradeProgress{Done: done, Total: 100, Elapsed: now.Sub(time.Unix(1000, 0))})
	}
	step(time.Second, 10)   // too soon
	step(time.Second, 20)   // too soon
	step(4*time.Second, 40) // 6 s in: a line
	step(time.Second, 50)   // too soon
	step(5*time.Second, 90) // a line
	step(time.Second, 100)  // the last row: a line
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"upgrade: 40/100 rows, 6.7 rows/s, ETA 9s",
		"upgrade: 90/100 rows, 7.5 rows/s, ETA 1s",
		"upgrade: 100/100 rows, 7.7 rows/s, ETA 0s",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("progress lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// countingEmbedder counts texts embedded, to show a refused request
// spends no provider call.
type countingEmbedder struct {
	*embedding.Hash
	n atomic.Int64
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.n.Add(int64(len(texts)))
	return c.Hash.Embed(ctx, texts)
}

func TestRefusedUpdateEmbedsNothing(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("store", "alice's note", "--id", "alice-0001", "--scope", "agent:alice")
	e.ok("store", "bob's note", "--id", "bob-00001", "--scope", "agent:bob")
	emb := &countingEmbedder{Hash: servicetest.Embedder()}
	open := func(ctx context.Context, cfg config.Config, o OpenOptions) (*service.Service, error) {
		h := emb.Info()
		st, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{Space: store.Space{Model: h.Model, Dimensions: h.Dimensions}, Command: o.Command})
		if err != nil {
			return nil, err
		}
		return service.New(service.Options{Store: st, Embedder: emb, Access: cfg.Access, Declared: cfg.Declared, DefaultScope: cfg.DefaultScope()}), nil
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"--agent", "bob", "update", "alice-0001", "--text", "taken over"}, ExitNotFound},
		{[]string{"--agent", "bob", "update", "bob-00001", "--text", "moved", "--scope", "agent:alice"}, ExitDenied},
		{[]string{"--agent", "bob", "update", "bob-00001", "--text", "x", "--category", "stress"}, ExitUsage},
	} {
		var stdout, stderr bytes.Buffer
		code := Execute(context.Background(), Deps{Getenv: func(k string) string {
			return map[string]string{"HOME": t.TempDir(), "TROVE_DB": e.db}[k]
		}, Stdin: strings.NewReader(""), Open: open}, c.args, &stdout, &stderr)
		if code != c.code {
			t.Fatalf("trove %v: exit %d, want %d\n%s", c.args, code, c.code, stderr.String())
		}
	}
	if n := emb.n.Load(); n != 0 {
		t.Fatalf("refused updates embedded %d texts, want 0", n)
	}
}

// A search that finds nothing says so in words; --json has empty results.
func TestSearchNothingRelevant(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("store", "prefers dark mode in every editor", "--id", "mem-0001")
	if out := e.ok("search", "orchid repotting"); !strings.Contains(out, "no relevant memories") {
		t.Fatalf("text output %q, want the line no relevant memories", out)
	}
	if out := e.ok("search", "orchid repotting", "--json"); !strings.Contains(out, `"results": []`) {
		t.Fatalf("JSON output %q, want empty results", out)
	}
}
