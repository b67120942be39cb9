package archive

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

func syncOnce(t *testing.T, o *ObsidianSync, ms []memory.Memory) ObsidianReport {
	t.Helper()
	rep, err := o.Sync(context.Background(), func(fn func(memory.Memory) error) error {
		for _, m := range ms {
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func counts(r ObsidianReport) [4]int { return [4]int{r.Created, r.Updated, r.Skipped, r.Removed} }

func readNote(t *testing.T, vault, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vault, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNotePathAndRender(t *testing.T) {
	m := memory.Memory{ID: "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d", Text: "\n  User: prefers *dark* mode?\nsecond line",
		Category: "preference", Scope: "agent:main", Importance: 0.8, CreatedAt: 1741046400000,
		Metadata: map[string]any{"tags": []any{"ui", 3, "pref"}}}
	if got, want := NotePath(m), filepath.Join("00-AI-Memory", "00-Preferences", "2025-03-04-user-prefers-dark-mode-1a2b3c4d-5e6.md"); got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	cjk := memory.Memory{ID: "abc", Text: "用户喜欢乌龙茶 不加糖", Category: "stress", CreatedAt: 1741046400000}
	if got, want := NotePath(cjk), filepath.Join("00-AI-Memory", "05-Other", "2025-03-04-用户喜欢乌龙茶-不加糖-abc.md"); got != want {
		t.Errorf("CJK path %q, want %q", got, want)
	}
	body := RenderNote(m)
	for _, want := range []string{"---\ntrove_id: \"1a2b3c4d-", "\nscope: \"agent:main\"\n", "\nimportance: 0.8\n", "\ntags: [\"ui\", \"pref\"]\n",
		"\ncreated: \"2025-03-04\"\n", "\ntrove_hash: \"sha256:", "\n# User: prefers *dark* mode?\n\nUser: prefers *dark* mode?\nsecond line\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("note lacks %q:\n%s", want, body)
		}
	}
	fm := frontMatter([]byte(body))
	if !hashMatches([]byte(body), fm["trove_hash"]) || hashMatches([]byte(body+"x"), fm["trove_hash"]) {
		t.Error("hash does not tell an edit")
	}
}

func TestObsidianSync(t *testing.T) {
	vault := t.TempDir()
	a := memory.Memory{ID: "aaaaaaaa-0000-0000-0000-000000000001", Text: "User prefers dark mode", Category: "preference", Scope: "global", Importance: 0.7, CreatedAt: 1741046400000}
	b := memory.Memory{ID: "bbbbbbbb-0000-0000-0000-000000000002", Text: "部署在周二完成", Category: "fact", Scope: "agent:main", Importance: 0.5, CreatedAt: 1741132800000}
	c := memory.Memory{ID: "cccccccc-0000-0000-0000-000000000003", Text: "Team lead is Ana", Category: "entity", Scope: "agent:main", Importance: 0.9, CreatedAt: 1741132800000}
	// A person's own notes, one inside the synced folder.
	person := filepath.Join(vault, ObsidianRoot, "01-Facts", "my-note.md")
	writeFile(t, person, "---\ntitle: mine\n---\n- my own thoughts\n")
	writeFile(t, filepath.Join(vault, "Daily", "2025-03-04.md"), "hello\n")

	o := &ObsidianSync{Vault: vault}
	if r := syncOnce(t, &ObsidianSync{Vault: vault, DryRun: true}, []memory.Memory{a, b, c}); counts(r) != [4]int{3, 0, 0, 0} {
		t.Fatalf("dry run %+v", r)
	}
	if _, err := os.Stat(filepath.Join(vault, NotePath(a))); err == nil {
		t.Fatal("dry run wrote a note")
	}
	if r := syncOnce(t, o, []memory.Memory{a, b, c}); counts(r) != [4]int{3, 0, 0, 0} {
		t.Fatalf("first sync %+v", r)
	}
	if r := syncOnce(t, o, []memory.Memory{a, b, c}); counts(r) != [4]int{0, 0, 3, 0} {
		t.Fatalf("second sync %+v", r)
	}

	// a's importance changes (same path: rewritten); c's text changes (new
	// title, new name: the old note goes); b is deleted.
	a.Importance, c.Text = 0.9, "Team lead is Ana Lima"
	oldC := NotePath(memory.Memory{ID: c.ID, Text: "Team lead is Ana", Category: c.Category, CreatedAt: c.CreatedAt})
	r := syncOnce(t, o, []memory.Memory{a, c})
	if counts(r) != [4]int{0, 2, 0, 1} {
		t.Fatalf("after changes %+v", r)
	}
	if !strings.Contains(readNote(t, vault, NotePath(a)), "\nimportance: 0.9\n") {
		t.Error("a's note not rewritten")
	}
	for _, gone := range []string{oldC, NotePath(b)} {
		if _, err := os.Stat(filepath.Join(vault, gone)); err == nil {
			t.Errorf("%s still there", gone)
		}
	}
	if got := readNote(t, vault, filepath.Join(ObsidianRoot, "01-Facts", "my-note.md")); got != "---\ntitle: mine\n---\n- my own thoughts\n" {
		t.Errorf("a person's note changed: %q", got)
	}

	// A person edits a's note: kept and reported, even when a changes or
	// is deleted; --overwrite-edited takes it back.
	edited := readNote(t, vault, NotePath(a)) + "\nmy comment\n"
	writeFile(t, filepath.Join(vault, NotePath(a)), edited)
	a.Importance = 0.3
	r = syncOnce(t, o, []memory.Memory{a, c})
	if counts(r) != [4]int{0, 0, 1, 0} || !slices.Equal(r.Edited, []string{NotePath(a)}) {
		t.Fatalf("edited note: %+v", r)
	}
	r = syncOnce(t, o, []memory.Memory{c})
	if counts(r) != [4]int{0, 0, 1, 0} || len(r.Edited) != 1 || readNote(t, vault, NotePath(a)) != edited {
		t.Fatalf("edited note of a deleted memory: %+v", r)
	}
	r = syncOnce(t, &ObsidianSync{Vault: vault, Overwrite: true}, []memory.Memory{a, c})
	if counts(r) != [4]int{0, 1, 1, 0} || strings.Contains(readNote(t, vault, NotePath(a)), "my comment") {
		t.Fatalf("overwrite: %+v", r)
	}

	// Scope filter: syncing only global leaves agent:main's notes alone.
	r = syncOnce(t, &ObsidianSync{Vault: vault, Synced: func(s memory.Scope) bool { return s == "global" }}, nil)
	if counts(r) != [4]int{0, 0, 0, 1} {
		t.Fatalf("scope filter: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(vault, NotePath(c))); err != nil {
		t.Errorf("agent:main note removed by a global-only sync: %v", err)
	}
}

// A note memory-lancedb-pro wrote for the same memory is taken over; any
// other file in the way is reported and kept.
func TestObsidianSyncTakesOverPluginNotes(t *testing.T) {
	vault := t.TempDir()
	a := memory.Memory{ID: "aaaaaaaa-0000-0000-0000-000000000001", Text: "User prefers dark mode", Category: "preference", Scope: "global", CreatedAt: 1741046400000}
	b := memory.Memory{ID: "bbbbbbbb-0000-0000-0000-000000000002", Text: "Other thing", Category: "fact", Scope: "global", CreatedAt: 1741046400000}
	writeFile(t, filepath.Join(vault, NotePath(a)), "---\nid: \"aaaaaaaa-0000-0000-0000-000000000001\"\nsource: \"memory-lancedb-pro\"\n---\n# x\n")
	writeFile(t, filepath.Join(vault, NotePath(b)), "---\nid: \"someone else\"\n---\nmine\n")
	r := syncOnce(t, &ObsidianSync{Vault: vault}, []memory.Memory{a, b})
	if counts(r) != [4]int{0, 1, 0, 0} || !slices.Equal(r.Conflicts, []string{NotePath(b)}) {
		t.Fatalf("%+v", r)
	}
	if readNote(t, vault, NotePath(b)) != "---\nid: \"someone else\"\n---\nmine\n" {
		t.Error("file in the way was changed")
	}
}
