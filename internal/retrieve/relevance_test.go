package retrieve

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// floorStore holds ms, embedded by emb.
func floorStore(t *testing.T, emb embedding.Embedder, ms ...memory.Memory) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i := range ms {
		vs, err := emb.Embed(ctx, []string{ms[i].Text})
		if err != nil {
			t.Fatal(err)
		}
		ms[i].Vector = vs[0]
		if ms[i].Importance == 0 {
			ms[i].Importance = 0.7
		}
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	return st
}

func resultIDs(rs []Result) []string {
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.Memory.ID)
	}
	return ids
}

// With the hash embedder, a query that shares no content word with any
// memory recalls nothing, and --debug says why each candidate went.
func TestFloorOffTopicRecallsNothing(t *testing.T) {
	emb := embedding.NewHash(64)
	st := floorStore(t, emb,
		memory.Memory{ID: "editor", Text: "Alice codes in Neovim with a dark colour scheme"},
		memory.Memory{ID: "deploy", Text: "Never deploy atlas on a Friday afternoon"},
		memory.Memory{ID: "cat", Text: "Alice has an orange tabby cat named Miso"},
	)
	r := New(st, emb, nil, Options{})
	for _, q := range []string{"How do I repot an orchid?", "什么是光合作用？", "Wie backt man Brot?", "what is it?"} {
		resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: q, Limit: 5, Debug: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 0 {
			t.Errorf("%q recalled %v, want nothing", q, resultIDs(resp.Results))
		}
		if len(resp.Dropped) == 0 {
			t.Fatalf("%q: debug lists no dropped candidates", q)
		}
		for _, d := range resp.Dropped {
			if why := d.Trace.Dropped; !strings.HasPrefix(why, "no relevance: ") || !strings.Contains(why, "hash embedder") {
				t.Errorf("%q: %s dropped for %q, want the floor's reason naming the hash embedder", q, d.Memory.ID, why)
			}
		}
	}
	// One word in common is enough, in any of its inflections.
	for q, want := range map[string]string{
		"which colours does she like":  "editor",
		"deploying on Fridays":         "deploy",
		"what are the cats called":     "cat",
		"atlas的deploy规则":               "deploy",
		"Neovim?":                      "editor",
		"Alices Katze":                 "cat", // the German possessive s
		"deployment freeze on fridays": "deploy",
	} {
		resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: q, Limit: 5, Debug: true})
		if err != nil {
			t.Fatal(err)
		}
		if ids := resultIDs(resp.Results); len(ids) == 0 || !contains(ids, want) {
			t.Errorf("%q recalled %v, want %s", q, ids, want)
		}
		for _, res := range resp.Results {
			if !strings.HasPrefix(res.Trace.Stages[1].Name, "floor: matched") {
				t.Errorf("%q: %s trace %v, want a floor stage saying what matched", q, res.Memory.ID, res.Trace.Stages)
			}
		}
	}
}

// The floor reads a smart memory's L0/L1/L2 too.
func TestFloorReadsSmartLayers(t *testing.T) {
	emb := embedding.NewHash(64)
	st := floorStore(t, emb,
		memory.Memory{ID: "smart", Text: "She switched teams in May", Format: memory.FormatSmart,
			Metadata: map[string]any{memory.KeyL0: "Alice moved to the platform team", memory.KeyL2: "Reason: the reorganisation"}},
		memory.Memory{ID: "other", Text: "The standup is at ten"},
	)
	r := New(st, emb, nil, Options{})
	for _, q := range []string{"platform team", "reorganisation"} {
		resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: q, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if ids := resultIDs(resp.Results); len(ids) != 1 || ids[0] != "smart" {
			t.Errorf("%q recalled %v, want only smart (matched in its L0/L2)", q, ids)
		}
	}
}

// tableEmbedder gives fixed vectors and says it is a given model.
type tableEmbedder struct {
	info embedding.Info
	vecs map[string][]float32
}

func (e tableEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v, ok := e.vecs[t]
		if !ok {
			return nil, errors.New("no vector for " + t)
		}
		out[i] = v
	}
	return out, nil
}

func (e tableEmbedder) Info() embedding.Info { return e.info }

