package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
	"github.com/trove-memory/trove/internal/store/storetest"
)

// openURL opens the store at url, closed when the test ends.
func openURL(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, Options{Version: "test", Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTemp opens a store on a fresh database.
func openTemp(t testing.TB) *Store {
	t.Helper()
	return openURL(t, pgtest.URL(t))
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// TestShared races two handles on one database, as two hosts would.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.URL(t)
		return openURL(t, url), openURL(t, url)
	})
}

func TestOpenValidatesURL(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"mysql://x/y", "postgres://host:5432/", "://", "postgres://h/a/b"} {
		_, err := Open(ctx, u, Options{})
		if !errors.Is(err, memory.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", u, err)
		}
	}
}

func TestOpenUnreachableNamesServerNotPassword(t *testing.T) {
	// A port nobody listens on (port 1 on loopback refuses at once).
	_, err := Open(context.Background(), "postgres://trove:s3cretpw@127.0.0.1:1/trove?sslmode=disable", Options{})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "s3cretpw") {
		t.Fatalf("error shows the password: %s", msg)
	}
	for _, want := range []string{"127.0.0.1:1", "/trove", "trove", "cannot reach"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
}

func TestMigrationsConcurrentOpen(t *testing.T) {
	url := pgtest.URL(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(context.Background(), url, Options{Version: "test"})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s := openURL(t, url)
	v, err := s.SchemaLevel(context.Background())
	if err != nil || v != SchemaVersion() {
		t.Fatalf("schema level %d, %v; want %d", v, err, SchemaVersion())
	}
}
