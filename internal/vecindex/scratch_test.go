package vecindex

import (
	"testing"
	"unsafe"
)

func dotPtr(d []byte, q []uint64) uint64 {
	var acc0, acc1, acc2, acc3 uint64
	n := len(d) / 32
	if n == 0 || len(q) < n*8 {
		return 0
	}
	pd := unsafe.Pointer(unsafe.SliceData(d))
	pq := unsafe.Pointer(unsafe.SliceData(q))
	for ; n > 0; n-- {
		w0 := *(*uint64)(pd)
		w1 := *(*uint64)(unsafe.Add(pd, 8))
		w2 := *(*uint64)(unsafe.Add(pd, 16))
		w3 := *(*uint64)(unsafe.Add(pd, 24))
		qq := (*[8]uint64)(pq)
		acc0 += ((w0 & laneMask) * qq[0]) >> 48
		acc1 += (((w0 >> 8) & laneMask) * qq[1]) >> 48
		acc2 += ((w1 & laneMask) * qq[2]) >> 48
		acc3 += (((w1 >> 8) & laneMask) * qq[3]) >> 48
		acc0 += ((w2 & laneMask) * qq[4]) >> 48
		acc1 += (((w2 >> 8) & laneMask) * qq[5]) >> 48
		acc2 += ((w3 & laneMask) * qq[6]) >> 48
		acc3 += (((w3 >> 8) & laneMask) * qq[7]) >> 48
		pd = unsafe.Add(pd, 32)
		pq = unsafe.Add(pq, 64)
	}
	return acc0 + acc1 + acc2 + acc3
}

func BenchmarkScratch(b *testing.B) {
	d := newDataset(1, 2000, 384, 1, 1, 1)
	ix := d.index(b)
	qw := packed(ix.codes[:ix.stride])
	var sink uint64
	b.Run("dotCodes", func(b *testing.B) {
		for b.Loop() {
			for s := range 2000 {
				sink += dotCodes(ix.codes[s*ix.stride:(s+1)*ix.stride], qw)
			}
		}
	})
	b.Run("dotPtr", func(b *testing.B) {
		for b.Loop() {
			for s := range 2000 {
				sink += dotPtr(ix.codes[s*ix.stride:(s+1)*ix.stride], qw)
			}
		}
	})
	b.Run("dotV", func(b *testing.B) {
		for b.Loop() {
			for s := range 2000 {
				sink += dotV(ix.codes[s*ix.stride:(s+1)*ix.stride], qw)
			}
		}
	})
	b.Run("single-dotCodes", func(b *testing.B) {
		for b.Loop() {
			sink += dotCodes(ix.codes[:ix.stride], qw)
		}
	})
	b.Run("single-dotPtr", func(b *testing.B) {
		for b.Loop() {
			sink += dotPtr(ix.codes[:ix.stride], qw)
		}
	})
	_ = sink
}

func dotV(row []byte, q []uint64) uint64 {
	n := len(row) / blockBytes
	if n == 0 || len(row) != n*blockBytes || len(q) < n*blockBytes/4 {
		return 0
	}
	pd := unsafe.Pointer(unsafe.SliceData(row))
	pq := unsafe.Pointer(unsafe.SliceData(q))
	var a0, a1 uint64
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
		pd = unsafe.Add(pd, blockBytes)
		pq = unsafe.Add(pq, blockBytes*2)
	}
	return a0 + a1
}
