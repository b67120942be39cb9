package vecindex

import (
	"context"
	"fmt"
	"math"
	mrand "math/rand"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
)

// withKernel runs fn with ternaryScan using kernel k.
func withKernel(k string, fn func()) {
	defer func(was string) { ternaryKernel = was }(ternaryKernel)
	ternaryKernel = k
	fn()
}

// Every assembly scan this CPU runs must agree with the Go loop for every
// plane width (whole blocks of eight words and partial ones).
func TestTernaryScanMatchesGo(t *testing.T) {
	for _, k := range ternaryKernels() {
		t.Run(k, func(t *testing.T) { withKernel(k, func() { checkTernaryScan(t) }) })
	}
}

func checkTernaryScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, words := range []int{1, 2, 6, 7, 8, 9, 12, 16, 17, 24} {
		for _, rows := range []int{0, 1, 5, 64} {
			tw := 2 * words
			codes := make([]uint64, rows*tw)
			for i := range codes {
				codes[i] = r.Uint64() & r.Uint64() // sparse-ish
			}
			// Planes of one vector are disjoint, as encodeTernary makes them.
			for row := range rows {
				for w := range words {
					codes[row*tw+words+w] &^= codes[row*tw+w]
				}
			}
			q := make([]uint64, tw)
			for i := range words {
				q[i] = r.Uint64()
				q[words+i] = r.Uint64() &^ q[i]
			}
			got, want := make([]int32, rows), make([]int32, rows)
			ternaryScan(codes, q, got)
			ternaryScanGo(codes, q, want)
			if !slices.Equal(got, want) {
				t.Fatalf("words=%d rows=%d: scan %v, Go %v", words, rows, got, want)
			}
		}
	}
}

func TestTernaryScanRejectsBadLengths(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for codes that are not rows*len(q) words")
		}
	}()
	ternaryScan(make([]uint64, 13), make([]uint64, 12), make([]int32, 1))
}

// The code keeps the signs of the largest components holding ternaryMass
// of the squared length, and no smaller component.
func TestEncodeTernary(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		dims := 1 + r.IntN(700)
		v := make([]float32, dims)
		for i := range v {
			if r.IntN(3) > 0 || trial%2 == 0 {
				v[i] = float32(r.NormFloat64())
			}
		}
		words := ternaryWords(dims)
		code := make([]uint64, 2*words)
		encodeTernary(code, v)
		var total, kept float64
		minKept, maxDropped := math.Inf(1), 0.0
		for i, x := range v {
			a := math.Abs(float64(x))
			total += a * a
			pos := code[i/64]>>(i%64)&1 == 1
			neg := code[words+i/64]>>(i%64)&1 == 1
			switch {
			case pos && neg:
				t.Fatalf("component %d is in both planes", i)
			case pos && x <= 0, neg && x >= 0:
				t.Fatalf("component %d = %v has the wrong sign in the code", i, x)
			case pos || neg:
				kept += a * a
				minKept = min(minKept, a)
			default:
				maxDropped = max(maxDropped, a)
			}
		}
		for i := dims; i < 64*words; i++ {
			if code[i/64]>>(i%64)&1 == 1 || code[words+i/64]>>(i%64)&1 == 1 {
				t.Fatalf("padding bit %d set", i)
			}
		}
		if total == 0 {
			continue
		}
		if kept < ternaryMass*total*(1-1e-9) {
			t.Fatalf("dims=%d: kept %.4f of the squared length, want ≥ %.2f", dims, kept/total, ternaryMass)
		}
		if maxDropped > minKept {
			t.Fatalf("dims=%d: dropped a component of %v but kept one of %v", dims, maxDropped, minKept)
		}
	}
	zero := make([]uint64, 2)
	encodeTernary(zero, make([]float32, 10))
	if zero[0] != 0 || zero[1] != 0 {
		t.Fatal("a zero vector has a non-zero code")
	}
}

