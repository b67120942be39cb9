package sqlite

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// hitBits is a result list with each score's exact bits.
func hitBits(hits []store.TextHit) string {
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "%s:%016x ", h.ID, math.Float64bits(h.Score))
	}
	return b.String()
}

// Rows a caller cannot read change nothing it sees of text search: not
// which rows match, not their order, not a bit of their scores.
func TestTextScoresIgnoreHiddenScopes(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	putTexts(t, s, 0, []string{
		"kiwi smoothie every morning",
		"a kiwi and a mango on the desk, kiwi again",
		"mango season starts in May",
		"the deploy key is in the vault",
		"config/prod.yaml holds the kiwi flag",
		"we moved the kiwi stand to the market",
		"Die Häuser am Fluss sind alt",
		"Die Kinder spielen im Garten",
		"Das Deployment der neuen Version ist am Montag geplant",
	}, memory.GlobalScope)
	putTexts(t, s, 100, []string{"agent a likes kiwi jam", "banana bread recipe", "moving day for the mango crates"}, "agent:a")
	acc := memory.AgentAccess("a")
	queries := []string{"kiwi", "kiwi mango", "kiwi banana deploy", "config/prod.yaml kiwi", "moves", "kiwi moving", "Haus", "kinder", "deployment", "garten deploy"}
	search := func(acc memory.Access, f store.Filter) []string {
		var out []string
		for _, q := range queries {
			hits, err := s.SearchText(ctx, acc, f, q, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) == 0 {
				t.Fatalf("%q: no hits", q)
			}
			out = append(out, hitBits(hits))
		}
		return out
	}
	before := search(acc, store.Filter{})
	narrowed := search(acc, store.Filter{Scopes: []memory.Scope{memory.GlobalScope}})
	owner := search(memory.Owner(), store.Filter{})

	hidden := make([]string, 1000)
	for i := range hidden {
		hidden[i] = "kiwi kiwi mango orchard note moves moved " + fmt.Sprint(i)
		if i%3 == 0 {
			hidden[i] = "Das Haus und die Häuser der Nachbarn " + fmt.Sprint(i)
		}
		if i%5 == 0 {
			// Both stems of "deployment" (German "deployen" is "deploy").
			hidden[i] = "Die Kinder deployen das Deployment im Garten " + fmt.Sprint(i)
		}
	}
	putTexts(t, s, 1000, hidden, "agent:b")

	after := search(acc, store.Filter{})
	for i, q := range queries {
		if before[i] != after[i] {
			t.Errorf("%q: hidden rows changed the caller's results\nbefore %s\nafter  %s", q, before[i], after[i])
		}
	}
	if got := search(acc, store.Filter{Scopes: []memory.Scope{memory.GlobalScope}}); got[0] != narrowed[0] {
		t.Errorf("narrowed to global: before %s, after %s", narrowed[0], got[0])
	}
	// The owner reads every scope, so its scores do move.
	if got := search(memory.Owner(), store.Filter{}); got[0] == owner[0] {
		t.Errorf("owner's scores did not change with 1,000 more rows of the word: %s", got[0])
	}
}

// Scored here, a query over the whole store gives the scores FTS5's bm25
// gives: the formula, weights and statistics are the same.
func TestScopedScoresMatchFTS5(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	putTexts(t, s, 0, []string{
		"kiwi smoothie every morning",
		"a kiwi and a mango on the desk, kiwi again and again and again",
		"mango season starts in May",
		"config/prod.yaml holds the kiwi flag",
		"我喜欢喝咖啡 kiwi",
		"Die Kinder spielen im Garten",
		"Das Deployment der neuen Version ist am Montag geplant",
		"The deploys run on Fridays, kinder than before",
		"Wir deployen das Deployment",
	}, memory.GlobalScope)
	for _, q := range []string{"kiwi", "kiwi mango", "config/prod.yaml", "咖啡", "kinder", "deployment", "garten kinder"} {
		all, err := s.SearchText(ctx, memory.Owner(), store.Filter{}, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		scoped, err := s.SearchText(ctx, memory.Scopes(memory.GlobalScope), store.Filter{}, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) == 0 || len(all) != len(scoped) {
			t.Fatalf("%q: FTS5 %v, scoped %v", q, all, scoped)
		}
		for i := range all {
			if all[i].ID != scoped[i].ID || math.Abs(all[i].Score-scoped[i].Score) > 1e-9*all[i].Score {
				t.Errorf("%q: FTS5 %v, scoped %v", q, all, scoped)
				break
			}
		}
	}
}

func TestDocLen(t *testing.T) {
	for _, c := range []struct {
		sz   []byte
		want int64
	}{
		{nil, 0},
		{[]byte{3, 0, 1, 0}, 4},
		{[]byte{0x81, 0x00, 2}, 130},         // 128 + 2
		{[]byte{0x81}, 0},                    // truncated
		{[]byte{0x82, 0x80, 0x01, 1}, 32770}, // 2<<14 + 1, then 1
	} {
		if got := docLen(c.sz); got != c.want {
			t.Errorf("docLen(% x) = %d, want %d", c.sz, got, c.want)
		}
	}
}

// Many scoped searches at once, more than the read pool's connections,
// while the per-scope statistics are counted at query time (a new store)
// and with phrases (counted apart): none may hold a read connection while
// it waits for another, or they wait on each other for ever.
func TestConcurrentScopedSearchesDoNotStarveThePool(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"), Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var texts []string
	for i := range 40 {
		texts = append(texts, fmt.Sprintf("shutdown test %d-%d of the deploy", i, i%3))
	}
	putTexts(t, s, 0, texts, "agent:a")
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			_, err := s.SearchText(ctx, memory.AgentAccess("a"), store.Filter{}, fmt.Sprintf("shutdown test %d-0 deploy", i), 10)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a search failed (the pool starved if it ran out of time): %v", err)
		}
	}
}
