#include "textflag.h"

// func ternaryScanPOPCNT(codes []uint64, q []uint64, out []int32)
//
// out[r] = ternaryDot(codes[r*len(q):(r+1)*len(q)], q) for every r; the
// caller guarantees len(codes) == len(out)*len(q) and len(q) ≥ 2, even.
// Registers: SI row's positive plane, R12 its negative plane, DI and R9
// the query's planes, R8 words per plane, BX word index, AX the score.
TEXT ·ternaryScanPOPCNT(SB), NOSPLIT, $0-72
	MOVQ codes_base+0(FP), SI
	MOVQ q_base+24(FP), DI
	MOVQ q_len+32(FP), R8
	SHRQ $1, R8
	LEAQ (DI)(R8*8), R9
	MOVQ out_base+48(FP), DX
	MOVQ out_len+56(FP), CX
	TESTQ CX, CX
	JZ done
	TESTQ R8, R8
	JZ done

row:
	LEAQ (SI)(R8*8), R12
	XORQ AX, AX
	XORQ BX, BX

word:
	MOVQ (SI)(BX*8), R11
	MOVQ R11, R10
	ANDQ (DI)(BX*8), R10 // p ∧ p'
	ANDQ (R9)(BX*8), R11 // p ∧ n'
	MOVQ (R12)(BX*8), R13
	ANDQ (R9)(BX*8), R13 // n ∧ n'
	ORQ  R13, R10        // agreements
	MOVQ (R12)(BX*8), R13
	ANDQ (DI)(BX*8), R13 // n ∧ p'
	ORQ  R13, R11        // disagreements
	POPCNTQ R10, R10
	POPCNTQ R11, R11
	ADDQ R10, AX
	SUBQ R11, AX
	INCQ BX
	CMPQ BX, R8
	JLT  word

	MOVL AX, (DX)
	ADDQ $4, DX
	LEAQ (R12)(R8*8), SI
	DECQ CX
	JNZ  row

done:
	RET

// func ternaryScanAVX512(codes []uint64, q []uint64, out []int32, tail uint64)
//
// The same as ternaryScanPOPCNT, eight words at a time with VPOPCNTQ.
// tail is the mask of words used in a row's last block of eight (0xff
// when the plane is a whole number of blocks); masked loads suppress
// faults, so the words past a plane are never read. Z0 sums a row's
// score per lane; Z1/Z2 the row's planes, Z3/Z4 the query's.
TEXT ·ternaryScanAVX512(SB), NOSPLIT, $0-80
	MOVQ codes_base+0(FP), SI
	MOVQ q_base+24(FP), DI
	MOVQ q_len+32(FP), R8
	SHRQ $1, R8
	LEAQ (DI)(R8*8), R9
	MOVQ out_base+48(FP), DX
	MOVQ out_len+56(FP), CX
	MOVQ tail+72(FP), AX
	KMOVW AX, K1
	TESTQ CX, CX
	JZ avxdone
	TESTQ R8, R8
	JZ avxdone

avxrow:
	LEAQ (SI)(R8*8), R12
	VPXORQ Z0, Z0, Z0
	XORQ BX, BX

avxblock:
	MOVQ R8, R10
	SUBQ BX, R10
	CMPQ R10, $8
	JLE avxlast
	VMOVDQU64 (SI)(BX*8), Z1
	VMOVDQU64 (R12)(BX*8), Z2
	VMOVDQU64 (DI)(BX*8), Z3
	VMOVDQU64 (R9)(BX*8), Z4
	VPANDQ Z3, Z1, Z5 // p ∧ p'
	VPANDQ Z4, Z2, Z6 // n ∧ n'
	VPORQ Z6, Z5, Z5  // agreements
	VPANDQ Z4, Z1, Z6 // p ∧ n'
	VPANDQ Z3, Z2, Z7 // n ∧ p'
	VPORQ Z7, Z6, Z6  // disagreements
	VPOPCNTQ Z5, Z5
	VPOPCNTQ Z6, Z6
	VPSUBQ Z6, Z5, Z5
	VPADDQ Z5, Z0, Z0
	ADDQ $8, BX
	JMP avxblock

avxlast:
	VMOVDQU64.Z (SI)(BX*8), K1, Z1
	VMOVDQU64.Z (R12)(BX*8), K1, Z2
	VMOVDQU64.Z (DI)(BX*8), K1, Z3
	VMOVDQU64.Z (R9)(BX*8), K1, Z4
	VPANDQ Z3, Z1, Z5
	VPANDQ Z4, Z2, Z6
	VPORQ Z6, Z5, Z5
	VPANDQ Z4, Z1, Z6
	VPANDQ Z3, Z2, Z7
	VPORQ Z7, Z6, Z6
	VPOPCNTQ Z5, Z5
	VPOPCNTQ Z6, Z6
	VPSUBQ Z6, Z5, Z5
	VPADDQ Z5, Z0, Z0

	// Sum the eight lanes.
	VEXTRACTI64X4 $1, Z0, Y1
	VPADDQ Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ X0, AX
	MOVL AX, (DX)

	ADDQ $4, DX
	LEAQ (R12)(R8*8), SI
	DECQ CX
	JNZ avxrow

avxdone:
	VZEROUPPER
	RET