// prefilter returns want slots (or every allowed one), only from allowed
// groups, and never leaves out a slot scoring above one it returns.
func TestPrefilter(t *testing.T) {
	d := newDataset(21, 3000, 384, 30, 1, 4)
	ix := d.index(t)
	q := d.query(0.5)
	qn := unit64(q)
	qf := make([]float32, len(qn))
	for i, x := range qn {
		qf[i] = float32(x)
	}
	qt := make([]uint64, 2*ix.twords)
	encodeTernary(qt, qf)
	// The score prefilter ranks by: the agreement count weighed by the
	// row's scale, on the integer grid of the histogram.
	root := float32(math.Sqrt(384))
	score := func(s int32) int {
		c := ternaryDot(ix.tcodes[int(s)*2*ix.twords:(int(s)+1)*2*ix.twords], qt)
		return int(int32(float32(c) * ix.tscale[s] * root))
	}
	for _, c := range []struct {
		groups []uint32
		want   int
	}{
		{nil, 100},
		{[]uint32{1}, 100},
		{[]uint32{0, 2}, 7},
		{[]uint32{3}, 5000}, // more than the group holds: all of it
	} {
		opts := SearchOptions{Groups: c.groups, AllGroups: c.groups == nil}
		allow, _ := ix.allowed(opts)
		got := ix.prefilter(qt, filter{allow: allow}, func(int) (int, int) { return c.want, c.want })
		inGroups := 0
		for s := range ix.ids {
			if c.groups == nil || slices.Contains(c.groups, d.groups[s]) {
				inGroups++
			}
		}
		if wantLen := min(c.want, inGroups); len(got) != wantLen {
			t.Fatalf("%+v: %d slots, want %d", c, len(got), wantLen)
		}
		if len(got) == c.want {
			for i := 1; i < len(got); i++ {
				if score(got[i]) > score(got[i-1]) {
					t.Fatalf("%+v: not best first at %d: %d after %d", c, i, score(got[i]), score(got[i-1]))
				}
			}
		}
		worst := math.MaxInt
		picked := map[int32]bool{}
		for _, s := range got {
			if c.groups != nil && !slices.Contains(c.groups, d.groups[s]) {
				t.Fatalf("%+v: slot %d from group %d", c, s, d.groups[s])
			}
			picked[s] = true
			worst = min(worst, score(s))
		}
		for s := range int32(len(ix.ids)) {
			if !picked[s] && (c.groups == nil || slices.Contains(c.groups, d.groups[s])) && score(s) > worst {
				t.Fatalf("%+v: left out slot %d scoring %d above a picked %d", c, s, score(s), worst)
			}
		}
	}
}

// Vectors from the offline hash embedder are the hard case for the
// ternary pass: a few heavy word features, many light ones, and many
// near-ties. The floor is set below the measured value to leave room for
// seeds, not for regressions.
func TestRecallAgainstExactHashed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20k index")
	}
	const floor = 0.98
	words := strings.Fields(`deploy database postgres redis kafka queue worker cron backup restore token auth
		session cookie header proxy nginx gateway timeout retry latency cache index shard replica migration`)
	for i := range 3000 {
		words = append(words, fmt.Sprintf("w%04d", i))
	}
	z := mrand.NewZipf(mrand.New(mrand.NewSource(5)), 1.07, 2, uint64(len(words)-1))
	sentence := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = words[z.Uint64()]
		}
		return strings.Join(w, " ")
	}
	texts := make([]string, 20_000)
	for i := range texts {
		texts[i] = sentence(8 + i%20)
	}
	h := embedding.NewHash(384)
	vecs, err := h.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	ix := New(384)
	ix.exactBelow = 0
	for i, v := range vecs {
		if err := ix.Upsert(id(i), uint32(i%2), v); err != nil {
			t.Fatal(err)
		}
	}
	const nq = 40
	var sum float64
	for i := range nq {
		qv, _ := h.Embed(context.Background(), []string{sentence(3 + i%5)})
		opts := SearchOptions{K: 10, Groups: []uint32{0}}
		approx, err := ix.Search(qv[0], opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.Exact = true
		exact, _ := ix.Search(qv[0], opts)
		sum += recall(approx, exact)
	}
	if got := sum / nq; got < floor {
		t.Fatalf("recall@10 = %.3f, want ≥ %.2f", got, floor)
	} else {
		t.Logf("recall@10 = %.3f", got)
	}
}

func FuzzTernaryScan(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint64(3), uint64(4), uint64(5), uint64(6))
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g uint64) {
		codes := []uint64{a, b &^ a, c, d &^ c}
		q := []uint64{e, g &^ e}
		want := make([]int32, 2)
		ternaryScanGo(codes, q, want)
		for _, k := range ternaryKernels() {
			got := make([]int32, 2)
			withKernel(k, func() { ternaryScan(codes, q, got) })
			if !slices.Equal(got, want) {
				t.Fatalf("%s scan %v, Go %v", k, got, want)
			}
		}
	})
}
