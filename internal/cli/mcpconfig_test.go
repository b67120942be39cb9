package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMCPConfigForEachHost(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, host := range mcpHosts {
		t.Run(host, func(t *testing.T) {
			// A relative --db is made absolute: the host starts trove in
			// a directory of its own choosing.
			code, out, errOut := runCfgCLI(t, nil, "--db", "rel/trove.db", "--agent", "alice", "mcp-config", "--host", host)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			command, args, env := checkHostEntry(t, host, []byte(out))
			if command != exe {
				t.Errorf("command = %q, want this binary %q", command, exe)
			}
			if want := []string{"serve", "--agent", "alice"}; !slices.Equal(args, want) {
				t.Errorf("args = %q, want %q", args, want)
			}
			if want := filepath.Join(dir, "rel", "trove.db"); env["TROVE_DB"] != want {
				t.Errorf("TROVE_DB = %q, want %q", env["TROVE_DB"], want)
			}
			if !strings.Contains(errOut, "mcpServers") {
				t.Errorf("stderr does not say where the entry goes: %q", errOut)
			}
		})
	}
}

func TestMCPConfigDefaults(t *testing.T) {
	dataHome := t.TempDir()
	code, out, errOut := runCfgCLI(t, map[string]string{"XDG_DATA_HOME": dataHome}, "mcp-config", "--host", "claude-code")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, args, env := checkHostEntry(t, "claude-code", []byte(out))
	if !slices.Equal(args, []string{"serve"}) {
		t.Errorf("args = %q, want [serve] without --agent", args)
	}
	if want := filepath.Join(dataHome, "trove", "trove.db"); env["TROVE_DB"] != want {
		t.Errorf("TROVE_DB = %q, want the default store %q", env["TROVE_DB"], want)
	}
	if _, ok := env["TROVE_CONFIG"]; ok {
		t.Errorf("TROVE_CONFIG set without one in the environment: %v", env)
	}
}

// A config file chosen by TROVE_CONFIG is passed on: the host does not
// have the user's shell environment.
func TestMCPConfigPassesConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCfgCLI(t, map[string]string{"TROVE_CONFIG": file}, "mcp-config", "--host", "cursor")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, _, env := checkHostEntry(t, "cursor", []byte(out)); env["TROVE_CONFIG"] != file {
		t.Errorf("TROVE_CONFIG = %q, want %q", env["TROVE_CONFIG"], file)
	}
}

func TestMCPConfigBadHost(t *testing.T) {
	for _, args := range [][]string{{"mcp-config"}, {"mcp-config", "--host", "vscode"}} {
		code, out, errOut := runCfgCLI(t, nil, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "claude-desktop, claude-code, cursor") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and the hosts named", args, code, out, errOut)
		}
	}
}

// The strict decoders reject fields a host does not document, so the README
// test would catch a mcpSnippetRE written for another host.
func TestHostFormatsRejectUndocumentedFields(t *testing.T) {
	entry := `{"mcpServers":{"trove":{"command":"/bin/trove","args":["serve"],"env":{"TROVE_DB":"/x.db"},%s}}}`
	for _, tc := range []struct{ host, extra string }{
		{"claude-desktop", `"type":"stdio"`},
		{"claude-code", `"envFile":".env"`},
		{"cursor", `"cwd":"/tmp"`},
	} {
		if _, _, _, err := decodeHost(tc.host, []byte(strings.Replace(entry, "%s", tc.extra, 1))); err == nil {
			t.Errorf("%s accepted %s", tc.host, tc.extra)
		}
	}
}
