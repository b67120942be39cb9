package vecindex

import (
	"math"
	"math/bits"
	"runtime"
	"sync"
)

// Large indexes are searched in three passes, each over fewer rows and with
// more precise numbers: ternary codes over every row (2 bits a component),
// 7-bit codes over the best few thousand, float32 over the best 2K+64. The
// first pass is what makes 100k rows cheap: a row's ternary code is 96
// bytes at 384 dimensions, a quarter of its 7-bit codes, and scoring it is
// a dozen popcounts, so the pass reads a tenth of the memory the 7-bit scan
// did and does far less work per byte.
//
// A ternary code keeps the sign of a row's largest components, those that
// together hold ternaryMass of its squared length, and zeroes the rest.
// Relative to the row, not a fixed cut-off: a dense model embedding keeps
// most of its components, a hashed one (a few heavy word features, many
// light trigram ones) keeps its words. Score = agreements − disagreements
// over the components both codes keep. See DESIGN.md for the recall this
// buys at each candidate count.

// ternaryMass is the share of a row's squared length its ternary code
// keeps. Measured at 100k×384 (recall@10 of the finished search against
// exact): 0.6–0.7 suits both dense and hashed vectors; 0.5 loses the
// skewed set, 0.8 the hashed one.
const ternaryMass = 0.65

// ternaryWords returns the uint64 words of one bitplane of dims components.
func ternaryWords(dims int) int { return (dims + 63) / 64 }

// encodeTernary writes v's ternary code into dst (2·ternaryWords: the
// positive plane, then the negative one) and returns the code's scale:
// the mean magnitude of the components it keeps (0 for a zero vector).
// The code stands for v ≈ scale·t, so a row's ternary score is its
// agreement count times its scale (see prefilter).
func encodeTernary(dst []uint64, v []float32) float32 {
	clear(dst)
	w := len(dst) / 2
	// Squares are non-negative floats, whose bits order as integers do:
	// comparisons below are integer arithmetic, without branches. Which
	// side of a cut-off a component falls on, and its sign, are coin
	// tosses, and a mispredicted branch per component was most of the
	// time of loading an index.
	var total float32
	var peak uint32
	for _, x := range v {
		total += x * x
		peak = max(peak, math.Float32bits(x*x))
	}
	if total == 0 {
		return 0
	}
	// Group the squares by how far below the largest they are, in steps of
	// a quarter octave (a float's exponent and top two mantissa bits),
	// then take whole groups from the top until they hold ternaryMass of
	// the total: the cut-off is exact to a quarter octave of the squares,
	// fine for a code this coarse. Zero components fall below any cut-off
	// of a vector of unit length.
	top := int32(peak >> 21)
	var mass [64]float32
	for _, x := range v {
		mass[min(top-int32(math.Float32bits(x*x)>>21), 63)] += x * x
	}
	var kept float32
	cut := int32(0)
	for ; cut < 63; cut++ {
		if kept += mass[cut]; kept >= ternaryMass*total {
			break
		}
	}
	var l1 float32
	var nnz int
	for base := 0; base < len(v); base += 64 {
		var pos, neg uint64
		for j, x := range v[base:min(base+64, len(v))] {
			d := top - int32(math.Float32bits(x*x)>>21)
			keep := uint64((cut-d)>>31 + 1) // 1 when d ≤ cut
			sign := uint64(math.Float32bits(x) >> 31)
			pos |= keep &^ sign << j
			neg |= keep & sign << j
			l1 += float32(keep) * math.Float32frombits(math.Float32bits(x)&^(1<<31))
			nnz += int(keep)
		}
		dst[base/64], dst[w+base/64] = pos, neg
	}
	return l1 / float32(max(nnz, 1))
}

// ternaryDot scores one row's code against the query's: the planes of one
// vector are disjoint, so agreements are (p∧p')∨(n∧n') and disagreements
// (p∧n')∨(n∧p'), one popcount each per word.
func ternaryDot(row, q []uint64) int {
	w := len(q) / 2
	rp, rn := row[:w], row[w:2*w]
	qp, qn := q[:w], q[w:2*w]
	var s int
	for i, p := range rp {
		n := rn[i]
		s += bits.OnesCount64(p&qp[i]|n&qn[i]) - bits.OnesCount64(p&qn[i]|n&qp[i])
	}
	return s
}

// ternaryScanGo is ternaryScan in plain Go, for machines without POPCNT
// and as the reference the assembly is tested against.
func ternaryScanGo(codes, q []uint64, out []int32) {
	tw := len(q)
	for r := range out {
		out[r] = int32(ternaryDot(codes[r*tw:(r+1)*tw], q))
	}
}

