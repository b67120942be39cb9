package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
)

// kills is how many times a crash test SIGKILLs its command.
func kills() int {
	if *long {
		return 50
	}
	return 3
}

// checkWhole asserts no row is half-written: every row has a vector of the
// store's dimensions, valid metadata, a revision, and smart rows their L0.
func checkWhole(t *testing.T, e *env) map[string]memory.Memory {
	t.Helper()
	out := e.ok("export", "--with-vectors")
	rows := map[string]memory.Memory{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m memory.Memory
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		if len(m.Vector) != 384 || m.Revision < 1 || m.Metadata == nil || m.Text == "" {
			t.Fatalf("half-written row %s: %d dims, revision %d, text %q", m.ID, len(m.Vector), m.Revision, m.Text)
		}
		rows[m.ID] = m
	}
	return rows
}

// SIGKILL `trove import` at random instants: the store opens and is sound,
// rows are whole, and rerunning the import completes it (idempotently).
func TestImportSurvivesSIGKILL(t *testing.T) {
	e := newEnv(t)
	n := 8000
	if *long {
		n = 50000
	}
	var b strings.Builder
	want := map[string]string{}
	for i := range n {
		id, text := fmt.Sprintf("imp%05d", i), fmt.Sprintf("imported memory %d about service %d and its config/svc-%d.yaml", i, i%97, i%13)
		want[id] = text
		fmt.Fprintf(&b, `{"id":%q,"text":%q,"category":"fact","importance":0.5}`+"\n", id, text)
	}
	file := filepath.Join(t.TempDir(), "big.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for k := range kills() {
		c := e.cmd(context.Background(), "import", file, "--batch-size", "500")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rand.IntN(250)) * time.Millisecond)
		_ = c.Process.Signal(syscall.SIGKILL)
		_ = c.Wait()
		e.checkStore()
		rows := checkWhole(t, e)
		for id, m := range rows {
			if m.Text != want[id] {
				t.Fatalf("kill %d: row %s has text %q, the file says %q", k, id, m.Text, want[id])
			}
		}
	}
	var rep struct{ Imported, Skipped, Failed int }
	if err := json.Unmarshal([]byte(e.ok("import", file, "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Imported+rep.Skipped != n || rep.Failed != 0 {
		t.Fatalf("rerun: %+v", rep)
	}
	if rows := checkWhole(t, e); len(rows) != n {
		t.Fatalf("%d rows after the rerun, want %d", len(rows), n)
	}
	e.checkStore()
}

// SIGKILL a `trove serve` that is storing memories for several clients:
// every store acknowledged (201) before the kill is present and whole, the
// store is sound, a writer waiting for the lock gets it, and a restarted
// server carries on.
func TestServeSurvivesSIGKILL(t *testing.T) {
	e := newEnv(t)
	acked := map[string]bool{}
	var mu sync.Mutex
	for k := range kills() {
		s := e.serveHTTP(t, nil)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					r, err := s.do("POST", "/v1/memories", "", fmt.Sprintf(`{"text":"kill %d client %d memory %d"}`, k, c, i))
					if err != nil {
						return // the server died: not acknowledged
					}
					if r.status == 201 {
						if id, _ := r.body["id"].(string); id != "" {
							mu.Lock()
							acked[id] = true
							mu.Unlock()
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
		close(stop)
		wg.Wait()

		start := time.Now()
		e.ok("store", fmt.Sprintf("written after kill %d", k))
		t.Logf("kill %d: %d acknowledged so far; the next CLI write took %s", k, len(acked), time.Since(start).Round(time.Millisecond))
		e.checkStore()
		rows := checkWhole(t, e)
		for id := range acked {
			if _, ok := rows[id]; !ok {
				t.Fatalf("kill %d: acknowledged memory %s is missing", k, id)
			}
		}
	}
	if len(acked) == 0 {
		t.Fatal("no store was acknowledged: the test proved nothing")
	}
}

// A writer waiting for the lock gets it as soon as the holder is SIGKILLed:
// the kernel releases the dead holder's lock. The figure (kill → the
// waiter's transaction starts) is logged, not asserted; -long repeats it 50
// times and logs p50/max.
func TestNextWriterAfterKill(t *testing.T) {
	e := newEnv(t)
	e.ok("store", "first row")
	var delays []time.Duration
	for range kills() {
		holder := exec.Command(os.Args[0], "-test.run=^$")
		holder.Env = e.environ("TROVE_TEST_HELPER=hold-lock")
		hout, _ := holder.StdoutPipe()
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		if line, _ := bufio.NewReader(hout).ReadString('\n'); strings.TrimSpace(line) != "holding" {
			t.Fatalf("holder: %q", line)
		}
		waiter := exec.Command(os.Args[0], "-test.run=^$")
		waiter.Env = e.environ("TROVE_TEST_HELPER=wait-lock")
		wout, _ := waiter.StdoutPipe()
		waiter.Stderr = os.Stderr
		if err := waiter.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(wout)
		if line, _ := r.ReadString('\n'); strings.TrimSpace(line) != "waiting" {
			t.Fatalf("waiter: %q", line)
		}
		time.Sleep(100 * time.Millisecond) // the waiter is blocked in the kernel now
		killed := time.Now()
		_ = holder.Process.Signal(syscall.SIGKILL)
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("waiter never got the lock: %v", err)
		}
		ns, _ := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		delays = append(delays, time.Unix(0, ns).Sub(killed))
		if err := waiter.Wait(); err != nil {
			t.Fatalf("waiter: %v", err)
		}
		_ = holder.Wait()
	}
	slices.Sort(delays)
	t.Logf("kill → next writer's transaction starts: p50 %s, max %s over %d kills", delays[len(delays)/2], delays[len(delays)-1], len(delays))
	e.checkStore()
}
