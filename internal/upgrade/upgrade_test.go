package upgrade

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// fakeLLM answers with a function; it is the seam for every LLM behaviour.
type fakeLLM struct {
	fn    func(ctx context.Context, req llm.Request) (string, error)
	calls atomic.Int64
}

func (f *fakeLLM) Complete(ctx context.Context, req llm.Request) (string, error) {
	f.calls.Add(1)
	return f.fn(ctx, req)
}

// goodReply answers with a valid enrichment that quotes the memory text.
func goodReply(_ context.Context, req llm.Request) (string, error) {
	text := req.User[strings.Index(req.User, "Memory:\n")+len("Memory:\n"):]
	return fmt.Sprintf(`{"l0_abstract":"about %s","l1_overview":"- %s","l2_content":%q,"resolved_category":"cases"}`, text, text, text), nil
}

// spyStore counts Write calls and logs them in an order log.
type spyStore struct {
	store.Store
	mu     sync.Mutex
	writes int
	log    *[]string
}

func (s *spyStore) Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error {
	s.mu.Lock()
	s.writes++
	if s.log != nil {
		*s.log = append(*s.log, "write")
	}
	s.mu.Unlock()
	return s.Store.Write(ctx, acc, fn)
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "u.db"), sqlite.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seed(t *testing.T, s store.Store, ms ...memory.Memory) {
	t.Helper()
	res, err := store.PutMany(context.Background(), s, memory.Owner(), ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

func legacyRows(n int) []memory.Memory {
	ms := make([]memory.Memory, n)
	for i := range ms {
		ms[i] = memory.Memory{ID: fmt.Sprintf("r%03d", i), Text: fmt.Sprintf("legacy memory number %d. More detail.", i), Category: memory.CategoryFact}
	}
	return ms
}

func get(t *testing.T, s store.Store, id string) memory.Memory {
	t.Helper()
	m, err := s.Get(context.Background(), memory.Owner(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The seed's test: a batch of 5 acquires the write lock exactly once.
func TestBatchOfFiveTakesTheLockOnce(t *testing.T) {
	s := openStore(t)
	seed(t, s, legacyRows(5)...)
	spy := &spyStore{Store: s}
	u := &Upgrader{Store: spy, LLM: &fakeLLM{fn: goodReply}, Access: memory.Owner(), BatchSize: 5}
	rep, err := u.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if spy.writes != 1 || rep.LockAcquisition != 1 || rep.Batches != 1 || rep.Upgraded != 5 {
		t.Fatalf("writes=%d report=%+v", spy.writes, rep)
	}
}

// The seed's test: every LLM call of a batch finishes before the lock is taken.
func TestLLMCallsFinishBeforeTheLock(t *testing.T) {
	s := openStore(t)
	seed(t, s, legacyRows(5)...)
	var mu sync.Mutex
	var order []string
	spy := &spyStore{Store: s, log: &order}
	fake := &fakeLLM{fn: func(ctx context.Context, req llm.Request) (string, error) {
		time.Sleep(20 * time.Millisecond)
		reply, err := goodReply(ctx, req)
		mu.Lock()
		order = append(order, "llm-done")
		mu.Unlock()
		return reply, err
	}}
	u := &Upgrader{Store: spy, LLM: fake, Access: memory.Owner(), BatchSize: 5, Concurrency: 3}
	if _, err := u.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"llm-done", "llm-done", "llm-done", "llm-done", "llm-done", "write"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("order %v, want %v", order, want)
	}
}

func TestUpgradeKeepsTextAndMetadata(t *testing.T) {
	s := openStore(t)
	m := memory.Memory{ID: "keep", Text: "I'm Ada, a compiler engineer", Category: memory.CategoryFact, Vector: []float32{0.6, 0.8},
		Metadata: map[string]any{"tier": "core", "access_count": 7.0, "confidence": 0.9, "last_accessed_at": 123.0, "custom": "x"}}
	seed(t, s, m)
	before := get(t, s, "keep")
	u := &Upgrader{Store: s, LLM: &fakeLLM{fn: func(context.Context, llm.Request) (string, error) {
		return "```json\n{\"l0_abstract\":\"Ada is a compiler engineer\",\"l1_overview\":[\"name: Ada\",\"job: compilers\"],\"l2_content\":\"I am Ada, a compiler engineer.\",\"resolved_category\":\"profile\"}\n```", nil
	}}, Access: memory.Owner()}
	rep, err := u.Run(context.Background())
	if err != nil || rep.Upgraded != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	after := get(t, s, "keep")
	md := after.Metadata
	if after.Text != before.Text || after.Format != memory.FormatSmart || after.Revision != before.Revision+1 {
		t.Fatalf("row %+v", after)
	}
	for k, want := range map[string]any{"tier": "core", "access_count": 7.0, "confidence": 0.9, "last_accessed_at": 123.0, "custom": "x",
		"l0_abstract": "Ada is a compiler engineer", "l1_overview": "- name: Ada\n- job: compilers", "memory_category": "profile",
		"upgraded_from": "legacy", "enriched_by": "llm"} {
		if md[k] != want {
			t.Errorf("metadata[%s] = %v, want %v", k, md[k], want)
		}
	}
	if md["upgraded_at"] == nil {
		t.Error("no upgraded_at")
	}
	if len(after.Vector) == 0 || fmt.Sprint(after.Vector) != fmt.Sprint(before.Vector) {
		t.Error("vector changed or lost")
	}
}

// A row edited between its enrichment and the commit keeps the edit: same
// text → the enrichment is merged onto the fresh row.
func TestConcurrentEditIsMergedNotLost(t *testing.T) {
	s := openStore(t)
	seed(t, s, memory.Memory{ID: "m", Text: "likes green tea", Category: memory.CategoryPreference, Importance: 0.3})
	fake := &fakeLLM{fn: func(ctx context.Context, req llm.Request) (string, error) {
		// Another writer edits the row while the LLM is thinking.
		_, err := store.PatchMany(ctx, s, memory.Owner(), []store.Patch{{ID: "m", Apply: func(m *memory.Memory) error {
			m.Importance = 0.95
			m.Metadata["access_count"] = 42.0
			return nil
		}}})
		if err != nil {
			return "", err
		}
		return goodReply(ctx, req)
	}}
	rep, err := (&Upgrader{Store: s, LLM: fake, Access: memory.Owner()}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := get(t, s, "m")
	if rep.Merged != 1 || rep.Upgraded != 1 || m.Importance != 0.95 || m.Metadata["access_count"] != 42.0 ||
		m.Format != memory.FormatSmart || m.Metadata["memory_category"] != "cases" || m.Revision != 3 {
		t.Fatalf("report %+v row %+v", rep, m)
	}
}

// Text changed meanwhile → the enrichment describes an old text, so the row
// is enriched again from its new text.
func TestConcurrentTextChangeIsRequeued(t *testing.T) {
	s := openStore(t)
	seed(t, s, memory.Memory{ID: "m", Text: "deploys on Fridays", Category: memory.CategoryDecision})
	var once sync.Once
	fake := &fakeLLM{fn: func(ctx context.Context, req llm.Request) (string, error) {
		var err error
		once.Do(func() {
			_, err = store.PatchMany(ctx, s, memory.Owner(), []store.Patch{{ID: "m", Apply: func(m *memory.Memory) error {
				m.Text = "never deploys on Fridays"
				return nil
			}}})
		})
		if err != nil {
			return "", err
		}
		return goodReply(ctx, req)
	}}
	rep, err := (&Upgrader{Store: s, LLM: fake, Access: memory.Owner()}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := get(t, s, "m")
	if rep.Requeued != 1 || rep.Upgraded != 1 || fake.calls.Load() != 2 || m.Text != "never deploys on Fridays" ||
		m.Metadata["l2_content"] != "never deploys on Fridays" {
		t.Fatalf("report %+v calls %d row %+v", rep, fake.calls.Load(), m)
	}
}

func TestDeletedOrAlreadyUpgradedRowsAreSkipped(t *testing.T) {
	s := openStore(t)
	seed(t, s, legacyRows(2)...)
	fake := &fakeLLM{fn: func(ctx context.Context, req llm.Request) (string, error) {
		if strings.Contains(req.User, "number 0") {
			_, err := store.DeleteMany(ctx, s, memory.Owner(), []store.Deletion{{ID: "r000"}})
			return `{"l0_abstract":"x"}`, err
		}
		_, err := store.PatchMany(ctx, s, memory.Owner(), []store.Patch{{ID: "r001", Apply: func(m *memory.Memory) error {
			m.Format = memory.FormatSmart
			m.Metadata["memory_category"] = "events"
			return nil
		}}})
		return `{"l0_abstract":"y"}`, err
	}}
	rep, err := (&Upgrader{Store: s, LLM: fake, Access: memory.Owner()}).Run(context.Background())
	if err != nil || rep.Skipped != 2 || rep.Upgraded != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	if m := get(t, s, "r001"); m.Metadata["memory_category"] != "events" {
		t.Fatalf("someone else's upgrade was overwritten: %+v", m)
	}
}

func TestBadRepliesFallBackAndRedo(t *testing.T) {
	s := openStore(t)
	seed(t, s, legacyRows(3)...)
	bad := &fakeLLM{fn: func(context.Context, llm.Request) (string, error) {
		return "Sure! Here is a summary of the memory.", nil
	}}
	rep, err := (&Upgrader{Store: s, LLM: bad, Access: memory.Owner()}).Run(context.Background())
	if err != nil || rep.Fallbacks != 3 || rep.Upgraded != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	m := get(t, s, "r000")
	if m.Format != memory.FormatSmart || m.Metadata["enriched_by"] != "fallback" || m.Metadata["l0_abstract"] != "legacy memory number 0." ||
		!strings.Contains(fmt.Sprint(m.Metadata["enrich_error"]), "no JSON") {
		t.Fatalf("fallback row %+v", m)
	}
	// A plain rerun finds nothing legacy; --redo-fallbacks enriches them again.
	rep, _ = (&Upgrader{Store: s, LLM: &fakeLLM{fn: goodReply}, Access: memory.Owner()}).Run(context.Background())
	if rep.LegacyFound != 0 {
		t.Fatalf("rerun found %d", rep.LegacyFound)
	}
	rep, err = (&Upgrader{Store: s, LLM: &fakeLLM{fn: goodReply}, Access: memory.Owner(), RedoFallbacks: true}).Run(context.Background())
	if err != nil || rep.LegacyFound != 3 || rep.Upgraded != 3 {
		t.Fatalf("redo %+v %v", rep, err)
	}
	m = get(t, s, "r000")
	if m.Metadata["enriched_by"] != "llm" || m.Metadata["enrich_error"] != nil || m.Metadata["upgraded_from"] != "legacy" {
		t.Fatalf("redone row %+v", m.Metadata)
	}
}

func TestLLMFailureLeavesRowLegacy(t *testing.T) {
	s := openStore(t)
	seed(t, s, legacyRows(2)...)
	down := &fakeLLM{fn: func(context.Context, llm.Request) (string, error) {
		return "", errors.New("HTTP 500: overloaded (gave up after 4 attempts)")
	}}
	rep, err := (&Upgrader{Store: s, LLM: down, Access: memory.Owner()}).Run(context.Background())
	if err != nil || len(rep.Errors) != 2 || rep.Upgraded != 0 || rep.Batches != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	if !strings.Contains(rep.Errors[0].Error, "row left as it was") || get(t, s, "r000").Format != memory.FormatLegacy {
		t.Fatalf("errors %+v", rep.Errors)
	}
}

func TestLLMDownStopsTheRun(t *testing.T) {
	s := openStore(t)
	seed(t, s, legacyRows(40)...)
	down := &fakeLLM{fn: func(context.Context, llm.Request) (string, error) { return "", errors.New("connection refused") }}
	_, err := (&Upgrader{Store: s, LLM: down, Access: memory.Owner(), Concurrency: 2}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "in a row") || down.calls.Load() >= 40 {
		t.Fatalf("err %v after %d calls", err, down.calls.Load())
	}
}

func TestInterruptCommitsWhatIsEnriched(t *testing.T) {
	s := openStore(t)
	seed(t, s, legacyRows(30)...)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	slow := &fakeLLM{fn: func(c context.Context, req llm.Request) (string, error) {
		if n.Add(1) == 6 {
			cancel()
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-c.Done():
			return "", c.Err()
		}
		return goodReply(c, req)
	}}
	rep, err := (&Upgrader{Store: s, LLM: slow, Access: memory.Owner(), Concurrency: 2}).Run(ctx)
	if !errors.Is(err, context.Canceled) || !rep.Interrupted {
		t.Fatalf("%+v %v", rep, err)
	}
	st, _ := s.Stats(context.Background(), memory.Owner(), store.Filter{})
	if st.Smart != rep.Upgraded || st.Smart == 0 || st.Smart == 30 || len(rep.Errors) != 0 {
		t.Fatalf("smart rows %d, report %+v", st.Smart, rep)
	}
	// A rerun finishes the rest.
	rep, err = (&Upgrader{Store: s, LLM: &fakeLLM{fn: goodReply}, Access: memory.Owner()}).Run(context.Background())
	if err != nil || rep.Upgraded != 30-st.Smart {
		t.Fatalf("rerun %+v %v", rep, err)
	}
}

func TestNoLLMPlainAndLimitAndScope(t *testing.T) {
	s := openStore(t)
	ms := legacyRows(12)
	for i := range ms {
		if i%2 == 0 {
			ms[i].Scope = "project:x"
		}
	}
	seed(t, s, ms...)
	u := &Upgrader{Store: s, Access: memory.Owner(), Scopes: []memory.Scope{"project:x"}, Limit: 4, BatchSize: 3}
	dry, err := u.DryRun(context.Background())
	if err != nil || dry.DryRun.Total != 4 || dry.DryRun.ByCategory["cases"] != 4 {
		t.Fatalf("dry run %+v %v", dry, err)
	}
	rep, err := u.Run(context.Background())
	if err != nil || rep.Upgraded != 4 || rep.Batches != 2 || rep.LockAcquisition != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	m := get(t, s, "r000")
	if m.Metadata["enriched_by"] != "plain" || m.Metadata["l1_overview"] != "- legacy memory number 0." || m.Metadata["l2_content"] != m.Text {
		t.Fatalf("plain row %+v", m.Metadata)
	}
	if get(t, s, "r001").Format != memory.FormatLegacy {
		t.Fatal("row outside --scope was upgraded")
	}
}

func TestBatchesAreBoundedAndManyRowsFinish(t *testing.T) {
	s := openStore(t)
	seed(t, s, legacyRows(257)...)
	spy := &spyStore{Store: s}
	rep, err := (&Upgrader{Store: spy, LLM: &fakeLLM{fn: goodReply}, Access: memory.Owner(), BatchSize: 10, Concurrency: 4}).Run(context.Background())
	if err != nil || rep.Upgraded != 257 || spy.writes != rep.Batches || rep.Batches < 26 || rep.Batches > 40 {
		t.Fatalf("%+v writes %d %v", rep, spy.writes, err)
	}
}
