package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

const fakeDims = 32

// apiVector is the fake API model's vector of text: words hashed into 32
// buckets, unit length. Tests recompute it to check a stored vector.
func apiVector(text string) []float32 {
	v := make([]float32, fakeDims)
	v[0] = 0.1
	for _, w := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v[h.Sum32()%fakeDims]++
	}
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(n))
	}
	return v
}

// fakeAPI is an OpenAI-compatible embedding endpoint answering each
// request after delay.
type fakeAPI struct {
	*httptest.Server
	requests atomic.Int64
	texts    atomic.Int64
}

func newFakeAPI(t testing.TB, delay time.Duration) *fakeAPI {
	f := &fakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input []string `json:"input"`
			Model string   `json:"model"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.HasSuffix(r.URL.Path, "/embeddings") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f.requests.Add(1)
		f.texts.Add(int64(len(req.Input)))
		time.Sleep(delay)
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

// apiEnv are the settings of a trove configured for the fake API model.
func (f *fakeAPI) env(model string) []string {
	return []string{"TROVE_EMBED_PROVIDER=openai", "TROVE_EMBED_MODEL=" + model, "TROVE_EMBED_BASE_URL=" + f.URL,
		"TROVE_EMBED_API_KEY=test-key-0123456789"}
}

// seedRows imports n rows with the hash embedder.
func seedRows(t testing.TB, e *env, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"row-%05d","text":"seed memory %d about topic %d and subject %d","category":"fact","importance":0.5,"metadata":{"access_count":%d}}`+"\n", i, i, i%97, i%13, i%7)
	}
	file := filepath.Join(e.t.TempDir(), "seed.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("import", file)
}

// runWith runs trove with extra settings.
func (e *env) runWith(more []string, args ...string) result {
	e.t.Helper()
	return e.with(more...).run(args...)
}

// with is e with more settings (e itself unchanged: other goroutines use it).
func (e *env) with(more ...string) *env {
	return &env{t: e.t, db: e.db, extra: append(append([]string{}, e.extra...), more...)}
}

// liveCLI stores and updates through real trove processes configured for
// the hash model until stopped; it returns how many writes it made and
// every failure.
func liveCLI(e *env) (stop func() (writes int, failures []string)) {
	e = e.with()
	var wg sync.WaitGroup
	quit := make(chan struct{})
	var mu sync.Mutex
	var writes int
	var failures []string
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			var r result
			if i%2 == 0 {
				r = e.run("store", fmt.Sprintf("live write %d about the garden", i), "--id", fmt.Sprintf("live-%04d", i))
			} else {
				r = e.run("update", fmt.Sprintf("row-%05d", i), "--text", fmt.Sprintf("seed memory %d edited live", i))
			}
			mu.Lock()
			writes++
			if r.code != 0 {
				failures = append(failures, r.err)
			}
			mu.Unlock()
		}
	})
	return func() (int, []string) {
		close(quit)
		wg.Wait()
		return writes, failures
	}
}

