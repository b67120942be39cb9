package retrieve

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

func TestFilterNoise(t *testing.T) {
	greet, fact, gone := mkCand("g", 0.9, nil, nil), mkCand("f", 0.8, nil, nil), mkCand("x", 0.7, nil, nil)
	greet.mem.Text, fact.mem.Text, gone.mem.Text = "Hello there!", "Hiking on Sundays", "ok"
	gone.drop = "score 0.20 below the minimum 0.30"
	filterNoise([]*candidate{greet, fact, gone}, true)
	if greet.drop != "noise: greeting" {
		t.Errorf("greeting: drop %q", greet.drop)
	}
	if fact.drop != "" {
		t.Errorf("fact dropped: %q", fact.drop)
	}
	if gone.drop != "score 0.20 below the minimum 0.30" {
		t.Errorf("first reason overwritten: %q", gone.drop)
	}
	if greet.score != 0.9 || greet.trace != nil {
		t.Errorf("filter changed score or trace: %v %v", greet.score, greet.trace)
	}
}

// Without --debug the noise check runs only where results can come from;
// the results must be the same as with it (which checks every candidate).
func TestLazyNoiseMatchesFull(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "n.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := embedding.NewHash(64)
	texts := []string{
		"Sorry, I can't help with that deploy request",
		"thanks, deploy noted",
		"ok deploy",
		"hi deploy",
		"we deploy on Tuesdays after the review",
		"the deploy script lives in tools/deploy.sh",
		"deploy keys rotate every 90 days",
		"History of the deploy pipeline: first Jenkins, then Actions",
		"deploys are frozen in December",
		"deploy",
	}
	vecs, _ := emb.Embed(ctx, texts)
	ms := make([]memory.Memory, len(texts))
	for i, text := range texts {
		ms[i] = memory.Memory{ID: fmt.Sprintf("m%02d", i), Text: text, Vector: vecs[i]}
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	r := New(st, emb, nil, Options{})
	for limit := 1; limit <= len(texts); limit++ {
		ids := func(debug bool) []string {
			resp, err := r.Search(ctx, memory.Owner(), Request{Query: "deploy", Limit: limit, Debug: debug})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, res := range resp.Results {
				if noise, _ := isNoise(res.Memory.Text); noise {
					t.Fatalf("limit %d debug %v: noise %q in the results", limit, debug, res.Memory.Text)
				}
				out = append(out, res.Memory.ID)
			}
			return out
		}
		if lazy, full := ids(false), ids(true); !slices.Equal(lazy, full) {
			t.Fatalf("limit %d: without debug %v, with debug %v", limit, lazy, full)
		}
	}
}
