package vecindex

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An index file is the index's slabs as they are in memory, so that a new
// process maps it (mmap, copy-on-write) instead of reading and encoding
// every vector again: 10k vectors of 384 dimensions load in about a
// millisecond instead of ~150 ms. DESIGN.md ("Index files") has the format
// and why.
//
// Layout, little-endian, every section starting on a 64-byte boundary:
//
//	header   magic, version, layout sizes, dims, stride, twords, n,
//	         groups, id bytes, meta bytes
//	meta     the caller's bytes (retrieve: which store state it is)
//	vecs, frest, codes, cmeta, tcodes, tscale, groups, spans
//	groupOf  caller's group number of each dense group
//	idEnds   uint32 end offset of each id in the id bytes
//	ids      the ids, concatenated
//	trailer  CRC-32C of each MiB before it, their count, and the
//	         CRC-32C of those
const (
	fileMagic   = "trovevx\x00"
	fileVersion = 1
	fileAlign   = 64
	headerWords = 13 // uint64 words after the magic
)

// ErrBadFile means an index file is not one this build wrote whole: a
// partial or corrupt file, another program's, or another layout. The
// caller rebuilds the index and writes the file again.
var ErrBadFile = errors.New("vecindex: not a usable index file")

// layout is what must match between the build that wrote a file and the
// one that maps it: the per-slot record sizes and the byte order.
func layout() uint64 {
	var probe uint16 = 1
	little := uint64(*(*byte)(unsafe.Pointer(&probe)))
	return little | uint64(unsafe.Sizeof(codeMeta{}))<<8 | uint64(unsafe.Sizeof([maxCuts]float32{}))<<16 |
		uint64(unsafe.Sizeof(span{}))<<24
}

// section is one slab as bytes.
type section []byte

func bytesOf[T any](s []T) section {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// WriteFile writes the index and meta (the caller's description of what
// the index holds) to path atomically: a temporary file in the same
// directory, renamed over path once whole. Readers that mapped the old
// file keep it; concurrent writers each rename a whole file, and the last
// rename wins. The file is only ever replaced by rename, never written in
// place: a process that mapped it (MAP_PRIVATE) would see the new bytes
// in the pages it has not copied, and a shorter file would fault.
//
// The index's lock is held only while its slabs are copied (a memcpy of
// the index's size), never for the disk: Upsert and Delete wait for the
// copy, not for the write.
func (ix *Index) WriteFile(path string, meta []byte) (err error) {
	snap, err := ix.snapshot()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// No fsync: a file that a crash leaves partly written fails its
	// checksums and is rebuilt, and it is never the only copy of anything.
	if err = snap.write(f, meta); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// fileImage is a copy of an index's slabs, taken under its read lock, that
// WriteFile writes without the lock.
type fileImage struct {
	dims, stride, twords int
	sections             []section // vecs … spans, groupOf, idEnds
	ids                  []string
	idBytes              int
}

// snapshot copies the slabs under the read lock. The copies are owned by
// the image (a mapped index's slabs included), so the write reads neither
// the index nor its mapping.
func (ix *Index) snapshot() (*fileImage, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ends := make([]uint32, len(ix.ids))
	var idBytes int
	for i, id := range ix.ids {
		idBytes += len(id)
		ends[i] = uint32(idBytes)
	}
	if uint64(idBytes) > 1<<32-1 {
		return nil, fmt.Errorf("vecindex: ids too long for an index file (%d bytes)", idBytes)
	}
	groupOf := make([]uint32, len(ix.groupOf))
	for caller, dense := range ix.groupOf {
		groupOf[dense] = caller
	}
	img := &fileImage{dims: ix.dims, stride: ix.stride, twords: ix.twords, ids: slices.Clone(ix.ids), idBytes: idBytes}
	for _, s := range []section{bytesOf(ix.vecs), bytesOf(ix.frest), ix.codes, bytesOf(ix.cmeta), bytesOf(ix.tcodes),
		bytesOf(ix.tscale), bytesOf(ix.groups), bytesOf(ix.spans)} {
		img.sections = append(img.sections, slices.Clone(s))
	}
	img.sections = append(img.sections, bytesOf(groupOf), bytesOf(ends))
	return img, nil
}

func (img *fileImage) write(w io.Writer, meta []byte) error {
	idBytes := img.idBytes
	groups := len(img.sections[8]) / 4
	sums := &chunkSums{}
	bw := bufio.NewWriterSize(io.MultiWriter(w, sums), 1<<16)
	var off int
	put := func(b []byte) {
		n, _ := bw.Write(b) // a write error sticks in bw and Flush returns it
		off += n
	}
	pad := func() { put(make([]byte, (fileAlign-off%fileAlign)%fileAlign)) }
	head := make([]byte, 8+8*headerWords)
	copy(head, fileMagic)
	for i, v := range []uint64{fileVersion, layout(), uint64(img.dims), uint64(img.stride), uint64(img.twords),
		uint64(len(img.ids)), uint64(groups), uint64(idBytes), uint64(len(meta)), 0, 0, 0, 0} {
		binary.LittleEndian.PutUint64(head[8+8*i:], v)
	}
	put(head)
	pad()
	put(meta)
	for _, s := range img.sections {
		pad()
		put(s)
	}
	pad()
	for _, id := range img.ids {
		put([]byte(id))
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(sums.tail(), crc32.Checksum(sums.tail(), castagnoli)))
	return err
}

// castagnoli is CRC-32C, which amd64 and arm64 compute in hardware.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkSize is the span of one checksum: the trailer holds one CRC-32C
// per chunk of the body, so that OpenFile checks the chunks on every core
// (a 10k×384 file is 20 MiB: ~4 ms on one core of this machine).
const chunkSize = 1 << 20

// chunkSums computes the CRC-32C of each chunkSize bytes written to it.
type chunkSums struct {
	sums []uint32
	cur  hash.Hash32
	n    int
}

func (c *chunkSums) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if c.cur == nil {
			c.cur = crc32.New(castagnoli)
		}
		take := min(len(p), chunkSize-c.n)
		c.cur.Write(p[:take])
		c.n += take
		p = p[take:]
		if c.n == chunkSize {
			c.sums = append(c.sums, c.cur.Sum32())
			c.cur, c.n = nil, 0
		}
	}
	return total, nil
}

