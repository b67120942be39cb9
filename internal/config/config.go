// Package config loads trove's settings: defaults, then a JSON config file,
// then TROVE_* environment variables, then command-line flags (applied by
// the CLI). Validate names the field that is wrong.
//
//	cfg, err := config.Load(os.Getenv)
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/dburl"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/provider"
)

// Config is every setting trove reads.
type Config struct {
	// origin records where each value came from (see Settings).
	origin origin

	// DB is the store: a SQLite file's path, or a postgres:// URL
	// (dburl.IsPostgres) naming a PostgreSQL database.
	DB string `json:"db"`
	// LockTimeout bounds the wait for the write lock.
	LockTimeout Duration `json:"lockTimeout"`
	// Synchronous is SQLite's durability mode: full or normal.
	Synchronous string    `json:"synchronous"`
	Embedding   Embedding `json:"embedding"`
	LLM         LLM       `json:"llm"`
	Rerank      Rerank    `json:"rerank"`
	Retrieval   Retrieval `json:"retrieval"`
	// Lifecycle holds the constants of decay and tiers.
	Lifecycle Lifecycle `json:"lifecycle"`
	// TombstoneRetention is how long a deleted memory's tombstone (its
	// entry in the change feed) is kept; 0 keeps them forever.
	TombstoneRetention Duration `json:"tombstoneRetention"`
	// History bounds the versions every edit and delete keeps.
	History History `json:"history"`
	// Scopes declares scope names beyond the built-in kinds, and the
	// default write scope.
	Scopes Scopes `json:"scopes"`
	// AgentAccess lists, per agent id, the scopes it reaches. A list
	// REPLACES the default (global, agent:<id>), as in memory-lancedb-pro;
	// the agent's own reflection:agent:<id> is always added.
	AgentAccess map[string][]string `json:"agentAccess"`
	Auth        Auth                `json:"auth"`
	// Capture configures smart capture (memory_capture).
	Capture Capture `json:"capture"`
	// AutoRecall tunes recall-context (auto-recall) and its feedback.
	AutoRecall AutoRecall `json:"autoRecall"`
	// Expiry archives memories past their valid_until.
	Expiry Expiry `json:"expiry"`
	// AllowSecrets lets memory_store keep text that looks like a secret
	// (API keys, private keys, passwords). Off: such text is refused.
	AllowSecrets bool `json:"allowSecrets"`
}

// AutoRecall tunes recall-context: a memory injected in a session is not
// injected again within SuppressTurns of that session's recall-context
// calls (0: no such limit). MaxItems, MaxChars (memory text in all) and
// MaxItemChars (one memory's) bound the block, Mode says what an item
// shows (summary: the L0 abstract; full: the L2 content), and past
// Timeout nothing is injected (a cross-encoder gets half of it). A
// request may set its own limit, max_chars, max_item_chars and mode.
type AutoRecall struct {
	SuppressTurns int      `json:"suppressTurns"`
	MaxItems      int      `json:"maxItems"`
	MaxChars      int      `json:"maxChars"`
	MaxItemChars  int      `json:"maxItemChars"`
	Mode          string   `json:"mode"`
	Timeout       Duration `json:"timeout"`
}

// Expiry: the server's maintenance archives a memory whose valid_until
// passed more than Grace ago (it is already not recalled); 0 archives at
// once.
type Expiry struct {
	Grace Duration `json:"grace"`
}

// Capture configures smart capture: when a session's buffered messages are
// extracted, and what the extraction reads.
type Capture struct {
	// MinMessages is how many new user messages trigger extraction.
	MinMessages int `json:"minMessages"`
	// IdleFlush extracts a session idle this long (a server's worker).
	IdleFlush Duration `json:"idleFlush"`
	// IncludeAssistant makes assistant turns extraction sources too.
	IncludeAssistant bool `json:"includeAssistant"`
	// MaxChars bounds the transcript sent to the LLM (newest whole turns).
	MaxChars int `json:"maxChars"`
	// Similarity is the cosine a stored memory needs to be compared with a
	// candidate (besides those sharing its fact key).
	Similarity float64 `json:"similarity"`
	// Smart uses the LLM (llm.*) for extraction and decisions when one is
	// configured; false keeps the rule-based extractor.
	Smart *bool `json:"smart,omitempty"`
}

