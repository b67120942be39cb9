package config

import (
	"fmt"
	"github.com/trove-memory/trove/internal/memory"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env is a fake environment: HOME points at a fresh directory so that no
// test reads the real user's config file.
func env(t *testing.T, kv ...string) (func(string) string, string) {
	t.Helper()
	home := t.TempDir()
	m := map[string]string{"HOME": home}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }, home
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func setting(t *testing.T, cfg Config, key string) Setting {
	t.Helper()
	for _, s := range cfg.Settings() {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no setting %q in %v", key, cfg.Settings())
	return Setting{}
}

func TestDefaults(t *testing.T) {
	getenv, home := env(t)
	cfg, err := Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if want := filepath.Join(home, ".local", "share", "trove", "trove.db"); cfg.DB != want {
		t.Errorf("DB = %q, want %q", cfg.DB, want)
	}
	if cfg.LockTimeout.Duration != 30*time.Second || cfg.Synchronous != "full" || cfg.Embedding.Provider != "hash" ||
		cfg.Embedding.BatchSize != 64 || cfg.Retrieval.AccessFlush.Duration != 5*time.Second || cfg.LLM.Configured() {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
	path, loaded := cfg.File()
	if want := filepath.Join(home, ".config", "trove", "config.json"); path != want || loaded {
		t.Errorf("File() = %q, %v; want %q, false", path, loaded, want)
	}
	for _, s := range cfg.Settings() {
		if s.Source != (Source{Kind: "default"}) {
			t.Errorf("%s: source %v, want default", s.Key, s.Source)
		}
	}
}

func TestXDGDirectories(t *testing.T) {
	dir := t.TempDir()
	getenv, _ := env(t, "XDG_DATA_HOME", filepath.Join(dir, "data"), "XDG_CONFIG_HOME", filepath.Join(dir, "conf"))
	writeFile(t, filepath.Join(dir, "conf", "trove", "config.json"), `{"synchronous":"normal"}`)
	cfg, err := Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data", "trove", "trove.db"); cfg.DB != want {
		t.Errorf("DB = %q, want %q", cfg.DB, want)
	}
	if cfg.Synchronous != "normal" {
		t.Errorf("the file under XDG_CONFIG_HOME was not read: synchronous = %q", cfg.Synchronous)
	}
}

// Each layer overrides the one before: defaults, file, environment, flags.
func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "trove.json")
	writeFile(t, file, `{"db":"/from/file.db","lockTimeout":"3s","embedding":{"apiKey":"file-key","batchSize":8}}`)

	getenv, _ := env(t, "TROVE_CONFIG", file)
	cfg, err := Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "/from/file.db" || cfg.LockTimeout.Duration != 3*time.Second || cfg.Embedding.BatchSize != 8 {
		t.Fatalf("file not applied: %+v", cfg)
	}
	if got := setting(t, cfg, "embedding.batchSize").Source; got != (Source{"file", file}) {
		t.Errorf("embedding.batchSize source = %v, want file %s", got, file)
	}
	if got := setting(t, cfg, "synchronous").Source; got != (Source{Kind: "default"}) {
		t.Errorf("synchronous source = %v, want default", got)
	}

	getenv, _ = env(t, "TROVE_CONFIG", file, "TROVE_DB", "/from/env.db", "TROVE_LOCK_TIMEOUT", "4s")
	cfg, err = Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "/from/env.db" || cfg.LockTimeout.Duration != 4*time.Second || cfg.Embedding.BatchSize != 8 {
		t.Fatalf("env does not override the file: %+v", cfg)
	}
	if got := setting(t, cfg, "db").Source; got != (Source{"env", "TROVE_DB"}) {
		t.Errorf("db source = %v, want env TROVE_DB", got)
	}

	if err := cfg.SetFlag("db", "/from/flag.db"); err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "/from/flag.db" {
		t.Fatalf("flag does not override env: DB = %q", cfg.DB)
	}
	if got := setting(t, cfg, "db").Source; got != (Source{"flag", "--db"}) {
		t.Errorf("db source = %v, want flag --db", got)
	}
	if got := setting(t, cfg, "lockTimeout"); got.Value != "4s" || got.Source != (Source{"env", "TROVE_LOCK_TIMEOUT"}) {
		t.Errorf("lockTimeout = %v from %v, want 4s from env TROVE_LOCK_TIMEOUT", got.Value, got.Source)
	}
}

