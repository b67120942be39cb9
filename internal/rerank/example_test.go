package rerank_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/trove-memory/trove/internal/rerank"
)

func ExampleNew() {
	// A stand-in for a text-embeddings-inference server, which scores
	// every text and leaves the ordering to the client.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"index":0,"score":0.02},{"index":2,"score":0.97},{"index":1,"score":0.31}]`)
	}))
	defer srv.Close()

	rr, err := rerank.New(rerank.Config{Provider: rerank.TEI, BaseURL: srv.URL})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	docs := []string{"likes tea", "uses emacs sometimes", "uses vim for everything"}
	results, err := rr.Rerank(context.Background(), "which editor does the user prefer?", docs, 2)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, r := range results {
		fmt.Printf("%.2f %s\n", r.Score, docs[r.Index])
	}
	// Output:
	// 0.97 uses vim for everything
	// 0.31 uses emacs sometimes
}
