package integration

import (
	"testing"
	"time"
)

// A recall served by `trove serve` is recorded on the memory (access_count,
// last_accessed_at) in the background, without changing its revision;
// another process sees the counts, and what is pending when the server
// stops is written on the way out.
func TestServeRecordsRecalls(t *testing.T) {
	e := newEnv(t)
	e.ok("store", "the billing service retries failed charges nightly", "--id", "billing-retries")
	e.ok("store", "lunch is at noon on Fridays", "--id", "lunch")
	before := e.exportAll()["billing-retries"]

	var s *served
	recall := func() {
		t.Helper()
		r, err := s.do("POST", "/v1/search", "", `{"query":"how does billing retry failed charges","limit":1}`)
		if err != nil || r.status != 200 {
			t.Fatalf("search: %v %d %s", err, r.status, r.raw)
		}
	}
	count := func() (float64, float64, int64) {
		m := e.exportAll()["billing-retries"]
		n, _ := m.Metadata["access_count"].(float64)
		at, _ := m.Metadata["last_accessed_at"].(float64)
		return n, at, m.Revision
	}
	s = e.serveHTTP(t, []string{"TROVE_RECALL_ACCESS_FLUSH=100ms"})
	recall()
	recall()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, at, rev := count()
		if n == 2 {
			if at < float64(before.CreatedAt) || rev != before.Revision {
				t.Fatalf("after 2 recalls: last_accessed_at %v (created %d), revision %d (was %d)", at, before.CreatedAt, rev, before.Revision)
			}
			break
		}
		if n > 2 || time.Now().After(deadline) {
			t.Fatalf("access_count %v, want 2 within 15 s\n%s", n, s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, _ := e.exportAll()["lunch"].Metadata["access_count"].(float64); n != 0 {
		t.Fatalf("a memory recall did not return has access_count %v", n)
	}
	s.stop()
	// A server that would wait an hour: the count is written on exit.
	s = e.serveHTTP(t, []string{"TROVE_RECALL_ACCESS_FLUSH=1h"})
	recall()
	s.stop()
	if n, _, rev := count(); n != 3 || rev != before.Revision {
		t.Fatalf("after stop: access_count %v, revision %d; want 3, %d", n, rev, before.Revision)
	}
}