// A copy taken before a flag is applied keeps its own sources.
func TestSetFlagDoesNotLeakIntoCopies(t *testing.T) {
	getenv, _ := env(t)
	cfg, err := Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetFlag("lockTimeout", "1s"); err != nil {
		t.Fatal(err)
	}
	before := cfg
	if err := cfg.SetFlag("db", "/x.db"); err != nil {
		t.Fatal(err)
	}
	if got := setting(t, before, "db").Source; got.Kind != "default" {
		t.Errorf("the copy's db source changed to %v", got)
	}
}

func TestSetFlagErrors(t *testing.T) {
	getenv, _ := env(t)
	cfg, _ := Load(getenv)
	for _, tc := range []struct{ key, value, want string }{
		{"nope", "1", `--nope: no setting "nope"`},
		{"lockTimeout", "soon", `--lockTimeout="soon": not a duration`},
		{"embedding.dimensions", "many", `--embedding.dimensions="many": not a whole number`},
		{"agentAccess", "x", "use the config file"},
	} {
		err := cfg.SetFlag(tc.key, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetFlag(%q, %q) = %v, want an error containing %q", tc.key, tc.value, err, tc.want)
		}
	}
}

// Every variable applyEnv reads is recorded under the setting it sets.
func TestEnvSources(t *testing.T) {
	for _, tc := range []struct{ env, value, key string }{
		{"TROVE_DB", "/x.db", "db"},
		{"TROVE_LOCK_TIMEOUT", "1s", "lockTimeout"},
		{"TROVE_SYNC", "normal", "synchronous"},
		{"TROVE_EMBED_PROVIDER", "hash", "embedding.provider"},
		{"TROVE_EMBED_BASE_URL", "http://e", "embedding.baseURL"},
		{"TROVE_EMBED_API_KEY", "k", "embedding.apiKey"},
		{"TROVE_EMBED_MODEL", "m", "embedding.model"},
		{"TROVE_EMBED_DIMENSIONS", "32", "embedding.dimensions"},
		{"TROVE_EMBED_BATCH_SIZE", "4", "embedding.batchSize"},
		{"TROVE_EMBED_TIMEOUT", "1s", "embedding.timeout"},
		{"TROVE_EMBED_MODEL_PATH", "/models/potion-base-8M", "embedding.modelPath"},
		{"TROVE_LLM_BASE_URL", "http://l", "llm.baseURL"},
		{"TROVE_LLM_API_KEY", "k", "llm.apiKey"},
		{"TROVE_LLM_MODEL", "m", "llm.model"},
		{"TROVE_LLM_TIMEOUT", "1s", "llm.timeout"},
		{"TROVE_RERANK_PROVIDER", "tei", "rerank.provider"},
		{"TROVE_RERANK_BASE_URL", "http://r", "rerank.baseURL"},
		{"TROVE_RERANK_API_KEY", "k", "rerank.apiKey"},
		{"TROVE_RERANK_MODEL", "m", "rerank.model"},
		{"TROVE_RERANK_TIMEOUT", "1s", "rerank.timeout"},
		{"TROVE_RECALL_VECTOR_K", "5", "retrieval.vectorK"},
		{"TROVE_RECALL_BM25_K", "5", "retrieval.bm25K"},
		{"TROVE_RECALL_FUSION", "rrf", "retrieval.fusion"},
		{"TROVE_RECALL_ACCESS_FLUSH", "1s", "retrieval.accessFlush"},
		{"TROVE_AUTO_RECALL_MAX_ITEMS", "5", "autoRecall.maxItems"},
		{"TROVE_AUTO_RECALL_MAX_CHARS", "900", "autoRecall.maxChars"},
		{"TROVE_AUTO_RECALL_MAX_ITEM_CHARS", "300", "autoRecall.maxItemChars"},
		{"TROVE_AUTO_RECALL_MODE", "full", "autoRecall.mode"},
		{"TROVE_AUTO_RECALL_TIMEOUT", "2s", "autoRecall.timeout"},
	} {
		getenv, _ := env(t, tc.env, tc.value)
		cfg, err := Load(getenv)
		if err != nil {
			t.Fatalf("%s=%s: %v", tc.env, tc.value, err)
		}
		if got := setting(t, cfg, tc.key).Source; got != (Source{"env", tc.env}) {
			t.Errorf("%s: %s source = %v", tc.env, tc.key, got)
		}
	}
}