// checkAllAPI wants every row with the fake API model's vector of its text.
func checkAllAPI(t testing.TB, e *env, wantRows int) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), e.db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, bad := 0, 0
	err = s.Scan(context.Background(), memory.Owner(), store.ScanOptions{WithVectors: true}, func(m memory.Memory) error {
		n++
		want := apiVector(m.Text)
		if len(m.Vector) != fakeDims {
			bad++
			if bad < 5 {
				t.Errorf("row %s %q has %d dimensions", m.ID, m.Text, len(m.Vector))
			}
			return nil
		}
		var dot float64
		for i := range want {
			dot += float64(want[i]) * float64(m.Vector[i])
		}
		if dot < 0.999 {
			bad++
			if bad < 5 {
				t.Errorf("row %s %q: vector is not the new model's of its text (cosine %.3f)", m.ID, m.Text, dot)
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
}

// A store moves from the hash embedder to an API model while trove
// processes on the old model keep storing and updating: the reembed is
// SIGKILLed mid-way and rerun; every write succeeds, search works
// throughout, and every row ends with the new model's vector of its text.
func TestReembedLiveStore(t *testing.T) {
	rows, delay, batch := 2000, 15*time.Millisecond, 32
	if *long {
		rows, delay, batch = 20000, 50*time.Millisecond, 64
	}
	api := newFakeAPI(t, delay)
	e := newEnv(t)
	seedRows(t, e, rows)
	target := api.env("fake-embed")

	stopLive := liveCLI(e)
	// First run: killed once a third of the batches are embedded.
	c := e.cmd(context.Background(), "reembed", "--provider", "openai", "--model", "fake-embed",
		"--batch-size", fmt.Sprint(batch), "--concurrency", "4")
	c.Env = append(c.Env, "TROVE_EMBED_BASE_URL="+api.URL, "TROVE_EMBED_API_KEY=test-key-0123456789")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for api.requests.Load() < int64(rows/batch/3) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	e.checkStore()
	if out := e.ok("search", "seed memory topic 5", "--limit", "3"); !strings.Contains(out, "vec") {
		t.Fatalf("search before the switch used no vectors:\n%s", out)
	}

	sent := api.texts.Load()
	r := e.runWith(target, "reembed", "--provider", "openai", "--model", "fake-embed", "--batch-size", fmt.Sprint(batch), "--json")
	if r.code != 0 {
		t.Fatalf("resumed reembed: exit %d\n%s%s", r.code, r.out, r.err)
	}
	var rep struct {
		Resumed, Switched bool
		Embedded, Pending int
		SwitchMS          float64 `json:"switch_ms"`
		RowsPerSec        float64 `json:"rows_per_second"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("report %q: %v", r.out, err)
	}
	if !rep.Resumed || !rep.Switched || rep.Embedded >= rows {
		t.Fatalf("the second run did not continue the first: %+v", rep)
	}
	t.Logf("resumed run: %+v; texts embedded by the killed run %d, by the resumed one %d", rep, sent, api.texts.Load()-sent)

	// After the switch the old-model processes keep writing (without a
	// vector) and searching (by text, with a warning).
	time.Sleep(300 * time.Millisecond)
	writes, failures := stopLive()
	if len(failures) > 0 {
		t.Fatalf("%d of %d live writes failed, first: %s", len(failures), writes, failures[0])
	}
	old := e.run("search", "garden", "--limit", "3")
	if old.code != 0 || !strings.Contains(old.err, "restart") || !strings.Contains(old.out, "live") {
		t.Fatalf("old-model search after the switch: exit %d\n%s%s", old.code, old.out, old.err)
	}
	// The new model's trove embeds what they wrote without a vector.
	if r := e.run("reembed", "--pending"); r.code == 0 || !strings.Contains(r.err, "restart") {
		t.Fatalf("reembed --pending on the old model: exit %d\n%s%s", r.code, r.out, r.err)
	}
	pend := e.runWith(target, "reembed", "--pending")
	if pend.code != 0 {
		t.Fatalf("reembed --pending: %s%s", pend.out, pend.err)
	}
	live := 0
	for id := range e.exportAll() {
		if strings.HasPrefix(id, "live-") {
			live++
		}
	}
	t.Logf("%d live writes during and after the move (%d stores)", writes, live)
	checkAllAPI(t, e, rows+live)
	e.checkStore()
	if out := e.runWith(target, "search", "seed memory 7 edited live", "--limit", "3"); out.code != 0 || !strings.Contains(out.out, "vec") {
		t.Fatalf("new-model search: %s%s", out.out, out.err)
	}
}

// A reembed SIGKILLed while it clears the old model's vectors (after the
// switch) leaves a store already on the new model, every row with its
// vector; the next run finishes the clear and embeds nothing again.
func TestReembedKilledDuringClear(t *testing.T) {
	const rows = 8000
	api := newFakeAPI(t, 0)
	e := newEnv(t)
	seedRows(t, e, rows)
	c := e.cmd(context.Background(), "reembed", "--provider", "openai", "--model", "fake-embed")
	c.Env = append(c.Env, "TROVE_EMBED_BASE_URL="+api.URL, "TROVE_EMBED_API_KEY=test-key-0123456789")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), e.db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		id, err := s.Identity(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if id.Clearing && id.Previous.Model != "" {
			c, err := s.ReembedCounts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.Clear < rows { // the clear has begun
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reembed never reached its clear: %+v", id)
		}
		time.Sleep(time.Millisecond)
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	e.checkStore()
	left, err := s.ReembedCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := s.Identity(context.Background()); !id.Clearing || left.Clear == 0 {
		t.Fatalf("the clear was done before the kill (%+v): this test checks nothing", left)
	}
	t.Logf("killed with %d old vectors left to clear", left.Clear)
	checkAllAPI(t, e, rows) // the store serves the new model already

	sent := api.texts.Load()
	r := e.runWith(api.env("fake-embed"), "reembed", "--provider", "openai", "--model", "fake-embed", "--json")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.out, r.err)
	}
	var rep struct {
		Already bool `json:"already_current"`
		Cleared int  `json:"cleared"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("report %q: %v", r.out, err)
	}
	if !rep.Already || rep.Cleared != left.Clear || api.texts.Load()-sent != 1 { // the probe alone
		t.Fatalf("second run: %+v, %d texts embedded", rep, api.texts.Load()-sent)
	}
	if c, _ := s.ReembedCounts(context.Background()); c.Other != 0 || c.Pending != 0 {
		t.Fatalf("counts after the second run: %+v", c)
	}
	checkAllAPI(t, e, rows)
	if out := e.runWith(api.env("fake-embed"), "search", "seed memory topic 5", "--limit", "3"); out.code != 0 || !strings.Contains(out.out, "vec") {
		t.Fatalf("search after the move: %s%s", out.out, out.err)
	}
}

// A trove configured with another model than the store's refuses to
// write, names both models and says how to move; nothing is written.
func TestReembedMixedModelRefused(t *testing.T) {
	api := newFakeAPI(t, 0)
	e := newEnv(t)
	e.extra = append(e.extra, api.env("fake-embed")...)
	e.ok("store", "the store's first memory", "--id", "first")
	before := api.requests.Load()
	r := e.runWith(api.env("other-model"), "store", "a memory of another model", "--id", "second")
	if r.code == 0 {
		t.Fatalf("a write of another model went in:\n%s", r.out)
	}
	for _, want := range []string{"openai:fake-embed", "openai:other-model", "trove reembed"} {
		if !strings.Contains(r.err, want) {
			t.Fatalf("error does not say %q:\n%s", want, r.err)
		}
	}
	if n := api.requests.Load() - before; n != 0 {
		t.Fatalf("the refused process called the provider %d times", n)
	}
	if rows := e.exportAll(); len(rows) != 1 {
		t.Fatalf("%d rows after a refused write, want 1", len(rows))
	}
	// A command that embeds nothing calls no provider.
	e.runWith(api.env("other-model"), "list")
	if n := api.requests.Load() - before; n != 0 {
		t.Fatalf("list called the provider %d times", n)
	}
}

// BenchmarkReembed moves 20k rows from the hash embedder to a fake API
// model answering each batch of 64 in 50 ms, 4 calls in flight, and
// prints rows/s against the embedder-bound ideal (4 × 64 / 50 ms = 5,120)
// and the switch's lock hold.
//
//	go test -run '^$' -bench Reembed -benchtime 1x ./tests/integration/
func BenchmarkReembed(b *testing.B) {
	const rows, batch, conc, delay = 20000, 64, 4, 50 * time.Millisecond
	for range b.N {
		api := newFakeAPI(b, delay)
		e := newEnv(b)
		seedRows(b, e, rows)
		r := e.with(api.env("fake-embed")...).run("reembed", "--provider", "openai", "--model", "fake-embed",
			"--batch-size", fmt.Sprint(batch), "--concurrency", fmt.Sprint(conc), "--json")
		if r.code != 0 {
			b.Fatalf("reembed: %s%s", r.out, r.err)
		}
		var rep struct {
			RowsPerSec float64 `json:"rows_per_second"`
			SwitchMS   float64 `json:"switch_ms"`
			DurationMS int64   `json:"duration_ms"`
		}
		_ = json.Unmarshal([]byte(r.out), &rep)
		ideal := float64(conc*batch) / delay.Seconds()
		b.ReportMetric(rep.RowsPerSec, "rows/s")
		b.ReportMetric(rep.RowsPerSec/ideal*100, "%ideal")
		b.ReportMetric(rep.SwitchMS, "switch-ms")
		fmt.Printf("reembed %d rows: %.0f rows/s, ideal %.0f (%.1f%%), switch held the lock %.1f ms, %d ms in all\n",
			rows, rep.RowsPerSec, ideal, rep.RowsPerSec/ideal*100, rep.SwitchMS, rep.DurationMS)
	}
}
