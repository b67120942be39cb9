package retrieve

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

// The explanation lists every stage in pipeline order, each one's out is
// the next one's in, and what was dropped on the way is in Dropped, each
// with its reason and its components.
func TestExplainAccountsForEveryCandidate(t *testing.T) {
	st, emb := prfStore(t)
	now := time.Now()
	r := New(st, emb, nil, Options{Now: func() time.Time { return now }})
	resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: "release changelog", Limit: 2, Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	ex := resp.Explain
	if ex == nil || ex.Fusion == "" {
		t.Fatalf("no explanation: %+v", ex)
	}
	var names []string
	for _, s := range ex.Stages {
		names = append(names, s.Name)
	}
	want := []string{"lexical", "vector", "fusion", "floor", "rerank", "score", "decay", "noise", "dedup", "limit"}
	if !slices.Equal(names, want) {
		t.Fatalf("stages %q, want %q", names, want)
	}
	for i := 3; i < len(ex.Stages); i++ { // from the floor on, one stage feeds the next
		if prev, s := ex.Stages[i-1], ex.Stages[i]; s.In != prev.Out {
			t.Fatalf("stage %s has in %d, but %s let %d through", s.Name, s.In, prev.Name, prev.Out)
		}
	}
	fusion, last := ex.Stages[2], ex.Stages[len(ex.Stages)-1]
	if last.Out != len(resp.Results) || fusion.Out != len(resp.Results)+len(resp.Dropped) {
		t.Fatalf("fusion made %d candidates, %d results and %d dropped", fusion.Out, len(resp.Results), len(resp.Dropped))
	}
	if last.Min > last.Max || last.Max != resp.Results[0].Score {
		t.Fatalf("limit's range [%v, %v], best result %v", last.Min, last.Max, resp.Results[0].Score)
	}
	for _, res := range append(resp.Results, resp.Dropped...) {
		c := res.Trace.Components
		if c.Vector == nil || c.Fused == 0 {
			t.Fatalf("%s: components %+v", res.Memory.ID, c)
		}
	}
	for _, res := range resp.Dropped {
		if res.Trace.Dropped == "" {
			t.Fatalf("%s dropped without a reason", res.Memory.ID)
		}
	}
	for _, res := range resp.Results {
		if res.Trace.Components.Lifecycle == nil || res.Trace.Components.Lexical == nil {
			t.Fatalf("%s: a result found by BM25 and decayed needs its lexical and lifecycle components: %+v", res.Memory.ID, res.Trace.Components)
		}
	}
	plain, _ := r.Search(context.Background(), memory.Owner(), Request{Query: "release changelog", Limit: 2})
	if plain.Explain != nil || plain.Results[0].Trace != nil {
		t.Fatal("explanation without Debug")
	}
}
