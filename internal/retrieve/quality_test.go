package retrieve

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
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

// qualitySet is testdata/quality.json: a labelled set of memories and
// queries with the ids that should be recalled.
type qualitySet struct {
	Memories []struct {
		ID         string  `json:"id"`
		Text       string  `json:"text"`
		Category   string  `json:"category"`
		Scope      string  `json:"scope"`
		Importance float64 `json:"importance"`
		AgeDays    float64 `json:"age_days"`
	} `json:"memories"`
	Queries []struct {
		ID       string   `json:"id"`
		Query    string   `json:"query"`
		Kind     string   `json:"kind"`
		Lang     string   `json:"lang"`     // en, de, zh or ja
		Relevant []string `json:"relevant"` // empty: a negative query, nothing should be recalled
		Scopes   []string `json:"scopes"`
	} `json:"queries"`
}

// qualityFixture loads the set into a fresh store embedded with the hash
// embedder (one store per test binary run).
func qualityFixture(t testing.TB) (*sqlite.Store, embedding.Embedder, qualitySet, time.Time) {
	t.Helper()
	return qualityFixtureWith(t, embedding.NewHash(384))
}

// qualityFixtureWith is qualityFixture embedded with emb.
func qualityFixtureWith(t testing.TB, emb embedding.Embedder) (*sqlite.Store, embedding.Embedder, qualitySet, time.Time) {
	t.Helper()
	b, err := os.ReadFile("testdata/quality.json")
	if err != nil {
		t.Fatal(err)
	}
	var qs qualitySet
	if err := json.Unmarshal(b, &qs); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "q.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	texts := make([]string, len(qs.Memories))
	for i, m := range qs.Memories {
		texts[i] = m.Text
	}
	vecs, err := emb.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]memory.Memory, len(qs.Memories))
	for i, m := range qs.Memories {
		at := now.Add(-time.Duration(m.AgeDays * float64(24*time.Hour))).UnixMilli()
		ms[i] = memory.Memory{ID: m.ID, Text: m.Text, Category: memory.Category(m.Category), Scope: memory.Scope(m.Scope),
			Importance: m.Importance, CreatedAt: at, Vector: vecs[i]}
	}
	res, err := store.PutMany(context.Background(), st, memory.Owner(), ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	return st, emb, qs, now
}

type qualityScore struct {
	recall1, recall5, recall10, mrr float64
	n                               int
}

// Negative query kinds: their answer is in no memory.
const (
	kindOffTopic = "offtopic"  // shares no content word with the store
	kindNearMiss = "near_miss" // shares words with memories that do not answer it
)

// evaluate runs every positive query (optionally only those of one kind
// and one language) and scores the ranking. recall@k is the share of a
// query's relevant memories found in the top k, out of at most k of them
// (so recall@1 is whether the first result answers), averaged over queries.
func evaluate(t testing.TB, r *Retriever, qs qualitySet, kind, lang string) qualityScore {
	var s qualityScore
	for _, q := range qs.Queries {
		if (kind != "" && q.Kind != kind) || (lang != "" && q.Lang != lang) || len(q.Relevant) == 0 {
			continue
		}
		req := Request{Query: q.Query, Limit: 10}
		for _, sc := range q.Scopes {
			req.Scopes = append(req.Scopes, memory.Scope(sc))
		}
		resp, err := r.Search(context.Background(), memory.Owner(), req)
		if err != nil {
			t.Fatalf("query %s: %v", q.ID, err)
		}
		var ids []string
		for _, res := range resp.Results {
			ids = append(ids, res.Memory.ID)
		}
		found1, found5, found10, rr := 0, 0, 0, 0.0
		for _, rel := range q.Relevant {
			if i := slices.Index(ids, rel); i >= 0 {
				found10++
				if i < 5 {
					found5++
				}
				if i < 1 {
					found1++
				}
			}
		}
		for i, id := range ids {
			if slices.Contains(q.Relevant, id) {
				rr = 1 / float64(i+1)
				break
			}
		}
		s.recall1 += float64(found1) / float64(min(1, len(q.Relevant)))
		s.recall5 += float64(found5) / float64(min(5, len(q.Relevant)))
		s.recall10 += float64(found10) / float64(min(10, len(q.Relevant)))
		s.mrr += rr
		s.n++
	}
	if s.n > 0 {
		n := float64(s.n)
		s.recall1, s.recall5, s.recall10, s.mrr = s.recall1/n, s.recall5/n, s.recall10/n, s.mrr/n
	}
	return s
}

