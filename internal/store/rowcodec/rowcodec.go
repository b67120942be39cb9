// Package rowcodec is how every store backend encodes a memory's vector
// and metadata for its columns: one byte layout and one set of checks, so
// a row copied between backends reads back the same.
//
//	blob := rowcodec.EncodeVector(m.Vector) // little-endian float32s
//	md, err := rowcodec.EncodeMetadata(m.Metadata)
package rowcodec

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/trove-memory/trove/internal/memory"
)

// EncodeVector stores float32s little-endian, 4 bytes each. An all-zero
// vector has no direction, so it means nothing to vector search (an
// embedder returns one for a text of only unknown words): it is encoded
// as an empty slice, which the backends' write statements store as no
// vector, so the row is found by its words alone. nil stays nil (an
// update that keeps the stored vector).
func EncodeVector(v []float32) []byte {
	if v == nil {
		return nil
	}
	if ZeroVector(v) {
		return []byte{}
	}
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// ZeroVector reports whether every component of v is zero (an empty v
// too). Rows stored with one before writes dropped them are read as
// having no vector.
func ZeroVector(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// DecodeVector reads a vector EncodeVector stored.
func DecodeVector(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("stored vector is %d bytes, not a whole number of float32s (run trove doctor)", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// RowVector is a row's vector as read: nil for no stored vector (b nil)
// and for an all-zero one.
func RowVector(b []byte) ([]float32, error) {
	if b == nil {
		return nil, nil
	}
	v, err := DecodeVector(b)
	if err != nil || ZeroVector(v) {
		return nil, err
	}
	return v, nil
}

// EncodeMetadata is md as JSON text ("{}" for nil), refused with
// memory.ErrInvalid when it cannot be encoded, fails one of check (what
// the backend's column cannot hold), or is over memory's size limit.
func EncodeMetadata(md map[string]any, check ...func(b []byte) error) (string, error) {
	if md == nil {
		return "{}", nil
	}
	b, err := json.Marshal(md)
	if err != nil {
		return "", memory.Invalidf("metadata cannot be encoded as JSON: %v", err)
	}
	for _, c := range check {
		if err := c(b); err != nil {
			return "", err
		}
	}
	if err := memory.CheckMetadataSize(len(b)); err != nil {
		return "", err
	}
	return string(b), nil
}
