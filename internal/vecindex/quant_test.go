package vecindex

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveDot is Σ c·c' computed one byte at a time.
func naiveDot(a, b []byte) uint64 {
	var s uint64
	for i := range a {
		s += uint64(a[i]) * uint64(b[i])
	}
	return s
}

func packed(codes []byte) []uint64 {
	q := make([]uint64, len(codes)/4)
	packQuery(q, codes)
	return q
}

func TestDotCodesMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dims := range []int{1, 7, 31, 32, 33, 100, 384, 768, 1536} {
		stride := codeStride(dims)
		for trial := range 50 {
			a, b := make([]byte, stride), make([]byte, stride)
			for i := range stride {
				switch trial {
				case 0: // every lane at its largest: the overflow case
					a[i], b[i] = 2*qMax+1, 2*qMax+1
				case 1:
					a[i], b[i] = 1, 2*qMax+1
				default:
					a[i], b[i] = byte(1+r.IntN(2*qMax+1)), byte(1+r.IntN(2*qMax+1))
				}
			}
			if got, want := dotCodes(a, packed(b)), naiveDot(a, b); got != want {
				t.Fatalf("dims %d trial %d: dotCodes = %d, want %d", dims, trial, got, want)
			}
		}
	}
}

func TestDotCodesRejectsBadLengths(t *testing.T) {
	row := make([]byte, 64)
	for i := range row {
		row[i] = 100
	}
	q := packed(row)
	for name, c := range map[string]struct {
		row []byte
		q   []uint64
	}{
		"empty":     {nil, q},
		"ragged":    {row[:40], q},
		"short q":   {row, q[:15]},
		"nil q":     {row, nil},
		"row of 31": {row[:31], q},
	} {
		if got := dotCodes(c.row, c.q); got != 0 {
			t.Errorf("%s: dotCodes = %d, want 0", name, got)
		}
	}
}

// The integer pass must agree with the float dot product up to the
// rounding of the codes.
func TestQuantizedScoreApproximatesDot(t *testing.T) {
	d := newDataset(12, 200, 384, 10, 1, 1)
	stride := codeStride(d.dims)
	for i := 1; i < len(d.vecs); i++ {
		a, b := d.vecs[0], d.vecs[i]
		ca, cb := make([]byte, stride), make([]byte, stride)
		ma := quantize(ca, a, nil)
		mb := quantize(cb, b, nil)
		dq := int64(dotCodes(ca, packed(cb))) - int64(ma.bias[maxCuts]) - int64(mb.bias[maxCuts]) - qBias*qBias*int64(stride)
		approx := float64(dq) * float64(ma.scale) * float64(mb.scale)
		var exact float64
		for j := range a {
			exact += float64(a[j]) * float64(b[j])
		}
		if math.Abs(approx-exact) > 0.02 {
			t.Fatalf("vector %d: quantised dot %.4f, exact %.4f", i, approx, exact)
		}
	}
}

func TestQuantizeMeta(t *testing.T) {
	for _, dims := range []int{5, 127, 128, 300, 384, 1000} {
		d := newDataset(uint64(dims), 5, dims, 2, 1, 1)
		cuts := cutsFor(dims)
		if dims >= 128 && len(cuts) == 0 {
			t.Fatalf("dims %d: no cuts", dims)
		}
		for j, c := range cuts {
			if c%blockBytes != 0 || c <= 0 || c >= dims || (j > 0 && c <= cuts[j-1]) {
				t.Fatalf("dims %d: bad cuts %v", dims, cuts)
			}
		}
		for _, v := range d.vecs {
			codes := make([]byte, codeStride(dims))
			m := quantize(codes, v, cuts)
			q := make([]int, len(codes))
			for i, c := range codes {
				q[i] = int(c) - qBias
				if c < 1 || c > 2*qMax+1 || (i >= dims && q[i] != 0) {
					t.Fatalf("dims %d: code %d at %d", dims, c, i)
				}
			}
			for i := range v {
				if e := math.Abs(float64(q[i])*float64(m.scale) - float64(v[i])); e > float64(m.scale)/2+1e-7 {
					t.Fatalf("dims %d: component %d off by %g, scale %g", dims, i, e, m.scale)
				}
			}
			prefix := func(n int) (sum int, rest float64) {
				for i, x := range q {
					if i < n {
						sum += x
					} else {
						rest += float64(x * x)
					}
				}
				return sum, math.Sqrt(rest)
			}
			for j, c := range cuts {
				sum, rest := prefix(c)
				if int(m.bias[j]) != qBias*sum || math.Abs(float64(m.rest[j])-rest) > 1e-3 {
					t.Fatalf("dims %d cut %d: bias %d rest %v, want %d %v", dims, c, m.bias[j], m.rest[j], qBias*sum, rest)
				}
			}
			if sum, _ := prefix(len(q)); int(m.bias[maxCuts]) != qBias*sum {
				t.Fatalf("dims %d: total bias %d, want %d", dims, m.bias[maxCuts], qBias*sum)
			}
		}
	}
}

func FuzzDotCodes(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{127, 127, 127})
	f.Add(make([]byte, 40), make([]byte, 40))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		n := min(len(a), len(b))
		stride := codeStride(max(n, 1))
		ca, cb := make([]byte, stride), make([]byte, stride)
		for i := range stride {
			ca[i], cb[i] = qBias, qBias
			if i < n {
				ca[i] = 1 + a[i]%(2*qMax+1)
				cb[i] = 1 + b[i]%(2*qMax+1)
			}
		}
		if got, want := dotCodes(ca, packed(cb)), naiveDot(ca, cb); got != want {
			t.Fatalf("dotCodes = %d, want %d", got, want)
		}
	})
}
