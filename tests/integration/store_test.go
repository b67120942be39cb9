package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Eight (or more) processes store, update and delete through the CLI at the
// same time. No command may fail; the final state must be exactly what the
// acknowledged commands imply; no id may appear twice.
func TestConcurrentCLIWriters(t *testing.T) {
	e := newEnv(t)
	workers, per := 8, 4
	if *long {
		workers, per = 16, 25
	}
	type want struct{ text string }
	var mu sync.Mutex
	expect := map[string]want{}
	var wg sync.WaitGroup
	errs := make(chan string, workers*per*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := func(args ...string) bool {
				r := e.run(args...)
				if r.code != 0 {
					errs <- fmt.Sprintf("worker %d: trove %s: exit %d: %s", w, strings.Join(args, " "), r.code, r.err)
					return false
				}
				return true
			}
			for i := range per {
				id := fmt.Sprintf("w%02d-%03d", w, i)
				if !run("store", fmt.Sprintf("worker %d note %d", w, i), "--id", id, "--category", "fact") {
					continue
				}
				final := fmt.Sprintf("worker %d note %d", w, i)
				switch i % 3 {
				case 1:
					final = fmt.Sprintf("worker %d note %d, revised", w, i)
					if !run("update", id, "--text", final, "--importance", "0.9") {
						continue
					}
				case 2:
					if !run("delete", id) {
						continue
					}
					final = ""
				}
				if final != "" {
					mu.Lock()
					expect[id] = want{final}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	got := e.exportAll()
	if len(got) != len(expect) {
		t.Fatalf("store has %d rows, the acknowledged commands leave %d", len(got), len(expect))
	}
	for id, w := range expect {
		if got[id].Text != w.text {
			t.Errorf("%s: text %q, want %q", id, got[id].Text, w.text)
		}
	}
	e.checkStore()
}

// A process SIGKILLed while it holds the write lock does not block the next
// writer, and what it had not committed is not in the store. While it holds
// the lock, a writer that gives up names it.
func TestKilledLockHolderDoesNotBlock(t *testing.T) {
	e := newEnv(t)
	e.ok("store", "before the holder", "--id", "before")
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = e.environ("TROVE_TEST_HELPER=hold-lock")
	out, _ := holder.StdoutPipe()
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "holding" {
		t.Fatalf("holder did not start: %q %v", line, err)
	}

	c := e.cmd(context.Background(), "store", "while held")
	c.Env = append(c.Env, "TROVE_LOCK_TIMEOUT=300ms")
	res, _ := c.CombinedOutput()
	msg := string(res)
	if c.ProcessState.ExitCode() == 0 || !strings.Contains(msg, fmt.Sprintf("held by pid %d", holder.Process.Pid)) ||
		!strings.Contains(msg, "hold-lock helper") {
		t.Fatalf("writer that timed out should name the holder, got exit %d: %s", c.ProcessState.ExitCode(), msg)
	}

	// A writer already waiting when the holder dies gets the lock.
	waiting := e.cmd(context.Background(), "store", "after the kill", "--id", "after")
	var wout strings.Builder
	waiting.Stdout, waiting.Stderr = &wout, &wout
	if err := waiting.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let it start waiting
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	if err := waiting.Wait(); err != nil {
		t.Fatalf("writer after the kill: %v: %s", err, wout.String())
	}
	rows := e.exportAll()
	if _, ok := rows["uncommitted"]; ok {
		t.Fatal("the killed holder's uncommitted row is in the store")
	}
	if _, ok := rows["after"]; !ok || len(rows) != 2 {
		t.Fatalf("rows after the kill: %v", rows)
	}
	e.checkStore()
}
