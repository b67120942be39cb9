package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/lock"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The holder process for BenchmarkHandoff: it takes the write lock, commits
// a row with BEGIN IMMEDIATE exactly as the store does, notes the instant
// it releases the lock, and pauses before the next round so the waiter
// gets a turn. Started by re-executing the test binary.
func init() {
	if os.Getenv("TROVE_HANDOFF_HOLDER") == "" {
		return
	}
	os.Exit(runHolder(os.Getenv("TROVE_HANDOFF_HOLDER")))
}

func runHolder(path string) int {
	rounds, _ := strconv.Atoi(os.Getenv("TROVE_HANDOFF_ROUNDS"))
	l, err := lock.Open(path+".lock", "handoff holder")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	db, err := sql.Open("sqlite", dsn(path, Options{Synchronous: "normal"}, false))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	db.SetMaxOpenConns(1)
	out := bufio.NewWriter(os.Stdout)
	ctx := context.Background()
	for i := range rounds {
		g, err := l.Acquire(ctx, time.Minute)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tx, err := db.Begin()
		if err == nil {
			_, err = tx.Exec(`INSERT INTO memories(id, text, category, scope, importance, created_at, updated_at, revision, format, metadata, seq)
				VALUES (?, 'holder row', 'other', 'global', 0.5, 1, 1, 1, 0, '{}', 0)`, fmt.Sprintf("holder-%d", i))
		}
		if err == nil {
			time.Sleep(2 * time.Millisecond) // a commit's worth of work
			err = tx.Commit()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		released := time.Now().UnixNano()
		g.Release()
		fmt.Fprintln(out, released)
		time.Sleep(3 * time.Millisecond)
	}
	out.Flush()
	return 0
}

// BenchmarkHandoff measures how long after another process releases the
// write lock a waiting process's store.Write starts running: the
// cross-process hand-off. It reports p50/p99/max in microseconds.
func BenchmarkHandoff(b *testing.B) {
	const rounds = 400
	path := filepath.Join(b.TempDir(), "handoff.db")
	s, err := Open(context.Background(), path, Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), "TROVE_HANDOFF_HOLDER="+path, "TROVE_HANDOFF_ROUNDS="+strconv.Itoa(rounds))
	stdout, _ := holder.StdoutPipe()
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		b.Fatal(err)
	}
	var attempts []attempt
	done := make(chan []int64)
	go func() {
		var rel []int64
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			n, _ := strconv.ParseInt(sc.Text(), 10, 64)
			rel = append(rel, n)
		}
		done <- rel
	}()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; ; i++ {
		select {
		case rel := <-done:
			b.StopTimer()
			if err := holder.Wait(); err != nil {
				b.Fatalf("holder: %v", err)
			}
			report(b, rel, attempts)
			return
		default:
		}
		start := time.Now().UnixNano()
		var got int64
		err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			got = time.Now().UnixNano()
			m := memory.Memory{ID: fmt.Sprintf("waiter-%d", i), Text: "waiter row"}
			return tx.Insert(&m)
		})
		if err != nil {
			b.Fatal(err)
		}
		attempts = append(attempts, attempt{start, got})
		time.Sleep(time.Millisecond)
	}
}

type attempt struct{ start, got int64 }

// report pairs each acquisition with the holder release it waited for: a
// release after the waiter started waiting and before it got the lock.
func report(b *testing.B, releases []int64, attempts []attempt) {
	var hand []time.Duration
	for _, a := range attempts {
		i, _ := slices.BinarySearch(releases, a.got)
		if i == 0 {
			continue
		}
		if r := releases[i-1]; r > a.start {
			hand = append(hand, time.Duration(a.got-r))
		}
	}
	if len(hand) == 0 {
		b.Fatal("no hand-offs observed")
	}
	b.ReportMetric(float64(len(hand)), "handoffs")
	b.ReportMetric(float64(lock.Percentile(hand, 50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(lock.Percentile(hand, 99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(slices.Max(hand).Microseconds()), "max-µs")
}
