package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/reembed"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres"
)

// Batch jobs on two "hosts" (processes) sharing one PostgreSQL database:
// reembed and --pending split the rows, imports of one file do not
// embed twice, maintenance runs on one host at a time.

// countingAPI is an OpenAI-compatible embedding endpoint (the fake API
// model's vectors, apiVector) that counts how often each text is embedded.
type countingAPI struct {
	*httptest.Server
	mu       sync.Mutex
	count    map[string]int
	requests atomic.Int64
}

func newCountingAPI(t testing.TB, delay time.Duration) *countingAPI {
	f := &countingAPI{count: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.HasSuffix(r.URL.Path, "/embeddings") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		time.Sleep(delay)
		f.mu.Lock()
		for _, s := range req.Input {
			f.count[s]++
		}
		f.mu.Unlock()
		f.requests.Add(1)
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		out := struct {
			Data  []item `json:"data"`
			Model string `json:"model"`
		}{Model: req.Model}
		for i, s := range req.Input {
			out.Data = append(out.Data, item{i, apiVector(s)})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *countingAPI) env(model string) []string {
	return []string{"TROVE_EMBED_PROVIDER=openai", "TROVE_EMBED_MODEL=" + model, "TROVE_EMBED_BASE_URL=" + f.URL,
		"TROVE_EMBED_API_KEY=test-key-0123456789"}
}

// tally returns how many texts (the probe left out) were embedded once,
// more than once, and the calls in all.
func (f *countingAPI) tally() (once, more, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s, n := range f.count {
		if s == reembed.ProbeText {
			continue
		}
		calls += n
		if n == 1 {
			once++
		} else {
			more++
		}
	}
	return once, more, calls
}

// checkAllAPIPG wants every row of the PostgreSQL store with the fake API
// model's vector of its text.
func checkAllAPIPG(t testing.TB, e *env, wantRows int) {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, e.db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, bad := 0, 0
	err = s.Scan(ctx, memory.Owner(), store.ScanOptions{WithVectors: true}, func(m memory.Memory) error {
		n++
		want := apiVector(m.Text)
		var dot float64
		if len(m.Vector) == fakeDims {
			for i := range want {
				dot += float64(want[i]) * float64(m.Vector[i])
			}
		}
		if dot < 0.999 {
			bad++
			if bad < 5 {
				t.Errorf("row %s %q: %d dimensions, not the new model's vector of its text (cosine %.3f)", m.ID, m.Text, len(m.Vector), dot)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != wantRows || bad > 0 {
		t.Fatalf("%d rows (want %d), %d without the new model's vector", n, wantRows, bad)
	}
	if c, err := s.ReembedCounts(ctx); err != nil || c.Pending != 0 {
		t.Fatalf("counts %+v (%v): want no row without a vector", c, err)
	}
}

type reembedOut struct {
	Switched          bool  `json:"switched"`
	SwitchedElsewhere bool  `json:"switched_elsewhere"`
	Resumed           bool  `json:"resumed"`
	Already           bool  `json:"already_current"`
	Embedded          int   `json:"embedded"`
	Pending           int   `json:"pending"`
	DurationMS        int64 `json:"duration_ms"`
}

func parseReembed(t testing.TB, r result) reembedOut {
	t.Helper()
	var rep reembedOut
	if r.code != 0 {
		t.Fatalf("reembed: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("reembed report %q: %v", r.out, err)
	}
	return rep
}

// startReembed starts `trove reembed` to the fake API model.
func startReembed(t testing.TB, e *env, api *countingAPI, extra ...string) (*strings.Builder, *strings.Builder, func() result) {
	args := append([]string{"reembed", "--provider", "openai", "--model", "fake-embed", "--json"}, extra...)
	c := e.cmd(context.Background(), args...)
	c.Env = append(c.Env, "TROVE_EMBED_BASE_URL="+api.URL, "TROVE_EMBED_API_KEY=test-key-0123456789")
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return &out, &errb, func() result {
		err := c.Wait()
		r := result{out: out.String(), err: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			r.code = -1
		}
		return r
	}
}

// Two `trove reembed` processes move one PostgreSQL store to an API model
// at once: they split the rows (each embedded once), one of them switches,
// and every row ends with the new model's vector.
func TestPostgresReembedTwoHosts(t *testing.T) {
	const rows, batch = 3000, 32
	e := newPGEnv(t)
	seedRows(t, e, rows)
	api := newCountingAPI(t, 10*time.Millisecond)
	start := time.Now()
	var waits []func() result
	for range 2 {
		_, _, wait := startReembed(t, e, api, "--batch-size", fmt.Sprint(batch), "--concurrency", "2")
		waits = append(waits, wait)
	}
	var reps []reembedOut
	for _, w := range waits {
		reps = append(reps, parseReembed(t, w()))
	}
	took := time.Since(start)
	if reps[0].Switched == reps[1].Switched || reps[0].SwitchedElsewhere == reps[1].SwitchedElsewhere {
		t.Fatalf("want one switch, made by one process: %+v / %+v", reps[0], reps[1])
	}
	once, more, calls := api.tally()
	t.Logf("two hosts: %+v / %+v; %d texts embedded once, %d more than once, %d calls for %d rows (%.3f per row), %v",
		reps[0], reps[1], once, more, calls, rows, float64(calls)/rows, took.Round(time.Millisecond))
	if once != rows || more != 0 {
		t.Fatalf("%d rows embedded once and %d more than once, want each of the %d once", once, more, rows)
	}
	if reps[0].Embedded+reps[0].Pending == 0 || reps[1].Embedded+reps[1].Pending == 0 {
		t.Fatalf("one process did all the work: %+v / %+v", reps[0], reps[1])
	}
	checkAllAPIPG(t, e, rows)
}

// One of two `trove reembed` processes is SIGKILLed mid-way: the other
// takes over the rows it held and completes the move; only the killed
// one's batches in flight are embedded twice; a rerun embeds nothing.
func TestPostgresReembedHostKilled(t *testing.T) {
	const rows, batch, conc = 3000, 32, 2
	e := newPGEnv(t)
	seedRows(t, e, rows)
	api := newCountingAPI(t, 10*time.Millisecond)
	args := []string{"--batch-size", fmt.Sprint(batch), "--concurrency", fmt.Sprint(conc)}
	_, _, waitA := startReembed(t, e, api, args...)
	c := e.cmd(context.Background(), append([]string{"reembed", "--provider", "openai", "--model", "fake-embed"}, args...)...)
	c.Env = append(c.Env, "TROVE_EMBED_BASE_URL="+api.URL, "TROVE_EMBED_API_KEY=test-key-0123456789")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for api.requests.Load() < int64(rows/batch/3) {
		time.Sleep(2 * time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	rep := parseReembed(t, waitA())
	if !rep.Switched && !rep.SwitchedElsewhere {
		t.Fatalf("the surviving process did not finish the move: %+v", rep)
	}
	once, more, calls := api.tally()
	// At most the killed process's batches in flight: fed, embedding,
	// and embedded but not committed (Concurrency each), and one committing.
	inFlight := (3*conc + 1) * batch
	t.Logf("survivor: %+v; %d texts embedded once, %d twice, %d calls for %d rows (%.3f per row); bound %d",
		rep, once, more, calls, rows, float64(calls)/rows, inFlight)
	if once+more != rows || more > inFlight {
		t.Fatalf("%d rows embedded, %d of them more than once (bound %d), want all %d", once+more, more, inFlight, rows)
	}
	checkAllAPIPG(t, e, rows)
	before := calls
	again := parseReembed(t, e.runWith(api.env("fake-embed"), "reembed", "--provider", "openai", "--model", "fake-embed", "--json"))
	if _, _, after := api.tally(); !again.Already || after != before {
		t.Fatalf("rerun after the move: %+v, %d texts embedded", again, after-before)
	}
}

// Two `trove reembed --pending` processes share the rows written without
// a vector: each is embedded once.
func TestPostgresPendingTwoHosts(t *testing.T) {
	const rows = 2000
	api := newCountingAPI(t, 5*time.Millisecond)
	e := newPGEnv(t)
	e.extra = append(e.extra, api.env("fake-embed")...)
	e.ok("store", "the store's first memory", "--id", "first")
	// Rows without a vector: imported with vectors of the wrong model
	// would fail; an old-model process after a switch writes them. Here
	// they are written through the store directly.
	ctx := context.Background()
	s, err := postgres.Open(ctx, e.db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]memory.Memory, rows)
	for i := range ms {
		ms[i] = memory.Memory{ID: fmt.Sprintf("nv-%05d", i), Text: fmt.Sprintf("pending memory %d about subject %d", i, i%17)}
	}
	if _, err := store.PutMany(ctx, s, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	s.Close()
	api.mu.Lock()
	clear(api.count)
	api.mu.Unlock()
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i := range res {
		wg.Go(func() { res[i] = e.run("reembed", "--pending", "--batch-size", "32", "--concurrency", "2", "--json") })
	}
	wg.Wait()
	a, b := parseReembed(t, res[0]), parseReembed(t, res[1])
	once, more, calls := api.tally()
	t.Logf("pending: %d + %d rows; %d texts once, %d more; %d calls", a.Pending, b.Pending, once, more, calls)
	if once != rows || more != 0 || a.Pending+b.Pending != rows {
		t.Fatalf("pending rows: %d embedded once, %d more than once, reports %d + %d, want %d once", once, more, a.Pending, b.Pending, rows)
	}
	checkAllAPIPG(t, e, rows+1)
}

// Two `trove import` processes of one file at once: the rows go in once,
// each text embedded once; one import waits for the other (or finds the
// rows present) and embeds nothing again.
func TestPostgresImportTwoHosts(t *testing.T) {
	const rows = 3000
	api := newCountingAPI(t, 10*time.Millisecond)
	e := newPGEnv(t)
	e.extra = append(e.extra, api.env("fake-embed")...)
	var b strings.Builder
	for i := range rows {
		fmt.Fprintf(&b, `{"id":"imp-%05d","text":"imported memory %d about topic %d","category":"fact","importance":0.5}`+"\n", i, i, i%31)
	}
	file := filepath.Join(t.TempDir(), "import.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i := range res {
		wg.Go(func() { res[i] = e.run("import", file, "--json") })
	}
	wg.Wait()
	var reps [2]struct {
		Imported, Skipped, Failed int
		WaitedMS                  int64 `json:"waited_ms"`
	}
	for i, r := range res {
		if r.code != 0 {
			t.Fatalf("import %d: exit %d\n%s%s", i, r.code, r.out, r.err)
		}
		if err := json.Unmarshal([]byte(r.out), &reps[i]); err != nil {
			t.Fatalf("import report %q: %v", r.out, err)
		}
	}
	once, more, calls := api.tally()
	t.Logf("imports: %+v / %+v; %d texts embedded once, %d more; %d calls", reps[0], reps[1], once, more, calls)
	if reps[0].Imported+reps[1].Imported != rows || reps[0].Skipped+reps[1].Skipped != rows || reps[0].Failed+reps[1].Failed != 0 {
		t.Fatalf("want %d rows imported once and skipped once: %+v / %+v", rows, reps[0], reps[1])
	}
	if once != rows || more != 0 {
		t.Fatalf("%d texts embedded once, %d more than once, want each of %d once", once, more, rows)
	}
	if got := len(e.exportAll()); got != rows {
		t.Fatalf("%d rows in the store, want %d", got, rows)
	}
}

// Maintenance runs on one host at a time: while another session (host)
// holds its job lock, `trove maintain` skips; once that session dies the
// server frees the lock and the next one runs.
func TestPostgresMaintainExclusive(t *testing.T) {
	e := newPGEnv(t)
	seedRows(t, e, 50)
	ctx := context.Background()
	s, err := postgres.Open(ctx, e.db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release, ok, err := s.TryJob(service.MaintainJobName)
	if err != nil || !ok {
		t.Fatalf("take the maintain lock: %v %v", ok, err)
	}
	defer release()
	if out := maintainJSON(t, e); out.Skipped != service.SkippedMaintain {
		t.Fatalf("maintain while another host holds its lock: %+v, want skipped", out)
	}
	// The holder's session ends (its host died): the server frees the lock.
	if _, err := s.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid, 10000) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND pid <> pg_backend_pid()
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	if out := maintainJSON(t, e); out.Skipped != "" {
		t.Fatalf("maintain after the holder died: %+v, want a pass", out)
	}
}

// On SQLite a reembed runs one at a time: a second `trove reembed` while
// one runs says so and changes nothing; after the first is SIGKILLed the
// lock is free and a rerun completes the move.
func TestReembedSQLiteOneAtATime(t *testing.T) {
	const rows = 600
	api := newCountingAPI(t, 40*time.Millisecond)
	e := newEnv(t)
	seedRows(t, e, rows)
	c := e.cmd(context.Background(), "reembed", "--provider", "openai", "--model", "fake-embed", "--batch-size", "8", "--concurrency", "1")
	c.Env = append(c.Env, "TROVE_EMBED_BASE_URL="+api.URL, "TROVE_EMBED_API_KEY=test-key-0123456789")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for api.requests.Load() < 3 { // the probe, then batches: the first run holds its lock
		time.Sleep(2 * time.Millisecond)
	}
	second := e.runWith(api.env("fake-embed"), "reembed", "--provider", "openai", "--model", "fake-embed")
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	if second.code == 0 || !strings.Contains(second.err, "another trove reembed is running") {
		t.Fatalf("a second reembed while one runs: exit %d\n%s%s", second.code, second.out, second.err)
	}
	rep := parseReembed(t, e.runWith(api.env("fake-embed"), "reembed", "--provider", "openai", "--model", "fake-embed", "--json"))
	if !rep.Switched || !rep.Resumed {
		t.Fatalf("rerun after the kill: %+v", rep)
	}
	checkAllAPI(t, e, rows)
}
