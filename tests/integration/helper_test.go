package integration

import (
	"context"
	"fmt"
	"os"
	"time"

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
	fmt.Fprintln(os.Stderr, "unknown helper", name)
	return 2
}
