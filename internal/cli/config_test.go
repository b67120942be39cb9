package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCfgCLI executes the CLI with a fake environment and returns its exit code,
// stdout and stderr. HOME is a fresh directory so that no real config file
// or store is read.
func runCfgCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	m := map[string]string{"HOME": t.TempDir()}
	for k, v := range env {
		m[k] = v
	}
	var stdout, stderr bytes.Buffer
	code := Execute(context.Background(), Deps{
		Getenv: func(k string) string { return m[k] },
		Stdin:  strings.NewReader(""),
	}, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestConfigJSONShowsSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, []byte(`{"synchronous":"normal","agentAccess":{"bob":["project:x"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	const key = "sk-0123456789abcdef0123456789abc"
	code, out, errOut := runCfgCLI(t, map[string]string{"TROVE_CONFIG": file, "TROVE_EMBED_API_KEY": key, "TROVE_LOCK_TIMEOUT": "9s"},
		"--db", filepath.Join(dir, "x.db"), "config", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, key) {
		t.Fatalf("the API key is printed:\n%s", out)
	}
	var got struct {
		File struct {
			Path   string `json:"path"`
			Loaded bool   `json:"loaded"`
		} `json:"file"`
		Settings []struct {
			Key    string `json:"key"`
			Value  any    `json:"value"`
			Source string `json:"source"`
			From   string `json:"from"`
			Secret bool   `json:"secret"`
		} `json:"settings"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.File.Path != file || !got.File.Loaded {
		t.Errorf("file = %+v, want %s loaded", got.File, file)
	}
	type row struct {
		value        any
		source, from string
	}
	want := map[string]row{
		"db":                  {filepath.Join(dir, "x.db"), "flag", "--db"},
		"synchronous":         {"normal", "file", file},
		"lockTimeout":         {"9s", "env", "TROVE_LOCK_TIMEOUT"},
		"embedding.apiKey":    {"(set, 32 chars)", "env", "TROVE_EMBED_API_KEY"},
		"llm.apiKey":          {"(not set)", "default", ""},
		"embedding.batchSize": {float64(64), "default", ""},
	}
	seen := 0
	for _, s := range got.Settings {
		w, ok := want[s.Key]
		if !ok {
			continue
		}
		seen++
		if s.Value != w.value || s.Source != w.source || s.From != w.from {
			t.Errorf("%s = %v from %s %s, want %v from %s %s", s.Key, s.Value, s.Source, s.From, w.value, w.source, w.from)
		}
		if s.Secret != strings.HasSuffix(s.Key, "apiKey") {
			t.Errorf("%s: secret = %v", s.Key, s.Secret)
		}
	}
	if seen != len(want) {
		t.Errorf("saw %d of the %d settings checked:\n%s", seen, len(want), out)
	}
}

func TestConfigText(t *testing.T) {
	code, out, errOut := runCfgCLI(t, map[string]string{"TROVE_RERANK_API_KEY": "abcdefgh"}, "--db", "/tmp/t.db", "config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"(not found; defaults and environment only)", "db ", "/tmp/t.db", "flag --db",
		"(set, 8 chars)", "env TROVE_RERANK_API_KEY", "lockTimeout", "30s", "default"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "abcdefgh") {
		t.Errorf("the API key is printed:\n%s", out)
	}
}

// An invalid setting is shown, and then named in the error (exit 1).
func TestConfigPrintsInvalidSettings(t *testing.T) {
	code, out, errOut := runCfgCLI(t, map[string]string{"TROVE_SYNC": "sometimes"}, "config")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "sometimes") || !strings.Contains(out, "env TROVE_SYNC") {
		t.Errorf("the invalid value is not shown:\n%s", out)
	}
	if !strings.Contains(errOut, `error: synchronous: "sometimes": use full or normal`) || !strings.Contains(errOut, "try: ") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestConfigBadEnvNamed(t *testing.T) {
	code, _, errOut := runCfgCLI(t, map[string]string{"TROVE_EMBED_BATCH_SIZE": "big"}, "config")
	if code != 1 || !strings.Contains(errOut, `TROVE_EMBED_BATCH_SIZE="big" is not a whole number`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestConfigRejectsArguments(t *testing.T) {
	if code, _, _ := runCfgCLI(t, nil, "config", "db"); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
