package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreArg(t *testing.T) {
	home, _ := os.UserHomeDir()
	for _, c := range []struct {
		in, want, err string
	}{
		{"sqlite:/data/trove.db", "/data/trove.db", ""},
		{"/data/trove.db", "/data/trove.db", ""},
		{"sqlite:~/t.db", filepath.Join(home, "t.db"), ""},
		{"postgres://u:pw@db:5432/trove?sslmode=disable", "postgres://u:pw@db:5432/trove?sslmode=disable", ""},
		{"postgresql://u@db/trove", "postgresql://u@db/trove", ""},
		{"", "", "--from is required"},
		{"sqlite:", "", "names no file"},
		{"mysql://u:secret@db/trove", "", "mysql:// URL"},
		{"postgres://u:secret@db", "", "names no database"},
	} {
		got, err := storeArg("--from", c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("storeArg(%q): %q, %v; want an error saying %q without the password", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("storeArg(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
