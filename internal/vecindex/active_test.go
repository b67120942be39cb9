package vecindex

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// A vector is found at ActiveAt only inside its span, on both paths and
// with groups, and K hits still come back when the nearest vectors are
// outside their span: the filter runs while scanning, not after.
func TestSearchActiveAt(t *testing.T) {
	const n, crowd = 3000, 200
	d := newDataset(7, n, 32, 30, 1, 3)
	r := rand.New(rand.NewPCG(7, 7))
	q := d.query(1)
	type row struct {
		group uint32
		vec   []float32
		from  int64
		until int64
	}
	rows := map[string]row{}
	var items []Item
	add := func(id string, g uint32, v []float32, from, until int64) {
		rows[id] = row{g, v, from, until}
		items = append(items, Item{ID: id, Group: g, Vec: v, From: from, Until: until})
	}
	for i, v := range d.vecs {
		from, until := int64(r.IntN(1000)), int64(0)
		switch r.IntN(5) {
		case 0:
			until = from + 1 + int64(r.IntN(1000)) // ended
		case 1:
			from = 2000 + int64(r.IntN(1000)) // not yet valid at most times
		}
		add(id(i), uint32(d.groups[i]), v, from, until)
	}
	// The query's nearest neighbours, all superseded before time 100.
	for i := range crowd {
		v := slices.Clone(q)
		v[i%len(v)] += 0.01
		add(id(n+i), uint32(i%3), v, 0, 50+int64(i%50))
	}
	for _, quantised := range []bool{false, true} {
		ix := New(d.dims)
		if quantised {
			ix.exactBelow, ix.prefilterMin = 0, 64
		}
		if err := ix.UpsertMany(items); err != nil {
			t.Fatal(err)
		}
		check := func(t *testing.T, at int64, groups []uint32, k int) {
			t.Helper()
			ref := make(refSet)
			for id, rw := range rows {
				if rw.from <= at && (rw.until == 0 || at < rw.until) && slices.Contains(groups, rw.group) {
					ref.add(id, rw.vec)
				}
			}
			opts := SearchOptions{K: k, Groups: groups, ActiveAt: at}
			hits, err := ix.Search(q, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hits {
				if _, ok := ref[h.ID]; !ok {
					rw := rows[h.ID]
					t.Fatalf("at %d, groups %v: hit %s (group %d, from %d until %d) is outside the filter", at, groups, h.ID, rw.group, rw.from, rw.until)
				}
			}
			if quantised {
				if len(hits) != min(k, len(ref)) {
					t.Fatalf("at %d, groups %v: %d hits, want %d", at, groups, len(hits), min(k, len(ref)))
				}
				return
			}
			checkSame(t, hits, ref.bruteForce(q, k+20), k)
		}
		for _, at := range []int64{1, 50, 99, 500, 1500, 2500, math.MaxInt64, -5} {
			for _, groups := range [][]uint32{{0, 1, 2}, {1}} {
				for _, k := range []int{1, 10, 100} {
					check(t, at, groups, k)
				}
			}
		}
		// At time 500 the whole crowd is superseded: the ten hits are
		// still ten, and none of them is from the crowd.
		hits, err := ix.Search(q, SearchOptions{K: 10, AllGroups: true, ActiveAt: 500})
		if err != nil || len(hits) != 10 {
			t.Fatalf("quantised=%v: %d hits, %v", quantised, len(hits), err)
		}
		for _, h := range hits {
			if h.ID >= id(n) {
				t.Fatalf("quantised=%v: superseded %s found at 500", quantised, h.ID)
			}
		}
		// Without ActiveAt the crowd is found: it is what the filter hid.
		hits, _ = ix.Search(q, SearchOptions{K: 10, AllGroups: true})
		for _, h := range hits {
			if h.ID < id(n) {
				t.Fatalf("quantised=%v: without ActiveAt, %s beat the query's near copies", quantised, h.ID)
			}
		}

		// Spans move with their slots when rows are deleted, and an
		// upsert replaces a span.
		for i := 0; i < n; i += 3 {
			ix.Delete(id(i))
			delete(rows, id(i))
		}
		for i := range crowd {
			if i%2 == 0 {
				v := rows[id(n+i)].vec
				if err := ix.Upsert(id(n+i), uint32(i%3), v); err != nil { // no span: always found
					t.Fatal(err)
				}
				rows[id(n+i)] = row{uint32(i % 3), v, 0, 0}
			}
		}
		for _, at := range []int64{60, 500, 2500} {
			check(t, at, []uint32{0, 1, 2}, 10)
			check(t, at, []uint32{2}, 100)
		}
		// Restore the fixtures for the other path.
		for i := 0; i < n; i += 3 {
			rows[id(i)] = row{uint32(d.groups[i]), d.vecs[i], items[i].From, items[i].Until}
		}
		for i := range crowd {
			rows[id(n+i)] = row{uint32(i % 3), items[n+i].Vec, items[n+i].From, items[n+i].Until}
		}
	}
}

func TestSpanActive(t *testing.T) {
	for _, c := range []struct {
		from, until, at int64
		want            int32
	}{
		{10, 0, 10, 1}, // from is inclusive
		{10, 0, 9, 0},
		{10, 20, 19, 1},
		{10, 20, 20, 0}, // until is exclusive
		{10, 0, math.MaxInt64, 1},
		{math.MinInt64, math.MaxInt64, math.MinInt64 + 1, 1},
		{math.MinInt64, math.MaxInt64, math.MaxInt64, 1}, // clamped: ActiveAt stays below every end
		{-10, -5, -6, 1},
		{-10, -5, -5, 0},
	} {
		sp := spanOf(Item{From: c.from, Until: c.until})
		if got := sp.active(clampAt(c.at)); got != c.want {
			t.Errorf("span from %d until %d at %d: %d, want %d", c.from, c.until, c.at, got, c.want)
		}
	}
}
