package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/trove-memory/trove/internal/config"
)

// TestScopeMatrix is memory-lancedb-pro's scope model, agent by scope by
// read and write, through the CLI, REST and MCP, which must agree: amy has
// no agentAccess entry (the default: global, agent:amy,
// reflection:agent:amy); bob's entry replaces the default (its scopes plus
// reflection:agent:bob). Reads fail soft (the unreadable scope is ignored
// and named), writes fail closed (scope_access_denied).
func TestScopeMatrix(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgFile, []byte(`{"scopes":{"definitions":{"shared-team":{"description":"the team"}}},
		"agentAccess":{"bob":["shared-team","custom:x"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newCLIEnv(t)
	e.env = map[string]string{"TROVE_CONFIG": cfgFile}
	scopes := []string{"global", "agent:amy", "agent:bob", "reflection:agent:amy", "reflection:agent:bob", "shared-team", "custom:x", "project:p"}
	for _, sc := range scopes { // the owner reaches every scope
		e.ok("store", "seed in "+sc, "--scope", sc)
	}
	can := map[string][]string{
		"amy": {"global", "agent:amy", "reflection:agent:amy"},
		"bob": {"shared-team", "custom:x", "reflection:agent:bob"},
	}

	cfg, err := config.Load(func(k string) string { return map[string]string{"TROVE_CONFIG": cfgFile, "HOME": t.TempDir()}[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB = e.db
	f := &frontends{cli: e, mcp: map[string]*mcp.ClientSession{}}
	f.serve(t, cfg, slices.Collect(maps.Keys(can))...)

	for _, agent := range []string{"amy", "bob"} {
		for _, sc := range scopes {
			allowed := slices.Contains(can[agent], sc)
			t.Run(agent+"/write/"+sc, func(t *testing.T) {
				text := fmt.Sprintf("%s writes %s", agent, sc)
				got := []answer{
					f.viaCLI(t, "--agent", agent, "store", text, "--scope", sc),
					f.viaREST(t, agent, "POST", "/v1/memories", fmt.Sprintf(`{"text":%q,"scope":%q}`, text, sc)),
					f.viaMCP(t, agent, "memory_store", map[string]any{"text": text, "scope": sc}),
				}
				for i, a := range got {
					if allowed && a.Code != "" || !allowed && a.Code != "scope_access_denied" {
						t.Errorf("front end %d: %+v, want allowed=%v", i, a, allowed)
					}
				}
			})
			t.Run(agent+"/read/"+sc, func(t *testing.T) {
				got := []answer{
					f.viaCLI(t, "--agent", agent, "list", "--scope", sc, "--limit", "200"),
					f.viaREST(t, agent, "GET", "/v1/memories?limit=200&scope="+url.QueryEscape(sc), ""),
					f.viaMCP(t, agent, "memory_list", map[string]any{"scope": sc, "limit": 200}),
				}
				for i, a := range got {
					if a.Code != "" {
						t.Fatalf("front end %d: read failed: %+v", i, a) // reads fail soft
					}
					var page struct {
						Memories []struct{ Text, Scope string }
						Ignored  []string `json:"ignored_scopes"`
					}
					b, _ := json.Marshal(a.Result)
					if err := json.Unmarshal(b, &page); err != nil {
						t.Fatal(err)
					}
					seen := false
					for _, m := range page.Memories {
						if !slices.Contains(can[agent], m.Scope) {
							t.Errorf("front end %d: %s read a row in %s", i, agent, m.Scope)
						}
						seen = seen || m.Text == "seed in "+sc
					}
					if seen != allowed || slices.Contains(page.Ignored, sc) == allowed {
						t.Errorf("front end %d: seed seen %v, ignored %v; want allowed=%v", i, seen, page.Ignored, allowed)
					}
				}
			})
		}
		// With no scope: amy writes to agent:amy; bob may not write
		// agent:bob, so the configured default (global), which it may
		// not write either.
		t.Run(agent+"/write/default", func(t *testing.T) {
			got := []answer{
				f.viaCLI(t, "--agent", agent, "store", agent+" writes nowhere in particular"),
				f.viaREST(t, agent, "POST", "/v1/memories", fmt.Sprintf(`{"text":%q}`, agent+" writes nowhere in particular")),
				f.viaMCP(t, agent, "memory_store", map[string]any{"text": agent + " writes nowhere in particular"}),
			}
			for i, a := range got {
				switch agent {
				case "amy":
					if m, _ := a.Result.(map[string]any); a.Code != "" || m["scope"] != "agent:amy" {
						t.Errorf("front end %d: %+v, want a memory in agent:amy", i, a)
					}
				case "bob":
					if a.Code != "scope_access_denied" || !strings.HasPrefix(a.Msg, "scope global is not accessible") {
						t.Errorf("front end %d: %+v, want scope_access_denied for global", i, a)
					}
				}
			}
		})
	}
	// The config's meaning changed: a list without global or agent:<id> is warned about.
	if r := e.run("--agent", "bob", "list"); !strings.Contains(r.err, "warning: config: agentAccess.bob lacks global and agent:bob") {
		t.Errorf("no warning: %s", r.err)
	}
	// An undeclared, well-formed name cannot be written, even by the owner.
	if a := f.viaCLI(t, "store", "x", "--scope", "team-y"); a.Code != "invalid_argument" {
		t.Errorf("undeclared scope: %+v", a)
	}
}
