package retrieve

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
)

// deadlineReranker reports the deadline its call was given.
type deadlineReranker struct{ left time.Duration }

func (d *deadlineReranker) Rerank(ctx context.Context, _ string, docs []string) ([]float64, error) {
	if dl, ok := ctx.Deadline(); ok {
		d.left = time.Until(dl)
	}
	scores := make([]float64, len(docs))
	for i := range scores {
		scores[i] = 0.9
	}
	return scores, nil
}

// Request.RerankTimeout shortens the cross-encoder's time for one
// request (recall-context gives it half its budget), and never lengthens
// it past Options.RerankTimeout.
func TestRequestRerankTimeout(t *testing.T) {
	st := rerankStore(t)
	for _, tc := range []struct {
		name        string
		opt, req    time.Duration
		least, most time.Duration
	}{
		{"shorter", time.Hour, 2 * time.Second, time.Second, 2 * time.Second},
		{"unset", time.Hour, 0, 59 * time.Minute, time.Hour},
		{"longer than the option", 3 * time.Second, time.Hour, time.Second, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := &deadlineReranker{}
			r := New(st, embedding.NewHash(64), rr, Options{RerankTimeout: tc.opt})
			resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: "which editor", RerankTimeout: tc.req})
			if err != nil || len(resp.Results) == 0 {
				t.Fatalf("%+v %v", resp, err)
			}
			if rr.left < tc.least || rr.left > tc.most || strings.Join(resp.Warnings, "") != "" {
				t.Fatalf("the reranker had %s (want %s to %s); warnings %q", rr.left, tc.least, tc.most, resp.Warnings)
			}
		})
	}
}
