package vecindex

import (
	"context"
	"fmt"
	"math"
	mrand "math/rand"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/viterin/vek/vek32"
)

// A generator makes a corpus of vectors and queries that stand for one kind
// of embedder. The recall tests and BenchmarkSearch run every generator, so
// a change to the index is judged on the vectors it will meet, not only on
// the Gaussian clusters of dataset.
type generator struct {
	name string
	dims int
	// make returns n corpus vectors and nq query vectors, deterministic in
	// seed.
	make func(seed uint64, n, nq int) (vecs, queries [][]float32)
}

// generators lists the kinds of vectors the index is measured on:
//
//   - clustered, skewed: dataset's Gaussian clusters, isotropic and
//     anisotropic (384-d).
//   - static: a model2vec-like embedder (mean of token vectors, normalised)
//     over Zipf-distributed text with topics (384-d); see staticCorpus.
//   - api1536: API-like 1536-d vectors, a fixed random projection of
//     hierarchically clustered 256-d data plus a shared offset; see
//     apiCorpus.
//   - hash: trove's offline hash embedder over Zipf text (384-d), the
//     sparse hard case.
var generators = []generator{
	{"clustered", 384, func(seed uint64, n, nq int) ([][]float32, [][]float32) {
		return datasetCorpus(seed, n, nq, false)
	}},
	{"skewed", 384, func(seed uint64, n, nq int) ([][]float32, [][]float32) {
		return datasetCorpus(seed, n, nq, true)
	}},
	{"static", 384, func(seed uint64, n, nq int) ([][]float32, [][]float32) {
		return staticCorpus(seed, n, nq, 384)
	}},
	{"api1536", 1536, func(seed uint64, n, nq int) ([][]float32, [][]float32) {
		return apiCorpus(seed, n, nq, 1536)
	}},
	{"hash", 384, hashCorpus},
}

func datasetCorpus(seed uint64, n, nq int, skewed bool) ([][]float32, [][]float32) {
	d := newDataset(seed, n, 384, 200, 1, 1)
	if skewed {
		d.skew()
	}
	qs := make([][]float32, nq)
	for i := range qs {
		qs[i] = d.query(0.5)
	}
	return d.vecs, qs
}

// zipfText draws sentences of words from a vocabulary with Zipf
// frequencies, as real text has: a few words everywhere, most rare.
type zipfText struct {
	r     *rand.Rand
	z     *mrand.Zipf
	vocab int
}

func newZipfText(seed uint64, vocab int) *zipfText {
	return &zipfText{
		r:     rand.New(rand.NewPCG(seed, 7)),
		z:     mrand.NewZipf(mrand.New(mrand.NewSource(int64(seed))), 1.07, 2, uint64(vocab-1)),
		vocab: vocab,
	}
}

// staticCorpus stands in for a model2vec ("potion") static embedder, which
// this machine has no copy of: a text's vector is the mean of its tokens'
// vectors, normalised, as the static provider pools. The token table is
// shaped like a distilled model's: dimensions of decaying variance (the
// distillation ends in PCA), frequent tokens shorter than rare ones (its
// Zipf re-weighting), a shared offset, and tokens that belong to topics.
// A text is 6–40 tokens, half of them from one or two topics' 60 words
// (Zipf within the topic), the rest from the whole vocabulary (Zipf);
// a query is 2–8 tokens drawn the same way.
func staticCorpus(seed uint64, n, nq, dims int) ([][]float32, [][]float32) {
	const (
		vocab  = 30_000
		topics = 400
		perTop = 60
	)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	sd := make([]float64, dims) // per-dimension spread, as after PCA
	for i := range sd {
		sd[i] = 1 / math.Sqrt(1+float64(i)/24)
	}
	offset := make([]float64, dims)
	for i := range offset {
		offset[i] = r.NormFloat64() * 0.4 * sd[i]
	}
	centre := make([][]float64, topics)
	for t := range centre {
		centre[t] = make([]float64, dims)
		for i := range centre[t] {
			centre[t][i] = r.NormFloat64() * sd[i]
		}
	}
	table := make([][]float32, vocab)
	for j := range table {
		// Rank j in the Zipf order: weight grows like log(rank), as
		// model2vec's SIF-style weighting shrinks frequent tokens.
		w := 0.3 + math.Log1p(float64(j))/math.Log(vocab)
		topic := centre[j%topics]
		v := make([]float32, dims)
		for i := range v {
			v[i] = float32(w * (offset[i] + 0.8*topic[i] + r.NormFloat64()*sd[i]))
		}
		table[j] = v
	}
	zt := newZipfText(seed, vocab)
	topicZ := mrand.NewZipf(mrand.New(mrand.NewSource(int64(seed)+1)), 1.2, 1, perTop-1)
	text := func(minLen, maxLen int) []float32 {
		l := minLen + r.IntN(maxLen-minLen+1)
		ts := []int{r.IntN(topics), r.IntN(topics)}
		if r.IntN(2) == 0 {
			ts = ts[:1]
		}
		sum := make([]float64, dims)
		for range l {
			var tok int
			if r.IntN(2) == 0 {
				tok = ts[r.IntN(len(ts))] + topics*int(topicZ.Uint64())
			} else {
				tok = int(zt.z.Uint64())
			}
			for i, x := range table[tok] {
				sum[i] += float64(x)
			}
		}
		return unit32(sum)
	}
	vecs := make([][]float32, n)
	for i := range vecs {
		vecs[i] = text(6, 40)
	}
	qs := make([][]float32, nq)
	for i := range qs {
		qs[i] = text(2, 8)
	}
	return vecs, qs
}

