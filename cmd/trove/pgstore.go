package main

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// postgresHasStore reports whether the database url names exists and
// holds trove's tables (its memories table, in the connection's search
// path). A database that does not exist (SQLSTATE 3D000) holds no store;
// any other failure to connect is returned for the caller to leave to
// opening the store, which explains it.
func postgresHasStore(ctx context.Context, url string) (bool, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "3D000" { // invalid_catalog_name
			return false, nil
		}
		return false, err
	}
	defer conn.Close(ctx)
	var ok bool
	err = conn.QueryRow(ctx, "SELECT to_regclass('memories') IS NOT NULL").Scan(&ok)
	return ok, err
}
