package migrate

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ConfigResult is memory-lancedb-pro's plugin configuration turned into
// trove's: Config is a trove config file's object (only the keys that
// had an equivalent), Unmapped the plugin settings trove has no
// equivalent for.
type ConfigResult struct {
	Config   map[string]any `json:"config"`
	Unmapped []Unmapped     `json:"unmapped"`
	Notes    []string       `json:"notes"` // settings carried over that need a look
}

// Unmapped is one plugin setting with no trove equivalent.
type Unmapped struct {
	Key    string `json:"key"` // dotted path in the plugin's config, e.g. "retrieval.hardMinScore"
	Reason string `json:"reason"`
}

// reasons say why a plugin setting has no equivalent, where there is
// more to say than that trove has none.
var reasons = map[string]string{
	"dbPath":                   "trove keeps its own store (db); move the rows with trove migrate --from",
	"autoRecall":               "trove has no agent-host hooks in its config: the host calls recall (MCP tool or REST) before a prompt",
	"autoCapture":              "trove has no agent-host hooks in its config: the host calls capture (MCP tool or REST) after a turn",
	"embedding.provider":       "",
	"embedding.chunking":       "trove chunks long texts itself",
	"embedding.apiVersion":     "Azure OpenAI is not a trove provider",
	"retrieval.mode":           "trove's recall is always hybrid (vector + BM25)",
	"retrieval.vectorWeight":   "trove fuses by rank (retrieval.fusion), not by weights",
	"retrieval.bm25Weight":     "trove fuses by rank (retrieval.fusion), not by weights",
	"retrieval.hardMinScore":   "trove's relevance floor is retrieval.minCosine, calibrated per embedder",
	"decay.staleThreshold":     "trove's lifecycle has no stale threshold",
	"scopes.agentAccess.":      "memory-lancedb-pro's bypass ids (system, undefined) cannot be granted in trove",
	"llm.auth":                 "trove's LLM uses an API key; OAuth is not supported",
	"retrieval.rerankProvider": "",
}