// apiCorpus stands in for API embeddings (OpenAI text-embedding-3 and
// the like): 1536 dense components whose information lies in far fewer
// directions. Data is clustered in 256 latent dimensions, two levels deep
// (100 topics of 30 subtopics, spreads drawn per cluster), mapped to dims
// by one fixed Gaussian projection, given a shared offset (unrelated texts
// sit near cosine 0.2–0.3, as with text-embedding-3) and a little
// isotropic noise, then normalised. Queries are drawn like the data.
func apiCorpus(seed uint64, n, nq, dims int) ([][]float32, [][]float32) {
	const (
		latent = 256
		topics = 100
		subs   = 30
	)
	r := rand.New(rand.NewPCG(seed, 0xa91))
	gauss := func(scale float64) []float64 {
		v := make([]float64, latent)
		for i := range v {
			v[i] = r.NormFloat64() * scale / math.Sqrt(latent)
		}
		return v
	}
	proj := make([][]float32, dims) // one latent-length row per output
	for j := range proj {
		proj[j] = make([]float32, latent)
		for i := range proj[j] {
			proj[j][i] = float32(r.NormFloat64() / math.Sqrt(latent))
		}
	}
	offset := make([]float64, dims)
	for i := range offset {
		offset[i] = r.NormFloat64() * 0.55 / math.Sqrt(float64(dims))
	}
	type sub struct {
		c      []float64
		spread float64
	}
	subsOf := make([][]sub, topics)
	for t := range subsOf {
		tc := gauss(1)
		tspread := 0.5 + 0.5*r.Float64()
		for range subs {
			c := gauss(tspread)
			for i := range c {
				c[i] += tc[i]
			}
			subsOf[t] = append(subsOf[t], sub{c, 0.3 + 0.5*r.Float64()})
		}
	}
	draw := func() []float32 {
		s := subsOf[r.IntN(topics)][r.IntN(subs)]
		x := gauss(s.spread)
		for i := range x {
			x[i] += s.c[i]
		}
		lx := unit32(x)
		out := make([]float64, dims)
		for j := range out {
			out[j] = float64(vek32.Dot(proj[j], lx)) + offset[j] + r.NormFloat64()*0.05/math.Sqrt(float64(dims))
		}
		return unit32(out)
	}
	vecs := make([][]float32, n)
	for i := range vecs {
		vecs[i] = draw()
	}
	qs := make([][]float32, nq)
	for i := range qs {
		qs[i] = draw()
	}
	return vecs, qs
}

// hashCorpus embeds Zipf text with trove's offline hash embedder: a few
// heavy word features, many light trigram ones, many near-ties.
func hashCorpus(seed uint64, n, nq int) ([][]float32, [][]float32) {
	words := strings.Fields(`deploy database postgres redis kafka queue worker cron backup restore token auth
		session cookie header proxy nginx gateway timeout retry latency cache index shard replica migration`)
	for i := range 5000 {
		words = append(words, fmt.Sprintf("term%04dx", i))
	}
	zt := newZipfText(seed, len(words))
	sentence := func(l int) string {
		w := make([]string, l)
		for i := range w {
			w[i] = words[zt.z.Uint64()]
		}
		return strings.Join(w, " ")
	}
	texts := make([]string, n+nq)
	for i := range texts[:n] {
		texts[i] = sentence(8 + zt.r.IntN(20))
	}
	for i := n; i < n+nq; i++ {
		texts[i] = sentence(3 + zt.r.IntN(5))
	}
	vecs, err := embedding.NewHash(384).Embed(context.Background(), texts)
	if err != nil {
		panic(err)
	}
	return vecs[:n], vecs[n:]
}

func unit32(v []float64) []float32 {
	var ss float64
	for _, x := range v {
		ss += x * x
	}
	inv := 1 / math.Sqrt(ss)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x * inv)
	}
	return out
}

// The quantised passes must find the exact top 10 on every kind of vector,
// at 10k rows (the passes forced; New would scan exactly). The floor is
// the index's promise; measured values are logged.
func TestRecallEveryGenerator(t *testing.T) {
	const floor, n, nq = 0.99, 10_000, 100
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) {
			vecs, qs := g.make(7, n, nq)
			ix := New(g.dims)
			ix.exactBelow = 0
			for i, v := range vecs {
				if err := ix.Upsert(id(i), uint32(i%2), v); err != nil {
					t.Fatal(err)
				}
			}
			var sum float64
			for _, q := range qs {
				opts := SearchOptions{K: 10, Groups: []uint32{0}}
				approx, err := ix.Search(q, opts)
				if err != nil {
					t.Fatal(err)
				}
				opts.Exact = true
				exact, _ := ix.Search(q, opts)
				sum += recall(approx, exact)
			}
			if got := sum / nq; got < floor {
				t.Fatalf("recall@10 = %.3f, want ≥ %.2f", got, floor)
			} else {
				t.Logf("recall@10 = %.3f", got)
			}
		})
	}
}
