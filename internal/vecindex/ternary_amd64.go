package vecindex

import "golang.org/x/sys/cpu"

// ternaryScanPOPCNT is ternaryScanGo in assembly (ternary_amd64.s). Go
// emits POPCNT only behind a CPU check unless built for GOAMD64=v2 or
// later, and the check's fallback call makes the compiler spill the loop's
// registers: the Go loop runs at ~21 ns a 384-dim row, this one at ~12.
//
//go:noescape
func ternaryScanPOPCNT(codes, q []uint64, out []int32)

// ternaryScanAVX512 is the same loop eight words at a time with AVX-512's
// VPOPCNTQ; tail masks the words of a row's last block of eight.
//
//go:noescape
func ternaryScanAVX512(codes, q []uint64, out []int32, tail uint64)

// ternaryKernels lists the loops this CPU can run, fastest first.
func ternaryKernels() []string {
	var ks []string
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VPOPCNTDQ {
		ks = append(ks, "avx512")
	}
	if cpu.X86.HasPOPCNT {
		ks = append(ks, "popcnt")
	}
	return append(ks, "go")
}

// ternaryKernel is the loop ternaryScan uses; tests set it to each.
var ternaryKernel = ternaryKernels()[0]

// ternaryScan sets out[r] to the ternary score of row r of codes (rows of
// len(q) words) against q. len(codes) must be len(out)*len(q).
func ternaryScan(codes, q []uint64, out []int32) {
	if len(q) < 2 || len(q)%2 != 0 || len(codes) != len(out)*len(q) {
		panic("vecindex: ternaryScan: mismatched lengths")
	}
	switch ternaryKernel {
	case "avx512":
		tail := uint64(0xff)
		if w := len(q) / 2; w%8 != 0 {
			tail = 1<<(w%8) - 1
		}
		ternaryScanAVX512(codes, q, out, tail)
	case "popcnt":
		ternaryScanPOPCNT(codes, q, out)
	default:
		ternaryScanGo(codes, q, out)
	}
}
