package migrate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/config"
)

// A realistic openclaw.json becomes a config file trove's config.Load
// accepts, with the same meaning, and the rest is listed.
func TestConvertConfig(t *testing.T) {
	res, err := ConvertConfig(filepath.Join("testdata", "openclaw.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(res.Config, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TROVE_CONFIG": path, "HOME": dir}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Load: %v\n%s", err, b)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v\n%s", err, b)
	}
	if e := cfg.Embedding; e.Provider != "openai" || e.Model != "jina-embeddings-v5-text-small" || e.Dimensions != 1024 ||
		e.BaseURL != "https://api.jina.ai/v1" || e.APIKey != "sk-embed-123" || e.Timeout.Duration != 20*time.Second {
		t.Errorf("embedding %+v", e)
	}
	if l := cfg.LLM; l.Model != "gpt-4o-mini" || l.Timeout.Duration != 45*time.Second {
		t.Errorf("llm %+v", l)
	}
	if r := cfg.Rerank; r.Provider != "jina" || r.APIKey != "jina-key" || r.Model != "jina-reranker-v3" || r.BaseURL != "https://api.jina.ai/v1/rerank" {
		t.Errorf("rerank %+v", r)
	}
	if r := cfg.Retrieval; r.MinScore != 0.3 || r.VectorK != 30 || r.BM25K != 30 {
		t.Errorf("retrieval %+v", r)
	}
	if l := cfg.Lifecycle; l.HalfLifeDays != 21 || l.CoreAccess != 10 || l.DemoteAgeDays != 60 || l.FloorPeripheral != 0.5 || l.MinBoost == 0 {
		t.Errorf("lifecycle %+v", l)
	}
	wantAccess := map[string][]string{"main": {"global", "agent:main", "shared-team"}, "helper": {"shared-team", "project-x"}}
	if !reflect.DeepEqual(cfg.AgentAccess, wantAccess) {
		t.Errorf("agentAccess %v", cfg.AgentAccess)
	}
	if _, ok := cfg.Scopes.Definitions["shared-team"]; !ok || cfg.Scopes.Default != "global" {
		t.Errorf("scopes %+v", cfg.Scopes)
	}
	var keys []string
	for _, u := range res.Unmapped {
		keys = append(keys, u.Key)
	}
	want := []string{"autoCapture", "autoRecall", "autoRecallMinLength", "dbPath", "decay.staleThreshold",
		"embedding.normalized", "embedding.taskPassage", "embedding.taskQuery", "mdMirror",
		"retrieval.bm25Weight", "retrieval.filterNoise", "retrieval.hardMinScore", "retrieval.vectorWeight",
		"scopes.agentAccess.system", "smartExtraction"}
	if !slices.Equal(keys, want) {
		t.Errorf("unmapped\n got %q\nwant %q", keys, want)
	}
	if len(res.Notes) != 1 {
		t.Errorf("notes %q", res.Notes)
	}
}
