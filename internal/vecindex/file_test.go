package vecindex

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// fileIndex is a data set's index, with the quantised passes forced, and
// the same index written to a file and mapped back.
func fileIndex(t *testing.T, n int) (*dataset, *Index, *Index, string) {
	t.Helper()
	d := newDataset(7, n, 96, 20, 0.8, 3)
	ix := d.index(t)
	ix.prefilterMin = 0
	path := filepath.Join(t.TempDir(), "vec.idx")
	if err := ix.WriteFile(path, []byte("state 42")); err != nil {
		t.Fatal(err)
	}
	got, meta, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(meta) != "state 42" {
		t.Fatalf("meta %q, want %q", meta, "state 42")
	}
	got.exactBelow, got.prefilterMin = 0, 0
	return d, ix, got, path
}

func TestFileRoundTrip(t *testing.T) {
	d, ix, got, _ := fileIndex(t, 3000)
	if got.Len() != ix.Len() || got.Dims() != ix.Dims() {
		t.Fatalf("len %d dims %d, want %d %d", got.Len(), got.Dims(), ix.Len(), ix.Dims())
	}
	for q := range 30 {
		qv := d.query(0.7)
		for _, opts := range []SearchOptions{
			{K: 10, AllGroups: true}, {K: 10, AllGroups: true, Exact: true},
			{K: 7, Groups: []uint32{uint32(q % 3)}}, {K: 5, Groups: []uint32{0, 2}, Exact: true},
		} {
			want, err1 := ix.Search(qv, opts)
			have, err2 := got.Search(qv, opts)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !slices.Equal(have, want) {
				t.Fatalf("query %d %+v: mapped index gave %v, in-memory %v", q, opts, have, want)
			}
		}
	}
	v, ok := got.Vector(id(17))
	w, _ := ix.Vector(id(17))
	if !ok || !slices.Equal(v, w) {
		t.Fatalf("Vector after OpenFile: %v %v", ok, v[:3])
	}
}

// A mapped index takes writes like any other (copy-on-write: the file
// does not change), and its ids outlive the mapping.
func TestFileWritesAfterOpen(t *testing.T) {
	d, ix, got, path := fileIndex(t, 2000)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(x *Index) {
		for i := range 300 {
			if !x.Delete(id(i * 5)) {
				t.Fatalf("Delete(%s) found nothing", id(i*5))
			}
		}
		for i := range 200 { // new ids grow the slabs past the mapping
			if err := x.Upsert(id(5000+i), 1, d.vecs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := x.Upsert(id(1), 2, d.vecs[999]); err != nil { // in place
			t.Fatal(err)
		}
	}
	edit(ix)
	edit(got)
	for range 20 {
		q := d.query(0.7)
		want, _ := ix.Search(q, SearchOptions{K: 10, AllGroups: true})
		have, _ := got.Search(q, SearchOptions{K: 10, AllGroups: true})
		if !slices.Equal(have, want) {
			t.Fatalf("after edits: mapped %v, in-memory %v", have, want)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatal("writes to a mapped index changed its file")
	}
	hits, _ := got.Search(d.query(0.7), SearchOptions{K: 3, AllGroups: true})
	got = nil
	runtime.GC()
	runtime.GC()
	for _, h := range hits {
		if len(h.ID) != len("m000000") {
			t.Fatalf("hit id %q after the mapping was released", h.ID)
		}
	}
}

// Every damaged file is ErrBadFile, never an index.
func TestFileDamaged(t *testing.T) {
	_, _, _, path := fileIndex(t, 500)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.idx")
	flip := func(at int) []byte {
		b := slices.Clone(good)
		b[at] ^= 0x10
		return b
	}
	for name, data := range map[string][]byte{
		"empty":         {},
		"header only":   good[:64],
		"truncated":     good[:len(good)/2],
		"last byte cut": good[:len(good)-1],
		"vector bit":    flip(len(good) / 3),
		"checksum bit":  flip(len(good) - 2),
		"magic":         flip(0),
		"other program": []byte("SQLite format 3\x00 and then a great deal more than a header's worth of bytes, padding padding padding padding"),
	} {
		if err := os.WriteFile(bad, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ix, _, err := OpenFile(bad)
		if !errors.Is(err, ErrBadFile) || ix != nil {
			t.Errorf("%s: got %v, %v; want ErrBadFile", name, ix != nil, err)
		}
	}
	if _, _, err := OpenFile(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// An empty index and one with no groups round-trip too.
func TestFileEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.idx")
	if err := New(8).WriteFile(path, nil); err != nil {
		t.Fatal(err)
	}
	ix, meta, err := OpenFile(path)
	if err != nil || ix.Len() != 0 || len(meta) != 0 {
		t.Fatalf("%v %v %q", err, ix, meta)
	}
	if err := ix.Upsert("a", 0, []float32{1, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	hits, _ := ix.Search([]float32{1, 0, 0, 0, 0, 0, 0, 0}, SearchOptions{K: 1, AllGroups: true})
	if len(hits) != 1 || hits[0].ID != "a" {
		t.Fatalf("hits %v", hits)
	}
}

// Another process replacing the file while this one has it mapped changes
// nothing for this one: the rename leaves the mapped file's pages alone.
func TestFileReplacedWhileMapped(t *testing.T) {
	d, ix, got, path := fileIndex(t, 1500)
	q := d.query(0.7)
	want, _ := ix.Search(q, SearchOptions{K: 10, AllGroups: true})
	other := New(ix.Dims())
	for i := range 50 {
		if err := other.Upsert(id(9000+i), 0, d.vecs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := other.WriteFile(path, []byte("other")); err != nil {
			t.Fatal(err)
		}
	}
	have, _ := got.Search(q, SearchOptions{K: 10, AllGroups: true})
	if !slices.Equal(have, want) {
		t.Fatalf("after the file was replaced: %v, want %v", have, want)
	}
	temps, _ := filepath.Glob(path + ".tmp-*")
	if len(temps) != 0 {
		t.Fatalf("temporary files left: %v", temps)
	}
}

// WriteFile writes a copy of the slabs taken under the read lock: Upsert
// and Delete do not wait for the disk, and what they change after the
// copy is not in the file, even for an index mapped from a file.
func TestFileWriteDoesNotHoldLock(t *testing.T) {
	d, ix, got, _ := fileIndex(t, 600)
	img, err := got.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	written := make(chan []byte)
	go func() {
		raw, _ := io.ReadAll(pr)
		written <- raw
	}()
	go func() { pw.CloseWithError(img.write(pw, []byte("before"))) }()
	// The writer is blocked on the pipe until the reader drains it; the
	// index must change meanwhile.
	changed := make(chan error)
	go func() {
		got.Delete(id(3))
		changed <- got.Upsert(id(17), 1, d.query(0.5))
	}()
	select {
	case err := <-changed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Upsert waited for an index file write")
	}
	path := filepath.Join(t.TempDir(), "snap.idx")
	if err := os.WriteFile(path, <-written, 0o600); err != nil {
		t.Fatal(err)
	}
	snap, meta, err := OpenFile(path)
	if err != nil || string(meta) != "before" {
		t.Fatalf("%q %v", meta, err)
	}
	if snap.Len() != ix.Len() {
		t.Fatalf("the file holds %d vectors, the index had %d when copied", snap.Len(), ix.Len())
	}
	for _, i := range []int{3, 17, 200} {
		v, ok := snap.Vector(id(i))
		w, _ := ix.Vector(id(i))
		if !ok || !slices.Equal(v, w) {
			t.Fatalf("%s: the file does not hold the vector from before the copy", id(i))
		}
	}
}