// With a model that has a calibrated floor, a memory with no word of the
// query is kept when its cosine reaches the floor, and dropped under it;
// the same cosines from the hash embedder (or an explicit CosineNever)
// keep nothing.
func TestFloorSemanticSupportPerEmbedder(t *testing.T) {
	const q = "when do we meet each week"
	vecs := map[string][]float32{
		q: {1, 0},
		"the team sync moved to Thursday mornings": {0.8, 0.6},   // cosine 0.8
		"Miso's vaccination is due in November":    {0.1, 0.995}, // cosine 0.1
	}
	ms := func() []memory.Memory {
		return []memory.Memory{{ID: "sync", Text: "the team sync moved to Thursday mornings"},
			{ID: "vet", Text: "Miso's vaccination is due in November"}}
	}
	for _, c := range []struct {
		name string
		info embedding.Info
		opts Options
		want []string
	}{
		{"openai", embedding.Info{Provider: "openai", Model: "text-embedding-3-small"}, Options{}, []string{"sync"}},
		{"explicit floor", embedding.Info{Provider: "openai", Model: "text-embedding-3-small"}, Options{MinCosine: 0.9}, []string{}},
		{"hash", embedding.Info{Provider: "hash", Model: embedding.HashModel}, Options{}, []string{}},
		{"never", embedding.Info{Provider: "ollama", Model: "nomic-embed-text"}, Options{MinCosine: CosineNever}, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			emb := tableEmbedder{info: c.info, vecs: vecs}
			r := New(floorStore(t, emb, ms()...), emb, nil, c.opts)
			resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: q, Limit: 5, Debug: true})
			if err != nil {
				t.Fatal(err)
			}
			if ids := resultIDs(resp.Results); strings.Join(ids, ",") != strings.Join(c.want, ",") {
				t.Fatalf("recalled %v, want %v (dropped %+v)", ids, c.want, resp.Dropped)
			}
		})
	}
}

func TestDefaultMinCosine(t *testing.T) {
	for _, c := range []struct {
		info embedding.Info
		want float64
	}{
		{embedding.NewHash(8).Info(), CosineNever},
		{embedding.Info{}, CosineNever},
		{embedding.Info{Provider: "openai", Model: "text-embedding-3-large"}, 0.30},
		{embedding.Info{Provider: "openai", Model: "text-embedding-ada-002"}, 0.78},
		{embedding.Info{Provider: "openai", Model: "intfloat/multilingual-e5-large"}, 0.80},
		{embedding.Info{Provider: "ollama", Model: "nomic-embed-text"}, 0.55},
		{embedding.Info{Provider: "jina", Model: "some-new-model"}, 0.40},
		{embedding.Info{Provider: "acme", Model: "acme-embed"}, 0.5},
	} {
		if got := DefaultMinCosine(c.info); got != c.want {
			t.Errorf("DefaultMinCosine(%+v) = %v, want %v", c.info, got, c.want)
		}
	}
}

// The floor stems as the text index does: for each query and memory, the
// floor finds support exactly when the store's text search (bm25 alone)
// matches the memory, inflections and German included.
func TestFloorAgreesWithIndex(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	texts := map[string]string{
		"move":   "We moved to Lisbon last spring",
		"hike":   "Hiking in the Alps every August",
		"study":  "She studied chemistry in Leeds",
		"deploy": "The deploys run on Fridays",
		"haus":   "Die Häuser in der Altstadt sind alt und schön",
		"coffee": "我喜欢喝咖啡",
		"bus":    "Took the bus to work",
		// German rows queried by a word a short query gets no German
		// stem for: the index and the floor search both languages' stems.
		"kinder":  "Die Kinder spielen im Garten",
		"release": "Deployment der neuen Version am Montag geplant",
	}
	var ms []memory.Memory
	for id, text := range texts {
		ms = append(ms, memory.Memory{ID: id, Text: text, Scope: memory.GlobalScope})
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query string
		want  []string // the memories both must find
	}{
		{"moving", []string{"move"}},
		{"where did I move", []string{"move"}},
		{"hikes", []string{"hike"}},
		{"hiked", []string{"hike"}},
		{"studies", []string{"study"}},
		{"deploying", []string{"deploy"}},
		{"Haus", []string{"haus"}},
		{"Wo ist das Haus", []string{"haus"}},
		{"咖啡", []string{"coffee"}},
		{"business", nil},
		{"startup", nil},
		{"kinder", []string{"kinder"}},
		{"garten", []string{"kinder"}},
		{"deployment", []string{"release", "deploy"}},
		{"Kinder im Garten", []string{"kinder"}},
	} {
		hits, err := st.SearchText(ctx, memory.Owner(), store.Filter{}, c.query, 10)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, h := range hits {
			found[h.ID] = true
		}
		terms := termsOf(c.query)
		for id, text := range texts {
			floor := terms.support(text) != ""
			if floor != found[id] {
				t.Errorf("%q on %q: floor %v, index %v", c.query, text, floor, found[id])
			}
		}
		for _, id := range c.want {
			if !found[id] {
				t.Errorf("%q: %s not found", c.query, id)
			}
		}
	}
}

