package vecindex

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"strconv"
	"testing"
	"unsafe"

	"github.com/viterin/vek/vek32"
)

func dotI8Scalar(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	for len(a) >= 8 && len(b) >= 8 {
		s0 += int32(a[0])*int32(b[0]) + int32(a[4])*int32(b[4])
		s1 += int32(a[1])*int32(b[1]) + int32(a[5])*int32(b[5])
		s2 += int32(a[2])*int32(b[2]) + int32(a[6])*int32(b[6])
		s3 += int32(a[3])*int32(b[3]) + int32(a[7])*int32(b[7])
		a = a[8:]
		b = b[8:]
	}
	for i := range a {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

// 16-bit lanes, 7-bit unsigned values; q packed: for each 8-byte word, two uint64 (even, odd) reversed.
const m16 = 0x00FF00FF00FF00FF

func dotSWAR16(d []byte, q []uint64) uint64 {
	q = q[:len(d)/4]
	var acc0, acc1 uint64
	for len(d) >= 16 && len(q) >= 4 {
		w0 := binary.LittleEndian.Uint64(d)
		w1 := binary.LittleEndian.Uint64(d[8:])
		acc0 += ((w0 & m16) * q[0]) >> 48
		acc1 += (((w0 >> 8) & m16) * q[1]) >> 48
		acc0 += ((w1 & m16) * q[2]) >> 48
		acc1 += (((w1 >> 8) & m16) * q[3]) >> 48
		d = d[16:]
		q = q[4:]
	}
	return acc0 + acc1
}

// 32-bit lanes, 8-bit unsigned values, accumulate without extraction.
const m32 = 0x000000FF000000FF

func dotSWAR32(d []byte, q []uint64) uint64 {
	q = q[:len(d)/2]
	var acc0, acc1 uint64
	for len(d) >= 8 && len(q) >= 4 {
		w := binary.LittleEndian.Uint64(d)
		acc0 += (w & m32) * q[0]
		acc1 += ((w >> 8) & m32) * q[1]
		acc0 += ((w >> 16) & m32) * q[2]
		acc1 += ((w >> 24) & m32) * q[3]
		d = d[8:]
		q = q[4:]
	}
	return (acc0 >> 32) + (acc1 >> 32)
}

func packQ16(u []byte) []uint64 {
	// for each 8-byte word: even lanes bytes 0,2,4,6 -> reversed in 16-bit lanes; odd 1,3,5,7
	out := make([]uint64, 0, len(u)/4)
	for w := 0; w+8 <= len(u); w += 8 {
		var e, o uint64
		for j := 0; j < 4; j++ {
			e |= uint64(u[w+2*j]) << (16 * (3 - j))
			o |= uint64(u[w+2*j+1]) << (16 * (3 - j))
		}
		out = append(out, e, o)
	}
	return out
}

func packQ32(u []byte) []uint64 {
	out := make([]uint64, 0, len(u)/2)
	for w := 0; w+8 <= len(u); w += 8 {
		for sh := 0; sh < 4; sh++ {
			// lanes hold bytes sh and sh+4: data lane0 = byte sh, lane1 = byte sh+4
			// q reversed: lane0 = q[sh+4], lane1 = q[sh]
			out = append(out, uint64(u[w+sh+4])|uint64(u[w+sh])<<32)
		}
	}
	return out
}

var N, D = 100000, 384

func BenchmarkKernels(b *testing.B) {
	if s := os.Getenv("KN"); s != "" {
		N, _ = strconv.Atoi(s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	i8 := make([]int8, N*D)
	u7 := make([]byte, N*D)
	u8 := make([]byte, N*D)
	f := make([]float32, N*D)
	for i := range i8 {
		v := int8(r.IntN(255) - 127)
		i8[i] = v
		u7[i] = byte(v/2 + 64)
		u8[i] = byte(int(v) + 128)
		f[i] = float32(v) / 127
	}
	qi := i8[:D]
	qu7 := packQ16(u7[:D])
	qu8 := packQ32(u8[:D])
	qf := f[:D]
	// check
	var ref int64
	for i := 0; i < D; i++ {
		ref += int64(u8[D+i]) * int64(u8[i])
	}
	if got := dotSWAR32(u8[D:2*D], qu8); int64(got) != ref {
		b.Fatalf("swar32 %d != %d", got, ref)
	}
	ref = 0
	for i := 0; i < D; i++ {
		ref += int64(u7[D+i]) * int64(u7[i])
	}
	if got := dotSWAR16(u7[D:2*D], qu7); int64(got) != ref {
		b.Fatalf("swar16 %d != %d", got, ref)
	}
	_ = unsafe.Sizeof(0)
	if dotSWAR16b(u7[D:2*D], qu7) != dotSWAR16(u7[D:2*D], qu7) || dotSWAR16u(u7[D:2*D], qu7) != dotSWAR16(u7[D:2*D], qu7) {
		b.Fatal("16b")
	}
	if dotSWAR16c(u7[D:2*D], qu7) != dotSWAR16(u7[D:2*D], qu7) || dotSWAR16d(u7[D:2*D], qu7) != dotSWAR16(u7[D:2*D], qu7) {
		b.Fatal("16cd")
	}
	if x, y := dotSWAR16x2(u7[D:2*D], u7[2*D:3*D], qu7); x != dotSWAR16(u7[D:2*D], qu7) || y != dotSWAR16(u7[2*D:3*D], qu7) {
		b.Fatal("x2")
	}
	var sink float64
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotI8Scalar(i8[j*D:(j+1)*D], qi))
			}
		}
	})
	b.Run("swar16", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotSWAR16(u7[j*D:(j+1)*D], qu7))
			}
		}
	})
	b.Run("swar16b", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotSWAR16b(u7[j*D:(j+1)*D], qu7))
			}
		}
	})
	b.Run("swar16u", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotSWAR16u(u7[j*D:(j+1)*D], qu7))
			}
		}
	})
	b.Run("swar16c", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotSWAR16c(u7[j*D:(j+1)*D], qu7))
			}
		}
	})
	b.Run("swar16d", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotSWAR16d(u7[j*D:(j+1)*D], qu7))
			}
		}
	})
	b.Run("swar16u-par", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for g := 0; g < 2; g++ {
				wg.Add(1)
				go func(lo, hi int) {
					defer wg.Done()
					var s uint64
					for j := lo; j < hi; j++ {
						s += dotSWAR16u(u7[j*D:(j+1)*D], qu7)
					}
					sinkU.Add(s)
				}(g*N/2, (g+1)*N/2)
			}
			wg.Wait()
		}
	})
	b.Run("vek-par", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for g := 0; g < 2; g++ {
				wg.Add(1)
				go func(lo, hi int) {
					defer wg.Done()
					var s float32
					for j := lo; j < hi; j++ {
						s += vek32.Dot(f[j*D:(j+1)*D], qf)
					}
					sinkU.Add(uint64(s))
				}(g*N/2, (g+1)*N/2)
			}
			wg.Wait()
		}
	})
	b.Run("swar16x2", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j+1 < N; j += 2 {
				x, y := dotSWAR16x2(u7[j*D:(j+1)*D], u7[(j+1)*D:(j+2)*D], qu7)
				sink += float64(x + y)
			}
		}
	})
	b.Run("dotCodes", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotCodes(u7[j*D:(j+1)*D], qu7))
			}
		}
	})
	b.Run("dotB4", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotB4(u7[j*D:(j+1)*D], qu7))
			}
		}
	})
	b.Run("dotU2", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotU2(u7[j*D:(j+1)*D], qu7))
			}
		}
	})
	b.Run("swar32", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(dotSWAR32(u8[j*D:(j+1)*D], qu8))
			}
		}
	})
	b.Run("vek", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < N; j++ {
				sink += float64(vek32.Dot(f[j*D:(j+1)*D], qf))
			}
		}
	})
	_ = sink
}

var sinkU atomic.Uint64
