package retrieve

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// An all-zero vector carries no meaning: a row written with one, or stored
// with one by an older binary, is found by its words and never enters the
// vector index, and the other rows of its scope are still found by meaning.
func TestZeroVectorRowsDoNotDisableVectorRecall(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "z.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := embedding.NewHash(64)
	texts := []string{
		"we deploy on Tuesdays after the review",
		"deploy keys rotate every 90 days",
		"the cat sleeps on the warm laptop",
		"zebra written with a zero vector",
		"quagga stored by an older binary",
	}
	vecs, _ := emb.Embed(ctx, texts)
	vecs[3] = make([]float32, 64)
	ids := []string{"m0", "m1", "m2", "zero", "old"}
	ms := make([]memory.Memory, len(texts))
	for i, text := range texts {
		ms[i] = memory.Memory{ID: ids[i], Text: text, Vector: vecs[i]}
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	// A row stored with a zero vector before writes refused them.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, "UPDATE memories SET vector = zeroblob(256) WHERE id = 'old'"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if m, err := st.Get(ctx, memory.Owner(), "zero"); err != nil || m.Vector != nil {
		t.Fatalf("row written with a zero vector: vector %v, err %v; want none", m.Vector, err)
	}

	r := New(st, emb, nil, Options{})
	resp, err := r.Search(ctx, memory.Owner(), Request{Query: texts[1], Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) == 0 || resp.Results[0].Memory.ID != "m1" || resp.Results[0].Sources.Vector == nil {
		t.Fatalf("vector recall beside zero-vector rows: %+v (warnings %v)", resp.Results, resp.Warnings)
	}
	for _, c := range []struct{ query, id string }{{"zebra", "zero"}, {"quagga", "old"}} {
		resp, err := r.Search(ctx, memory.Owner(), Request{Query: c.query, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) == 0 || resp.Results[0].Memory.ID != c.id || resp.Results[0].Sources.BM25 == nil {
			t.Fatalf("%q: %+v (warnings %v), want %s found by BM25", c.query, resp.Results, resp.Warnings, c.id)
		}
		if resp.Results[0].Sources.Vector != nil {
			t.Errorf("%q: %s has a vector score %v, but its vector is zero", c.query, c.id, *resp.Results[0].Sources.Vector)
		}
	}
}
