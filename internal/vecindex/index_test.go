package vecindex

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSearchExactMatchesBruteForce(t *testing.T) {
	tests := []struct {
		n, dims int
	}{
		{n: 300, dims: 1},
		{n: 500, dims: 5},
		{n: 500, dims: 33},
		{n: 2000, dims: 384},
		{n: parallelMin + 5000, dims: 16}, // split across goroutines
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d/dims=%d", tt.n, tt.dims), func(t *testing.T) {
			d := newDataset(uint64(tt.n*tt.dims), tt.n, tt.dims, 20, 1, 1)
			ix := d.index(t)
			all := make(refSet)
			for i, v := range d.vecs {
				all.add(id(i), v)
			}
			for range 20 {
				q := d.query(1)
				for _, k := range []int{1, 10, 100} {
					got, err := ix.Search(q, SearchOptions{K: k, AllGroups: true, Exact: true})
					if err != nil {
						t.Fatal(err)
					}
					checkSame(t, got, all.bruteForce(q, k+20), k)
				}
			}
		})
	}
}

// checkSame fails unless got is the exact top len(want) by score, with
// each hit carrying its true score. ref is the reference ranking, longer
// than want, so that vectors whose scores tie within float32 rounding may
// trade places, even across the cut.
func checkSame(t *testing.T, got, ref []Hit, k int) {
	t.Helper()
	want := ref[:min(k, len(ref))]
	if len(got) != len(want) {
		t.Fatalf("got %d hits, want %d", len(got), len(want))
	}
	score := make(map[string]float32, len(ref))
	for _, h := range ref {
		score[h.ID] = h.Score
	}
	seen := make(map[string]bool)
	for i, h := range got {
		if math.Abs(float64(h.Score-want[i].Score)) > 1e-5 {
			t.Fatalf("hit %d: score %v, want %v\ngot  %v\nwant %v", i, h.Score, want[i].Score, got, want)
		}
		s, ok := score[h.ID]
		if !ok || math.Abs(float64(s-h.Score)) > 1e-5 || seen[h.ID] {
			t.Fatalf("hit %d: %s (%v) is not in the reference top-k\ngot  %v\nwant %v", i, h.ID, h.Score, got, want)
		}
		seen[h.ID] = true
	}
}

