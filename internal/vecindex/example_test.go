package vecindex_test

import (
	"fmt"

	"github.com/trove-memory/trove/internal/vecindex"
)

func Example() {
	ix := vecindex.New(3)
	// Group numbers stand for scopes; the caller keeps the mapping.
	const global, agentA = 0, 1
	_ = ix.Upsert("tea", global, []float32{0.9, 0.1, 0})
	_ = ix.Upsert("coffee", global, []float32{0.7, 0.7, 0})
	_ = ix.Upsert("secret", agentA, []float32{1, 0, 0})

	hits, err := ix.Search([]float32{1, 0, 0}, vecindex.SearchOptions{K: 2, Groups: []uint32{global}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range hits {
		fmt.Printf("%s %.3f\n", h.ID, h.Score)
	}
	// Output:
	// tea 0.994
	// coffee 0.707
}