// falseRecall is the share of the negative queries of a kind (and, if
// lang is not "", of a language) that return anything at all.
func falseRecall(t testing.TB, r *Retriever, qs qualitySet, kind, lang string) (rate float64, n int) {
	hits := 0
	for _, q := range qs.Queries {
		if q.Kind != kind || (lang != "" && q.Lang != lang) {
			continue
		}
		resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: q.Query, Limit: 10})
		if err != nil {
			t.Fatalf("query %s: %v", q.ID, err)
		}
		n++
		if len(resp.Results) > 0 {
			hits++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(hits) / float64(n), n
}

// contextScore measures what recall-context would inject (its default of
// 3 items, without its prompt gate): the share of negative queries that
// inject a block at all, and the share of the items injected for positive
// queries that do not answer them.
type contextScore struct {
	negBlocks, posUnrelated float64
}

func evaluateContext(t testing.TB, r *Retriever, qs qualitySet) contextScore {
	var negN, negBlocks, items, unrelated int
	for _, q := range qs.Queries {
		req := Request{Query: q.Query, Limit: 3}
		for _, sc := range q.Scopes {
			req.Scopes = append(req.Scopes, memory.Scope(sc))
		}
		resp, err := r.Search(context.Background(), memory.Owner(), req)
		if err != nil {
			t.Fatalf("query %s: %v", q.ID, err)
		}
		if len(q.Relevant) == 0 {
			negN++
			if len(resp.Results) > 0 {
				negBlocks++
			}
			continue
		}
		for _, res := range resp.Results {
			items++
			if !slices.Contains(q.Relevant, res.Memory.ID) {
				unrelated++
			}
		}
	}
	var s contextScore
	if negN > 0 {
		s.negBlocks = float64(negBlocks) / float64(negN)
	}
	if items > 0 {
		s.posUnrelated = float64(unrelated) / float64(items)
	}
	return s
}

func modes(now time.Time) map[string]Options {
	clock := func() time.Time { return now }
	prf := Expansion{Enabled: true}
	return map[string]Options{
		"vector":     {DisableBM25: true, Now: clock},
		"bm25":       {DisableVector: true, Now: clock},
		"bm25+prf":   {DisableVector: true, Expansion: prf, Now: clock},
		"hybrid":     {Now: clock},
		"hybrid+prf": {Expansion: prf, Now: clock},
		// Other fusion weights (the default is the seed's 0.7 / 0.3).
		"hybrid 0.5/0.5":     {VectorWeight: 0.5, BM25Weight: 0.5, Now: clock},
		"hybrid 0.3/0.7":     {VectorWeight: 0.3, BM25Weight: 0.7, Now: clock},
		"hybrid-rrf":         {Fusion: FusionRRF, Now: clock},
		"hybrid-rrf 0.7/0.3": {Fusion: FusionRRF, VectorWeight: 0.7, BM25Weight: 0.3, Now: clock},
	}
}

// qualityModes are the rows of the quality table, in order.
var qualityModes = []string{"bm25", "bm25+prf", "vector", "hybrid", "hybrid+prf", "hybrid 0.5/0.5", "hybrid 0.3/0.7", "hybrid-rrf", "hybrid-rrf 0.7/0.3"}

// BenchmarkQualityTable prints the quality set's figures for every
// retrieval mode as the Markdown table in DESIGN.md ("Measurements"):
// recall@1/5/10 and MRR over the positive queries, and false recall
// (the share of negative queries that return anything) for the off-topic
// and near-miss negatives. It is the one command to re-run after the set
// or the pipeline changes:
//
//	go test -run '^$' -bench QualityTable -benchtime 1x ./internal/retrieve/
func BenchmarkQualityTable(b *testing.B) {
	st, emb, qs, now := qualityFixture(b)
	pos, neg := 0, 0
	for _, q := range qs.Queries {
		if len(q.Relevant) > 0 {
			pos++
		} else {
			neg++
		}
	}
	fmt.Printf("\n%d memories, %d positive and %d negative queries, hash embedder\n\n", len(qs.Memories), pos, neg)
	fmt.Println("| mode | recall@1 | recall@5 | recall@10 | MRR | false recall, off-topic | near miss |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, mode := range qualityModes {
		r := New(st, emb, nil, modes(now)[mode])
		s := evaluate(b, r, qs, "", "")
		off, _ := falseRecall(b, r, qs, kindOffTopic, "")
		near, _ := falseRecall(b, r, qs, kindNearMiss, "")
		fmt.Printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", mode, s.recall1, s.recall5, s.recall10, s.mrr, off, near)
	}
}