// Chinese function words (什么, 我的 …) and Japanese particles are no
// evidence; content bigrams are.
func TestCJKTerms(t *testing.T) {
	for q, want := range map[string]string{
		"我的是什么":    "",
		"思雨喜欢喝什么茶": "思雨 雨喜 喜欢 欢喝",
		"ケンジさんはどこ": "ケン ンジ ジさ",
	} {
		if got := strings.Join(termsOf(q).bigram, " "); got != want {
			t.Errorf("termsOf(%q) bigrams %q, want %q", q, got, want)
		}
	}
}

// Request.MinScore replaces the configured minimum for one request, 0
// included, and must lie in [0, 1].
func TestRequestMinScore(t *testing.T) {
	emb := embedding.NewHash(64)
	st := floorStore(t, emb,
		memory.Memory{ID: "a", Text: "Alice prefers oolong tea before standups", Importance: 1},
		memory.Memory{ID: "b", Text: "Bob drinks espresso and calls tea leaf water", Importance: 0.01},
	)
	r := New(st, emb, nil, Options{DisableRecency: true, DisableDecay: true})
	search := func(min *float64) ([]Result, error) {
		resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: "tea", Limit: 5, MinScore: min})
		return resp.Results, err
	}
	all, err := search(new(float64))
	if err != nil || len(all) != 2 {
		t.Fatalf("min_score 0: %v, %v; want both", resultIDs(all), err)
	}
	between := (all[0].Score + all[1].Score) / 2
	if got, _ := search(&between); len(got) != 1 || got[0].Memory.ID != all[0].Memory.ID {
		t.Errorf("min_score %.3f: %v, want only %s", between, resultIDs(got), all[0].Memory.ID)
	}
	one := 1.0
	if got, _ := search(&one); len(got) != 0 {
		t.Errorf("min_score 1: %v, want nothing", resultIDs(got))
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN()} {
		_, err := search(&bad)
		var inv *memory.InvalidError
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), "min_score") {
			t.Errorf("min_score %v: %v, want an invalid-argument error naming min_score", bad, err)
		}
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// BenchmarkFloorSupport is the floor's lexical check of every labelled
// memory against every query of the quality set: the work the floor does
// per candidate, without the search.
//
//	go test -run '^$' -bench FloorSupport ./internal/retrieve/
func BenchmarkFloorSupport(b *testing.B) {
	raw, err := os.ReadFile("testdata/quality.json")
	if err != nil {
		b.Fatal(err)
	}
	var qs qualitySet
	if err := json.Unmarshal(raw, &qs); err != nil {
		b.Fatal(err)
	}
	terms := make([]queryTerms, len(qs.Queries))
	for i, q := range qs.Queries {
		terms[i] = termsOf(q.Query)
	}
	checks := 0
	for b.Loop() {
		for _, t := range terms {
			for _, m := range qs.Memories {
				t.support(m.Text)
				checks++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(checks), "ns/check")
}

// A word matched only by its stem is support when it is not a lone
// thread: a question about something else that shares one inflected word
// with a memory recalls nothing; the same stem recalls when it is most of
// the query, or with a second stem, or written as the memory writes it.
func TestFloorStemOnlyIsALoneThread(t *testing.T) {
	emb := embedding.NewHash(64)
	st := floorStore(t, emb,
		memory.Memory{ID: "suite", Text: "Alice dislikes testify's suite package"},
		memory.Memory{ID: "bake", Text: "Alice bakes a rye loaf most Sundays"},
	)
	r := New(st, emb, nil, Options{})
	for q, want := range map[string]string{
		"Which wax suits Nordic skis?":                  "",
		"Can baking soda substitute for baking powder?": "",
		"suites":                          "suite",
		"testify suites":                  "suite",
		"what does Alice bake on Sundays": "bake",
		"baking rye loaves":               "bake",
		"Which wax suite Nordic skis?":    "suite",
	} {
		resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: q, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		ids := resultIDs(resp.Results)
		if want == "" && len(ids) != 0 {
			t.Errorf("%q recalled %v, want nothing", q, ids)
		}
		if want != "" && !contains(ids, want) {
			t.Errorf("%q recalled %v, want %s", q, ids, want)
		}
	}
}

// A stem whose first letters differ from its word's (English Snowball's
// exceptions: dying → die) is still found by the floor's shortcut.
func TestFloorStemExceptions(t *testing.T) {
	for q, text := range map[string]string{
		"who is dying":   "the old dying tree in the garden",
		"lying":          "Tom keeps lying about the budget",
		"die tree":       "the old dying tree in the garden",
		"tying knots":    "tying sailing knots for the boat",
		"Häuser am Meer": "Das Haus am Meer gehört der Familie",
	} {
		if termsOf(q).support(text) == "" {
			t.Errorf("%q gives %q no support", q, text)
		}
	}
}
