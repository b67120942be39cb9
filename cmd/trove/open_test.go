package main

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/store/postgres"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

func TestStoreExistsFile(t *testing.T) {
	var ns *service.NoStoreError
	if err := storeExists(context.Background(), filepath.Join(t.TempDir(), "none.db")); !errors.As(err, &ns) {
		t.Fatalf("missing file: %v, want NoStoreError", err)
	}
}

// A PostgreSQL database is a store once trove has created its tables in
// it; a database without them, or none of that name, is no store, and the
// error names the database without its password.
func TestStoreExistsPostgres(t *testing.T) {
	ctx := context.Background()
	db := pgtest.URL(t)
	u, _ := url.Parse(db)
	u.User = url.UserPassword(u.User.Username(), "hunter2") // trust auth ignores it
	withPW := u.String()
	var ns *service.NoStoreError
	err := storeExists(ctx, withPW)
	if !errors.As(err, &ns) {
		t.Fatalf("empty database: %v, want NoStoreError", err)
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "xxxxx") {
		t.Errorf("the error shows the password or no mask: %v", err)
	}
	gone := *u
	gone.Path = "/trove_no_such_database"
	if err := storeExists(ctx, gone.String()); !errors.As(err, &ns) {
		t.Fatalf("no such database: %v, want NoStoreError", err)
	}
	st, err := postgres.Open(ctx, db, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := storeExists(ctx, withPW); err != nil {
		t.Fatalf("after Open created the tables: %v", err)
	}
}
