package retrieve

import (
	"math"
	"strings"
	"testing"
)

// unit2 is the unit vector at deg degrees in the plane (3 dimensions).
func unit2(deg float64) []float32 {
	r := deg * math.Pi / 180
	return []float32{float32(math.Cos(r)), float32(math.Sin(r)), 0}
}

func withVec(c *candidate, v []float32) *candidate {
	c.vec = v
	return c
}

func ids(cs []*candidate) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.mem.ID)
	}
	return strings.Join(s, ",")
}

func TestDemoteDuplicates(t *testing.T) {
	opts := Options{} // defaults: cosine > 0.85, ×0.5
	for _, tc := range []struct {
		name      string
		cs        []*candidate
		wantOrder string
		want      map[string]float64
	}{
		{
			name: "the lower of two near-identical vectors is demoted",
			cs: []*candidate{
				withVec(mkCand("a", 0.9, nil, nil), unit2(0)),
				withVec(mkCand("b", 0.8, nil, nil), unit2(8)), // cos 0.990 with a
				withVec(mkCand("c", 0.7, nil, nil), unit2(90)),
				mkCand("d", 0.6, nil, nil), // no vector: never compared
			},
			wantOrder: "a,c,d,b",
			want:      map[string]float64{"a": 0.9, "b": 0.4, "c": 0.7, "d": 0.6},
		},
		{
			name: "walks in score order, not input order",
			cs: []*candidate{
				withVec(mkCand("low", 0.8, nil, nil), unit2(8)),
				withVec(mkCand("high", 0.9, nil, nil), unit2(0)),
			},
			wantOrder: "high,low",
			want:      map[string]float64{"high": 0.9, "low": 0.4},
		},
		{
			name: "distinct vectors are left alone (cos 0.819 ≤ 0.85)",
			cs: []*candidate{
				withVec(mkCand("a", 0.9, nil, nil), unit2(0)),
				withVec(mkCand("b", 0.8, nil, nil), unit2(35)),
			},
			wantOrder: "a,b",
			want:      map[string]float64{"a": 0.9, "b": 0.8},
		},
		{
			name: "a demoted candidate is no reference: of a≈b≈c with a≉c only b drops",
			cs: []*candidate{
				withVec(mkCand("a", 0.9, nil, nil), unit2(0)),
				withVec(mkCand("b", 0.8, nil, nil), unit2(20)), // cos 0.940 with a and with c
				withVec(mkCand("c", 0.7, nil, nil), unit2(40)), // cos 0.766 with a
			},
			wantOrder: "a,c,b",
			want:      map[string]float64{"a": 0.9, "b": 0.4, "c": 0.7},
		},
		{
			name: "vectors of different lengths are not compared",
			cs: []*candidate{
				withVec(mkCand("a", 0.9, nil, nil), []float32{1, 0}),
				withVec(mkCand("b", 0.8, nil, nil), []float32{1, 0, 0}),
			},
			wantOrder: "a,b",
			want:      map[string]float64{"a": 0.9, "b": 0.8},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			demoteDuplicates(tc.cs, opts, false)
			if got := ids(tc.cs); got != tc.wantOrder {
				t.Fatalf("order %s, want %s", got, tc.wantOrder)
			}
			for _, c := range tc.cs {
				if !near(c.score, tc.want[c.mem.ID]) {
					t.Errorf("%s: score %v, want %v", c.mem.ID, c.score, tc.want[c.mem.ID])
				}
			}
		})
	}
}

func TestDemoteDuplicatesOptions(t *testing.T) {
	cs := []*candidate{
		withVec(mkCand("a", 0.9, nil, nil), unit2(0)),
		withVec(mkCand("b", 0.8, nil, nil), unit2(35)), // cos 0.819
	}
	demoteDuplicates(cs, Options{DuplicateCosine: 0.8, DuplicatePenalty: 0.25}, false)
	if !near(cs[1].score, 0.2) {
		t.Fatalf("b: score %v, want 0.2", cs[1].score)
	}
}

func TestDemoteDuplicatesTrace(t *testing.T) {
	for _, debug := range []bool{false, true} {
		a := withVec(mkCand("a", 0.9, nil, nil), unit2(0))
		b := withVec(mkCand("b", 0.8, nil, nil), unit2(8))
		demoteDuplicates([]*candidate{a, b}, Options{}, debug)
		if !debug {
			if a.trace != nil || b.trace != nil {
				t.Fatal("trace recorded without debug")
			}
			continue
		}
		if len(a.trace) != 1 || a.trace[0] != (Stage{Name: "dedup", Score: 0.9}) {
			t.Errorf("a: trace %v", a.trace)
		}
		if len(b.trace) != 1 || b.trace[0] != (Stage{Name: "dedup: near-duplicate of a (cosine 0.99)", Score: 0.4}) {
			t.Errorf("b: trace %v", b.trace)
		}
	}
}

func TestVectorCosine(t *testing.T) {
	if c, ok := vectorCosine([]float32{3, 4}, []float32{6, 8}); !ok || !near(c, 1) {
		t.Errorf("parallel, not unit: %v %v", c, ok)
	}
	if _, ok := vectorCosine([]float32{0, 0}, []float32{1, 0}); ok {
		t.Error("zero vector compared")
	}
	if _, ok := vectorCosine(nil, nil); ok {
		t.Error("empty vectors compared")
	}
}
