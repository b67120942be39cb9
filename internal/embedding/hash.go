package embedding

import (
	"context"
	"math"
	"sync"
)

const (
	// DefaultHashDimensions is the vector length NewHash uses when given 0.
	DefaultHashDimensions = 384
	// HashModel names the hash embedder's feature scheme. Bump the version
	// whenever a change would move existing vectors, so stores re-embed.
	HashModel = "trove-hash-v1"
)

// Feature weights. A word is the unit of meaning, so it weighs most; a word
// pair adds a little word order; character trigrams let "connect" and
// "connection" or a typo still meet. In CJK text, where a word is usually
// two characters and nothing marks its boundaries, character pairs stand in
// for words and single characters weigh less because common ones match
// almost anything.
const (
	weightWord     = 1.0
	weightBigram   = 0.5
	weightTrigram  = 0.5 // the L2 mass of all of one word's trigrams together
	weightStopword = 0.2
	weightCJKChar  = 0.5
	weightCJKPair  = 1.0

	// Words longer than this (base64, minified code, long hashes) get no
	// trigrams: they are identifiers, matched whole or not at all, and
	// their trigrams would only add noise and time.
	maxTrigramRunes = 64

	// Scratch buffers grown beyond this by a huge text are dropped rather
	// than pooled, so one outlier does not pin memory.
	maxPooledFeatures = 1 << 16
)

// Feature kinds are hashed first, so the same bytes seen as a word, a pair
// or a trigram land in unrelated buckets.
const (
	kindWord    byte = 'w'
	kindBigram  byte = 'b'
	kindTrigram byte = 't'
	kindCJKChar byte = 'c'
	kindCJKPair byte = 'p'
)

// Hash is the built-in offline Embedder: signed feature hashing of words,
// word pairs, character trigrams and CJK characters into a fixed number of
// buckets, then L2 normalisation. It needs no model, network or files, is
// deterministic (the same text gives the same vector in every call and
// every process for a given HashModel) and is safe for concurrent use.
//
// Its quality is lexical (see the package doc). Every text gets a unit
// vector: a text with no words at all (empty, whitespace, only punctuation)
// gets the unit vector on bucket 0, so it is identical to other empty texts
// and nearly orthogonal to everything else.
type Hash struct {
	dims int
	pool sync.Pool // *hashScratch, so steady-state embedding does not allocate scratch
}

var _ Embedder = (*Hash)(nil)
var _ Describer = (*Hash)(nil)

// NewHash returns a hash embedder producing vectors of dims entries;
// dims <= 0 selects DefaultHashDimensions.
func NewHash(dims int) *Hash {
	if dims <= 0 {
		dims = DefaultHashDimensions
	}
	h := &Hash{dims: dims}
	h.pool.New = func() any { return new(hashScratch) }
	return h
}

// Info reports the provider "hash", HashModel and the dimensions.
func (h *Hash) Info() Info {
	return Info{Provider: "hash", Model: HashModel, Dimensions: h.dims}
}

// Embed returns one unit vector per text. It only fails when ctx is done.
func (h *Hash) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := h.pool.Get().(*hashScratch)
	defer h.release(s)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		// Checking ctx per text would cost more than embedding a short one.
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		v := make([]float32, h.dims)
		h.embed(s, t, v)
		out[i] = v
	}
	return out, nil
}

func (h *Hash) release(s *hashScratch) {
	if cap(s.feats) > maxPooledFeatures || cap(s.table) > 2*maxPooledFeatures || cap(s.lower) > 16*maxPooledFeatures {
		return
	}
	h.pool.Put(s)
}

// embed writes the unit vector of text into v, which must be zeroed.
func (h *Hash) embed(s *hashScratch, text string, v []float32) {
	s.reset(text)
	s.extract()
	if len(s.feats) == 0 {
		v[0] = 1
		return
	}
	dims := uint64(h.dims)
	for _, sl := range s.merge() {
		if sl.n == 0 {
			continue
		}
		w := sl.w
		if sl.n > 1 {
			// Damped term frequency (1 + ln tf): a word said five times is
			// not five times as relevant, and without damping repetitive
			// text swamps everything else.
			w = w / float32(sl.n) * (1 + float32(math.Log(float64(sl.n))))
		}
		// The high 32 bits choose the bucket (multiply-shift, no modulo),
		// the lowest bit the sign: signed hashing makes collisions cancel
		// out on average instead of always adding up.
		idx := ((sl.h >> 32) * dims) >> 32
		if sl.h&1 != 0 {
			w = -w
		}
		v[idx] += w
	}
	Normalize(v)
	if v[0] == 0 && allZero(v) {
		// Features cancelled out exactly; keep the promise of a unit vector.
		v[0] = 1
	}
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// feature is one hashed feature occurrence and its weight.
type feature struct {
	h uint64
	w float32
}

// slot is one distinct feature with its summed weight and count.
type slot struct {
	h uint64
	w float32
	n int32
}

// hashScratch holds the per-call buffers, reused through Hash.pool.
type hashScratch struct {
	lower []byte    // the text, lowercased
	feats []feature // features found, in text order
	offs  []int     // rune start offsets of the current word
	table []slot    // open-addressing table merging repeated features
}

// merge folds repeated features together and returns the table; empty slots
// have n == 0. A table is cheaper than sorting the features, and its layout
// depends only on the features, so the float sums come out the same
// every time.
func (s *hashScratch) merge() []slot {
	size := 16
	for size < 2*len(s.feats) {
		size *= 2
	}
	if cap(s.table) < size {
		s.table = make([]slot, size)
	}
	t := s.table[:size]
	clear(t)
	mask := uint64(size - 1)
	for _, f := range s.feats {
		// Bits 1.. pick the slot; bit 0 is the sign and the high bits the
		// bucket, but any bits of a mixed hash are equally random.
		i := (f.h >> 1) & mask
		for t[i].n != 0 && t[i].h != f.h {
			i = (i + 1) & mask
		}
		t[i].h = f.h
		t[i].w += f.w
		t[i].n++
	}
	return t
}

func (s *hashScratch) reset(text string) {
	s.lower = appendLower(s.lower[:0], text)
	s.feats = s.feats[:0]
}

func (s *hashScratch) add(h uint64, w float32) {
	s.feats = append(s.feats, feature{h: mix(h), w: w})
}
