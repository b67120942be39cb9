package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// decodeHost decodes a host's MCP configuration file strictly: a field the
// host does not document is an error.
func decodeHost(host string, data []byte) (command string, args []string, env map[string]string, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	pick := func(n int) error {
		if n != 1 {
			return fmt.Errorf("want exactly one server under mcpServers, found %d", n)
		}
		return nil
	}
	switch host {
	case "claude-desktop":
		var f claudeDesktopFile
		if err = dec.Decode(&f); err == nil {
			err = pick(len(f.MCPServers))
			s := f.MCPServers["trove"]
			command, args, env = s.Command, s.Args, s.Env
		}
	case "claude-code":
		var f claudeCodeFile
		if err = dec.Decode(&f); err == nil {
			err = pick(len(f.MCPServers))
			s := f.MCPServers["trove"]
			command, args, env = s.Command, s.Args, s.Env
		}
	case "cursor":
		var f cursorFile
		if err = dec.Decode(&f); err == nil {
			err = pick(len(f.MCPServers))
			s := f.MCPServers["trove"]
			command, args, env = s.Command, s.Args, s.Env
		}
	default:
		err = fmt.Errorf("unknown host %q", host)
	}
	if err == nil && dec.More() {
		err = fmt.Errorf("data after the JSON object")
	}
	return command, args, env, err
}

// isAbsAnyOS accepts a Unix or a Windows absolute path whatever the OS the test
// runs on: the README shows paths from several systems.
func isAbsAnyOS(p string) bool {
	return strings.HasPrefix(p, "/") || regexp.MustCompile(`^[A-Za-z]:\\`).MatchString(p) || filepath.IsAbs(p)
}

func checkHostEntry(t *testing.T, host string, data []byte) (command string, args []string, env map[string]string) {
	t.Helper()
	command, args, env, err := decodeHost(host, data)
	if err != nil {
		t.Fatalf("%s: not the host's documented format: %v\n%s", host, err, data)
	}
	if !isAbsAnyOS(command) {
		t.Errorf("%s: command %q is not an absolute path (a host starts it without your PATH)", host, command)
	}
	if len(args) == 0 || args[0] != "serve" {
		t.Errorf("%s: args %q do not start with serve", host, args)
	}
	if !isAbsAnyOS(env["TROVE_DB"]) {
		t.Errorf("%s: env TROVE_DB %q is not an absolute path", host, env["TROVE_DB"])
	}
	return command, args, env
}

func readmeText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The README's snippets are marked by an HTML comment on the line before
// their fenced block: <!-- mcp-snippet: HOST -->.
var mcpSnippetRE = regexp.MustCompile("(?s)<!-- mcp-snippet: ([a-z-]+) -->\\s*```json\\n(.*?)```")

func TestReadmeMCPSnippets(t *testing.T) {
	found := map[string]bool{}
	for _, m := range mcpSnippetRE.FindAllStringSubmatch(readmeText(t), -1) {
		host, body := m[1], m[2]
		if found[host] {
			t.Errorf("two snippets for %s", host)
		}
		found[host] = true
		checkHostEntry(t, host, []byte(body))
	}
	for _, h := range mcpHosts {
		if !found[h] {
			t.Errorf("README has no snippet marked <!-- mcp-snippet: %s -->", h)
		}
	}
}

// The quick start must not touch the user's real store: every trove
// command in it names the temporary store.
func TestReadmeQuickStartUsesTemporaryStore(t *testing.T) {
	doc := readmeText(t)
	i := strings.Index(doc, "## The two commands")
	if i < 0 {
		t.Fatal(`README has no "## The two commands" section`)
	}
	block := regexp.MustCompile("(?s)```sh\\n(.*?)```").FindStringSubmatch(doc[i:])
	if block == nil {
		t.Fatal("no sh block under The two commands")
	}
	line := strings.TrimSpace(block[1])
	if strings.Contains(line, "\n") {
		t.Fatalf("the quick start is not one command line:\n%s", line)
	}
	if !strings.HasPrefix(line, "D=$(mktemp -d) && ") {
		t.Errorf("the quick start does not start by making a temporary directory: %s", line)
	}
	runs := strings.Count(line, "go run ./cmd/trove")
	if runs == 0 || strings.Count(line, `go run ./cmd/trove --db "$D/trove.db" `) != runs {
		t.Errorf("every trove command in the quick start must use --db \"$D/trove.db\": %s", line)
	}
}

func TestReadmeNamesLicence(t *testing.T) {
	if !strings.Contains(readmeText(t), "Apache License 2.0") {
		t.Error("README does not name the licence")
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "LICENSE"))
	if err != nil || !bytes.Contains(b, []byte("Apache License\n                           Version 2.0, January 2004")) {
		t.Errorf("LICENSE is not the Apache-2.0 text (err %v)", err)
	}
}
