package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
	"github.com/trove-memory/trove/internal/store"
)

// Validity is the time a read looks at: what was active then (AsOf, RFC
// 3339 or a date; empty is now), or every version (IncludeHistory).
type Validity struct {
	AsOf           string `json:"as_of,omitempty" jsonschema:"return what was true at this time (RFC 3339, or a date YYYY-MM-DD meaning the end of that day, UTC); default now"`
	IncludeHistory bool   `json:"include_history,omitempty" jsonschema:"also return superseded and expired memories (marked inactive)"`
}

// at resolves v to the ActiveAt of a store filter: 0 with IncludeHistory
// (no validity filter), else the unix-ms time asked for or now.
func (s *Service) at(v Validity) (int64, error) {
	if v.IncludeHistory {
		if strings.TrimSpace(v.AsOf) != "" {
			return 0, Invalid("as_of and include_history exclude each other: as_of returns what was true then, include_history every version")
		}
		return 0, nil
	}
	return s.parseAt("as_of", v.AsOf)
}

// parseAt reads a time given as RFC 3339 or a date (the end of that day,
// UTC: what was true on that date); empty is now.
func (s *Service) parseAt(field, v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return s.opts.Clock().UnixMilli(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UnixMilli(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.Add(24*time.Hour).UnixMilli() - 1, nil
	}
	return 0, Invalid("%s %q is not a time: give RFC 3339 (2026-05-01T12:00:00Z) or a date (2026-05-01)", field, v)
}

// inactiveReason says why m is not active at unix-ms at, "" when it is.
func inactiveReason(m memory.Memory, at int64) string {
	switch {
	case memory.ActiveAt(m, at):
		return ""
	case memory.InvalidatedAt(m) != 0 && memory.InvalidatedAt(m) <= at:
		if memory.MetaString(m.Metadata, memory.KeySupersededBy) != "" {
			return "superseded"
		}
		return "invalidated"
	case memory.ValidUntil(m) != 0 && memory.ValidUntil(m) <= at:
		return "expired"
	case memory.ArchivedAt(m) != 0 && memory.ArchivedAt(m) <= at:
		return "archived"
	}
	return "not yet valid"
}

// FactsInput asks for the values of a fact over time.
type FactsInput struct {
	Query          string   `json:"query,omitempty" jsonschema:"text to find the fact by (its topic or value); give this or fact_key"`
	FactKey        string   `json:"fact_key,omitempty" jsonschema:"the exact fact key, e.g. entities:home city"`
	At             string   `json:"at,omitempty" jsonschema:"the time to mark values active at (RFC 3339 or a date); default now"`
	IncludeHistory bool     `json:"include_history,omitempty" jsonschema:"return the earlier values too (default: only the value active at 'at')"`
	Scopes         []string `json:"scopes,omitempty" jsonschema:"limit to these scopes"`
	Limit          int      `json:"limit,omitempty" jsonschema:"at most this many values (default 10, max 100)"`
}

// Fact is one value of a fact.
type Fact struct {
	FactKey    string `json:"fact_key"`
	Active     bool   `json:"active" jsonschema:"the value true at the time asked about"`
	ValidFrom  int64  `json:"valid_from" jsonschema:"unix ms"`
	ValidUntil int64  `json:"valid_until,omitempty" jsonschema:"unix ms: when it stopped being true (replaced or expired)"`
	Memory     Memory `json:"memory"`
}

// FactsOutput is the values of the facts found, newest first per fact.
type FactsOutput struct {
	At            int64          `json:"at" jsonschema:"unix ms the values are judged at"`
	Facts         []Fact         `json:"facts"`
	IgnoredScopes []memory.Scope `json:"ignored_scopes,omitempty"`
	Warnings      []string       `json:"warnings,omitempty"`
}

// Limits of a fact query.
const (
	DefaultFacts = 10
	MaxFacts     = 100
	// factKeysFromQuery bounds the facts a text query looks up.
	factKeysFromQuery = 5
)

// Facts returns the chain of values of a fact, newest first: by its key,
// or by the keys of the rows recall finds for a query (history included).
// The chain is read through the store's fact-key index.
func (s *Service) Facts(ctx context.Context, c Caller, in FactsInput) (FactsOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return FactsOutput{}, err
	}
	q, key := strings.TrimSpace(in.Query), strings.TrimSpace(in.FactKey)
	switch {
	case q == "" && key == "":
		return FactsOutput{}, Invalid("give query (the fact's topic or value) or fact_key (e.g. entities:home city)")
	case len(q) > MaxQueryBytes:
		return FactsOutput{}, Invalid("query is %d bytes, over the %d-byte limit", len(q), MaxQueryBytes)
	case len(key) > MaxQueryBytes:
		return FactsOutput{}, Invalid("fact_key is %d bytes, over the %d-byte limit", len(key), MaxQueryBytes)
	}
	n, err := limit("limit", in.Limit, DefaultFacts, MaxFacts)
	if err != nil {
		return FactsOutput{}, err
	}
	at, err := s.parseAt("at", in.At)
	if err != nil {
		return FactsOutput{}, err
	}
	req, err := parseScopes(in.Scopes)
	if err != nil {
		return FactsOutput{}, err
	}
	scopes, ignored := readScopes(acc, req)
	out := FactsOutput{At: at, Facts: []Fact{}, IgnoredScopes: ignored, Warnings: ignoredWarning(acc, ignored, len(scopes) > 0)}
	keys := []string{}
	if key != "" {
		keys = append(keys, strings.ToLower(key))
	} else {
		resp, err := s.search(ctx, acc, retrieve.Request{Query: q, Scopes: scopes, Limit: 20, IncludeHistory: true})
		if err != nil {
			return FactsOutput{}, err
		}
		out.Warnings = append(out.Warnings, resp.Warnings...)
		for _, r := range resp.Results {
			k := memory.MetaString(r.Memory.Metadata, memory.KeyFactKey)
			if k != "" && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
			if len(keys) == factKeysFromQuery {
				break
			}
		}
	}
	for _, k := range keys {
		rows, err := s.opts.Store.Facts(ctx, acc, store.FactQuery{FactKey: k, Scopes: scopes, Limit: MaxFacts})
		if err != nil {
			return FactsOutput{}, ErrorOf(err)
		}
		for _, r := range rows {
			if len(out.Facts) == n {
				return out, nil
			}
			from := memory.ValidFrom(r)
			if from > at {
				continue // not yet a value at the time asked about
			}
			f := Fact{FactKey: k, Active: memory.ActiveAt(r, at), ValidFrom: from, Memory: View(r)}
			if !f.Active && !in.IncludeHistory {
				continue
			}
			f.ValidUntil = memory.InvalidatedAt(r)
			if u := memory.ValidUntil(r); u != 0 && (f.ValidUntil == 0 || u < f.ValidUntil) {
				f.ValidUntil = u
			}
			out.Facts = append(out.Facts, f)
		}
	}
	return out, nil
}
