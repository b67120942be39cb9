package retrieve

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

func TestInterpolate(t *testing.T) {
	orig := []store.TextHit{{ID: "a", Score: 8}, {ID: "b", Score: 4}}
	exp := []store.TextHit{{ID: "b", Score: 20}, {ID: "c", Score: 10}}
	got := interpolate(orig, exp, 0.5, 10)
	// exp scaled by 8/20: b 8, c 4. Sums: a 4, b 2+4 = 6, c 2; scaled back to
	// the original's best (8): b 8, a 5.33, c 2.67.
	want := []store.TextHit{{ID: "b", Score: 8}, {ID: "a", Score: 16.0 / 3}, {ID: "c", Score: 8.0 / 3}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || !near(got[i].Score, want[i].Score) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got := interpolate(orig, exp, 0.5, 2); len(got) != 2 || got[1].ID != "a" {
		t.Fatalf("cut to 2: %v", got)
	}
	if got := interpolate(orig, nil, 0.5, 10); !slices.Equal(got, orig) {
		t.Fatalf("no expansion hits must keep the original list, got %v", got)
	}
	if got := interpolate(orig, exp, 1, 10); got[0].ID != "a" || !near(got[0].Score, 8) || !near(got[1].Score, 4) {
		t.Fatalf("λ = 1 must keep the original scores, got %v", got)
	}
}

func TestFeedbackTerms(t *testing.T) {
	rows := []memory.Memory{
		{ID: "1", Text: "The deploy pipeline runs terraform then ansible"},
		{ID: "2", Text: "Deploying needs terraform credentials from vault"},
		{ID: "3", Text: "Lunch is at noon"},
	}
	hits := []store.TextHit{{ID: "1", Score: 6}, {ID: "2", Score: 6}, {ID: "3", Score: 1}}
	got := feedbackTerms(termsOf("how do we deploy"), hits, rows, 10, 3)
	// terraform is in both strong documents; the query's own word and its
	// forms ("deploy", "deploying") and stopwords are not terms.
	if len(got) != 3 || got[0] != "terraform" {
		t.Fatalf("got %q, want terraform first and 3 terms", got)
	}
	for _, w := range got {
		if strings.HasPrefix(w, "deploy") || w == "the" || w == "then" {
			t.Fatalf("%q must not be an expansion term: %q", w, got)
		}
	}
	if got := feedbackTerms(termsOf("deploy"), hits, rows, 1, 10); slices.Contains(got, "vault") {
		t.Fatalf("one feedback document: terms only from the first, got %q", got)
	}
	if got := feedbackTerms(termsOf("部署流程"), []store.TextHit{{ID: "c", Score: 3}}, []memory.Memory{{ID: "c", Text: "部署流程使用容器镜像"}}, 10, 10); !slices.Contains(got, "容器") || slices.Contains(got, "部署") {
		t.Fatalf("CJK: want the document's bigrams but not the query's, got %q", got)
	}
}

// prfStore holds a small corpus where the query's word is in a few rows
// and a word those rows share is in another row without the query's word.
func prfStore(t *testing.T) (*sqlite.Store, embedding.Embedder) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	emb := embedding.NewHash(64)
	put := func(scope memory.Scope, id, text string) {
		vecs, _ := emb.Embed(ctx, []string{text})
		if _, err := store.PutMany(ctx, st, memory.Owner(), []memory.Memory{{ID: id, Text: text, Scope: scope, Vector: vecs[0], Importance: 0.7}}); err != nil {
			t.Fatal(err)
		}
	}
	put(memory.GlobalScope, "g1", "release checklist: bump the version, tag, changelog")
	put(memory.GlobalScope, "g2", "the release needs a changelog entry and a signed tag")
	put(memory.GlobalScope, "g3", "changelog entries are written in past tense")
	put(memory.GlobalScope, "g4", "coffee machine on floor two is broken")
	put("agent:b", "b1", "release train: changelog owner rotates weekly, secret zebra codeword")
	for i := range 5 {
		put("agent:b", fmt.Sprintf("b%d", i+2), "release notes mention the zebra codeword and the changelog")
	}
	return st, emb
}

// Expansion runs with the caller's access: rows of a scope it cannot read
// neither give feedback terms nor come back, and a row found only through
// the expansion terms is not relevant by them alone (the floor).
func TestExpansionRespectsScopesAndFloor(t *testing.T) {
	st, emb := prfStore(t)
	ctx := context.Background()
	now := time.Now()
	r := New(st, emb, nil, Options{Expansion: Expansion{Enabled: true}, Now: func() time.Time { return now }})
	resp, err := r.Search(ctx, memory.AgentAccess("a"), Request{Query: "release", Limit: 10, Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Explain == nil || len(resp.Explain.Expansion) == 0 {
		t.Fatalf("want expansion terms in the explanation, got %+v", resp.Explain)
	}
	if slices.Contains(resp.Explain.Expansion, "zebra") || slices.Contains(resp.Explain.Expansion, "codeword") {
		t.Fatalf("expansion terms came from a scope the caller cannot read: %q", resp.Explain.Expansion)
	}
	for _, res := range append(resp.Results, resp.Dropped...) {
		if res.Memory.Scope != memory.GlobalScope {
			t.Fatalf("%s of scope %s reached a caller of agent:a", res.Memory.ID, res.Memory.Scope)
		}
	}
	got := resultIDs(resp.Results)
	if !contains(got, "g1") || !contains(got, "g2") {
		t.Fatalf("results %v, want g1 and g2", got)
	}
	if contains(got, "g3") {
		t.Fatalf("g3 has no query word, only expansion terms, yet it was recalled: %v", got)
	}
	var g3 *Result
	for i, d := range resp.Dropped {
		if d.Memory.ID == "g3" {
			g3 = &resp.Dropped[i]
		}
	}
	if g3 == nil || !strings.Contains(g3.Trace.Dropped, "expansion") || g3.Trace.Components.Expanded != true {
		t.Fatalf("g3 (found through the expansion terms) should be dropped by the floor, saying so; got %+v", g3)
	}
}
