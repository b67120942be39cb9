// Package dburl tells the two forms of trove's store setting (db, TROVE_DB,
// --db) apart: a postgres:// or postgresql:// URL names a PostgreSQL
// database, anything else is the path of a SQLite file. It also prints a URL
// without its password, for every message that names the store.
//
//	if dburl.IsPostgres(cfg.DB) { st, err = postgres.Open(ctx, cfg.DB, ...) }
//	fmt.Printf("store: %s\n", dburl.Redact(cfg.DB)) // postgres://trove:xxxxx@db/trove
package dburl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Mask stands in for a password in a printed URL.
const Mask = "xxxxx"

// IsPostgres reports whether db is a PostgreSQL URL (postgres:// or
// postgresql://, in any case) rather than a file path.
func IsPostgres(db string) bool {
	scheme, _, ok := strings.Cut(db, "://")
	if !ok {
		return false
	}
	scheme = strings.ToLower(scheme)
	return scheme == "postgres" || scheme == "postgresql"
}

// Validate checks a store setting: a file path is not checked here (opening
// it says what is wrong with it); a URL must be a PostgreSQL URL that parses
// and names a database. Errors never contain the password.
func Validate(db string) error {
	if db == "" {
		return fmt.Errorf("empty: set --db or TROVE_DB to a file path or a postgres:// URL")
	}
	scheme, _, isURL := strings.Cut(db, "://")
	if !isURL {
		return nil
	}
	if !IsPostgres(db) {
		return fmt.Errorf("%q is a %s:// URL: give a file path for a SQLite store, or a postgres:// (or postgresql://) URL for a PostgreSQL database", Redact(db), scheme)
	}
	u, err := url.Parse(db)
	if err != nil {
		return fmt.Errorf("%s does not parse as a URL (%s): write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...], percent-encoding special characters in the password",
			Redact(db), parseReason(err))
	}
	if strings.Trim(u.Path, "/") == "" && u.Query().Get("dbname") == "" {
		return fmt.Errorf("%s names no database: add it after the host (postgres://USER@HOST:5432/trove)", Redact(db))
	}
	return nil
}

// parseReason is url.Parse's complaint without the URL it quotes (which
// may hold the password).
func parseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "malformed"
}

// Redact returns db fit to print: a PostgreSQL URL with its password (in
// the user info or a password= parameter) replaced by Mask; anything else
// unchanged. A URL that does not parse is not printed at all.
func Redact(db string) string {
	if _, _, isURL := strings.Cut(db, "://"); !isURL {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		scheme, _, _ := strings.Cut(db, "://")
		return scheme + "://(a URL that does not parse; not shown, as it may hold a password)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Mask)
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", Mask)
		u.RawQuery = q.Encode()
	}
	return u.String()
}