// qualityGroups lists the positive queries' kinds and all queries'
// languages in order of first appearance, each prefixed with "" (all).
func qualityGroups(qs qualitySet) (kinds, langs []string) {
	kinds, langs = []string{""}, []string{""}
	for _, q := range qs.Queries {
		if !slices.Contains(langs, q.Lang) {
			langs = append(langs, q.Lang)
		}
		if len(q.Relevant) > 0 && !slices.Contains(kinds, q.Kind) {
			kinds = append(kinds, q.Kind)
		}
	}
	return kinds, langs
}

// TestRecallQualityFloor guards the hybrid pipeline's measured quality on
// the labelled set with the offline hash embedder, and logs (with -v) its
// figures per query kind and language. The floors sit a little under the
// figures BenchmarkRecallQuality printed when they were set; the ceiling on
// false recall is issue 15's target: at most 5% of the off-topic negatives
// may return anything.
func TestRecallQualityFloor(t *testing.T) {
	st, emb, qs, now := qualityFixture(t)
	r := New(st, emb, nil, modes(now)["hybrid"])
	hybrid := evaluate(t, r, qs, "", "")
	bm25 := evaluate(t, New(st, emb, nil, modes(now)["bm25"]), qs, "", "")
	off, _ := falseRecall(t, r, qs, kindOffTopic, "")
	near, _ := falseRecall(t, r, qs, kindNearMiss, "")
	t.Logf("hybrid recall@1 %.3f recall@5 %.3f recall@10 %.3f MRR %.3f; bm25 recall@10 %.3f; false recall: off-topic %.3f, near miss %.3f",
		hybrid.recall1, hybrid.recall5, hybrid.recall10, hybrid.mrr, bm25.recall10, off, near)
	kinds, langs := qualityGroups(qs)
	for _, kind := range kinds[1:] {
		s := evaluate(t, r, qs, kind, "")
		t.Logf("hybrid %-16s n=%3d recall@1 %.3f recall@5 %.3f recall@10 %.3f MRR %.3f", kind, s.n, s.recall1, s.recall5, s.recall10, s.mrr)
	}
	for _, lang := range langs[1:] {
		s := evaluate(t, r, qs, "", lang)
		offL, nOff := falseRecall(t, r, qs, kindOffTopic, lang)
		nearL, nNear := falseRecall(t, r, qs, kindNearMiss, lang)
		t.Logf("hybrid lang %-3s n=%3d recall@1 %.3f recall@5 %.3f recall@10 %.3f MRR %.3f; false recall: off-topic %.3f of %d, near miss %.3f of %d",
			lang, s.n, s.recall1, s.recall5, s.recall10, s.mrr, offL, nOff, nearL, nNear)
	}
	const floor10, floorMRR = 0.75, 0.67 // measured 0.775 and 0.698 with the stemmed index (0.760 and 0.663 before it; 0.80 / 0.72 over 0.815 / 0.740 on the first pass)
	if hybrid.recall10 < floor10 || hybrid.mrr < floorMRR {
		t.Fatalf("hybrid recall@10 %.3f (floor %.2f), MRR %.3f (floor %.2f)", hybrid.recall10, floor10, hybrid.mrr, floorMRR)
	}
	const maxOffTopic = 0.05 // measured 0.023 (2 of 86) with the stemmed index and its lone-thread rule, as before it; 0.029, 2 of 70, on the first pass
	if off > maxOffTopic {
		t.Fatalf("false recall on off-topic queries %.3f, over the ceiling %.2f", off, maxOffTopic)
	}
	// Expansion terms are no evidence for the floor: with expansion on,
	// negatives recall no more than without it.
	prf := New(st, emb, nil, modes(now)["hybrid+prf"])
	offPRF, _ := falseRecall(t, prf, qs, kindOffTopic, "")
	nearPRF, _ := falseRecall(t, prf, qs, kindNearMiss, "")
	if offPRF > off || nearPRF > near {
		t.Fatalf("with query expansion false recall rose: off-topic %.3f → %.3f, near miss %.3f → %.3f", off, offPRF, near, nearPRF)
	}
}