// tail is the trailer without its own checksum: the chunk sums and their
// count.
func (c *chunkSums) tail() []byte {
	sums := c.sums
	if c.cur != nil {
		sums = append(sums, c.cur.Sum32())
	}
	var out []byte
	for _, s := range sums {
		out = binary.LittleEndian.AppendUint32(out, s)
	}
	return binary.LittleEndian.AppendUint32(out, uint32(len(sums)))
}

// OpenFile maps an index file written by WriteFile and returns the index
// it holds and the caller's meta. The slabs stay in the file's pages
// (mapped private: a later Upsert or Delete copies what it changes, and
// the file is never written); the ids are copied. The whole file is
// checked against its checksum first, so a truncated or damaged file is
// ErrBadFile, never a wrong vector.
func OpenFile(path string) (*Index, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size < 8+8*headerWords+8 || size > 1<<46 {
		return nil, nil, fmt.Errorf("%w: %d bytes", ErrBadFile, size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	ix, meta, err := fromMapping(data)
	if err != nil {
		_ = unix.Munmap(data)
		return nil, nil, err
	}
	// The slabs point into data: unmap only when the index is unreachable.
	// Every method that reads the slabs holds ix.mu until it returns (a
	// deferred unlock), which keeps ix reachable while it does; hits carry
	// copied ids, never slab memory.
	runtime.AddCleanup(ix, func(d []byte) { _ = unix.Munmap(d) }, data)
	return ix, meta, nil
}

// fromMapping checks data and builds an index over it.
func fromMapping(data []byte) (*Index, []byte, error) {
	body, err := checkSums(data)
	if err != nil {
		return nil, nil, err
	}
	if string(data[:8]) != fileMagic {
		return nil, nil, fmt.Errorf("%w: not an index file", ErrBadFile)
	}
	var hd [headerWords]uint64
	for i := range hd {
		hd[i] = binary.LittleEndian.Uint64(data[8+8*i:])
	}
	version, lay, dims, stride, twords, n, ngroups, idBytes, metaLen := hd[0], hd[1], hd[2], hd[3], hd[4], hd[5], hd[6], hd[7], hd[8]
	if version != fileVersion || lay != layout() {
		return nil, nil, fmt.Errorf("%w: version %d layout %#x, this build reads %d %#x", ErrBadFile, version, lay, fileVersion, layout())
	}
	const limit = 1 << 40
	if dims == 0 || dims > 1<<20 || n > limit || ngroups > limit || idBytes > limit || metaLen > limit ||
		stride != uint64(codeStride(int(dims))) || twords != uint64(ternaryWords(int(dims))) {
		return nil, nil, fmt.Errorf("%w: header out of range", ErrBadFile)
	}
	ix := New(int(dims))
	off := uint64(8 + 8*headerWords)
	next := func(size uint64) ([]byte, bool) {
		off = (off + fileAlign - 1) / fileAlign * fileAlign
		if off > uint64(len(body)) || size > uint64(len(body))-off {
			return nil, false
		}
		b := body[off : off+size : off+size]
		off += size
		return b, true
	}
	meta, ok := next(metaLen)
	meta = append([]byte(nil), meta...) // the caller's, beyond the mapping's life
	var groupOf, ends []uint32
	ok = ok && slab(next, &ix.vecs, n*dims) && slab(next, &ix.frest, n) && slab(next, &ix.codes, n*stride) &&
		slab(next, &ix.cmeta, n) && slab(next, &ix.tcodes, n*2*twords) && slab(next, &ix.tscale, n) &&
		slab(next, &ix.groups, n) && slab(next, &ix.spans, n) && slab(next, &groupOf, ngroups) && slab(next, &ends, n)
	var idb []byte
	if ok {
		idb, ok = next(idBytes)
	}
	if !ok || off != uint64(len(body)) {
		return nil, nil, fmt.Errorf("%w: sections do not match the header", ErrBadFile)
	}
	for dense, caller := range groupOf {
		ix.groupOf[caller] = uint32(dense)
	}
	if len(ix.groupOf) != len(groupOf) {
		return nil, nil, fmt.Errorf("%w: a group is listed twice", ErrBadFile)
	}
	for _, g := range ix.groups {
		if uint64(g) >= ngroups {
			return nil, nil, fmt.Errorf("%w: a slot's group is out of range", ErrBadFile)
		}
	}
	all := string(idb) // one copy: ids outlive the mapping in hits
	ix.ids = make([]string, n)
	var start uint32
	for i, end := range ends {
		if end < start || uint64(end) > idBytes || end == start {
			return nil, nil, fmt.Errorf("%w: id offsets out of order", ErrBadFile)
		}
		ix.ids[i] = all[start:end]
		start = end
	}
	if uint64(start) != idBytes {
		return nil, nil, fmt.Errorf("%w: id bytes do not add up", ErrBadFile)
	}
	ix.slot = nil // built when first needed (slots): a search never needs it
	return ix, meta, nil
}

// slab points *dst at the next section of n elements, with cap = len so
// that growing it copies to the heap instead of writing past the section.
func slab[T any](next func(uint64) ([]byte, bool), dst *[]T, n uint64) bool {
	var zero T
	b, ok := next(n * uint64(unsafe.Sizeof(zero)))
	if !ok {
		return false
	}
	if n == 0 {
		*dst = nil
		return true
	}
	*dst = unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
	return true
}

// slots returns the id → slot map, building it from ids after OpenFile.
// Caller holds ix.mu (either lock: the map is built under the write lock
// or, from Vector, under a read lock with slotOnce).
func (ix *Index) slots() map[string]int {
	ix.slotOnce.Do(func() {
		if ix.slot == nil {
			ix.slot = make(map[string]int, len(ix.ids))
			for i, id := range ix.ids {
				ix.slot[id] = i
			}
		}
	})
	return ix.slot
}

// checkSums checks the trailer's chunk checksums, on every core, and
// returns the body they cover.
func checkSums(data []byte) ([]byte, error) {
	bad := fmt.Errorf("%w: checksum mismatch (truncated or damaged)", ErrBadFile)
	end := len(data) - 4
	if end < 4 {
		return nil, bad
	}
	chunks := int(binary.LittleEndian.Uint32(data[end-4:]))
	tailStart := end - 4 - 4*chunks
	if tailStart < 0 || crc32.Checksum(data[tailStart:end], castagnoli) != binary.LittleEndian.Uint32(data[end:]) {
		return nil, bad
	}
	body := data[:tailStart]
	if (len(body)+chunkSize-1)/chunkSize != chunks {
		return nil, bad
	}
	var failed atomic.Bool
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), chunks)
	for w := range workers {
		wg.Go(func() {
			for c := w; c < chunks; c += workers {
				part := body[c*chunkSize : min((c+1)*chunkSize, len(body))]
				if crc32.Checksum(part, castagnoli) != binary.LittleEndian.Uint32(data[tailStart+4*c:]) {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return nil, bad
	}
	return body, nil
}

// Sample returns the ids of up to n slots spread evenly over the index,
// for checking it against the vectors it was loaded from (Holds).
func (ix *Index) Sample(n int) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	total := len(ix.ids)
	n = min(n, total)
	out := make([]string, n)
	for i := range out {
		out[i] = ix.ids[i*total/n]
	}
	return out
}

// Holds reports whether the index holds vec for id, normalised exactly as
// Upsert would have stored it: an index file made from other vectors (a
// store's previous model, another store) fails it.
func (ix *Index) Holds(id string, vec []float32) bool {
	if len(vec) != ix.dims {
		return false
	}
	inv, err := invNorm(vec)
	if err != nil {
		return false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s, ok := ix.slots()[id]
	if !ok {
		return false
	}
	for i, x := range ix.vecs[s*ix.dims : (s+1)*ix.dims] {
		if x != float32(float64(vec[i])*inv) {
			return false
		}
	}
	return true
}
