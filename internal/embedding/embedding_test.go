package embedding

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckVectors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		name    string
		vecs    [][]float32
		n, dims int
		wantErr string // "" for valid; else a substring of the error
		index   int
	}{
		{"valid fixed dims", [][]float32{{1, 0}, {0, 1}}, 2, 2, "", 0},
		{"valid any dims", [][]float32{{1, 0, 0}, {0, 1, 0}}, 2, 0, "", 0},
		{"no inputs", nil, 0, 384, "", 0},
		{"too few", [][]float32{{1}}, 2, 0, "got 1 embeddings for 2 inputs", -1},
		{"too many", [][]float32{{1}, {1}, {1}}, 2, 0, "got 3 embeddings for 2 inputs", -1},
		{"wrong dims", [][]float32{{1, 1}, {1, 1}, {1, 1}, make512()}, 4, 2, "embedding 3 has 512 dimensions, expected 2", 3},
		{"unequal dims", [][]float32{{1, 1}, {1, 1, 1}}, 2, 0, "embedding 1 has 3 dimensions, but embedding 0 has 2", 1},
		{"empty vector", [][]float32{{}}, 1, 0, "embedding 0 is empty", 0},
		{"NaN", [][]float32{{1, 1}, {1, nan}}, 2, 2, "embedding 1 has a non-finite value (NaN) at position 1", 1},
		{"Inf", [][]float32{{inf, 1}}, 1, 2, "embedding 0 has a non-finite value (+Inf) at position 0", 0},
		{"all zeros", [][]float32{{1, 0}, {0, 0}}, 2, 2, "embedding 1 is all zeros", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckVectors(tt.vecs, tt.n, tt.dims)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckVectors: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckVectors = %v, want error containing %q", err, tt.wantErr)
			}
			var ve *VectorError
			if !errors.As(err, &ve) || ve.Index != tt.index {
				t.Fatalf("error %#v: want *VectorError with Index %d", err, tt.index)
			}
		})
	}
}

func make512() []float32 {
	v := make([]float32, 512)
	v[0] = 1
	return v
}

func TestNormalize(t *testing.T) {
	v := []float32{3, 4}
	Normalize(v)
	if math.Abs(float64(v[0])-0.6) > 1e-6 || math.Abs(float64(v[1])-0.8) > 1e-6 {
		t.Fatalf("Normalize([3 4]) = %v, want [0.6 0.8]", v)
	}
	zero := []float32{0, 0, 0}
	Normalize(zero)
	for _, x := range zero {
		if x != 0 {
			t.Fatalf("Normalize(zero) = %v, want zeros", zero)
		}
	}
	tiny := []float32{1e-30, 1e-30}
	Normalize(tiny)
	if n := norm(tiny); math.Abs(n-1) > 1e-6 {
		t.Fatalf("tiny vector norm after Normalize = %v", n)
	}
	huge := []float32{math.MaxFloat32, math.MaxFloat32}
	Normalize(huge)
	if n := norm(huge); math.Abs(n-1) > 1e-6 {
		t.Fatalf("huge vector norm after Normalize = %v", n)
	}
	withNaN := []float32{1, float32(math.NaN())}
	Normalize(withNaN) // must not panic; left as is
	if withNaN[0] != 1 {
		t.Fatalf("vector with NaN changed: %v", withNaN)
	}
	Normalize(nil)
}
