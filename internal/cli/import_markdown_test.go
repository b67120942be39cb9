package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/service"
)

// trove import-markdown reads a workspace directory, reports per file,
// and adds nothing the second time.
func TestImportMarkdownCommand(t *testing.T) {
	e := newCLIEnv(t)
	ws := filepath.Join(t.TempDir(), "workspace")
	for path, content := range map[string]string{
		"main/MEMORY.md":            "- User prefers dark mode\n  - 喜欢用 vim 编辑代码\n```\n- in a code block\n```\n- tiny\n",
		"main/memory/2025-01-02.md": "* Shipped the parser on Thursday\n",
	} {
		p := filepath.Join(ws, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var rep service.ImportMarkdownReport
	if err := json.Unmarshal([]byte(e.ok("import-markdown", ws, "--json", "--importance", "0.5")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 3 || rep.TooShort != 1 || len(rep.Files) != 2 || rep.Files[0].Scope != "agent:main" {
		t.Fatalf("first run: %+v", rep)
	}
	out := e.ok("import-markdown", ws)
	if !strings.Contains(out, "imported 0 of 4 bullets in 2 files (duplicates 3, too short 1, failed 0)") {
		t.Fatalf("second run:\n%s", out)
	}
	if out := e.ok("list", "--scope", "agent:main", "--json"); strings.Count(out, `"importance": 0.5`) != 3 {
		t.Errorf("list:\n%s", out)
	}
	if r := e.run("import-markdown", ws, "--importance", "2"); r.code != ExitUsage {
		t.Errorf("--importance 2: exit %d %s", r.code, r.err)
	}
	if r := e.run("import-markdown", filepath.Join(ws, "missing")); r.code != ExitNotFound {
		t.Errorf("missing path: exit %d %s", r.code, r.err)
	}
}