func TestBadEnvValuesNamed(t *testing.T) {
	getenv, _ := env(t, "TROVE_LOCK_TIMEOUT", "soon", "TROVE_EMBED_DIMENSIONS", "lots", "TROVE_RECALL_ACCESS_FLUSH", "5")
	_, err := Load(getenv)
	if err == nil {
		t.Fatal("bad values were accepted")
	}
	for _, want := range []string{
		`TROVE_LOCK_TIMEOUT="soon" is not a duration (use e.g. 30s or 2m)`,
		`TROVE_EMBED_DIMENSIONS="lots" is not a whole number`,
		`TROVE_RECALL_ACCESS_FLUSH="5" is not a duration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"unknown key", `{"embeding":{"provider":"openai"}}`, []string{`unknown field "embeding"`, "docs/CONFIG.md"}},
		{"unknown nested key", `{"embedding":{"apikey2":"x"}}`, []string{`unknown field "apikey2"`}},
		{"bad duration", `{"lockTimeout":"soon"}`, []string{`time: invalid duration "soon"`}},
		{"duration as number", `{"lockTimeout":30}`, []string{`want a duration string such as "30s"`}},
		{"not JSON", `db = "x"`, []string{"invalid character"}},
		{"two objects", `{"db":"/a.db"} {"db":"/b.db"}`, []string{"text after the closing }"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			writeFile(t, path, tc.body)
			getenv, _ := env(t, "TROVE_CONFIG", path)
			_, err := Load(getenv)
			if err == nil {
				t.Fatalf("%s accepted", tc.body)
			}
			for _, w := range append(tc.want, "config file "+path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TROVE_CONFIG names a file the user expects to be read: a missing one is
// an error, unlike the default location.
func TestExplicitConfigFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.json")
	getenv, _ := env(t, "TROVE_CONFIG", path)
	_, err := Load(getenv)
	if err == nil || !strings.Contains(err.Error(), "config file "+path) {
		t.Fatalf("err = %v, want one naming %s", err, path)
	}
}

func TestValidateNamesEachField(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"db", func(c *Config) { c.DB = "" }, "db: empty: set --db or TROVE_DB"},
		{"db url scheme", func(c *Config) { c.DB = "mysql://u:pw@h/trove" }, "db: \"mysql://u:xxxxx@h/trove\" is a mysql:// URL"},
		{"db url database", func(c *Config) { c.DB = "postgres://u:pw@h:5432" }, "db: postgres://u:xxxxx@h:5432 names no database"},
		{"lockTimeout", func(c *Config) { c.LockTimeout.Duration = 0 }, "lockTimeout: 0s must be positive"},
		{"synchronous", func(c *Config) { c.Synchronous = "off" }, `synchronous: "off": use full or normal`},
		{"provider", func(c *Config) { c.Embedding.Provider = "magic" }, `embedding.provider: "magic" is unknown`},
		{"hash dimensions", func(c *Config) { c.Embedding.Dimensions = 8 }, "embedding.dimensions: 8: the hash embedder takes 16 to 8192"},
		{"openai url", func(c *Config) {
			c.Embedding.Provider = "openai"
			c.Embedding.Model = "m"
			c.Embedding.BaseURL = "ftp://x"
		},
			`embedding.baseURL: "ftp://x" is not an http(s) URL`},
		{"openai model", func(c *Config) { c.Embedding.Provider = "openai"; c.Embedding.BaseURL = "http://x" }, "embedding.model: empty"},
		{"vendor url", func(c *Config) { c.Embedding.Provider = "jina"; c.Embedding.BaseURL = "x" }, "embedding.baseURL:"},
		{"negative dimensions", func(c *Config) { c.Embedding.Provider = "ollama"; c.Embedding.Dimensions = -1 }, "embedding.dimensions: -1 must not be negative"},
		{"static modelPath", func(c *Config) { c.Embedding.Provider = "static" }, "embedding.modelPath: empty"},
		{"static model files", func(c *Config) { c.Embedding.Provider = "static"; c.Embedding.ModelPath = os.TempDir() },
			"has no config.json: a model2vec model directory holds config.json, tokenizer.json and model.safetensors (TROVE_EMBED_MODEL_PATH)"},
		{"batchSize", func(c *Config) { c.Embedding.BatchSize = 0 }, "embedding.batchSize: 0 must be positive"},
		{"llm url", func(c *Config) { c.LLM.BaseURL = "localhost:1" }, "llm.baseURL:"},
		{"fusion", func(c *Config) { c.Retrieval.Fusion = "max" }, `retrieval.fusion: "max": use seed or rrf`},
		{"accessFlush", func(c *Config) { c.Retrieval.AccessFlush.Duration = -time.Second }, "retrieval.accessFlush: -1s is negative"},
		{"vectorK", func(c *Config) { c.Retrieval.VectorK = 10001 }, "retrieval.vectorK/bm25K: use 1 to 10000"},
		{"minScore", func(c *Config) { c.Retrieval.MinScore = 1.2 }, "retrieval.minScore: 1.2 is outside [0, 1]"},
		{"minCosine", func(c *Config) { c.Retrieval.MinCosine = 3 }, "retrieval.minCosine: 3: use a cosine from -1 to 1"},
		{"autoRecall.maxItems", func(c *Config) { c.AutoRecall.MaxItems = 21 }, "autoRecall.maxItems: 21: use 1 to 20"},
		{"autoRecall.maxChars", func(c *Config) { c.AutoRecall.MaxChars = 0 }, "autoRecall.maxChars: 0: use 1 to 20000"},
		{"autoRecall.maxItemChars", func(c *Config) { c.AutoRecall.MaxItemChars = 5001 }, "autoRecall.maxItemChars: 5001: use 1 to 5000"},
		{"autoRecall.mode", func(c *Config) { c.AutoRecall.Mode = "l0" }, `autoRecall.mode: "l0": use summary`},
		{"autoRecall.timeout", func(c *Config) { c.AutoRecall.Timeout.Duration = 0 }, "autoRecall.timeout: 0s: use 100ms to 1m"},
		{"one weight", func(c *Config) { c.Retrieval.VectorWeight = 0.5 }, "retrieval.vectorWeight/bm25Weight: 0.5/0: set both"},
		{"weight over 1", func(c *Config) { c.Retrieval.VectorWeight, c.Retrieval.BM25Weight = 2, 1 }, "retrieval.vectorWeight/bm25Weight: 2/1: use weights from 0 to 1"},
		{"expansion docs", func(c *Config) { c.Retrieval.Expansion.Docs = 1000 }, "retrieval.expansion.docs: 1000: use 1 to 100"},
		{"expansion terms", func(c *Config) { c.Retrieval.Expansion.Terms = -1 }, "retrieval.expansion.terms: -1: use 1 to 50"},
		{"expansion weight", func(c *Config) { c.Retrieval.Expansion.OriginalWeight = 1.5 }, "retrieval.expansion.originalWeight: 1.5: use a weight from 0 up to (not including) 1"},
		{"rerank", func(c *Config) { c.Rerank.Provider = "cohere" }, `rerank.provider: "cohere" is unknown`},
		{"agentAccess", func(c *Config) { c.AgentAccess = map[string][]string{"bob": {"no where"}} }, "agentAccess.bob:"},
		{"agentAccess bypass", func(c *Config) { c.AgentAccess = map[string][]string{" system ": {"global"}} }, `agentAccess. system : "system" is a reserved id`},
		{"scope definition", func(c *Config) {
			c.Scopes.Definitions = map[string]ScopeDefinition{"shared/team": {}}
		}, "scopes.definitions.shared/team:"},
		{"scope default", func(c *Config) { c.Scopes.Default = "shared-team" }, `scopes.default: "shared-team" is not declared`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv, _ := env(t)
			cfg := Defaults(getenv)
			tc.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}

	// Every wrong field is named, not only the first.
	getenv, _ := env(t)
	cfg := Defaults(getenv)
	cfg.DB, cfg.Synchronous = "", "off"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "db:") || !strings.Contains(err.Error(), "synchronous:") {
		t.Fatalf("Validate() = %v, want both db and synchronous named", err)
	}
}

func TestSecretsMasked(t *testing.T) {
	const key = "sk-0123456789abcdef0123456789abcdef"
	file := filepath.Join(t.TempDir(), "c.json")
	writeFile(t, file, fmt.Sprintf(`{"llm":{"apiKey":%q}}`, key))
	getenv, _ := env(t, "TROVE_CONFIG", file, "TROVE_EMBED_API_KEY", key)
	cfg, err := Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.Settings() {
		if strings.Contains(fmt.Sprint(s.Value), key) {
			t.Errorf("%s shows the secret: %v", s.Key, s.Value)
		}
	}
	want := fmt.Sprintf("(set, %d chars)", len(key))
	for _, k := range []string{"embedding.apiKey", "llm.apiKey"} {
		if s := setting(t, cfg, k); s.Value != want || !s.Secret {
			t.Errorf("%s = %v (secret %v), want %q", k, s.Value, s.Secret, want)
		}
	}
	if s := setting(t, cfg, "rerank.apiKey"); s.Value != "(not set)" {
		t.Errorf("unset rerank.apiKey = %v, want (not set)", s.Value)
	}
	if s := setting(t, cfg, "embedding.model"); s.Secret {
		t.Error("embedding.model is not a secret")
	}
}

func TestIsSecret(t *testing.T) {
	for key, want := range map[string]bool{
		"embedding.apiKey": true, "auth.tokens": true, "token": true, "llm.clientSecret": true,
		"db": false, "embedding.model": false, "agentAccess": false,
	} {
		if got := isSecret(key); got != want {
			t.Errorf("isSecret(%q) = %v, want %v", key, got, want)
		}
	}
}

// agentAccess replaces the default access, as memory-lancedb-pro's does,
// and keeps the agent's own reflection scope; a list lacking global or
// agent:<id> is warned about.
func TestAccessReplacesDefault(t *testing.T) {
	getenv, _ := env(t)
	cfg := Defaults(getenv)
	cfg.Scopes.Definitions = map[string]ScopeDefinition{"shared-team": {Description: "the team"}}
	cfg.AgentAccess = map[string][]string{
		"bot":  {"shared-team"},
		"full": {"global", "agent:full", "custom:x"},
		"odd":  {"global", "agent:odd", "project-x"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		agent string
		scope memory.Scope
		want  bool
	}{
		{"bot", "shared-team", true}, {"bot", "reflection:agent:bot", true},
		{"bot", "global", false}, {"bot", "agent:bot", false},
		{"full", "global", true}, {"full", "agent:full", true}, {"full", "custom:x", true}, {"full", "reflection:agent:full", true},
		{"plain", "global", true}, {"plain", "agent:plain", true}, {"plain", "reflection:agent:plain", true}, {"plain", "custom:x", false},
	} {
		if got := cfg.Access(c.agent).Allows(c.scope); got != c.want {
			t.Errorf("Access(%s).Allows(%s) = %v, want %v", c.agent, c.scope, got, c.want)
		}
	}
	w := strings.Join(cfg.Warnings(), "\n")
	if !strings.Contains(w, "agentAccess.bot lacks global and agent:bot") || strings.Contains(w, "agentAccess.full lacks") {
		t.Errorf("warnings:\n%s", w)
	}
	if !strings.Contains(w, `agentAccess.odd grants "project-x", which is not declared`) {
		t.Errorf("no warning for an undeclared grant:\n%s", w)
	}
	if !cfg.Declared("shared-team") || cfg.Declared("project-x") || !cfg.Declared("custom:y") {
		t.Error("Declared is wrong")
	}
	if cfg.DefaultScope() != memory.GlobalScope {
		t.Errorf("DefaultScope() = %s", cfg.DefaultScope())
	}
}

// A PostgreSQL URL is taken as it is (no path handling) and printed by
// trove config without its password.
func TestDBPostgresURL(t *testing.T) {
	const url = "postgres://trove:s3cret@db.example.com:5432/trove?sslmode=disable"
	cfg, err := Load(func(k string) string {
		return map[string]string{"TROVE_DB": url, "HOME": t.TempDir(), "XDG_CONFIG_HOME": t.TempDir()}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != url {
		t.Fatalf("DB = %q, want the URL unchanged", cfg.DB)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got := setting(t, cfg, "db").Value
	if got != "postgres://trove:xxxxx@db.example.com:5432/trove?sslmode=disable" {
		t.Errorf("trove config shows db as %v, want the URL with its password masked", got)
	}
}
