package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/service"
)

// trove sync obsidian: create, skip, update after an edit of the memory,
// remove after its deletion.
func TestSyncObsidianCommand(t *testing.T) {
	e := newCLIEnv(t)
	vault := t.TempDir()
	var m service.Memory
	if err := json.Unmarshal([]byte(e.ok("store", "User prefers dark mode", "--json")), &m); err != nil {
		t.Fatal(err)
	}
	sync := func() service.SyncObsidianReport {
		t.Helper()
		var rep service.SyncObsidianReport
		if err := json.Unmarshal([]byte(e.ok("sync", "obsidian", "--vault", vault, "--json")), &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if r := sync(); r.Created != 1 {
		t.Fatalf("first: %+v", r)
	}
	if out := e.ok("sync", "obsidian", "--vault", vault); !strings.Contains(out, "0 created, 0 updated, 1 skipped, 0 removed") {
		t.Fatalf("second: %s", out)
	}
	e.ok("update", m.ID, "--importance", "0.2")
	if r := sync(); r.Updated != 1 {
		t.Fatalf("after update: %+v", r)
	}
	e.ok("delete", m.ID)
	if r := sync(); r.Removed != 1 {
		t.Fatalf("after delete: %+v", r)
	}
	if r := e.run("sync", "obsidian"); r.code != ExitUsage {
		t.Errorf("no --vault: exit %d", r.code)
	}
}
