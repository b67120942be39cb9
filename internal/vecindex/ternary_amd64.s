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