// notAllowed marks a slot outside the requested groups in a score array.
const notAllowed = math.MinInt32

// ternaryParallelMin is the index size, in rows of 384 components, from
// which the ternary pass is split across GOMAXPROCS goroutines. Below it
// the pass takes about a millisecond; hybrid recall runs it beside a BM25
// query that wants the other core. The pass's work is rows × dims, so at
// 1536 dims it splits from 62,500 rows (100k×1536 took 7 ms on one core).
const ternaryParallelMin = 250_000

var scorePool = sync.Pool{New: func() any { return new([]int32) }}

// prefilter returns the want slots with the best ternary scores among
// the allowed ones, best first (slots tied at the boundary are taken in
// slot order), or every allowed slot, in slot order, when there are no
// more than all (≤ want), or best first when there are no more than want.
//
// depth gives all and want from the number of allowed slots: a search
// limited to some groups reads a share of the rows it may see, not of
// the whole index.
func (ix *Index) prefilter(qt []uint64, f filter, depth func(allowed int) (all, want int)) []int32 {
	n := len(ix.ids)
	sp := scorePool.Get().(*[]int32)
	defer scorePool.Put(sp)
	if cap(*sp) < n {
		*sp = make([]int32, n)
	}
	scores := (*sp)[:n]
	// Scores lie in [-dims, dims]: each worker counts its own while
	// scoring, and the counts tell the score the want-th best reaches.
	workers := 1
	if n*ix.dims >= ternaryParallelMin*384 {
		workers = runtime.GOMAXPROCS(0)
	}
	hists := make([][]int, workers)
	tw, off := 2*ix.twords, ix.dims
	rootDims := float32(math.Sqrt(float64(ix.dims)))
	score := func(w int) {
		lo, hi := n*w/workers, n*(w+1)/workers
		ternaryScan(ix.tcodes[lo*tw:hi*tw], qt, scores[lo:hi])
		// Weigh each row's agreement count by its code's scale: a row
		// whose code keeps many small components (a hashed text with many
		// words) otherwise outscores one with a few large ones. Then
		// |count·scale| ≤ √kept ≤ √dims, so times √dims it stays in
		// [-dims, dims], the histogram's range, with a step of about
		// 1/√dims of the largest score.
		scale, top := ix.tscale[lo:hi], int32(ix.dims)
		for i, v := range scores[lo:hi] {
			scores[lo+i] = min(max(int32(float32(v)*scale[i]*rootDims), -top), top)
		}
		hist := make([]int, 2*ix.dims+1)
		if f.none() {
			for _, v := range scores[lo:hi] {
				hist[int(v)+off]++
			}
		} else {
			// Without branches: whether a row's group is allowed (or its
			// span holds the time) is random from row to row, and a
			// mispredicted branch per row cost more than the scoring.
			for s := lo; s < hi; s++ {
				keep := ix.keep(f, s)
				v := scores[s]
				hist[int(v)+off] += int(keep)
				scores[s] = keep*v + (1-keep)*notAllowed
			}
		}
		hists[w] = hist
	}
	var wg sync.WaitGroup
	for w := range workers - 1 {
		wg.Go(func() { score(w) })
	}
	score(workers - 1)
	wg.Wait()
	hist := hists[0]
	for _, h := range hists[1:] {
		for i, c := range h {
			hist[i] += c
		}
	}
	allowed := 0
	for _, c := range hist {
		allowed += c
	}
	all, want := depth(allowed)
	if allowed <= all {
		out := make([]int32, 0, allowed)
		for s, v := range scores {
			if v != notAllowed {
				out = append(out, int32(s))
			}
		}
		return out
	}
	cut, above := len(hist)-1, 0
	for ; cut > 0 && above+hist[cut] < want; cut-- {
		above += hist[cut]
	}
	// Best first (a counting sort on the histogram): the 7-bit pass then
	// fills its heap with good rows early, and its early exit drops most of
	// the rest after their first third, which is most of what it reads.
	minScore := int32(cut - ix.dims)
	next := make([]int, len(hist)) // next free place for each score
	at := 0
	for b := len(hist) - 1; b > cut; b-- {
		next[b] = at
		at += hist[b]
	}
	next[cut] = at
	want = min(want, allowed)
	out := make([]int32, want)
	for s, v := range scores {
		if v < minScore {
			continue
		}
		b := int(v) + ix.dims
		if next[b] < want { // only ties at the cut can run out of places
			out[next[b]] = int32(s)
			next[b]++
		}
	}
	return out
}
