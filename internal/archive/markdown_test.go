package archive

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

func TestMarkdownBullets(t *testing.T) {
	src := "\uFEFF---\ntitle: - not a bullet\n---\n# Memory\r\n" +
		"- top level bullet\r\n" +
		"  - nested two spaces\n" +
		"\t* nested tab star\n" +
		"+ plus bullet\n" +
		"-no space, not a bullet\n" +
		"* * *\n" +
		"```bash\n- inside code\n```\n" +
		"~~~~\n- inside tilde code\n```\n- still code\n~~~~\n" +
		"- 用户喜欢乌龙茶，不加糖\n" +
		"- \n" +
		"1. ordered, not a bullet\n"
	got := MarkdownBullets(src)
	want := []Bullet{
		{5, "top level bullet"}, {6, "nested two spaces"}, {7, "nested tab star"}, {8, "plus bullet"},
		{19, "用户喜欢乌龙茶，不加糖"}, {20, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bullets\n got %+v\nwant %+v", got, want)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openClawHome lays out a home as memory-lancedb-pro's import-markdown
// scans it: workspaces, agents/<id>, and the workspace's own memory/.
func openClawHome(t *testing.T) string {
	home := t.TempDir()
	ws := filepath.Join(home, "workspace")
	writeFile(t, filepath.Join(home, "openclaw.json"), `{
  // JSON5, as OpenClaw writes it
  "agents": {"list": [{"id": "main", "workspace": "`+filepath.Join(ws, "main")+`"},],},
}`)
	writeFile(t, filepath.Join(ws, "main", "MEMORY.md"), "# Main\n- User prefers dark mode\n  - nested: uses vim keybindings\n- ok\n```\n- code, skipped\n```\n")
	writeFile(t, filepath.Join(ws, "main", "memory", "2025-03-04.md"), "- Deployed v2 on Tuesday\n- User prefers dark mode\n")
	writeFile(t, filepath.Join(ws, "main", "memory", "notes.md"), "- not a dated file\n")
	writeFile(t, filepath.Join(ws, "agents", "coder", "MEMORY.md"), "* 用户喜欢乌龙茶，不加糖\n")
	writeFile(t, filepath.Join(ws, "memory", "2025-03-05.md"), "+ Flat workspace memory line\n")
	return home
}

func TestFindMarkdownFiles(t *testing.T) {
	home := openClawHome(t)
	ws := filepath.Join(home, "workspace")
	got, err := FindMarkdownFiles(ws, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []MarkdownFile{
		{filepath.Join(ws, "main", "MEMORY.md"), "agent:main", "main"},
		{filepath.Join(ws, "main", "memory", "2025-03-04.md"), "agent:main", "main"},
		{filepath.Join(ws, "agents", "coder", "MEMORY.md"), "agent:coder", "coder"},
		{filepath.Join(ws, "memory", "2025-03-05.md"), "agent:main", ""}, // the one agent under workspace/
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("files\n got %+v\nwant %+v", got, want)
	}
	if got, _ := FindMarkdownFiles(ws, "cod"); len(got) != 0 {
		t.Errorf("agents/<id> matches the filter exactly, got %+v", got)
	}
	if got, _ := FindMarkdownFiles(ws, "coder"); len(got) != 1 || got[0].Scope != "agent:coder" {
		t.Errorf("filter coder: %+v", got)
	}
}

func TestMarkdownImportIdempotent(t *testing.T) {
	ctx := context.Background()
	home := openClawHome(t)
	s := openStore(t)
	files, err := FindMarkdownFiles(filepath.Join(home, "workspace"), "")
	if err != nil {
		t.Fatal(err)
	}
	newMI := func(dry bool) *MarkdownImporter {
		im := newImporter(s)
		return &MarkdownImporter{Store: s, Embedder: im.Embedder, Access: memory.Owner(), Importance: 0.7, DryRun: dry}
	}
	dry, err := newMI(true).Import(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Imported != 5 || len(all(t, s)) != 0 {
		t.Fatalf("dry run: %+v, %d rows", dry, len(all(t, s)))
	}
	rep, err := newMI(false).Import(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	// MEMORY.md: 3 bullets, "ok" too short; the daily file repeats one.
	if rep.Bullets != 7 || rep.Imported != 5 || rep.TooShort != 1 || rep.Duplicates != 1 || rep.Failed != 0 {
		t.Fatalf("first run: %+v", rep)
	}
	if f := rep.Files[0]; f.Imported != 2 || f.TooShort != 1 || f.Bullets != 3 {
		t.Errorf("MEMORY.md: %+v", f)
	}
	rows := all(t, s)
	byText := map[string]memory.Memory{}
	for _, m := range rows {
		byText[m.Text] = m
	}
	if m := byText["用户喜欢乌龙茶，不加糖"]; m.Scope != "agent:coder" || m.Category != memory.CategoryOther || m.Importance != 0.7 || m.Format != memory.FormatLegacy {
		t.Errorf("CJK row: %+v", m)
	}
	if m := byText["Deployed v2 on Tuesday"]; m.CreatedAt != 1741046400000 || m.Metadata["imported_line"] != float64(1) {
		t.Errorf("daily row: created %d, metadata %v", m.CreatedAt, m.Metadata)
	}
	again, err := newMI(false).Import(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	if again.Imported != 0 || again.Duplicates != 6 || len(all(t, s)) != 5 {
		t.Fatalf("second run added rows: %+v, %d rows", again, len(all(t, s)))
	}
	// A memory stored another way with the same text counts as present.
	writeFile(t, filepath.Join(home, "extra.md"), "- Deployed v2 on Tuesday\n- a brand new line\n")
	mi := newMI(false)
	mi.Scope = "agent:main"
	r3, err := mi.Import(ctx, []MarkdownFile{{Path: filepath.Join(home, "extra.md"), Scope: memory.GlobalScope}})
	if err != nil || r3.Imported != 1 || r3.Duplicates != 1 {
		t.Fatalf("override scope: %+v, %v", r3, err)
	}
}
