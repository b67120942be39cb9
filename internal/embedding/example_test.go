package embedding_test

import (
	"context"
	"fmt"

	"github.com/trove-memory/trove/internal/embedding"
)

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func ExampleHash() {
	e := embedding.NewHash(0)
	vecs, err := e.Embed(context.Background(), []string{
		"the user prefers dark mode",
		"dark mode is preferred",
		"deploy on fridays",
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("%+v\n", e.Info())
	// Vectors are unit length, so the dot product is the cosine.
	fmt.Println("similar beats unrelated:", dot(vecs[0], vecs[1]) > dot(vecs[0], vecs[2]))
	// Output:
	// {Provider:hash Model:trove-hash-v1 Dimensions:384}
	// similar beats unrelated: true
}

func ExampleCheckVectors() {
	reply := [][]float32{{0.6, 0.8}, {0.6, 0.8, 0}}
	fmt.Println(embedding.CheckVectors(reply, 2, 2))
	// Output:
	// embedding 1 has 3 dimensions, expected 2
}
