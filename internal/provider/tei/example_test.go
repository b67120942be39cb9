package tei_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/provider/tei"
)

func ExampleNewReranker() {
	// A stand-in for a text-embeddings-inference server, which scores
	// every text in any order.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"index":2,"score":0.97},{"index":0,"score":0.02},{"index":1,"score":0.31}]`)
	}))
	defer srv.Close()

	rr, err := tei.NewReranker(openaicompat.RerankConfig{BaseURL: srv.URL})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	docs := []string{"likes tea", "uses emacs sometimes", "uses vim for everything"}
	scores, err := rr.Rerank(context.Background(), "which editor does the user prefer?", docs)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for i, s := range scores {
		fmt.Printf("%.2f %s\n", s, docs[i])
	}
	// Output:
	// 0.02 likes tea
	// 0.31 uses emacs sometimes
	// 0.97 uses vim for everything
}
