package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// A long-lived searching process (like trove serve) sees a row that another
// process committed just before the search — through the vector index, not
// only BM25 — and stops returning a row another process deleted.
func TestSearchSeesOtherProcessesWrites(t *testing.T) {
	e := newEnv(t)
	e.ok("store", "the staging database listens on port 6432", "--id", "first")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, e.db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := embedding.NewHash(config.Defaults(func(string) string { return "" }).Embedding.Dimensions)
	r := retrieve.New(st, emb, nil, retrieve.Options{MinScore: 0.01, DisableDecay: true})
	search := func(q string) []retrieve.Result {
		resp, err := r.Search(ctx, memory.Owner(), retrieve.Request{Query: q, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Results
	}
	if res := search("staging database port"); len(res) == 0 || res[0].Memory.ID != "first" {
		t.Fatalf("warm-up search: %+v", res)
	}

	e.ok("store", "zebra crossings are painted every spring", "--id", "zebra")
	res := search("zebra crossings painted")
	if len(res) == 0 || res[0].Memory.ID != "zebra" || res[0].Sources.Vector == nil {
		t.Fatalf("row committed by another process just before the search: %+v", res)
	}

	e.ok("update", "zebra", "--text", "giraffes are fed at noon")
	res = search("giraffes fed at noon")
	if len(res) == 0 || res[0].Memory.ID != "zebra" || res[0].Sources.Vector == nil || !strings.Contains(res[0].Memory.Text, "giraffes") {
		t.Fatalf("row re-embedded by another process: %+v", res)
	}

	e.ok("delete", "zebra")
	for _, r := range search("giraffes fed at noon") {
		if r.Memory.ID == "zebra" {
			t.Fatalf("a row deleted by another process is still recalled")
		}
	}
}
