package dburl

import (
	"strings"
	"testing"
)

func TestIsPostgres(t *testing.T) {
	for db, want := range map[string]bool{
		"postgres://u@h/db":          true,
		"postgresql://u@h/db":        true,
		"POSTGRES://u@h/db":          true,
		"/home/me/trove.db":          false,
		"trove.db":                   false,
		"postgres.db":                false,
		"./postgres://x":             false,
		"mysql://u@h/db":             false,
		"~/.local/share/trove/x.db":  false,
		`C:\Users\me\trove\trove.db`: false,
	} {
		if got := IsPostgres(db); got != want {
			t.Errorf("IsPostgres(%q) = %v, want %v", db, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for db, want := range map[string]string{
		"postgres://trove:s3cret@db.example.com:5432/trove?sslmode=disable": "postgres://trove:xxxxx@db.example.com:5432/trove?sslmode=disable",
		"postgresql://trove@db/trove":                                       "postgresql://trove@db/trove",
		"postgres://db/trove?password=s3cret&sslmode=require":               "postgres://db/trove?password=xxxxx&sslmode=require",
		"postgres://trove:p%40ss@db/trove":                                  "postgres://trove:xxxxx@db/trove",
		"/srv/trove/trove.db":                                               "/srv/trove/trove.db",
	} {
		if got := Redact(db); got != want {
			t.Errorf("Redact(%q) = %q, want %q", db, got, want)
		}
	}
	// A URL that does not parse is not echoed: its password may be in it.
	if got := Redact("postgres://trove:s3c ret%zz@db/trove"); strings.Contains(got, "s3c") {
		t.Errorf("Redact printed an unparseable URL's password: %q", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		db   string
		want string // "" = valid
	}{
		{"/srv/trove/trove.db", ""},
		{"trove.db", ""},
		{"postgres://trove:pw@db:5432/trove?sslmode=disable", ""},
		{"postgresql://trove@db/trove", ""},
		{"postgres://trove@db/?dbname=trove", ""},
		{"", "empty"},
		{"mysql://trove:pw@db/trove", "mysql:// URL"},
		{"postgres://trove:pw@db:5432", "names no database"},
		{"postgres://trove:pw@db:5432/", "names no database"},
		{"postgres://trove:p%zzw@db/trove", "does not parse"},
	} {
		err := Validate(tc.db)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%q) = %v, want nil", tc.db, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%q) = %v, want an error saying %q", tc.db, err, tc.want)
		case err != nil && (strings.Contains(err.Error(), ":pw@") || strings.Contains(err.Error(), "zzw")):
			t.Errorf("Validate(%q) printed the password: %v", tc.db, err)
		}
	}
}
