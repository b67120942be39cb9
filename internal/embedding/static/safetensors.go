package static

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON mapping tensor names to {dtype, shape, data_offsets} (offsets relative
// to the end of the header), then the raw tensor data. The whole file is
// memory-mapped read-only: loading costs a header parse, and the pages of
// the embedding matrix are read by the kernel only when a token needs them.

// maxHeaderLen bounds the JSON header we agree to parse (safetensors itself
// caps it at 100 MB); a larger length means a corrupt or foreign file.
const maxHeaderLen = 100 << 20

// TensorError reports a tensor that is missing, malformed or of a type this
// package cannot use. File, Tensor, DType and Shape say which.
type TensorError struct {
	File    string
	Tensor  string
	DType   string
	Shape   []int
	Problem string
}

func (e *TensorError) Error() string {
	s := e.File
	if e.Tensor != "" {
		s += ": tensor " + e.Tensor
	}
	if e.DType != "" {
		s += fmt.Sprintf(" (%s %v)", e.DType, e.Shape)
	}
	return s + ": " + e.Problem
}

// tensor is one tensor of a mapped file: its raw little-endian bytes.
type tensor struct {
	name  string
	dtype string
	shape []int
	data  []byte
}

// safetensors is a memory-mapped file and its parsed header.
type safetensors struct {
	path    string
	mapped  []byte // nil for an empty file
	tensors map[string]*tensor
}

type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// openSafetensors maps path and parses its header. The caller must close it
// when no tensor of it is used any more.
func openSafetensors(path string) (*safetensors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size < 8 {
		return nil, &TensorError{File: path, Problem: fmt.Sprintf("truncated: %d bytes, not even the 8-byte header length", size)}
	}
	if size > math.MaxInt {
		return nil, &TensorError{File: path, Problem: "too large to map"}
	}
	mapped, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: mmap: %w", path, err)
	}
	st := &safetensors{path: path, mapped: mapped}
	if err := st.parse(); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

// parseSafetensors parses a file already in memory (used by tests and fuzzing).
func parseSafetensors(path string, b []byte) (*safetensors, error) {
	if len(b) < 8 {
		return nil, &TensorError{File: path, Problem: fmt.Sprintf("truncated: %d bytes, not even the 8-byte header length", len(b))}
	}
	st := &safetensors{path: path, mapped: b}
	if err := st.parse(); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *safetensors) parse() error {
	b := st.mapped
	n := binary.LittleEndian.Uint64(b[:8])
	if n > maxHeaderLen || n > uint64(len(b)-8) {
		return &TensorError{File: st.path, Problem: fmt.Sprintf("truncated header: it claims %d bytes, the file has %d after the length", n, len(b)-8)}
	}
	data := b[8+n:]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		return &TensorError{File: st.path, Problem: fmt.Sprintf("header is not JSON: %v", err)}
	}
	st.tensors = make(map[string]*tensor, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			continue
		}
		var h headerEntry
		if err := json.Unmarshal(msg, &h); err != nil {
			return &TensorError{File: st.path, Tensor: name, Problem: fmt.Sprintf("bad header entry: %v", err)}
		}
		t := &tensor{name: name, dtype: h.DType, shape: h.Shape}
		elems := int64(1)
		for _, d := range h.Shape {
			if d < 0 || (d > 0 && elems > math.MaxInt64/int64(d)) {
				return &TensorError{File: st.path, Tensor: name, DType: h.DType, Shape: h.Shape, Problem: "bad shape"}
			}
			elems *= int64(d)
		}
		start, end := h.DataOffsets[0], h.DataOffsets[1]
		if start < 0 || end < start || end > int64(len(data)) {
			return &TensorError{File: st.path, Tensor: name, DType: h.DType, Shape: h.Shape,
				Problem: fmt.Sprintf("data [%d, %d) lies outside the %d data bytes (truncated file?)", start, end, len(data))}
		}
		if size := dtypeSize(h.DType); size > 0 && elems*int64(size) != end-start {
			return &TensorError{File: st.path, Tensor: name, DType: h.DType, Shape: h.Shape,
				Problem: fmt.Sprintf("holds %d bytes, its shape needs %d", end-start, elems*int64(size))}
		}
		t.data = data[start:end:end]
		st.tensors[name] = t
	}
	return nil
}

func (st *safetensors) close() error {
	if st.mapped == nil {
		return nil
	}
	err := unix.Munmap(st.mapped)
	st.mapped = nil
	return err
}

