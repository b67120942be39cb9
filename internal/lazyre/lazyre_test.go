package lazyre

import (
	"sync"
	"testing"
)

func TestCompiledOnFirstUse(t *testing.T) {
	bad := New(`(`) // would panic at start-up as regexp.MustCompile
	defer func() {
		if recover() == nil {
			t.Fatal("a bad pattern did not panic on first use")
		}
	}()
	re := New(`b(o+)k`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if m := re.FindStringSubmatch("a book"); len(m) != 2 || m[1] != "oo" {
				t.Errorf("FindStringSubmatch = %q", m)
			}
		})
	}
	wg.Wait()
	if got := re.ReplaceAllString("book bok", "x"); got != "x x" {
		t.Fatalf("ReplaceAllString = %q", got)
	}
	bad.MatchString("")
}
