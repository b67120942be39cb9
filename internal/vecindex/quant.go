package vecindex

import (
	"math"
	"unsafe"
)

// The approximate pass works on 7-bit codes, not 8-bit ones, so that the
// integer dot product can be done four products per 64-bit multiply in plain
// Go (SWAR). Each component v of a unit vector is coded as
//
//	q = round(v / max|v| * qMax)  in [-63, 63]
//	c = q + qBias                 in [1, 127], stored as a byte
//
// Data codes are laid out as they are stored (one byte per dimension, rows
// padded with q = 0 to a multiple of blockBytes). The query is packed once
// per search into uint64 words whose 16-bit lanes hold its codes in reverse
// order, so that for one 8-byte data word w:
//
//	(w & laneMask) * even   has, in bits 48..63, c0*c'0 + c2*c'2 + c4*c'4 + c6*c'6
//	(w>>8 & laneMask) * odd has, in bits 48..63, c1*c'1 + c3*c'3 + c5*c'5 + c7*c'7
//
// (schoolbook multiplication of two 4-digit numbers in base 2^16: the middle
// digit is the dot product). With codes ≤ 127 every digit stays below 2^16
// (four products ≤ 4*127*127 = 64516), so nothing carries between lanes and
// the top lane is exact. Eight bits per code would overflow the lane, which
// is why the codes have seven.
//
// Undoing the bias: Σ q q' = Σ c c' − qBias·Σq − qBias·Σq' − qBias²·stride.
// The slot's part (qBias·Σq) is kept per slot; the query's is computed once.
const (
	qMax       = 63
	qBias      = 64
	laneMask   = 0x00FF00FF00FF00FF
	blockBytes = 32 // bytes of codes per kernel iteration
)

// codeStride returns the bytes of codes per row for dims dimensions.
func codeStride(dims int) int {
	return (dims + blockBytes - 1) / blockBytes * blockBytes
}

// codeMeta is what a scan needs about one row of codes besides the codes.
type codeMeta struct {
	scale float32            // max|v|/qMax, so that v ≈ q·scale
	bias  [maxCuts + 1]int32 // qBias·Σq over the codes before cut j; the last is the whole row
	rest  [maxCuts]float32   // |q| over the codes from cut j on
}

// quantize writes the biased codes of v (already unit length) into dst
// (len = codeStride) and returns the row's codeMeta for the given cuts.
func quantize(dst []byte, v []float32, cuts []int) codeMeta {
	// The largest |x| by its bits (sign cleared, they order as the values
	// do): an integer max compiles to a conditional move, a float max to
	// branches for NaN and signed zeros, which made it a third of the time.
	var mb uint32
	for _, x := range v {
		mb = max(mb, math.Float32bits(x)&0x7fffffff)
	}
	m := math.Float32frombits(mb)
	for i := range dst {
		dst[i] = qBias
	}
	var meta codeMeta
	if m == 0 {
		return meta
	}
	inv := qMax / float64(m)
	for i, x := range v {
		// Rounds half away from zero, as math.Round, which Go only
		// compiles to an instruction for GOAMD64=v2 and later.
		f := float64(x) * inv
		q := int32(f + math.Copysign(0.5, f))
		dst[i] = byte(min(max(q, -qMax), qMax) + qBias)
	}
	meta.scale = m / qMax
	var sum int32
	for i, c := range dst {
		for j, cut := range cuts {
			if i == cut {
				meta.bias[j] = qBias * sum
			}
		}
		sum += int32(c) - qBias
	}
	meta.bias[maxCuts] = qBias * sum
	for j, cut := range cuts {
		var ss float64
		for _, c := range dst[cut:] {
			q := float64(int(c) - qBias)
			ss += q * q
		}
		meta.rest[j] = float32(math.Sqrt(ss))
	}
	return meta
}

// packQuery turns codes (len = stride, a multiple of blockBytes) into the
// lane-reversed words dotCodes multiplies by: two words per 8 code bytes.
// dotCodes loads data words in native byte order, so the byte that lands
// in bit position 8p of the word is c[p] on little-endian machines and
// c[7-p] on big-endian ones.
func packQuery(dst []uint64, codes []byte) {
	at := func(c []byte, p int) uint64 {
		if bigEndian {
			return uint64(c[7-p])
		}
		return uint64(c[p])
	}
	for w := 0; w+8 <= len(codes); w += 8 {
		c := codes[w : w+8]
		dst[w/4] = at(c, 0)<<48 | at(c, 2)<<32 | at(c, 4)<<16 | at(c, 6)
		dst[w/4+1] = at(c, 1)<<48 | at(c, 3)<<32 | at(c, 5)<<16 | at(c, 7)
	}
}

var bigEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}()

// dotCodes returns Σ c·c' over one row of data codes and a packed query.
// len(row) must be a multiple of blockBytes and len(q) ≥ len(row)/4; a row
// that breaks this gets 0 rather than a read out of bounds.
//
// This loop is most of a search's time. It is written with unsafe pointer
// steps because the compiler's bounds-check elimination leaves checks and
// register spills in every slice-based form tried (measured ~15-40% slower);
// the length check above is what makes the pointer walk safe.
func dotCodes(row []byte, q []uint64) uint64 {
	n := len(row) / blockBytes
	if n == 0 || len(row) != n*blockBytes || len(q) < n*blockBytes/4 {
		return 0
	}
	pd := unsafe.Pointer(unsafe.SliceData(row))
	pq := unsafe.Pointer(unsafe.SliceData(q))
	var a0, a1 uint64
	// Loads are written out rather than put in helpers: inlined helpers
	// make the compiler hoist all eight query loads and spill registers.
	for {
		w := *(*uint64)(pd)
		a0 += ((w & laneMask) * *(*uint64)(pq)) >> 48
		a1 += ((w >> 8 & laneMask) * *(*uint64)(unsafe.Add(pq, 8))) >> 48
		w = *(*uint64)(unsafe.Add(pd, 8))
		a0 += ((w & laneMask) * *(*uint64)(unsafe.Add(pq, 16))) >> 48
		a1 += ((w >> 8 & laneMask) * *(*uint64)(unsafe.Add(pq, 24))) >> 48
		w = *(*uint64)(unsafe.Add(pd, 16))
		a0 += ((w & laneMask) * *(*uint64)(unsafe.Add(pq, 32))) >> 48
		a1 += ((w >> 8 & laneMask) * *(*uint64)(unsafe.Add(pq, 40))) >> 48
		w = *(*uint64)(unsafe.Add(pd, 24))
		a0 += ((w & laneMask) * *(*uint64)(unsafe.Add(pq, 48))) >> 48
		a1 += ((w >> 8 & laneMask) * *(*uint64)(unsafe.Add(pq, 56))) >> 48
		if n--; n == 0 {
			break
		}
		// Advance only while inside the row: a pointer one past the end
		// of the slab is invalid (checkptr rejects it under -race).
		pd = unsafe.Add(pd, blockBytes)
		pq = unsafe.Add(pq, blockBytes*2)
	}
	return a0 + a1
}