// Scopes is memory-lancedb-pro's scope configuration (its scopes.default
// and scopes.definitions; its scopes.agentAccess is trove's agentAccess).
type Scopes struct {
	// Default is where the owner writes when no scope is given, and an
	// agent that may not write its own agent:<id>; "" is global.
	Default string `json:"default"`
	// Definitions declares scope names beyond the built-in kinds (global,
	// agent:, user:, project:, custom:, reflection:agent:), each
	// ^[A-Za-z0-9._:-]{1,100}$: a name must be declared (or built in)
	// before anyone can write it.
	Definitions map[string]ScopeDefinition `json:"definitions"`
}

// ScopeDefinition describes a declared scope.
type ScopeDefinition struct {
	Description string         `json:"description"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// bypassAgents are memory-lancedb-pro's reserved ids that bypass its scope
// filter. trove has no bypass (the owner is the caller without an agent),
// so they cannot be given an access list: a config carried over from the
// plugin with one would mean something else here.
var bypassAgents = []string{"system", "undefined"}

// Embedding configures the embedding provider.
type Embedding struct {
	Provider   string   `json:"provider"` // hash | static | openai | jina | voyage | ollama | gemini
	BaseURL    string   `json:"baseURL"`
	APIKey     string   `json:"apiKey"`
	Model      string   `json:"model"`
	Dimensions int      `json:"dimensions"` // 0: the model's default (hash: 384)
	BatchSize  int      `json:"batchSize"`
	Timeout    Duration `json:"timeout"`
	// ModelPath is the model2vec model directory of the static provider.
	ModelPath string `json:"modelPath"`
}

// LLM configures the chat model used by upgrade (and later extraction).
type LLM struct {
	BaseURL string   `json:"baseURL"`
	APIKey  string   `json:"apiKey"`
	Model   string   `json:"model"`
	Timeout Duration `json:"timeout"`
}

// Rerank configures the optional cross-encoder.
type Rerank struct {
	Provider string   `json:"provider"` // "" (none), jina, siliconflow, voyage, pinecone, tei
	BaseURL  string   `json:"baseURL"`
	APIKey   string   `json:"apiKey"`
	Model    string   `json:"model"`
	Timeout  Duration `json:"timeout"`
}

// Retrieval tunes recall; zero values take retrieve's defaults.
type Retrieval struct {
	VectorK  int     `json:"vectorK"`
	BM25K    int     `json:"bm25K"`
	Fusion   string  `json:"fusion"` // seed | rrf
	MinScore float64 `json:"minScore"`
	// MinCosine is the cosine at which the embedder's similarity alone
	// makes a memory relevant (the relevance floor's semantic half). 0:
	// the default for the embedding model (retrieve.DefaultMinCosine);
	// above 1: never. Calibrate it with TestCalibrateMinCosine.
	MinCosine float64 `json:"minCosine"`
	// AccessFlush is how often `trove serve` writes which memories recall
	// returned (access_count, last_accessed_at); 0 turns recording off.
	AccessFlush Duration `json:"accessFlush"`
	// VectorWeight and BM25Weight weigh the two sides in fusion: both 0
	// for the default (0.7 and 0.3 with seed fusion, equal with rrf), or
	// both set.
	VectorWeight float64 `json:"vectorWeight"`
	BM25Weight   float64 `json:"bm25Weight"`
	// Expansion is RM3 query expansion of the BM25 side (off by default).
	Expansion Expansion `json:"expansion"`
}

// Expansion configures pseudo-relevance feedback (retrieve.Expansion);
// zero values take retrieve's defaults.
type Expansion struct {
	Enabled        bool    `json:"enabled"`
	Docs           int     `json:"docs"`           // feedback documents (default 10)
	Terms          int     `json:"terms"`          // expansion terms (default 10)
	OriginalWeight float64 `json:"originalWeight"` // the query's share, λ (default 0.5)
}

// Configured reports whether an LLM endpoint is set.
func (l LLM) Configured() bool { return l.BaseURL != "" && l.Model != "" }

// Duration is a time.Duration written as "30s" in JSON.
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Defaults returns the embedded defaults: a store under the user's data
// directory, the offline hash embedder, no LLM.
func Defaults(getenv func(string) string) Config {
	return Config{
		DB:          DefaultDBPath(getenv),
		LockTimeout: Duration{30 * time.Second},
		Synchronous: "full",
		Embedding:   Embedding{Provider: "hash", BatchSize: 64, Timeout: Duration{30 * time.Second}},
		LLM:         LLM{Timeout: Duration{30 * time.Second}},
		Retrieval:   Retrieval{AccessFlush: Duration{5 * time.Second}},
		Lifecycle:   lifecycleDefaults(),

		TombstoneRetention: Duration{30 * 24 * time.Hour},
		History:            History{Keep: 50, Retention: Duration{90 * 24 * time.Hour}},
		Capture:            Capture{MinMessages: 4, IdleFlush: Duration{30 * time.Minute}, MaxChars: 8000, Similarity: 0.7},
		AutoRecall:         AutoRecall{SuppressTurns: 8, MaxItems: 3, MaxChars: 600, MaxItemChars: 180, Mode: "summary", Timeout: Duration{5 * time.Second}},
		Expiry:             Expiry{Grace: Duration{7 * 24 * time.Hour}},
	}
}

// History bounds the kept versions of memories (trove history, revert,
// restore): the server's maintenance and doctor --repair prune versions
// beyond Keep per memory or replaced more than Retention ago. 0 is no
// bound of that kind.
type History struct {
	Keep      int      `json:"keep"`
	Retention Duration `json:"retention"`
}

// DefaultDBPath is $XDG_DATA_HOME/trove/trove.db, else
// ~/.local/share/trove/trove.db.
func DefaultDBPath(getenv func(string) string) string {
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "trove", "trove.db")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "share", "trove", "trove.db")
}

// DefaultFilePath is where the config file is looked for when TROVE_CONFIG
// is not set: $XDG_CONFIG_HOME/trove/config.json, else ~/.config/trove/config.json.
func DefaultFilePath(getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "trove", "config.json")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".config", "trove", "config.json")
}

// Load reads defaults, the config file and the environment.
func Load(getenv func(string) string) (Config, error) {
	cfg := Defaults(getenv)
	path, explicit := getenv("TROVE_CONFIG"), true
	if path == "" {
		path, explicit = DefaultFilePath(getenv), false
	}
	cfg.origin.file = path
	if err := cfg.loadFile(path, explicit); err != nil {
		return cfg, err
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return cfg, err
	}
	if err := cfg.Auth.applyEnv(getenv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func (c *Config) loadFile(path string, explicit bool) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config file %s: %w (docs/CONFIG.md lists the keys)", path, err)
	}
	if dec.More() {
		return fmt.Errorf("config file %s: text after the closing }: the file must hold one JSON object", path)
	}
	c.origin.fileLoaded = true
	c.recordFile(path, b)
	return nil
}

func (c *Config) applyEnv(getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
			c.recordPtr(dst, Source{Kind: "env", Name: name})
		}
	}
	var errs []error
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q is not a whole number", name, v))
				return
			}
			*dst = n
			c.recordPtr(dst, Source{Kind: "env", Name: name})
		}
	}
	dur := func(name string, dst *Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q is not a duration (use e.g. 30s or 2m)", name, v))
				return
			}
			dst.Duration = d
			c.recordPtr(dst, Source{Kind: "env", Name: name})
		}
	}
	str("TROVE_DB", &c.DB)
	dur("TROVE_LOCK_TIMEOUT", &c.LockTimeout)
	str("TROVE_SYNC", &c.Synchronous)
	str("TROVE_EMBED_PROVIDER", &c.Embedding.Provider)
	str("TROVE_EMBED_BASE_URL", &c.Embedding.BaseURL)
	str("TROVE_EMBED_API_KEY", &c.Embedding.APIKey)
	str("TROVE_EMBED_MODEL", &c.Embedding.Model)
	num("TROVE_EMBED_DIMENSIONS", &c.Embedding.Dimensions)
	num("TROVE_EMBED_BATCH_SIZE", &c.Embedding.BatchSize)
	dur("TROVE_EMBED_TIMEOUT", &c.Embedding.Timeout)
	str("TROVE_EMBED_MODEL_PATH", &c.Embedding.ModelPath)
	str("TROVE_LLM_BASE_URL", &c.LLM.BaseURL)
	str("TROVE_LLM_API_KEY", &c.LLM.APIKey)
	str("TROVE_LLM_MODEL", &c.LLM.Model)
	dur("TROVE_LLM_TIMEOUT", &c.LLM.Timeout)
	str("TROVE_RERANK_PROVIDER", &c.Rerank.Provider)
	str("TROVE_RERANK_BASE_URL", &c.Rerank.BaseURL)
	str("TROVE_RERANK_API_KEY", &c.Rerank.APIKey)
	str("TROVE_RERANK_MODEL", &c.Rerank.Model)
	dur("TROVE_RERANK_TIMEOUT", &c.Rerank.Timeout)
	num("TROVE_RECALL_VECTOR_K", &c.Retrieval.VectorK)
	num("TROVE_RECALL_BM25_K", &c.Retrieval.BM25K)
	str("TROVE_RECALL_FUSION", &c.Retrieval.Fusion)
	dur("TROVE_RECALL_ACCESS_FLUSH", &c.Retrieval.AccessFlush)
	dur("TROVE_TOMBSTONE_RETENTION", &c.TombstoneRetention)
	num("TROVE_HISTORY_KEEP", &c.History.Keep)
	dur("TROVE_HISTORY_RETENTION", &c.History.Retention)
	num("TROVE_CAPTURE_MIN_MESSAGES", &c.Capture.MinMessages)
	dur("TROVE_CAPTURE_IDLE_FLUSH", &c.Capture.IdleFlush)
	num("TROVE_CAPTURE_MAX_CHARS", &c.Capture.MaxChars)
	num("TROVE_AUTO_RECALL_SUPPRESS_TURNS", &c.AutoRecall.SuppressTurns)
	num("TROVE_AUTO_RECALL_MAX_ITEMS", &c.AutoRecall.MaxItems)
	num("TROVE_AUTO_RECALL_MAX_CHARS", &c.AutoRecall.MaxChars)
	num("TROVE_AUTO_RECALL_MAX_ITEM_CHARS", &c.AutoRecall.MaxItemChars)
	str("TROVE_AUTO_RECALL_MODE", &c.AutoRecall.Mode)
	dur("TROVE_AUTO_RECALL_TIMEOUT", &c.AutoRecall.Timeout)
	dur("TROVE_EXPIRY_GRACE", &c.Expiry.Grace)
	boolean := func(name string, dst *bool) {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q is not true or false", name, v))
				return
			}
			*dst = b
			c.recordPtr(dst, Source{Kind: "env", Name: name})
		}
	}
	boolean("TROVE_CAPTURE_INCLUDE_ASSISTANT", &c.Capture.IncludeAssistant)
	boolean("TROVE_ALLOW_SECRETS", &c.AllowSecrets)
	boolean("TROVE_RECALL_EXPANSION", &c.Retrieval.Expansion.Enabled)
	if v := getenv("TROVE_CAPTURE_SMART"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("TROVE_CAPTURE_SMART=%q is not true or false", v))
		} else {
			c.Capture.Smart = &b
		}
	}
	return errors.Join(errs...)
}

// Validate checks every field and names the wrong ones.
func (c Config) Validate() error {
	var errs []error
	if c.DB == "" {
		errs = append(errs, errors.New("db: empty: set --db or TROVE_DB"))
	} else if err := dburl.Validate(c.DB); err != nil {
		errs = append(errs, fmt.Errorf("db: %w", err))
	}
	if c.LockTimeout.Duration <= 0 {
		errs = append(errs, fmt.Errorf("lockTimeout: %s must be positive", c.LockTimeout))
	}
	if c.TombstoneRetention.Duration < 0 {
		errs = append(errs, fmt.Errorf("tombstoneRetention: %s is negative: use a duration such as 720h (30 days), or 0s to keep tombstones forever (TROVE_TOMBSTONE_RETENTION)", c.TombstoneRetention))
	}
	if c.AutoRecall.SuppressTurns < 0 || c.AutoRecall.SuppressTurns > 1000 {
		errs = append(errs, fmt.Errorf("autoRecall.suppressTurns: %d: use 0 to 1000 turns (default 8; 0 injects a memory again on any turn) (TROVE_AUTO_RECALL_SUPPRESS_TURNS)", c.AutoRecall.SuppressTurns))
	}
	errs = append(errs, c.AutoRecall.validate()...)
	if c.Expiry.Grace.Duration < 0 {
		errs = append(errs, fmt.Errorf("expiry.grace: %s is negative: use a duration such as 168h (7 days), or 0s to archive expired memories at once (TROVE_EXPIRY_GRACE)", c.Expiry.Grace))
	}
	if c.History.Keep < 0 {
		errs = append(errs, fmt.Errorf("history.keep: %d is negative: use the number of versions to keep per memory (default 50), or 0 for no count limit (TROVE_HISTORY_KEEP)", c.History.Keep))
	}
	if c.History.Retention.Duration < 0 {
		errs = append(errs, fmt.Errorf("history.retention: %s is negative: use a duration such as 2160h (90 days), or 0s for no time limit (TROVE_HISTORY_RETENTION)", c.History.Retention))
	}
	if c.Capture.MinMessages < 1 || c.Capture.MinMessages > 100 {
		errs = append(errs, fmt.Errorf("capture.minMessages: %d: use 1 to 100 new user messages (default 4) (TROVE_CAPTURE_MIN_MESSAGES)", c.Capture.MinMessages))
	}
	if c.Capture.IdleFlush.Duration < time.Second {
		errs = append(errs, fmt.Errorf("capture.idleFlush: %s: use a duration of at least 1s, such as 30m (TROVE_CAPTURE_IDLE_FLUSH)", c.Capture.IdleFlush))
	}
	if c.Capture.MaxChars < 500 || c.Capture.MaxChars > 200000 {
		errs = append(errs, fmt.Errorf("capture.maxChars: %d: use 500 to 200000 characters (default 8000) (TROVE_CAPTURE_MAX_CHARS)", c.Capture.MaxChars))
	}
	if c.Capture.Similarity < 0 || c.Capture.Similarity > 1 {
		errs = append(errs, fmt.Errorf("capture.similarity: %v: use a cosine from 0 to 1 (default 0.7)", c.Capture.Similarity))
	}
	if c.Synchronous != "full" && c.Synchronous != "normal" {
		errs = append(errs, fmt.Errorf("synchronous: %q: use full or normal (TROVE_SYNC)", c.Synchronous))
	}
	e := c.Embedding
	switch e.Provider {
	case provider.Hash:
		if e.Dimensions != 0 && (e.Dimensions < 16 || e.Dimensions > 8192) {
			errs = append(errs, fmt.Errorf("embedding.dimensions: %d: the hash embedder takes 16 to 8192 (TROVE_EMBED_DIMENSIONS)", e.Dimensions))
		}
	case provider.OpenAI:
		if err := checkURL(e.BaseURL); err != nil {
			errs = append(errs, fmt.Errorf("embedding.baseURL: %w (TROVE_EMBED_BASE_URL)", err))
		}
		if e.Model == "" {
			errs = append(errs, errors.New("embedding.model: empty: set TROVE_EMBED_MODEL"))
		}
		if e.Dimensions < 0 {
			errs = append(errs, fmt.Errorf("embedding.dimensions: %d must not be negative", e.Dimensions))
		}
	case provider.Jina, provider.Voyage, provider.Ollama, provider.Gemini:
		// Base URL and model default to the vendor's; the vendor package
		// checks the key its own host needs.
		if e.BaseURL != "" {
			if err := checkURL(e.BaseURL); err != nil {
				errs = append(errs, fmt.Errorf("embedding.baseURL: %w (TROVE_EMBED_BASE_URL)", err))
			}
		}
		if e.Dimensions < 0 {
			errs = append(errs, fmt.Errorf("embedding.dimensions: %d must not be negative", e.Dimensions))
		}
	case provider.Static:
		if err := checkModelDir(e.ModelPath); err != nil {
			errs = append(errs, fmt.Errorf("embedding.modelPath: %w (TROVE_EMBED_MODEL_PATH)", err))
		}
	default:
		errs = append(errs, fmt.Errorf("embedding.provider: %q is unknown: use %s (TROVE_EMBED_PROVIDER)", e.Provider, provider.List(provider.Embedders())))
	}
	if e.BatchSize <= 0 {
		errs = append(errs, fmt.Errorf("embedding.batchSize: %d must be positive", e.BatchSize))
	}
	if c.LLM.BaseURL != "" {
		if err := checkURL(c.LLM.BaseURL); err != nil {
			errs = append(errs, fmt.Errorf("llm.baseURL: %w (TROVE_LLM_BASE_URL)", err))
		}
	}
	switch c.Retrieval.Fusion {
	case "", "seed", "rrf":
	default:
		errs = append(errs, fmt.Errorf("retrieval.fusion: %q: use seed or rrf (TROVE_RECALL_FUSION)", c.Retrieval.Fusion))
	}
	if err := c.Lifecycle.Engine().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Retrieval.AccessFlush.Duration < 0 {
		errs = append(errs, fmt.Errorf("retrieval.accessFlush: %s is negative: use a duration such as 5s, or 0s to stop recording recalls (TROVE_RECALL_ACCESS_FLUSH)", c.Retrieval.AccessFlush))
	}
	if m := c.Retrieval.MinScore; !(m >= 0 && m <= 1) {
		errs = append(errs, fmt.Errorf("retrieval.minScore: %v is outside [0, 1]: use 0.3 (the default), 0.5 for clear matches, 0.8 for strong ones", m))
	}
	if m := c.Retrieval.MinCosine; !(m >= -1 && m <= 2) {
		errs = append(errs, fmt.Errorf("retrieval.minCosine: %v: use a cosine from -1 to 1, 2 for never, or 0 for the embedding model's default", m))
	}
	if c.Retrieval.VectorK < 0 || c.Retrieval.BM25K < 0 || c.Retrieval.VectorK > 10000 || c.Retrieval.BM25K > 10000 {
		errs = append(errs, errors.New("retrieval.vectorK/bm25K: use 1 to 10000, or 0 for the default (20, or twice the limit if more) (TROVE_RECALL_VECTOR_K, TROVE_RECALL_BM25_K)"))
	}
	errs = append(errs, c.Retrieval.check()...)
	if p := c.Rerank.Provider; p != "" && !slices.Contains(provider.Rerankers(), p) {
		errs = append(errs, fmt.Errorf("rerank.provider: %q is unknown: use %s (TROVE_RERANK_PROVIDER)", p, provider.List(provider.Rerankers())))
	}
	if _, err := c.Auth.Principals(); err != nil {
		errs = append(errs, err)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Scopes.Definitions)) {
		if err := memory.CheckDeclaredName(name); err != nil {
			errs = append(errs, fmt.Errorf("scopes.definitions.%s: %w", name, err))
		}
	}
	if d := c.Scopes.Default; d != "" {
		if sc, err := memory.ParseScope(d); err != nil {
			errs = append(errs, fmt.Errorf("scopes.default: %w", err))
		} else if !c.Declared(sc) {
			errs = append(errs, fmt.Errorf("scopes.default: %q is not declared: add it to scopes.definitions, or use a built-in scope such as global", d))
		}
	}
	for _, agent := range slices.Sorted(maps.Keys(c.AgentAccess)) {
		if slices.Contains(bypassAgents, strings.TrimSpace(agent)) {
			errs = append(errs, fmt.Errorf("agentAccess.%s: %q is a reserved id (memory-lancedb-pro's scope bypass) and cannot be granted scopes: remove the entry", agent, strings.TrimSpace(agent)))
			continue
		}
		for _, s := range c.AgentAccess[agent] {
			if _, err := memory.ParseScope(s); err != nil {
				errs = append(errs, fmt.Errorf("agentAccess.%s: %w", agent, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Declared reports whether s may be written: a built-in scope, or a name in
// scopes.definitions.
func (c Config) Declared(s memory.Scope) bool {
	if s.BuiltIn() {
		return true
	}
	_, ok := c.Scopes.Definitions[string(s)]
	return ok
}

// DefaultScope is scopes.default, or global.
func (c Config) DefaultScope() memory.Scope {
	if c.Scopes.Default == "" {
		return memory.GlobalScope
	}
	return memory.Scope(c.Scopes.Default)
}

// Warnings are what a valid config may still get wrong, said once at load:
// an agentAccess list replaces the default (global, agent:<id>), so a list
// without them takes them away (before trove followed memory-lancedb-pro
// here, the list added to the default); and a list may name a scope that
// is neither built in nor declared.
func (c Config) Warnings() []string {
	var out []string
	for _, agent := range slices.Sorted(maps.Keys(c.AgentAccess)) {
		scopes := c.AgentAccess[agent]
		var missing []string
		for _, want := range []string{string(memory.GlobalScope), string(memory.AgentScope(agent))} {
			if !slices.Contains(scopes, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("agentAccess.%s lacks %s: an agentAccess list replaces the default (global, agent:%s), so agent %s cannot reach %s; add %s to the list if it should",
				agent, strings.Join(missing, " and "), agent, agent, strings.Join(missing, " or "), pick(len(missing), "it", "them")))
		}
		for _, s := range scopes {
			if sc, err := memory.ParseScope(s); err == nil && !c.Declared(sc) {
				out = append(out, fmt.Sprintf("agentAccess.%s grants %q, which is not declared: add it to scopes.definitions, or agent %s cannot write it", agent, s, agent))
			}
		}
	}
	return out
}

func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// checkModelDir checks that dir holds a model2vec model's three files
// (internal/embedding/static reads them).
func checkModelDir(dir string) error {
	if dir == "" {
		return errors.New("empty: the static provider needs a model2vec model directory")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	for _, f := range []string{"config.json", "tokenizer.json", "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("%s has no %s: a model2vec model directory holds config.json, tokenizer.json and model.safetensors", dir, f)
		}
	}
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// Access returns the scopes an agent reaches: its agentAccess list when it
// has one (plus its reflection:agent:<id>), else global, agent:<id> and
// reflection:agent:<id>. An empty agent id is the owner (every scope).
func (c Config) Access(agent string) memory.Access {
	if agent == "" {
		return memory.Owner()
	}
	granted, ok := c.AgentAccess[agent]
	if !ok {
		return memory.AgentAccess(agent)
	}
	scopes := make([]memory.Scope, len(granted))
	for i, s := range granted {
		scopes[i] = memory.Scope(s)
	}
	return memory.GrantedAccess(agent, scopes)
}

// validate checks the auto-recall bounds against the ones a request may
// give (service's limits table: 20 items, 20000 characters, 5000 per
// item).
func (a AutoRecall) validate() []error {
	var errs []error
	if a.MaxItems < 1 || a.MaxItems > 20 {
		errs = append(errs, fmt.Errorf("autoRecall.maxItems: %d: use 1 to 20 memories (default 3) (TROVE_AUTO_RECALL_MAX_ITEMS)", a.MaxItems))
	}
	if a.MaxChars < 1 || a.MaxChars > 20000 {
		errs = append(errs, fmt.Errorf("autoRecall.maxChars: %d: use 1 to 20000 characters of memory text (default 600) (TROVE_AUTO_RECALL_MAX_CHARS)", a.MaxChars))
	}
	if a.MaxItemChars < 1 || a.MaxItemChars > 5000 {
		errs = append(errs, fmt.Errorf("autoRecall.maxItemChars: %d: use 1 to 5000 characters per memory (default 180) (TROVE_AUTO_RECALL_MAX_ITEM_CHARS)", a.MaxItemChars))
	}
	if a.Mode != "summary" && a.Mode != "full" {
		errs = append(errs, fmt.Errorf("autoRecall.mode: %q: use summary (each memory's abstract) or full (its full content) (TROVE_AUTO_RECALL_MODE)", a.Mode))
	}
	if a.Timeout.Duration < 100*time.Millisecond || a.Timeout.Duration > time.Minute {
		errs = append(errs, fmt.Errorf("autoRecall.timeout: %s: use 100ms to 1m (default 5s); past it nothing is injected (TROVE_AUTO_RECALL_TIMEOUT)", a.Timeout))
	}
	return errs
}

// check validates the fusion weights and the expansion.
func (r Retrieval) check() []error {
	var errs []error
	vw, bw := r.VectorWeight, r.BM25Weight
	switch {
	case !(vw >= 0 && vw <= 1) || !(bw >= 0 && bw <= 1):
		errs = append(errs, fmt.Errorf("retrieval.vectorWeight/bm25Weight: %v/%v: use weights from 0 to 1, e.g. 0.7 and 0.3 (the default), or 0 and 0 for the default", vw, bw))
	case (vw == 0) != (bw == 0):
		errs = append(errs, fmt.Errorf("retrieval.vectorWeight/bm25Weight: %v/%v: set both (e.g. 0.5 and 0.5), or neither for the default 0.7 and 0.3", vw, bw))
	}
	e := r.Expansion
	if e.Docs < 0 || e.Docs > 100 {
		errs = append(errs, fmt.Errorf("retrieval.expansion.docs: %d: use 1 to 100 feedback documents, or 0 for the default 10", e.Docs))
	}
	if e.Terms < 0 || e.Terms > 50 {
		errs = append(errs, fmt.Errorf("retrieval.expansion.terms: %d: use 1 to 50 expansion terms, or 0 for the default 10", e.Terms))
	}
	if w := e.OriginalWeight; !(w >= 0 && w < 1) {
		errs = append(errs, fmt.Errorf("retrieval.expansion.originalWeight: %v: use a weight from 0 up to (not including) 1 for the query as given (0 for the default 0.5; 1 would give the expansion no weight: turn it off with retrieval.expansion.enabled instead)", w))
	}
	return errs
}
