//go:build !amd64

package vecindex

func ternaryKernels() []string { return []string{"go"} }

var ternaryKernel = "go"

// ternaryScan sets out[r] to the ternary score of row r of codes (rows of
// len(q) words) against q. len(codes) must be len(out)*len(q).
func ternaryScan(codes, q []uint64, out []int32) {
	if len(q) < 2 || len(q)%2 != 0 || len(codes) != len(out)*len(q) {
		panic("vecindex: ternaryScan: mismatched lengths")
	}
	ternaryScanGo(codes, q, out)
}