func (st *safetensors) names() []string {
	var ns []string
	for n := range st.tensors {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func dtypeSize(dtype string) int {
	switch dtype {
	case "F64", "I64", "U64":
		return 8
	case "F32", "I32", "U32":
		return 4
	case "F16", "BF16", "I16", "U16":
		return 2
	case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2":
		return 1
	}
	return 0
}

// matrix is a read-only 2-D float view over a mapped tensor: rows of dims
// values stored as F32, F16 or I8. Rows are decoded on use, so a model
// loads without converting its whole table.
type matrix struct {
	rows, dims int
	f32        []float32 // F32 data seen in place, when aligned on a little-endian host
	raw        []byte    // otherwise the raw bytes
	dtype      string
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func newMatrix(file string, t *tensor) (*matrix, error) {
	bad := func(p string) error {
		return &TensorError{File: file, Tensor: t.name, DType: t.dtype, Shape: t.shape, Problem: p}
	}
	if len(t.shape) != 2 || t.shape[0] == 0 || t.shape[1] == 0 {
		return nil, bad("want a 2-D [vocabulary, dimensions] matrix")
	}
	m := &matrix{rows: t.shape[0], dims: t.shape[1], dtype: t.dtype, raw: t.data}
	switch t.dtype {
	case "F32":
		if littleEndian && uintptr(unsafe.Pointer(unsafe.SliceData(t.data)))%4 == 0 {
			m.f32 = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(t.data))), len(t.data)/4)
		}
	case "F16", "I8":
	default:
		return nil, bad("unsupported dtype: use F32, F16 or I8")
	}
	return m, nil
}

// addRow adds w times row r to acc.
func (m *matrix) addRow(acc []float32, r int, w float32) {
	off := r * m.dims
	switch {
	case m.f32 != nil:
		row := m.f32[off : off+m.dims : off+m.dims]
		acc = acc[:len(row)]
		if w == 1 {
			for i, x := range row {
				acc[i] += x
			}
			return
		}
		for i, x := range row {
			acc[i] += w * x
		}
	case m.dtype == "F32":
		row := m.raw[4*off : 4*(off+m.dims)]
		for i := range acc[:m.dims] {
			acc[i] += w * math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
		}
	case m.dtype == "F16":
		row := m.raw[2*off : 2*(off+m.dims)]
		for i := range acc[:m.dims] {
			acc[i] += w * f16Table[binary.LittleEndian.Uint16(row[2*i:])]
		}
	default: // I8
		row := m.raw[off : off+m.dims]
		for i := range acc[:m.dims] {
			acc[i] += w * float32(int8(row[i]))
		}
	}
}

// vector decodes a 1-D tensor of per-token values (weights) as float32.
func floatVector(file string, t *tensor) ([]float32, error) {
	if len(t.shape) != 1 {
		return nil, &TensorError{File: file, Tensor: t.name, DType: t.dtype, Shape: t.shape, Problem: "want a 1-D vector"}
	}
	n := t.shape[0]
	out := make([]float32, n)
	switch t.dtype {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.data[4*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.data[8*i:])))
		}
	case "F16":
		for i := range out {
			out[i] = f16Table[binary.LittleEndian.Uint16(t.data[2*i:])]
		}
	default:
		return nil, &TensorError{File: file, Tensor: t.name, DType: t.dtype, Shape: t.shape, Problem: "unsupported dtype: use F32, F64 or F16"}
	}
	return out, nil
}

// intVector decodes a 1-D tensor of indices (mapping) as int.
func intVector(file string, t *tensor) ([]int32, error) {
	if len(t.shape) != 1 {
		return nil, &TensorError{File: file, Tensor: t.name, DType: t.dtype, Shape: t.shape, Problem: "want a 1-D vector"}
	}
	n := t.shape[0]
	out := make([]int32, n)
	for i := range out {
		var v int64
		switch t.dtype {
		case "I64":
			v = int64(binary.LittleEndian.Uint64(t.data[8*i:]))
		case "I32":
			v = int64(int32(binary.LittleEndian.Uint32(t.data[4*i:])))
		default:
			return nil, &TensorError{File: file, Tensor: t.name, DType: t.dtype, Shape: t.shape, Problem: "unsupported dtype: use I64 or I32"}
		}
		if v < 0 || v > math.MaxInt32 {
			return nil, &TensorError{File: file, Tensor: t.name, DType: t.dtype, Shape: t.shape, Problem: fmt.Sprintf("entry %d is %d, not a row index", i, v)}
		}
		out[i] = int32(v)
	}
	return out, nil
}

// f16Table maps every IEEE half-precision bit pattern to float32: a 256 KB
// table is faster than converting bit fields for each of a row's values.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16ToF32(uint16(i))
	}
	return &t
}()

func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = frac * 2^-24.
		f := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}
