package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/CONFIG.md is the one table of settings. These tests keep it from
// drifting: every TROVE_* variable the program reads, and every config-file
// key, must have a row.

var troveVar = regexp.MustCompile(`TROVE_[A-Z0-9_]+`)

func configDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigDocListsEveryVariable(t *testing.T) {
	doc := configDoc(t)
	root := filepath.Join("..", "..")
	found := map[string]string{} // name -> first file that mentions it
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, name := range troveVar.FindAllString(string(b), -1) {
			// "TROVE_EMBED_*" in a hint is a family, not a variable.
			if strings.HasSuffix(name, "_") {
				continue
			}
			if _, ok := found[name]; !ok {
				found[name] = path
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 20 {
		t.Fatalf("found only %d TROVE_* names: is the scan looking at the source tree?", len(found))
	}
	for name, file := range found {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("%s (read in %s) has no row in docs/CONFIG.md", name, file)
		}
	}
}

func TestConfigDocListsEveryKey(t *testing.T) {
	doc := configDoc(t)
	for _, s := range Defaults(func(string) string { return "" }).Settings() {
		if !strings.Contains(doc, "`"+s.Key+"`") {
			t.Errorf("config-file key %s has no row in docs/CONFIG.md", s.Key)
		}
	}
}
