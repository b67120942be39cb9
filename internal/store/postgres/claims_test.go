package postgres

import (
	"context"
	"testing"

	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

// Two runners' row claims on one database, as two hosts: a row one holds
// is refused to the other until released; claims of another job are
// apart; a runner's claims end with its session (no lease to run out), and
// Close gives back every claim at once.
func TestRowClaims(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ca, err := a.ClaimRows(ctx, "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := b.ClaimRows(ctx, "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	try := func(c interface {
		Try(context.Context, string) (bool, error)
	}, id string, want bool) {
		t.Helper()
		if got, err := c.Try(ctx, id); err != nil || got != want {
			t.Fatalf("Try(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	try(ca, "r1", true)
	try(ca, "r1", true) // its own claim again: still its
	try(cb, "r1", false)
	try(cb, "r2", true)
	try(ca, "r2", false)
	other, err := b.ClaimRows(ctx, "reembed")
	if err != nil {
		t.Fatal(err)
	}
	try(other, "r1", true) // another job's claims are apart
	other.Close()

	if err := ca.Release(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	try(cb, "r1", false) // claimed twice by a: one release leaves it held
	if err := ca.Release(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	try(cb, "r1", true)

	// b dies: its claims (r1, r2) are free at once.
	var pid uint32
	if err := cb.(*rowClaims).conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	killSession(t, pid)
	try(ca, "r1", true)
	try(ca, "r2", true)
	if _, err := cb.Try(ctx, "r3"); err == nil {
		t.Fatal("Try on a dead session succeeded")
	}
	// Close gives every claim back.
	c2, err := b.ClaimRows(ctx, "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	try(c2, "r1", false)
	if err := ca.Close(); err != nil {
		t.Fatal(err)
	}
	try(c2, "r1", true)
	try(c2, "r2", true)
	if err := ca.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	if _, err := ca.Try(ctx, "r4"); err == nil {
		t.Fatal("Try after Close succeeded")
	}
}
