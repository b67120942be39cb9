package embedding

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestQueryCacheHitsAndMisses(t *testing.T) {
	ctx := context.Background()
	inner := newQueryFake()
	c := NewQueryCache(inner, 10)

	got, err := c.EmbedQuery(ctx, []string{"a", "bb", "a"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{fakeVec("a", true), fakeVec("bb", true), fakeVec("a", true)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("EmbedQuery = %v, want %v", got, want)
	}
	if calls := inner.Calls(); len(calls) != 1 || !calls[0].Query || !reflect.DeepEqual(calls[0].Texts, []string{"a", "bb"}) {
		t.Fatalf("inner calls = %+v, want one EmbedQuery of the distinct texts", calls)
	}
	if s := c.Stats(); s != (CacheStats{Hits: 0, Misses: 3, Len: 2, Size: 10}) {
		t.Fatalf("Stats = %+v after the first call", s)
	}

	got, err = c.EmbedQuery(ctx, []string{"bb", "ccc", "a"})
	if err != nil {
		t.Fatal(err)
	}
	want = [][]float32{fakeVec("bb", true), fakeVec("ccc", true), fakeVec("a", true)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("EmbedQuery = %v, want %v", got, want)
	}
	if calls := inner.Calls(); len(calls) != 2 || !reflect.DeepEqual(calls[1].Texts, []string{"ccc"}) {
		t.Fatalf("inner calls = %+v, want the second to ask only for the miss", calls)
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 4 || s.Len != 3 {
		t.Fatalf("Stats = %+v, want 2 hits, 4 misses, 3 held", s)
	}

	// All hits: no call at all.
	if _, err := c.EmbedQuery(ctx, []string{"a", "ccc"}); err != nil {
		t.Fatal(err)
	}
	if n := len(inner.Calls()); n != 2 {
		t.Fatalf("%d inner calls, want none for an all-hit call", n)
	}
}

func TestQueryCacheReturnsCopies(t *testing.T) {
	ctx := context.Background()
	c := NewQueryCache(newQueryFake(), 4)
	first, _ := c.EmbedQuery(ctx, []string{"x", "x"})
	first[0][0] = 99 // the caller's to modify
	if first[1][0] == 99 {
		t.Fatal("two results share one slice")
	}
	again, _ := c.EmbedQuery(ctx, []string{"x"})
	if again[0][0] == 99 {
		t.Fatal("modifying a returned vector changed the cache")
	}
	again[0][0] = 77
	third, _ := c.EmbedQuery(ctx, []string{"x"})
	if third[0][0] == 77 {
		t.Fatal("modifying a cache hit changed the cache")
	}
}

func TestQueryCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	inner := newQueryFake()
	c := NewQueryCache(inner, 2)
	for _, q := range []string{"a", "b", "a", "c"} { // "a" used again before "c" arrives
		if _, err := c.EmbedQuery(ctx, []string{q}); err != nil {
			t.Fatal(err)
		}
	}
	if s := c.Stats(); s.Len != 2 {
		t.Fatalf("Len = %d, want the size 2", s.Len)
	}
	before := len(inner.Calls())
	if _, err := c.EmbedQuery(ctx, []string{"a", "c"}); err != nil {
		t.Fatal(err)
	}
	if len(inner.Calls()) != before {
		t.Fatal(`"a" and "c" should still be cached`)
	}
	if _, err := c.EmbedQuery(ctx, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if len(inner.Calls()) != before+1 {
		t.Fatal(`"b" was least recently used and should have been evicted`)
	}
}

func TestQueryCacheKeyIncludesModel(t *testing.T) {
	ctx := context.Background()
	inner := newQueryFake()
	var mu sync.Mutex
	model := "m1"
	inner.info = func() Info {
		mu.Lock()
		defer mu.Unlock()
		return Info{Provider: "fake", Model: model}
	}
	c := NewQueryCache(inner, 8)
	c.EmbedQuery(ctx, []string{"q"})
	mu.Lock()
	model = "m2"
	mu.Unlock()
	c.EmbedQuery(ctx, []string{"q"})
	if n := len(inner.Calls()); n != 2 {
		t.Fatalf("%d inner calls, want 2: a vector from model m1 must not answer for m2", n)
	}
	if got := c.Info().Model; got != "m2" {
		t.Fatalf("Info().Model = %q, want the inner embedder's", got)
	}
}

func TestQueryCacheFallsBackToEmbed(t *testing.T) {
	inner := newPlainFake()
	c := NewQueryCache(inner, 0)
	got, err := c.EmbedQuery(context.Background(), []string{"q"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, [][]float32{fakeVec("q", false)}) {
		t.Fatalf("EmbedQuery = %v", got)
	}
	if calls := inner.Calls(); len(calls) != 1 || calls[0].Query {
		t.Fatalf("calls = %+v, want one Embed", calls)
	}
	if s := c.Stats(); s.Size != DefaultQueryCacheSize {
		t.Fatalf("Size = %d, want the default %d", s.Size, DefaultQueryCacheSize)
	}
	if c.Info() != (Info{}) {
		t.Fatalf("Info = %+v, want zero for an embedder with no Info", c.Info())
	}
}

func TestQueryCacheEmbedIsNotCached(t *testing.T) {
	ctx := context.Background()
	inner := newQueryFake()
	c := NewQueryCache(inner, 8)
	for range 2 {
		got, err := c.Embed(ctx, []string{"doc"})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, [][]float32{fakeVec("doc", false)}) {
			t.Fatalf("Embed = %v, want the document vector", got)
		}
	}
	if n := len(inner.Calls()); n != 2 {
		t.Fatalf("%d inner calls, want 2: documents are not cached", n)
	}
	if s := c.Stats(); s.Hits+s.Misses != 0 || s.Len != 0 {
		t.Fatalf("Stats = %+v, want Embed to leave the cache alone", s)
	}
}

func TestQueryCacheErrorsAreNotCached(t *testing.T) {
	ctx := context.Background()
	inner := newQueryFake()
	boom := errors.New("rate limited")
	inner.fn = func([]string, bool) ([][]float32, error) { return nil, boom }
	c := NewQueryCache(inner, 8)
	if _, err := c.EmbedQuery(ctx, []string{"q"}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the inner error", err)
	}
	inner.fn = nil
	if _, err := c.EmbedQuery(ctx, []string{"q"}); err != nil {
		t.Fatal(err)
	}
	if n := len(inner.Calls()); n != 2 {
		t.Fatalf("%d inner calls, want 2: a failure must not be remembered", n)
	}

	inner.fn = func(texts []string, _ bool) ([][]float32, error) { return [][]float32{{1}}, nil }
	if _, err := c.EmbedQuery(ctx, []string{"x", "y"}); err == nil {
		t.Fatal("a reply with too few vectors was accepted")
	}
	if s := c.Stats(); s.Len != 1 {
		t.Fatalf("Len = %d, want only the good vector cached", s.Len)
	}
}

func TestQueryCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	c := NewQueryCache(newQueryFake(), 16)
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				q := fmt.Sprintf("query %d", (i*7+w)%24) // more distinct queries than slots
				got, err := c.EmbedQuery(ctx, []string{q})
				if err != nil {
					errs <- err
					return
				}
				if !reflect.DeepEqual(got[0], fakeVec(q, true)) {
					errs <- fmt.Errorf("%q got %v", q, got[0])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := c.Stats()
	if s.Hits+s.Misses != workers*rounds || s.Len > 16 {
		t.Fatalf("Stats = %+v, want %d lookups and at most 16 held", s, workers*rounds)
	}
}

func ExampleQueryCache() {
	e := NewQueryCache(NewHash(64), 128)
	ctx := context.Background()
	for range 3 { // an agent recalling with the same question every turn
		if _, err := EmbedQuery(ctx, e, []string{"what editor does the user like?"}); err != nil {
			fmt.Println("error:", err)
			return
		}
	}
	fmt.Printf("%+v\n", e.Stats())
	// Output:
	// {Hits:2 Misses:1 Len:1 Size:128}
}
