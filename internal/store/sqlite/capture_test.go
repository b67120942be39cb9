package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The child process of TestCaptureKilledMidWrite: it opens the store named
// by TROVE_CAPTURE_CHILD, appends messages inside a Write, says
// "appended" and never returns from the Write function, so it holds the
// write lock and an open transaction when it is killed. Started by
// re-executing the test binary.
func init() {
	if os.Getenv("TROVE_CAPTURE_CHILD") == "" {
		return
	}
	os.Exit(appendAndHang(os.Getenv("TROVE_CAPTURE_CHILD")))
}

func appendAndHang(path string) int {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{Version: "test", Command: "capture child"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		if _, err := tx.(store.BufferTx).AppendMessages([]store.BufferedMessage{
			{Session: "s", Role: "user", Content: "uncommitted 1"},
			{Session: "s", Role: "assistant", Content: "uncommitted 2"},
		}); err != nil {
			return err
		}
		fmt.Println("appended")
		time.Sleep(time.Hour) // until SIGKILL, between the append and the commit
		return nil
	})
	fmt.Fprintln(os.Stderr, "the child's write returned:", err)
	return 1
}

// A process killed between appending messages and committing leaves a
// store that passes an integrity check, whose lock is free at once, and in
// which every message committed before is still pending and nothing of
// the killed write is.
func TestCaptureKilledMidWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trove.db")
	// A held lock fails the test in seconds rather than the default 30.
	s, err := Open(ctx, path, Options{Version: "test", LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendAll := func(s *Store, contents ...string) {
		t.Helper()
		var msgs []store.BufferedMessage
		for _, c := range contents {
			msgs = append(msgs, store.BufferedMessage{Session: "s", Role: "user", Content: c})
		}
		if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			_, err := tx.(store.BufferTx).AppendMessages(msgs)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(s *Store, contents ...string) {
		t.Helper()
		ms, err := s.PendingMessages(ctx, memory.Owner(), "s")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Content)
		}
		if !slices.Equal(got, contents) {
			t.Fatalf("pending %q, want %q", got, contents)
		}
	}
	appendAll(s, "committed 1", "committed 2")

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "TROVE_CAPTURE_CHILD="+path)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "appended\n" {
		t.Fatalf("child did not append: %q %v", line, err)
	}
	if h, ok := s.Lock().Holder(); !ok || h.PID != child.Process.Pid {
		t.Fatalf("the child does not hold the write lock: %+v %v", h, ok)
	}
	want(s, "committed 1", "committed 2") // readers are not blocked, and see nothing uncommitted
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	appendAll(s, "after the kill")
	want(s, "committed 1", "committed 2", "after the kill")
	if bad, err := s.IntegrityCheck(ctx); err != nil || bad != nil {
		t.Fatalf("integrity: %v %v", bad, err)
	}
	again, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer again.Close()
	want(again, "committed 1", "committed 2", "after the kill")
}

func TestPruneCapture(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_000_000)
	s, err := Open(ctx, filepath.Join(t.TempDir(), "trove.db"), Options{Version: "test", Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(fn func(store.BufferTx) error) {
		t.Helper()
		if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return fn(tx.(store.BufferTx)) }); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []store.BufferedMessage
	for i := range 7 {
		msgs = append(msgs, store.BufferedMessage{Session: "old", Role: "user", Content: fmt.Sprint("old ", i)})
	}
	msgs = append(msgs, store.BufferedMessage{Session: "open", Role: "user", Content: "still pending"})
	write(func(tx store.BufferTx) error {
		if _, err := tx.AppendMessages(msgs); err != nil {
			return err
		}
		for _, j := range []store.CaptureJob{
			{ID: "done", Session: "old", State: store.JobDone},
			{ID: "failed", Session: "old", State: store.JobFailed},
			{ID: "pending", Session: "open", State: store.JobPending},
			{ID: "running", Session: "open", State: store.JobRunning},
		} {
			if err := tx.PutCaptureJob(j); err != nil {
				return err
			}
		}
		return nil
	})
	write(func(tx store.BufferTx) error { _, err := tx.ConsumeMessages("old", 1<<62, "cap"); return err })
	now = now.Add(time.Hour) // consumed and finished an hour ago from here
	write(func(tx store.BufferTx) error {
		// Consumed now: too recent to prune.
		if _, err := tx.AppendMessages([]store.BufferedMessage{{Session: "recent", Role: "user", Content: "just captured"}}); err != nil {
			return err
		}
		_, err := tx.ConsumeMessages("recent", 1<<62, "cap2")
		return err
	})
	n, err := s.PruneCapture(ctx, now.Add(-time.Minute).UnixMilli(), 3)
	if err != nil || n != 9 { // 7 messages in batches of 3, and 2 jobs
		t.Fatalf("pruned %d %v, want 9", n, err)
	}
	var left []string
	rows, err := s.rdb.QueryContext(ctx, "SELECT content FROM capture_buffer UNION ALL SELECT id FROM capture_jobs ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c)
		left = append(left, c)
	}
	rows.Close()
	if want := []string{"just captured", "pending", "running", "still pending"}; !slices.Equal(left, want) {
		t.Fatalf("left %q, want %q", left, want)
	}
	if n, err := s.PruneCapture(ctx, now.Add(-time.Minute).UnixMilli(), 0); err != nil || n != 0 {
		t.Fatalf("second prune: %d %v", n, err)
	}
}

