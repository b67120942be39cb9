package rerank

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestCheckResults(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		want    string // "" = valid
	}{
		{"valid, any order", []Result{{2, 0.1}, {0, 0.9}}, ""},
		{"none", nil, ""},
		{"negative scores are fine", []Result{{0, -3.2}}, ""},
		{"out of range", []Result{{3, 0.5}}, "rerank: bad reply: result 0 has index 3, outside 0-2"},
		{"duplicate", []Result{{1, 0.5}, {0, 0.4}, {1, 0.3}}, "rerank: bad reply: index 1 appears twice"},
		{"NaN", []Result{{0, math.NaN()}}, "rerank: bad reply: result 0 (index 0) has a non-finite score NaN"},
		{"infinite", []Result{{1, 0}, {2, math.Inf(1)}}, "rerank: bad reply: result 1 (index 2) has a non-finite score +Inf"},
		{"too many", []Result{{0, 1}, {1, 1}, {2, 1}, {0, 1}}, "rerank: bad reply: got 4 results for 3 documents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckResults(tt.results, 3)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckResults = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("CheckResults = %v\nwant %s", err, tt.want)
			}
			var re *ReplyError
			if err != nil && !errors.As(err, &re) {
				t.Fatalf("err %T, want *ReplyError", err)
			}
		})
	}
}

// replyTransport answers every request with one body, in memory.
type replyTransport struct{ body string }

func (rt replyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(rt.body)),
		Request:    req,
	}, nil
}

// FuzzReplies feeds arbitrary reply bodies to every provider's parser:
// Rerank must never panic, and whatever it accepts must be a valid
// ranking: at most topN results, indexes in range and distinct, finite
// scores, best first.
func FuzzReplies(f *testing.F) {
	f.Add(`{"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.2}]}`, 2)
	f.Add(`{"data":[{"index":0,"score":0.9},{"index":2,"score":0.2},{"index":1,"score":0.1}]}`, 0)
	f.Add(`[{"index":2,"score":0.5},{"index":2,"score":0.4}]`, 1)
	f.Add(`{"error":"overloaded"}`, 1)
	f.Add(`null`, 3)
	providers := []string{Jina, Voyage, Pinecone, TEI}
	f.Fuzz(func(t *testing.T, body string, topN int) {
		for _, p := range providers {
			rr, err := New(Config{
				Provider:   p,
				BaseURL:    "http://reranker.test",
				MaxRetries: -1,
				HTTPClient: &http.Client{Transport: replyTransport{body}},
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := rr.Rerank(context.Background(), "q", docs, topN)
			if err != nil {
				continue
			}
			want := topN
			if want <= 0 || want > len(docs) {
				want = len(docs)
			}
			if len(got) != want {
				t.Fatalf("%s: %d results for topN %d: %v", p, len(got), topN, got)
			}
			if err := CheckResults(got, len(docs)); err != nil {
				t.Fatalf("%s: accepted an invalid ranking %v: %v", p, got, err)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Score > got[i-1].Score {
					t.Fatalf("%s: not best first: %v", p, got)
				}
			}
		}
	})
}
