// Package embedding is trove's contract for turning text into vectors, plus
// the built-in offline default, [Hash].
//
// A provider is one method, [Embedder.Embed]. What a caller may want beyond
// that (the model name and dimensions to record in the store) is the optional
// [Describer], found by type assertion. Providers check what a remote model
// sent back with [CheckVectors] before anything reaches the store, so a bad
// reply fails loudly for that batch instead of poisoning recall.
//
// [Hash] is lexical-level quality: texts that share words, word pairs,
// character n-grams or (for Chinese, Japanese and Korean) characters end up
// close; synonyms and paraphrases do not. It exists so trove works offline
// and in tests with no model at all. Real semantic recall needs a model
// provider such as provider/openaicompat.
//
//	e := embedding.NewHash(0) // 384 dimensions
//	vecs, err := e.Embed(ctx, []string{"prefers dark mode", "uses vim"})
//	if err != nil { ... }
//	info := e.Info() // {Provider: "hash", Model: "trove-hash-v1", Dimensions: 384}
package embedding

import (
	"context"
	"fmt"
	"math"
)

// Embedder turns texts into vectors: exactly one vector per input, in the
// same order, all of the same length. Implementations must be safe for
// concurrent use.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Info names the model behind an Embedder. The store records it so vectors
// from different models are never compared with each other.
type Info struct {
	Provider   string
	Model      string
	Dimensions int // 0 when not known yet (a remote model before its first reply)
}

// Describer is implemented by Embedders that can say which model they use.
type Describer interface {
	Info() Info
}

// VectorError reports what is wrong with a batch of vectors a provider
// returned. Index is the offending vector, or -1 when the count is wrong.
type VectorError struct {
	Index   int
	Problem string
}

func (e *VectorError) Error() string {
	if e.Index < 0 {
		return e.Problem
	}
	return fmt.Sprintf("embedding %d %s", e.Index, e.Problem)
}

// CheckVectors validates a provider's reply for n inputs: there are n
// vectors, each has dims entries (or, when dims <= 0, all have the same
// non-zero length), every value is finite and no vector is all zeros.
// An all-zero vector has no direction, so cosine similarity against it is
// undefined; it almost always means the provider failed silently.
// The error is a *VectorError naming the first offending vector.
func CheckVectors(vecs [][]float32, n, dims int) error {
	if len(vecs) != n {
		return &VectorError{Index: -1, Problem: fmt.Sprintf("got %d embeddings for %d inputs", len(vecs), n)}
	}
	for i, v := range vecs {
		switch {
		case dims > 0 && len(v) != dims:
			return &VectorError{Index: i, Problem: fmt.Sprintf("has %d dimensions, expected %d", len(v), dims)}
		case dims <= 0 && len(v) == 0:
			return &VectorError{Index: i, Problem: "is empty"}
		case dims <= 0 && len(v) != len(vecs[0]):
			return &VectorError{Index: i, Problem: fmt.Sprintf("has %d dimensions, but embedding 0 has %d", len(v), len(vecs[0]))}
		}
		zero := true
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return &VectorError{Index: i, Problem: fmt.Sprintf("has a non-finite value (%v) at position %d", x, j)}
			}
			if x != 0 {
				zero = false
			}
		}
		if zero {
			return &VectorError{Index: i, Problem: "is all zeros"}
		}
	}
	return nil
}

// Normalize scales v in place to unit L2 length, so a dot product of two
// normalised vectors is their cosine similarity. A zero vector (or one with
// non-finite values) is left as it is: it has no direction to keep.
func Normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 || math.IsInf(sum, 0) || math.IsNaN(sum) {
		return
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}
