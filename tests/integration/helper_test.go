package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// runHelper is the body of helper processes: the test binary re-executed
// with TROVE_TEST_HELPER set. They use the same store code as trove.
func runHelper(name string) int {
	db := os.Getenv("TROVE_DB")
	switch name {
	case "hold-lock":
		// Take the write lock, write a row inside the transaction, say so,
		// and never commit: the test SIGKILLs us while we hold it.
		s, err := sqlite.Open(context.Background(), db, sqlite.Options{Command: "hold-lock helper"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_ = s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
			m := memory.Memory{ID: "uncommitted", Text: "written by a process that dies holding the lock"}
			if err := tx.Insert(&m); err != nil {
				return err
			}
			fmt.Println("holding")
			time.Sleep(time.Hour)
			return nil
		})
		return 0
	}
	if name == "live-writer" {
		return liveWriter(db)
	}
	if name == "wait-lock" {
		// Wait for the write lock (held by another process), and print the
		// instant our transaction starts.
		s, err := sqlite.Open(context.Background(), db, sqlite.Options{Command: "wait-lock helper"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer s.Close()
		fmt.Println("waiting")
		err = s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
			fmt.Println(time.Now().UnixNano())
			m := memory.Memory{Text: "written by the next writer after a kill"}
			return tx.Insert(&m)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper", name)
	return 2
}

// liveWriter is a long-lived writing process like an agent's server: it
// embeds (before the lock), then stores or updates, every interval, until
// SIGTERM; then it prints one line per write: its latency in µs and its
// end (unix µs), or "error ...".
func liveWriter(db string) int {
	interval, _ := time.ParseDuration(os.Getenv("TROVE_LIVE_INTERVAL"))
	s, err := sqlite.Open(context.Background(), db, sqlite.Options{Command: "live writer", Space: store.Space{Model: embedding.HashModel, Dimensions: 384}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	emb := embedding.NewHash(384)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	ctx := context.Background()
	var lines []string
	var mine []string
	for i := 0; ; i++ {
		select {
		case <-term:
			fmt.Println(strings.Join(lines, "\n"))
			// Where the time went: waiting for the write lock, and holding
			// it (the transaction and its commit's fsync).
			st := s.Lock().Stats()
			fmt.Println("waits " + joinMicros(st.Waits))
			fmt.Println("holds " + joinMicros(st.Holds))
			return 0
		default:
		}
		text := fmt.Sprintf("live memory %d from pid %d", i, os.Getpid())
		vecs, err := emb.Embed(ctx, []string{text})
		if err != nil {
			lines = append(lines, "error "+err.Error())
			continue
		}
		start := time.Now()
		if i%2 == 0 || len(mine) == 0 {
			m := memory.Memory{Text: text, Category: memory.CategoryFact, Scope: "agent:live", Vector: vecs[0]}
			err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&m) })
			if errors.Is(err, memory.ErrDimensions) {
				// The store moved to another model (trove reembed) after
				// the embedding: stored without a vector, as the service
				// does (pending, embedded by reembed --pending).
				m.Vector = nil
				err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&m) })
			}
			if err == nil {
				mine = append(mine, m.ID)
			}
		} else {
			var res []store.ItemResult
			res, err = store.PatchMany(ctx, s, memory.Owner(), []store.Patch{{ID: mine[i%len(mine)], Apply: func(m *memory.Memory) error {
				m.Importance = float64(i%10) / 10
				return nil
			}}})
			if err == nil {
				err = res[0].Err
			}
		}
		if err != nil {
			lines = append(lines, "error "+strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			lines = append(lines, fmt.Sprintf("%d %d", time.Since(start).Microseconds(), time.Now().UnixMicro()))
		}
		time.Sleep(interval)
	}
}

func joinMicros(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = strconv.FormatInt(d.Microseconds(), 10)
	}
	return strings.Join(parts, " ")
}
