package vecindex

import (
	"encoding/binary"
	"unsafe"
)

func dotSWAR16b(d []byte, q []uint64) uint64 {
	var acc0, acc1, acc2, acc3 uint64
	n := len(d) / 32
	q = q[:n*8]
	d = d[:n*32]
	for i := 0; i < n; i++ {
		w := (*[32]byte)(d[i*32:])
		qq := (*[8]uint64)(q[i*8:])
		w0 := binary.LittleEndian.Uint64(w[0:])
		w1 := binary.LittleEndian.Uint64(w[8:])
		w2 := binary.LittleEndian.Uint64(w[16:])
		w3 := binary.LittleEndian.Uint64(w[24:])
		acc0 += ((w0 & m16) * qq[0]) >> 48
		acc1 += (((w0 >> 8) & m16) * qq[1]) >> 48
		acc2 += ((w1 & m16) * qq[2]) >> 48
		acc3 += (((w1 >> 8) & m16) * qq[3]) >> 48
		acc0 += ((w2 & m16) * qq[4]) >> 48
		acc1 += (((w2 >> 8) & m16) * qq[5]) >> 48
		acc2 += ((w3 & m16) * qq[6]) >> 48
		acc3 += (((w3 >> 8) & m16) * qq[7]) >> 48
	}
	return acc0 + acc1 + acc2 + acc3
}

func dotSWAR16u(d []byte, q []uint64) uint64 {
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
		acc0 += ((w0 & m16) * qq[0]) >> 48
		acc1 += (((w0 >> 8) & m16) * qq[1]) >> 48
		acc2 += ((w1 & m16) * qq[2]) >> 48
		acc3 += (((w1 >> 8) & m16) * qq[3]) >> 48
		acc0 += ((w2 & m16) * qq[4]) >> 48
		acc1 += (((w2 >> 8) & m16) * qq[5]) >> 48
		acc2 += ((w3 & m16) * qq[6]) >> 48
		acc3 += (((w3 >> 8) & m16) * qq[7]) >> 48
		pd = unsafe.Add(pd, 32)
		pq = unsafe.Add(pq, 64)
	}
	return acc0 + acc1 + acc2 + acc3
}