func TestSearchDefaultReturnsExactScores(t *testing.T) {
	d := newDataset(7, 3000, 384, 30, 1, 1)
	ix := d.index(t)
	for range 20 {
		q := d.query(0.5)
		hits, err := ix.Search(q, SearchOptions{K: 10, AllGroups: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 10 {
			t.Fatalf("got %d hits, want 10", len(hits))
		}
		qn := unit64(q)
		for i, h := range hits {
			var i0 int
			fmt.Sscanf(h.ID, "m%d", &i0)
			var dot float64
			for j, x := range unit64(d.vecs[i0]) {
				dot += x * qn[j]
			}
			if math.Abs(dot-float64(h.Score)) > 1e-5 {
				t.Fatalf("%s: score %v, exact %v", h.ID, h.Score, dot)
			}
			if i > 0 && h.Score > hits[i-1].Score {
				t.Fatalf("hits not best first: %v", hits)
			}
		}
	}
}

func TestSearchTiesBrokenByID(t *testing.T) {
	d := newDataset(3, 300, 64, 10, 1, 1)
	ix := d.index(t)
	same := d.query(1)
	// 200 copies of one vector, inserted in an order unrelated to their IDs.
	for _, i := range rand.New(rand.NewPCG(1, 1)).Perm(200) {
		if err := ix.Upsert(fmt.Sprintf("tie%03d", i), 0, same); err != nil {
			t.Fatal(err)
		}
	}
	for _, exact := range []bool{false, true} {
		hits, err := ix.Search(same, SearchOptions{K: 5, AllGroups: true, Exact: exact})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"tie000", "tie001", "tie002", "tie003", "tie004"}
		if got := ids(hits); !slices.Equal(got, want) {
			t.Fatalf("exact=%v: got %v, want %v", exact, got, want)
		}
	}
}

func TestUpsertReplaces(t *testing.T) {
	d := newDataset(4, 200, 32, 5, 1, 1)
	ix := d.index(t)
	v1, v2 := d.query(1), d.query(1)
	if err := ix.Upsert("x", 1, v1); err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert("x", 2, v2); err != nil {
		t.Fatal(err)
	}
	if got := ix.Len(); got != 201 {
		t.Fatalf("Len = %d, want 201", got)
	}
	for _, exact := range []bool{false, true} {
		hits, _ := ix.Search(v2, SearchOptions{K: 1, Groups: []uint32{2}, Exact: exact})
		if len(hits) != 1 || hits[0].ID != "x" || hits[0].Score < 0.9999 {
			t.Fatalf("exact=%v: search for the new vector: %v", exact, hits)
		}
		hits, _ = ix.Search(v1, SearchOptions{K: 1, Groups: []uint32{1}, Exact: exact})
		if len(hits) != 0 {
			t.Fatalf("exact=%v: old group still finds x: %v", exact, hits)
		}
	}
}

func TestDelete(t *testing.T) {
	d := newDataset(5, 400, 48, 10, 1, 4)
	ix := d.index(t)
	live := make(map[string]int)
	for i := range d.vecs {
		live[id(i)] = i
	}
	// Delete the first, the last, and a spread in between, so swap-remove
	// moves slots around.
	for _, i := range []int{0, 399, 17, 200, 201, 398, 1} {
		if !ix.Delete(id(i)) {
			t.Fatalf("Delete(%s) = false, want true", id(i))
		}
		if ix.Delete(id(i)) {
			t.Fatalf("second Delete(%s) = true, want false", id(i))
		}
		delete(live, id(i))
	}
	if ix.Delete("never-added") {
		t.Fatal("Delete of an absent id reported true")
	}
	if got := ix.Len(); got != len(live) {
		t.Fatalf("Len = %d, want %d", got, len(live))
	}
	// Every survivor is still found by its own vector, in its own group
	// only; every deleted one is gone.
	for i, v := range d.vecs {
		for _, exact := range []bool{false, true} {
			hits, err := ix.Search(v, SearchOptions{K: 1, Groups: []uint32{d.groups[i]}, Exact: exact})
			if err != nil {
				t.Fatal(err)
			}
			_, alive := live[id(i)]
			found := len(hits) == 1 && hits[0].ID == id(i)
			if alive != found {
				t.Fatalf("exact=%v: %s alive=%v but search gave %v", exact, id(i), alive, hits)
			}
			if found && hits[0].Score < 0.9999 {
				t.Fatalf("%s found with score %v, want 1", id(i), hits[0].Score)
			}
		}
	}
	for i := range d.vecs {
		ix.Delete(id(i))
	}
	if ix.Len() != 0 {
		t.Fatalf("Len = %d after deleting all", ix.Len())
	}
	if hits, _ := ix.Search(d.vecs[0], SearchOptions{K: 3, AllGroups: true}); len(hits) != 0 {
		t.Fatalf("emptied index returned %v", hits)
	}
}

// Groups stand for scopes, so a hit from a group the search did not name
// is a data leak. This checks it over many random group sets, both paths,
// and an index large enough to be scanned by several goroutines.
func TestSearchGroupFilter(t *testing.T) {
	const ngroups = 12
	d := newDataset(6, parallelMin+3000, 32, 40, 1, ngroups)
	// Groups are arbitrary uint32s, not necessarily small or dense.
	ext := func(g uint32) uint32 { return g*0x10001 + 3 }
	ix := New(d.dims)
	ix.exactBelow = 0
	groupOf := make(map[string]uint32)
	all := make(map[uint32]refSet)
	for i, v := range d.vecs {
		g := ext(d.groups[i])
		if err := ix.Upsert(id(i), g, v); err != nil {
			t.Fatal(err)
		}
		groupOf[id(i)] = g
		if all[g] == nil {
			all[g] = make(refSet)
		}
		all[g].add(id(i), v)
	}
	r := rand.New(rand.NewPCG(6, 6))
	for trial := range 40 {
		var groups []uint32
		allowed := make(refSet)
		for g := range uint32(ngroups) {
			if r.IntN(4) == 0 {
				groups = append(groups, ext(g))
				for k, v := range all[ext(g)] {
					allowed[k] = v
				}
			}
		}
		groups = append(groups, 999_999) // a group nothing is in
		q := d.query(1)
		for _, k := range []int{1, 10, 5000} {
			for _, exact := range []bool{false, true} {
				hits, err := ix.Search(q, SearchOptions{K: k, Groups: groups, Exact: exact})
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range hits {
					if !slices.Contains(groups, groupOf[h.ID]) {
						t.Fatalf("trial %d: hit %s from group %d, asked for %v", trial, h.ID, groupOf[h.ID], groups)
					}
				}
				if exact {
					checkSame(t, hits, allowed.bruteForce(q, k+20), k)
				} else if len(hits) != min(k, len(allowed)) {
					t.Fatalf("trial %d: %d hits, want %d", trial, len(hits), min(k, len(allowed)))
				}
			}
		}
	}

	q := d.query(1)
	for name, opts := range map[string]SearchOptions{
		"nil groups":     {K: 10},
		"empty groups":   {K: 10, Groups: []uint32{}},
		"unknown groups": {K: 10, Groups: []uint32{1, 2, 999_999}},
	} {
		for _, exact := range []bool{false, true} {
			opts.Exact = exact
			if hits, err := ix.Search(q, opts); err != nil || len(hits) != 0 {
				t.Fatalf("%s, exact=%v: got %v, %v; want no hits", name, exact, hits, err)
			}
		}
	}
	if hits, _ := ix.Search(q, SearchOptions{K: 10, AllGroups: true, Groups: []uint32{1}}); len(hits) != 10 {
		t.Fatalf("AllGroups: got %d hits, want 10", len(hits))
	}
}

func TestInvalidInput(t *testing.T) {
	ix := New(4)
	if err := ix.Upsert("a", 0, []float32{1, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		name string
		vec  []float32
		want error
	}{
		{"short", []float32{1, 2, 3}, ErrDims},
		{"long", []float32{1, 2, 3, 4, 5}, ErrDims},
		{"nil", nil, ErrDims},
		{"nan", []float32{1, nan, 0, 0}, ErrInvalidVector},
		{"inf", []float32{inf, 0, 0, 0}, ErrInvalidVector},
		{"zero", []float32{0, 0, 0, 0}, ErrInvalidVector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ix.Upsert("b", 0, tt.vec); !errors.Is(err, tt.want) {
				t.Errorf("Upsert: %v, want %v", err, tt.want)
			}
			if _, err := ix.Search(tt.vec, SearchOptions{K: 1, AllGroups: true}); !errors.Is(err, tt.want) {
				t.Errorf("Search: %v, want %v", err, tt.want)
			}
		})
	}
	if ix.Len() != 1 {
		t.Fatalf("Len = %d after rejected upserts, want 1", ix.Len())
	}
}

func TestSearchSmallAndEmpty(t *testing.T) {
	ix := New(8)
	q := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	if hits, err := ix.Search(q, SearchOptions{K: 5, AllGroups: true}); err != nil || len(hits) != 0 {
		t.Fatalf("empty index: %v, %v", hits, err)
	}
	d := newDataset(8, 100, 8, 5, 1, 1)
	for i, v := range d.vecs[:3] {
		if err := ix.Upsert(id(i), 0, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, exact := range []bool{false, true} {
		hits, err := ix.Search(q, SearchOptions{K: 1000, AllGroups: true, Exact: exact})
		if err != nil || len(hits) != 3 {
			t.Fatalf("K > N: %v, %v; want all 3", hits, err)
		}
		for _, k := range []int{0, -1} {
			if hits, err := ix.Search(q, SearchOptions{K: k, AllGroups: true, Exact: exact}); err != nil || len(hits) != 0 {
				t.Fatalf("K=%d: %v, %v; want none", k, hits, err)
			}
		}
	}
}

func TestNormalises(t *testing.T) {
	ix := New(3)
	if err := ix.Upsert("a", 0, []float32{3, 0, 4}); err != nil {
		t.Fatal(err)
	}
	hits, err := ix.Search([]float32{0, 0, 10}, SearchOptions{K: 1, AllGroups: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || math.Abs(float64(hits[0].Score)-0.8) > 1e-6 {
		t.Fatalf("got %v, want a at cosine 0.8", hits)
	}
}

func TestConcurrentUpsertSearch(t *testing.T) {
	d := newDataset(9, 3000, 32, 20, 1, 4)
	ix := d.index(t)
	queries := make([][]float32, 50)
	for i := range queries {
		queries[i] = d.query(1)
	}
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 0))
			for range 500 {
				i := r.IntN(len(d.vecs))
				if r.IntN(3) == 0 {
					ix.Delete(id(i))
				} else if err := ix.Upsert(id(i), d.groups[i], d.vecs[i]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 100 {
				g := uint32(r.IntN(4))
				hits, err := ix.Search(queries[i%len(queries)], SearchOptions{K: 10, Groups: []uint32{g}, Exact: i%2 == 0})
				if err != nil {
					t.Error(err)
					return
				}
				for _, h := range hits {
					var n int
					fmt.Sscanf(h.ID, "m%d", &n)
					if d.groups[n] != g {
						t.Errorf("hit %s of group %d in a search of group %d", h.ID, d.groups[n], g)
						return
					}
				}
				_ = ix.Len()
				_ = ix.MemoryBytes()
			}
		})
	}
	wg.Wait()
}

// The quantised pass must find the exact top 10 nearly always. The floor is
// set below what these data sets measure (1.00) to leave room for seeds,
// not for regressions: a drop under it means the codes or the candidate
// count broke.
func TestRecallAgainstExact(t *testing.T) {
	const floor = 0.98
	for _, skewed := range []bool{false, true} {
		t.Run(fmt.Sprintf("skewed=%v", skewed), func(t *testing.T) {
			d := newDataset(10, 20_000, 384, 200, 1, 1)
			if skewed {
				d.skew()
			}
			ix := d.index(t)
			const nq = 40
			var sum float64
			for range nq {
				q := d.query(0.5)
				exact, err := ix.Search(q, SearchOptions{K: 10, AllGroups: true, Exact: true})
				if err != nil {
					t.Fatal(err)
				}
				approx, err := ix.Search(q, SearchOptions{K: 10, AllGroups: true})
				if err != nil {
					t.Fatal(err)
				}
				sum += recall(approx, exact)
			}
			if got := sum / nq; got < floor {
				t.Fatalf("recall@10 = %.3f, want ≥ %.2f", got, floor)
			} else {
				t.Logf("recall@10 = %.3f", got)
			}
		})
	}
}

func TestMemoryBytes(t *testing.T) {
	d := newDataset(11, 1000, 384, 10, 1, 1)
	ix := d.index(t)
	// float32 row + codes + per-slot fields: at least 1536+384 bytes each.
	if got, least := ix.MemoryBytes(), 1000*(384*4+384); got < least {
		t.Fatalf("MemoryBytes = %d, want ≥ %d", got, least)
	}
}

// The early exit at the cuts is meant to skip work, never to change an
// answer: the candidates a scan keeps must be the same without it.
func TestPruningChangesNothing(t *testing.T) {
	for _, skewed := range []bool{false, true} {
		d := newDataset(13, 5000, 384, 50, 1, 3)
		if skewed {
			d.skew()
		}
		pruned := d.index(t)
		whole := d.index(t)
		whole.cuts = nil
		if len(pruned.cuts) == 0 {
			t.Fatal("no cuts at 384 dims")
		}
		for range 15 {
			q := d.query(0.5)
			for _, opts := range []SearchOptions{
				{K: 10, AllGroups: true},
				{K: 10, AllGroups: true, Exact: true},
				{K: 3, Groups: []uint32{1}, Oversample: 1},
				{K: 50, Groups: []uint32{0, 2}, Exact: true},
			} {
				a, err := pruned.Search(q, opts)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := whole.Search(q, opts)
				if !slices.Equal(a, b) {
					t.Fatalf("skewed=%v %+v:\npruned %v\nwhole  %v", skewed, opts, a, b)
				}
			}
		}
	}
}

func TestSmallIndexIsExact(t *testing.T) {
	d := newDataset(14, 3000, 384, 30, 1, 1)
	ix := New(d.dims)
	for i, v := range d.vecs {
		if err := ix.Upsert(id(i), 0, v); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		q := d.query(0.5)
		a, _ := ix.Search(q, SearchOptions{K: 10, AllGroups: true, Oversample: 1})
		b, _ := ix.Search(q, SearchOptions{K: 10, AllGroups: true, Exact: true})
		if !slices.Equal(a, b) {
			t.Fatalf("default %v\nexact   %v", a, b)
		}
	}
}

// UpsertMany gives what one Upsert per item gives, in parallel for a
// large batch; a later item for an id wins; a bad vector changes nothing.
func TestUpsertMany(t *testing.T) {
	d := newDataset(31, parallelEncodeMin+500, 384, 40, 1, 3)
	one, many := New(d.dims), New(d.dims)
	items := make([]Item, 0, len(d.vecs)+1)
	for i, v := range d.vecs {
		if err := one.Upsert(id(i), d.groups[i], v); err != nil {
			t.Fatal(err)
		}
		items = append(items, Item{ID: id(i), Group: d.groups[i], Vec: v})
	}
	// id(0) again, later in the batch: its second vector wins.
	items = append(items, Item{ID: id(0), Group: d.groups[1], Vec: d.vecs[1]})
	if err := one.Upsert(id(0), d.groups[1], d.vecs[1]); err != nil {
		t.Fatal(err)
	}
	if err := many.UpsertMany(items); err != nil {
		t.Fatal(err)
	}
	if one.Len() != many.Len() {
		t.Fatalf("Len %d vs %d", one.Len(), many.Len())
	}
	for i := range d.vecs {
		a, _ := one.Vector(id(i))
		b, _ := many.Vector(id(i))
		if !slices.Equal(a, b) {
			t.Fatalf("vector of %s differs", id(i))
		}
	}
	for range 10 {
		q := d.query(0.5)
		for _, opts := range []SearchOptions{{K: 10, AllGroups: true}, {K: 5, Groups: []uint32{2}}} {
			a, _ := one.Search(q, opts)
			b, _ := many.Search(q, opts)
			if !slices.Equal(a, b) {
				t.Fatalf("%+v: one by one %v, batch %v", opts, a, b)
			}
		}
	}
	before := many.Len()
	bad := []Item{{ID: "new-1", Vec: d.vecs[0]}, {ID: "zero", Vec: make([]float32, d.dims)}}
	if err := many.UpsertMany(bad); !errors.Is(err, ErrInvalidVector) || !strings.Contains(err.Error(), "zero") {
		t.Fatalf("batch with a zero vector: %v, want ErrInvalidVector naming it", err)
	}
	if _, ok := many.Vector("new-1"); ok || many.Len() != before {
		t.Fatal("a rejected batch changed the index")
	}
}
