package embedding

import (
	"context"
	"reflect"
	"sync"
	"testing"
)

// fakeCall is one call a fake embedder received.
type fakeCall struct {
	Query bool // EmbedQuery rather than Embed
	Texts []string
}

// fakeBase records calls and answers them with fn (default fakeVec).
type fakeBase struct {
	mu    sync.Mutex
	calls []fakeCall
	fn    func(texts []string, query bool) ([][]float32, error)
}

func (f *fakeBase) record(texts []string, query bool) ([][]float32, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Query: query, Texts: append([]string(nil), texts...)})
	fn := f.fn
	f.mu.Unlock()
	if fn != nil {
		return fn(texts, query)
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = fakeVec(t, query)
	}
	return out, nil
}

func (f *fakeBase) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// fakeVec tells texts, and queries from documents, apart.
func fakeVec(text string, query bool) []float32 {
	v := []float32{float32(len(text) + 1), 1, 0}
	if query {
		v[2] = 1
	}
	return v
}

// plainFake is an Embedder and nothing else.
type plainFake struct{ *fakeBase }

func (f plainFake) Embed(_ context.Context, texts []string) ([][]float32, error) {
	return f.record(texts, false)
}

// queryFake also has EmbedQuery and Info.
type queryFake struct {
	plainFake
	info func() Info
}

func (f queryFake) EmbedQuery(_ context.Context, texts []string) ([][]float32, error) {
	return f.record(texts, true)
}

func (f queryFake) Info() Info {
	if f.info != nil {
		return f.info()
	}
	return Info{Provider: "fake", Model: "fake-1", Dimensions: 3}
}

func newPlainFake() plainFake { return plainFake{&fakeBase{}} }
func newQueryFake() queryFake { return queryFake{plainFake: newPlainFake()} }

func TestEmbedQueryUsesEmbedQueryWhenThere(t *testing.T) {
	ctx := context.Background()
	q := newQueryFake()
	got, err := EmbedQuery(ctx, q, []string{"dark mode?"})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]float32{fakeVec("dark mode?", true)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("EmbedQuery = %v, want %v", got, want)
	}
	if calls := q.Calls(); len(calls) != 1 || !calls[0].Query {
		t.Fatalf("calls = %+v, want one EmbedQuery", calls)
	}

	p := newPlainFake()
	if _, err := EmbedQuery(ctx, p, []string{"dark mode?"}); err != nil {
		t.Fatal(err)
	}
	if calls := p.Calls(); len(calls) != 1 || calls[0].Query {
		t.Fatalf("calls = %+v, want one Embed on an embedder without EmbedQuery", calls)
	}
}
