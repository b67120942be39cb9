package embedding

import (
	"context"
	"math"
	"testing"
)

// FuzzHashEmbed feeds arbitrary text (it comes from users and imports) and
// checks the one promise every caller relies on: a finite unit vector.
func FuzzHashEmbed(f *testing.F) {
	for _, s := range []string{"", " ", "hello world", "ERR_CONN_RESET config.yaml", "我喜欢咖啡", "コーヒー", "\xff\xfe", "a.-_/b", "ＡＰＩ"} {
		f.Add(s)
	}
	h := NewHash(32)
	f.Fuzz(func(t *testing.T, text string) {
		vecs, err := h.Embed(context.Background(), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckVectors(vecs, 1, 32); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if n := norm(vecs[0]); math.Abs(n-1) > 1e-4 {
			t.Fatalf("%q: norm %v", text, n)
		}
	})
}