// BenchmarkRecallQuality prints recall@1, recall@5, recall@10 and MRR for
// vector-only, BM25-only and hybrid recall, overall, per query kind and per
// query language (lang-en, lang-de, ...); the false-recall rate (negatives
// that return anything) for off-topic and near-miss negatives, overall and
// per language; and for a recall-context sized request (3 items) the share
// of negatives that would inject a block and the share of items injected
// for positives that do not answer them.
//
//	go test -run '^$' -bench RecallQuality -benchtime 1x ./internal/retrieve/
func BenchmarkRecallQuality(b *testing.B) {
	st, emb, qs, now := qualityFixture(b)
	kinds, langs := qualityGroups(qs)
	for _, mode := range []string{"vector", "bm25", "hybrid"} {
		r := New(st, emb, nil, modes(now)[mode])
		for _, kind := range []string{kindOffTopic, kindNearMiss} {
			b.Run(fmt.Sprintf("%s/%s", mode, kind), func(b *testing.B) {
				for _, lang := range []string{"", "en", "de", "zh"} {
					rate, n := falseRecall(b, r, qs, kind, lang)
					name := "false-recall"
					if lang != "" {
						name += "-" + lang
					}
					b.ReportMetric(rate, name)
					if lang == "" {
						b.ReportMetric(float64(n), "queries")
					}
				}
			})
		}
		b.Run(mode+"/context", func(b *testing.B) {
			s := evaluateContext(b, r, qs)
			b.ReportMetric(s.negBlocks, "negatives-injected")
			b.ReportMetric(s.posUnrelated, "unrelated-items")
		})
		report := func(name, kind, lang string) {
			b.Run(mode+"/"+name, func(b *testing.B) {
				s := evaluate(b, r, qs, kind, lang)
				b.ReportMetric(s.recall1, "recall@1")
				b.ReportMetric(s.recall5, "recall@5")
				b.ReportMetric(s.recall10, "recall@10")
				b.ReportMetric(s.mrr, "MRR")
				b.ReportMetric(float64(s.n), "queries")
			})
		}
		report("all", "", "")
		for _, kind := range kinds[1:] {
			report(kind, kind, "")
		}
		for _, lang := range langs[1:] {
			report("lang-"+lang, "", lang)
		}
	}
}

// BenchmarkRecallQualityAtScale is BenchmarkRecallQuality with the
// labelled set hidden among n distractors: zipfian text over the speed
// benchmark's vocabulary (the same technical words the labelled memories
// use, then made-up ones), in the global scope, up to a year old. It shows
// what the text-query planning and the vector index's quantised passes,
// which only act on large stores, cost in recall.
//
//	go test -run '^$' -bench RecallQualityAtScale -benchtime 1x -timeout 30m ./internal/retrieve/
func BenchmarkRecallQualityAtScale(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st, emb, qs, now := qualityFixture(b)
			ctx := context.Background()
			ws := newWordSource(uint64(n))
			rng := rand.New(rand.NewPCG(7, uint64(n)))
			for lo := 0; lo < n; lo += 2000 {
				ms := make([]memory.Memory, min(2000, n-lo))
				texts := make([]string, len(ms))
				for i := range ms {
					texts[i] = ws.sentence(8 + rng.IntN(20))
				}
				vecs, err := emb.Embed(ctx, texts)
				if err != nil {
					b.Fatal(err)
				}
				for i := range ms {
					ms[i] = memory.Memory{ID: fmt.Sprintf("d%07d", lo+i), Text: texts[i], Category: memory.Categories[rng.IntN(6)],
						Scope: memory.GlobalScope, Importance: rng.Float64(), Vector: vecs[i],
						CreatedAt: now.Add(-time.Duration(rng.IntN(365*24)) * time.Hour).UnixMilli()}
				}
				if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
					b.Fatal(err)
				}
			}
			ms := modes(now)
			for _, mode := range []string{"vector", "bm25", "bm25+prf", "hybrid", "hybrid+prf", "hybrid 0.5/0.5", "hybrid-rrf"} {
				s := evaluate(b, New(st, emb, nil, ms[mode]), qs, "", "")
				unit := strings.ReplaceAll(mode, " ", "-") // a unit has no spaces
				b.ReportMetric(s.recall10, unit+"-recall@10")
				b.ReportMetric(s.mrr, unit+"-MRR")
			}
		})
	}
}