// ConvertConfig reads plugins.entries["memory-lancedb-pro"].config of an
// openclaw.json (JSON5 comments and trailing commas allowed) and returns
// the equivalent trove configuration. scopes.agentAccess lists are written
// as they are: in both, a list replaces the default (global and
// agent:<id>) and the agent's reflection:agent:<id> is added.
func ConvertConfig(path string) (ConfigResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ConfigResult{}, err
	}
	var doc struct {
		Plugins struct {
			Entries map[string]struct {
				Config map[string]any `json:"config"`
			} `json:"entries"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(relaxJSON(b), &doc); err != nil {
		return ConfigResult{}, fmt.Errorf("%s: not JSON that trove can read: %v", path, err)
	}
	e, ok := doc.Plugins.Entries[PluginName]
	if !ok {
		return ConfigResult{}, fmt.Errorf("%s has no plugins.entries[%q]", path, PluginName)
	}
	c := &converter{src: e.Config, used: map[string]bool{}, out: map[string]any{}}
	c.convert()
	res := ConfigResult{Config: c.out, Unmapped: []Unmapped{}, Notes: c.notes}
	if res.Notes == nil {
		res.Notes = []string{}
	}
	c.walk("", c.src, &res.Unmapped)
	return res, nil
}

type converter struct {
	src   map[string]any
	used  map[string]bool
	out   map[string]any
	notes []string
}

// get returns the value at a dotted path of the plugin config.
func (c *converter) get(path string) (any, bool) {
	var cur any = c.src
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// set puts v at a dotted path of the trove config.
func (c *converter) set(path string, v any) {
	keys := strings.Split(path, ".")
	m := c.out
	for _, k := range keys[:len(keys)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	m[keys[len(keys)-1]] = v
}

// copy maps a plugin setting onto a trove one; conv turns the value (nil:
// as it is) and reports false when it cannot.
func (c *converter) copy(from, to string, conv func(any) (any, bool)) {
	v, ok := c.get(from)
	if !ok {
		return
	}
	if conv != nil {
		if v, ok = conv(v); !ok {
			return
		}
	}
	c.used[from] = true
	c.set(to, v)
}

func str(v any) (any, bool) {
	s, ok := v.(string)
	return s, ok && s != ""
}

func num(v any) (any, bool) {
	f, ok := v.(float64)
	return f, ok
}

func integer(v any) (any, bool) {
	f, ok := v.(float64)
	return int(f), ok && f == float64(int(f))
}

func millis(v any) (any, bool) {
	f, ok := v.(float64)
	if !ok || f <= 0 {
		return nil, false
	}
	return strconv.FormatFloat(f, 'f', -1, 64) + "ms", true
}

// secret takes a key, or the first of a list (memory-lancedb-pro rotates
// through several; trove uses one).
func (c *converter) secret(from string) func(any) (any, bool) {
	return func(v any) (any, bool) {
		if l, ok := v.([]any); ok && len(l) > 0 {
			c.notes = append(c.notes, fmt.Sprintf("%s lists %d keys; trove uses the first", from, len(l)))
			v = l[0]
		}
		s, ok := v.(string)
		if ok && strings.Contains(s, "${") {
			c.notes = append(c.notes, fmt.Sprintf("%s is %q: OpenClaw expands ${...}, trove does not; put the key in the config or the TROVE_* environment variable", from, s))
		}
		return s, ok && s != ""
	}
}

func (c *converter) convert() {
	// Embedding: memory-lancedb-pro speaks the OpenAI-compatible API.
	if v, ok := c.get("embedding.provider"); !ok || v == "openai-compatible" {
		c.used["embedding.provider"] = ok
		if _, has := c.get("embedding.model"); has {
			c.set("embedding.provider", "openai")
		}
	}
	c.copy("embedding.apiKey", "embedding.apiKey", c.secret("embedding.apiKey"))
	c.copy("embedding.model", "embedding.model", str)
	c.copy("embedding.baseURL", "embedding.baseURL", str)
	c.copy("embedding.dimensions", "embedding.dimensions", integer)
	c.copy("embedding.clientTimeoutMs", "embedding.timeout", millis)

	if v, ok := c.get("llm.auth"); !ok || v == "api-key" {
		c.used["llm.auth"] = ok
	}
	c.copy("llm.apiKey", "llm.apiKey", c.secret("llm.apiKey"))
	c.copy("llm.model", "llm.model", str)
	c.copy("llm.baseURL", "llm.baseURL", str)
	c.copy("llm.timeoutMs", "llm.timeout", millis)

	c.copy("retrieval.minScore", "retrieval.minScore", num)
	c.copy("retrieval.candidatePoolSize", "retrieval.vectorK", integer)
	if r, ok := c.out["retrieval"].(map[string]any); ok && r["vectorK"] != nil {
		r["bm25K"] = r["vectorK"] // one pool size for both lists there
	}
	if v, _ := c.get("retrieval.mode"); v == "hybrid" {
		c.used["retrieval.mode"] = true
	}
	c.rerank()

	for from, to := range map[string]string{
		"decay.recencyHalfLifeDays": "lifecycle.halfLifeDays", "decay.recencyWeight": "lifecycle.recencyWeight",
		"decay.frequencyWeight": "lifecycle.frequencyWeight", "decay.intrinsicWeight": "lifecycle.intrinsicWeight",
		"decay.importanceModulation": "lifecycle.importanceModulation", "decay.searchBoostMin": "lifecycle.minBoost",
		"decay.betaCore": "lifecycle.betaCore", "decay.betaWorking": "lifecycle.betaWorking", "decay.betaPeripheral": "lifecycle.betaPeripheral",
		"decay.coreDecayFloor": "lifecycle.floorCore", "decay.workingDecayFloor": "lifecycle.floorWorking", "decay.peripheralDecayFloor": "lifecycle.floorPeripheral",
		"tier.coreCompositeThreshold": "lifecycle.coreComposite", "tier.coreImportanceThreshold": "lifecycle.coreImportance",
		"tier.peripheralCompositeThreshold": "lifecycle.demoteComposite", "tier.peripheralAgeDays": "lifecycle.demoteAgeDays",
		"tier.workingCompositeThreshold": "lifecycle.workingComposite",
	} {
		c.copy(from, to, num)
	}
	c.copy("tier.coreAccessThreshold", "lifecycle.coreAccess", integer)
	c.copy("tier.workingAccessThreshold", "lifecycle.workingAccess", integer)

	c.copy("scopes.default", "scopes.default", str)
	if defs, ok := c.get("scopes.definitions"); ok {
		if m, ok := defs.(map[string]any); ok {
			out := map[string]any{}
			for name, d := range m {
				def := map[string]any{}
				if dm, ok := d.(map[string]any); ok {
					if s, ok := dm["description"].(string); ok {
						def["description"] = s
					}
				}
				out[name] = def
				c.used["scopes.definitions."+name] = true
			}
			c.set("scopes.definitions", out)
		}
	}
	if acc, ok := c.get("scopes.agentAccess"); ok {
		if m, ok := acc.(map[string]any); ok {
			out := map[string]any{}
			for agent, l := range m {
				if agent == "system" || agent == "undefined" {
					continue // listed as unmapped
				}
				var scopes []string
				if list, ok := l.([]any); ok {
					for _, s := range list {
						if s, ok := s.(string); ok && !slices.Contains(scopes, s) {
							scopes = append(scopes, s)
						}
					}
				}
				out[agent] = scopes
				c.used["scopes.agentAccess."+agent] = true
			}
			if len(out) > 0 {
				c.set("agentAccess", out)
			}
		}
	}
}

// rerank maps a cross-encoder reranker onto trove's rerank settings.
func (c *converter) rerank() {
	mode, _ := c.get("retrieval.rerank")
	if mode == "none" {
		c.used["retrieval.rerank"] = true
		return
	}
	if mode != nil && mode != "cross-encoder" {
		return
	}
	provider := "jina" // memory-lancedb-pro's default
	if p, ok := c.get("retrieval.rerankProvider"); ok {
		provider, _ = p.(string)
	}
	switch provider {
	case "jina", "siliconflow", "voyage", "pinecone", "tei":
	default:
		return // listed as unmapped
	}
	if _, ok := c.get("retrieval.rerankApiKey"); !ok && provider != "tei" {
		// Without a key memory-lancedb-pro skips reranking.
		return
	}
	c.used["retrieval.rerank"] = mode != nil
	c.used["retrieval.rerankProvider"] = provider != "jina" || mode != nil
	c.set("rerank.provider", provider)
	c.copy("retrieval.rerankApiKey", "rerank.apiKey", c.secret("retrieval.rerankApiKey"))
	c.copy("retrieval.rerankModel", "rerank.model", str)
	c.copy("retrieval.rerankEndpoint", "rerank.baseURL", str)
	c.copy("retrieval.rerankTimeoutMs", "rerank.timeout", millis)
}

// walk lists the settings of v (at prefix) that were not carried over:
// leaves, and objects no part of which was carried over, as one entry.
func (c *converter) walk(prefix string, v map[string]any, out *[]Unmapped) {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if c.used[path] {
			continue
		}
		if sub, ok := v[k].(map[string]any); ok && c.anyUsed(path) {
			c.walk(path, sub, out)
			continue
		}
		reason, ok := reasons[path]
		if !ok && strings.HasPrefix(path, "scopes.agentAccess.") {
			reason = reasons["scopes.agentAccess."]
		}
		if reason == "" {
			reason = "no equivalent in trove"
			if s, ok := v[k].(string); ok && (path == "embedding.provider" || path == "retrieval.rerankProvider") {
				reason = fmt.Sprintf("%q is not a trove provider", s)
			}
		}
		*out = append(*out, Unmapped{Key: path, Reason: reason})
	}
}

func (c *converter) anyUsed(prefix string) bool {
	for k := range c.used {
		if c.used[k] && strings.HasPrefix(k, prefix+".") {
			return true
		}
	}
	return false
}