// Ids only grow, even once pruning has emptied the buffer: a consumer's
// "every message up to id N" never takes in a message appended later.
func TestCaptureIDsNeverReused(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	var first, second []store.BufferedMessage
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		var err error
		if first, err = tx.(store.BufferTx).AppendMessages([]store.BufferedMessage{{Session: "s", Role: "user", Content: "a"}}); err != nil {
			return err
		}
		_, err = tx.(store.BufferTx).ConsumeMessages("s", first[0].ID, "c")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneCapture(ctx, 1<<62, 0); err != nil || n != 1 {
		t.Fatalf("prune %d %v", n, err)
	}
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		var err error
		second, err = tx.(store.BufferTx).AppendMessages([]store.BufferedMessage{{Session: "s", Role: "user", Content: "b"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if second[0].ID <= first[0].ID {
		t.Fatalf("id %d reused after %d was pruned", second[0].ID, first[0].ID)
	}
}

// Two stores on one file (two processes, as far as the kernel's locks go)
// elect one runner per job; a closed store or one this binary may not
// write runs none.
func TestTryJob(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trove.db")
	a, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, path, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	release, ok, err := a.TryJob("capture")
	if err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	if fi, err := os.Stat(path + ".jobs.lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("job lock file: %v", err)
	}
	if _, ok, err := b.TryJob("capture"); ok || err != nil {
		t.Fatalf("b got the job a runs: %v %v", ok, err)
	}
	release()
	if r, ok, err := b.TryJob("capture"); !ok || err != nil {
		t.Fatalf("b after a released: %v %v", ok, err)
	} else {
		r()
	}
	a.Close()
	if _, _, err := a.TryJob("capture"); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed store: %v", err)
	}
	b.newer = fmt.Errorf("%w: test", memory.ErrStoreNewer)
	defer func() { b.newer = nil }()
	if _, _, err := b.TryJob("capture"); !errors.Is(err, memory.ErrStoreNewer) {
		t.Fatalf("read-only store: %v", err)
	}
}

// Migration scripts are numbered 0001, 0002, ... without a gap: the schema
// version is their count, so a missing number would make every later
// script run under the wrong version.
func TestMigrationsNumberedWithoutGaps(t *testing.T) {
	entries, err := migrationFS.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if want := fmt.Sprintf("%04d_", i+1); !strings.HasPrefix(e.Name(), want) {
			t.Fatalf("migration %d is %s, want a name starting %s", i+1, e.Name(), want)
		}
	}
	if len(entries) != SchemaVersion() {
		t.Fatalf("%d scripts, schema version %d", len(entries), SchemaVersion())
	}
}

// BenchmarkAppendMessages is the cost of buffering one captured turn:
// one Write appending four messages (two user, two assistant) of
// realistic length, one caller at a time.
func BenchmarkAppendMessages(b *testing.B) {
	for _, mode := range []string{"full", "normal"} {
		b.Run("sync="+mode, func(b *testing.B) {
			s := benchStore(b, mode)
			ctx := context.Background()
			turn := []store.BufferedMessage{
				{Role: "user", Content: strings.Repeat("I moved to Lisbon last spring and I work remotely now. ", 4)},
				{Role: "assistant", Content: strings.Repeat("Noted: you live in Lisbon and work remotely. ", 8)},
				{Role: "user", Content: "Also, I prefer tea to coffee, and never schedule meetings before ten."},
				{Role: "assistant", Content: strings.Repeat("Understood, tea and no early meetings. ", 6)},
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				msgs := slices.Clone(turn)
				for j := range msgs {
					msgs[j].Session = fmt.Sprintf("session-%d", i%50)
					msgs[j].Scope = memory.AgentScope("main")
					msgs[j].Agent = "main"
				}
				err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
					_, err := tx.(store.BufferTx).AppendMessages(msgs)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
