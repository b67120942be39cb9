package retrieve

import (
	"math"
	"testing"
)

func TestBlendRerank(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fused    float64
		bm25     *float64
		rerank   float64
		returned bool
		want     float64
	}{
		{"blend above the floor", 0.5, nil, 0.9, true, 0.6*0.9 + 0.4*0.5},
		{"b ≥ 0.75 floors at 0.95·fused", 0.8, f64p(0.8), 0, true, 0.95 * 0.8},
		{"b exactly 0.75", 0.6, f64p(0.75), 0.5, true, 0.95 * 0.6},
		{"b ≥ 0.6 floors at 0.90·fused", 0.8, f64p(0.65), 0, true, 0.90 * 0.8},
		{"b just under 0.6 floors at 0.5·fused", 0.8, f64p(0.5999), 0.1, true, 0.5 * 0.8},
		{"no BM25: 0.5·fused", 0.8, nil, 0, true, 0.4},
		{"strong lexical hit the reranker likes is not capped", 0.8, f64p(0.9), 1, true, 0.6 + 0.32},
		{"rerank above 1 (a logit) is clamped", 0.5, nil, 1.7, true, 0.6 + 0.2},
		{"rerank below 0 is clamped", 0.5, nil, -3, true, 0.25},
		{"not returned: 0.8·fused", 0.5, nil, 0, false, 0.4},
		{"not returned, b ≥ 0.75: unchanged", 0.5, f64p(0.8), 0, false, 0.5},
		{"not returned, b ≥ 0.6: 0.95·fused", 0.5, f64p(0.65), 0, false, 0.475},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mkCand("a", tc.fused, nil, tc.bm25)
			scores := map[*candidate]float64{}
			if tc.returned {
				scores[c] = tc.rerank
			}
			blendRerank([]*candidate{c}, scores, false)
			if !near(c.score, tc.want) {
				t.Fatalf("score = %v, want %v", c.score, tc.want)
			}
			switch {
			case tc.returned && (c.rerank == nil || *c.rerank != tc.rerank):
				t.Fatalf("c.rerank = %v, want %v", c.rerank, tc.rerank)
			case !tc.returned && c.rerank != nil:
				t.Fatalf("c.rerank = %v for a candidate not returned", *c.rerank)
			}
		})
	}
}

func TestBlendRerankNaNIsNotReturned(t *testing.T) {
	c := mkCand("a", 0.5, nil, nil)
	blendRerank([]*candidate{c}, map[*candidate]float64{c: math.NaN()}, true)
	if !near(c.score, 0.4) || c.rerank != nil {
		t.Fatalf("score %v, rerank %v", c.score, c.rerank)
	}
	if len(c.trace) != 1 || c.trace[0].Name != "rerank (not returned)" {
		t.Fatalf("trace %v", c.trace)
	}
}

func TestBlendFallback(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fused     float64
		cos, bm25 *float64
		want      float64
	}{
		{"cosine blend", 0.6, f64p(0.8), nil, 0.6*0.8 + 0.4*0.6},
		{"negative cosine counts as 0, floor 0.5·fused", 0.4, f64p(-0.2), nil, 0.2},
		{"BM25 only keeps fused", 0.7, nil, f64p(0.7), 0.7},
		{"strong lexical hit with weak cosine keeps 0.95·fused", 0.828, f64p(0.2), f64p(0.9), 0.95 * 0.828},
		{"cosine above 1 is clamped", 0.5, f64p(1.3), nil, 0.6 + 0.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mkCand("a", tc.fused, tc.cos, tc.bm25)
			blendFallback([]*candidate{c}, false)
			if !near(c.score, tc.want) {
				t.Fatalf("score = %v, want %v", c.score, tc.want)
			}
			if c.rerank != nil {
				t.Fatalf("fallback set c.rerank")
			}
		})
	}
}

func TestRerankTraceOnlyWithDebug(t *testing.T) {
	for _, debug := range []bool{false, true} {
		a, b := mkCand("a", 0.5, f64p(0.5), nil), mkCand("b", 0.5, f64p(0.5), nil)
		fb := mkCand("c", 0.5, f64p(0.5), nil)
		blendRerank([]*candidate{a, b}, map[*candidate]float64{a: 0.9}, debug)
		blendFallback([]*candidate{fb}, debug)
		if !debug {
			if a.trace != nil || b.trace != nil || fb.trace != nil {
				t.Fatal("trace recorded without debug")
			}
			continue
		}
		for c, name := range map[*candidate]string{a: "rerank", b: "rerank (not returned)", fb: "rerank-fallback"} {
			if len(c.trace) != 1 || c.trace[0].Name != name || c.trace[0].Score != c.score {
				t.Errorf("%s: trace %v, want one stage %q", c.mem.ID, c.trace, name)
			}
		}
	}
}
