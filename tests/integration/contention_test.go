package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// Eight processes at a time run mixed operations (store, update with an
// expected revision, delete, search, list, and revision-checked increments
// of one shared counter) while upgrades run too. No operation fails for
// contention; the final state equals the acknowledged operations exactly;
// the counter equals the number of successful increments (no lost update).
func TestContention(t *testing.T) {
	e := newEnv(t)
	workers, ops := 8, 30
	if *long {
		ops = 500
	}
	e.ok("store", "counter", "--id", "counter", "--metadata", `{"n":0}`)

	stopUpgrade := make(chan struct{})
	upgradeDone := make(chan []string)
	go func() { // upgrades keep running alongside (plain enrichment)
		var errs []string
		for {
			select {
			case <-stopUpgrade:
				upgradeDone <- errs
				return
			default:
			}
			if r := e.run("upgrade", "--no-llm", "--scope", "global"); r.code != 0 {
				errs = append(errs, r.err)
			}
		}
	}()

	type row struct {
		text string
		rev  int64
	}
	var mu sync.Mutex
	final := map[string]string{} // acknowledged state of the workers' rows
	increments := 0
	var failures []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			mine := map[string]*row{}
			var ids []string
			fail := func(args []string, r result) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("worker %d: trove %s: exit %d: %s", w, strings.Join(args, " "), r.code, r.err))
				mu.Unlock()
			}
			run := func(args ...string) (result, bool) {
				r := e.run(args...)
				if r.code != 0 {
					fail(args, r)
				}
				return r, r.code == 0
			}
			for i := range ops {
				switch p := rng.IntN(10); {
				case p < 3 || len(ids) == 0: // store
					id, text := fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("worker %d fact %d", w, i)
					if _, ok := run("store", text, "--id", id, "--scope", fmt.Sprintf("agent:w%d", w)); ok {
						mine[id] = &row{text: text, rev: 1}
						ids = append(ids, id)
						mu.Lock()
						final[id] = text
						mu.Unlock()
					}
				case p < 5: // update with the revision we know
					id := ids[rng.IntN(len(ids))]
					text := fmt.Sprintf("worker %d fact revised at op %d", w, i)
					r, ok := run("update", id, "--text", text, "--expected-revision", fmt.Sprint(mine[id].rev), "--json")
					if ok {
						var m struct{ Revision int64 }
						_ = json.Unmarshal([]byte(r.out), &m)
						mine[id].text, mine[id].rev = text, m.Revision
						mu.Lock()
						final[id] = text
						mu.Unlock()
					}
				case p < 6: // delete
					k := rng.IntN(len(ids))
					id := ids[k]
					if _, ok := run("delete", id, "--expected-revision", fmt.Sprint(mine[id].rev)); ok {
						delete(mine, id)
						ids = append(ids[:k], ids[k+1:]...)
						mu.Lock()
						delete(final, id)
						mu.Unlock()
					}
				case p < 8: // increment the shared counter, checked by revision
					r, ok := run("get", "counter", "--json")
					if !ok {
						continue
					}
					var m struct {
						Revision int64
						Metadata struct{ N int }
					}
					_ = json.Unmarshal([]byte(r.out), &m)
					args := []string{"update", "counter", "--metadata", fmt.Sprintf(`{"n":%d}`, m.Metadata.N+1), "--expected-revision", fmt.Sprint(m.Revision)}
					r = e.run(args...)
					switch {
					case r.code == 0:
						mu.Lock()
						increments++
						mu.Unlock()
					case strings.Contains(r.err, "changed since it was read"):
						// Someone incremented first: the check did its job.
					default:
						fail(args, r)
					}
				case p < 9:
					run("search", fmt.Sprintf("worker %d fact", w), "--json")
				default:
					run("list", "--scope", fmt.Sprintf("agent:w%d", w), "--json")
				}
			}
		}()
	}
	wg.Wait()
	close(stopUpgrade)
	if errs := <-upgradeDone; len(errs) > 0 {
		t.Errorf("%d upgrade runs failed, first: %s", len(errs), errs[0])
	}
	for _, f := range failures {
		t.Error(f)
	}
	rows := e.exportAll()
	var n struct{ N int }
	b, _ := json.Marshal(rows["counter"].Metadata)
	_ = json.Unmarshal(b, &n)
	if n.N != increments || increments == 0 {
		t.Fatalf("counter is %d after %d successful increments", n.N, increments)
	}
	delete(rows, "counter")
	if len(rows) != len(final) {
		t.Fatalf("%d rows in the store, %d acknowledged", len(rows), len(final))
	}
	for id, text := range final {
		if rows[id].Text != text {
			t.Errorf("%s: %q, last acknowledged %q", id, rows[id].Text, text)
		}
	}
	e.checkStore()
	t.Logf("%d workers × %d operations, %d increments", workers, ops, increments)
}
