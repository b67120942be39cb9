package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// This file is what every reranker vendor shares: a cross-encoder scores
// each document against the query with a model that reads both together,
// and the vendors differ only in their JSON. A vendor package describes its
// endpoint with a RerankVendor and gets a *Reranker. Rerank runs on the
// query path, so calls are short: a 5-second timeout and at most one retry,
// only for failures a quick retry can fix (timeouts, 429, 5xx). Replies are
// checked before they are returned: an index out of range or twice, a
// missing or non-finite score, or a document left unscored is a
// *RerankReplyError, not a ranking.

// Defaults applied to zero RerankConfig fields.
const (
	DefaultRerankTimeout    = 5 * time.Second
	DefaultRerankMaxRetries = 1
)

// Retry timing on the query path: a short pause, and no retry at all when
// the server asks for a longer one (it would only refuse again while the
// user waits).
const (
	rerankBackoff      = 100 * time.Millisecond
	maxRerankRetryWait = time.Second
)

// RerankConfig configures a vendor's Reranker. Zero values select the
// vendor's defaults.
type RerankConfig struct {
	// BaseURL is where the vendor's API lives, e.g. "https://api.jina.ai/v1";
	// POST {BaseURL}/rerank is called, or BaseURL itself when it already
	// ends in /rerank. "" = the vendor's own.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer ..." (or the vendor's own
	// header). Required for a hosted vendor's own BaseURL; never put in
	// errors.
	APIKey string
	// Model is the reranking model; "" = the vendor's default. Servers that
	// serve one model (TEI) take no name, so it is ignored there.
	Model string

	Timeout time.Duration // per attempt; 0 = DefaultRerankTimeout
	// MaxRetries is 0 (the default: one retry), 1, or < 0 for none.
	// Rerank is on the query path, so more is refused.
	MaxRetries int

	HTTPClient *http.Client // nil = a client of its own
	// KeyName tells the user where the key comes from, for hints:
	// "check TROVE_RERANK_API_KEY". Default "the API key".
	KeyName string
}

// RerankVendor is how one vendor's rerank endpoint differs from the
// Cohere-style format that Jina, SiliconFlow and vLLM's /v1/rerank speak:
//
//	POST {"model", "query", "documents": ["..."], "top_n"}
//	  -> {"results": [{"index", "relevance_score"}]}
type RerankVendor struct {
	Provider    string // names the vendor in errors: "jina rerank: ..."
	BaseURL     string // default BaseURL
	Model       string // default model; "" = the server serves one model and takes no name
	KeyRequired bool   // BaseURL (the vendor's own host) needs an API key

	// AuthHeader and Header are as in EndpointOptions (Pinecone's "Api-Key"
	// and API version).
	AuthHeader string
	Header     http.Header

	// Request returns the body asking for the scores of every document;
	// model is "" when Model is. nil = the Cohere-style body above.
	Request func(model, query string, docs []string) any
	// List is the reply member that holds the scored items; "" with a
	// non-nil Request means the reply is the list itself. Default "results".
	List string
	// Score is the item field that holds the score. Default
	// "relevance_score"; the other one vendors use is "score".
	Score string
}

func (v RerankVendor) withDefaults() RerankVendor {
	if v.Request == nil {
		v.Request = cohereRequest
		if v.List == "" {
			v.List = "results"
		}
	}
	if v.Score == "" {
		v.Score = "relevance_score"
	}
	return v
}

type cohereRerankRequest struct {
	Model     string   `json:"model"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopN      int      `json:"top_n"`
}

func cohereRequest(model, query string, docs []string) any {
	return cohereRerankRequest{Model: model, Query: query, Documents: docs, TopN: len(docs)}
}

func (c RerankConfig) withDefaults(v RerankVendor) RerankConfig {
	if c.BaseURL == "" {
		c.BaseURL = v.BaseURL
	}
	if v.Model == "" {
		c.Model = ""
	} else if c.Model == "" {
		c.Model = v.Model
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultRerankTimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultRerankMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = -1 // Config's "none"
	}
	if c.KeyName == "" {
		c.KeyName = "the API key"
	}
	return c
}

// Validate reports every invalid field of c for vendor v, each error naming
// the field.
func (v RerankVendor) Validate(c RerankConfig) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s rerank: %s %s", v.Provider, field, fmt.Sprintf(format, args...)))
	}
	d := c.withDefaults(v)
	if d.BaseURL == "" {
		bad("BaseURL", "is required")
	} else if u, err := url.Parse(d.BaseURL); err != nil {
		bad("BaseURL", "is not a valid URL: %v", err)
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("BaseURL", "%q must be an absolute http:// or https:// URL", u.Redacted())
	}
	if c.Timeout < 0 {
		bad("Timeout", "is %v; it must not be negative", c.Timeout)
	}
	if c.MaxRetries > 1 {
		bad("MaxRetries", "is %d; rerank runs while a user waits, so it retries at most once", c.MaxRetries)
	}
	if v.KeyRequired && c.APIKey == "" && d.BaseURL == v.BaseURL {
		bad("APIKey", "is required for %s (set %s)", v.BaseURL, d.KeyName)
	}
	return errors.Join(errs...)
}

// Reranker scores documents against a query at one vendor's rerank
// endpoint. It is safe for concurrent use.
type Reranker struct {
	ep     *Endpoint
	vendor RerankVendor
	model  string // "" for servers that take no model name
	key    string // only to keep it out of RerankReplyError, which quotes replies
}

// NewReranker validates cfg for vendor v and returns its Reranker. No
// request is made until the first Rerank.
func NewReranker(cfg RerankConfig, v RerankVendor) (*Reranker, error) {
	if err := v.Validate(cfg); err != nil {
		return nil, err
	}
	v = v.withDefaults()
	cfg = cfg.withDefaults(v)
	opts := EndpointOptions{
		Op:            "rerank",
		Path:          "rerank",
		Retry:         retryOnQueryPath,
		ModelOptional: v.Model == "",
		AuthHeader:    v.AuthHeader,
		Header:        v.Header,
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/rerank") {
		opts.Path = "" // a full endpoint URL, as memory-lancedb-pro's rerankEndpoint was
	}
	ep, err := NewEndpoint(Config{
		BaseURL:     cfg.BaseURL,
		APIKey:      cfg.APIKey,
		Model:       cfg.Model,
		Timeout:     cfg.Timeout,
		MaxRetries:  cfg.MaxRetries,
		BackoffBase: rerankBackoff,
		MaxBackoff:  maxRerankRetryWait,
		HTTPClient:  cfg.HTTPClient,
		Provider:    v.Provider,
		KeyName:     cfg.KeyName,
	}, opts)
	if err != nil {
		return nil, err
	}
	return &Reranker{ep: ep, vendor: v, model: cfg.Model, key: cfg.APIKey}, nil
}

// retryOnQueryPath allows the one retry only for failures a quick second
// try can fix. A refused connection or a bad request will fail again; a
// server asking to wait longer than maxRerankRetryWait would only refuse
// again.
func retryOnQueryPath(e *APIError) bool {
	if e.RetryAfter > maxRerankRetryWait {
		return false
	}
	return e.Timeout() || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Rerank returns the relevance of each document to query: scores[i] is
// docs[i]'s, higher is more relevant, on the model's own scale (most give
// 0 to 1), so compare scores from one reranker only. No docs gives no
// scores and makes no request.
func (r *Reranker) Rerank(ctx context.Context, query string, docs []string) ([]float64, error) {
	if len(docs) == 0 {
		return []float64{}, nil
	}
	if strings.TrimSpace(query) == "" {
		return nil, fmt.Errorf("%s rerank: the query is empty", r.vendor.Provider)
	}
	list, err := r.call(ctx, query, docs)
	if err != nil {
		return nil, err
	}
	results, err := r.results(list)
	if err != nil {
		return nil, err
	}
	if err := checkResults(results, len(docs)); err != nil {
		var re *RerankReplyError
		if errors.As(err, &re) {
			re.Provider = r.vendor.Provider
		}
		return nil, err
	}
	if len(results) < len(docs) {
		return nil, r.bad("got %d results, expected %d", len(results), len(docs))
	}
	scores := make([]float64, len(docs))
	for _, x := range results {
		scores[x.index] = x.score
	}
	return scores, nil
}

// rerankItem is one scored document in any vendor's reply. Pointers tell a
// missing field from a zero one: a result without a score is not a zero
// score.
type rerankItem struct {
	Index          *int     `json:"index"`
	RelevanceScore *float64 `json:"relevance_score"`
	Score          *float64 `json:"score"`
}

// call sends the vendor's request and returns the scored list as the reply
// gave it; nil when the reply had none.
func (r *Reranker) call(ctx context.Context, query string, docs []string) ([]rerankItem, error) {
	req := r.vendor.Request(r.model, query, docs)
	if r.vendor.List == "" {
		var list []rerankItem
		if err := r.ep.Do(ctx, req, &list); err != nil {
			return nil, err
		}
		if list == nil { // "null"
			return nil, r.bad("the reply has no list of scores")
		}
		return list, nil
	}
	var reply map[string]json.RawMessage
	if err := r.ep.Do(ctx, req, &reply); err != nil {
		return nil, err
	}
	raw, ok := reply[r.vendor.List]
	var list []rerankItem
	if ok {
		if err := decodeReply(raw, &list); err != nil {
			return nil, redactErr(fmt.Errorf("%s rerank: %w", r.vendor.Provider, err), r.key)
		}
	}
	if list == nil {
		if e := reply["error"]; len(e) > 0 && string(e) != "null" {
			return nil, r.bad("the reply is an error: %s", clip(string(e), 300))
		}
		return nil, r.bad("the reply has no %q list", r.vendor.List)
	}
	return list, nil
}

// rerankResult is one document's score as a reply gave it.
type rerankResult struct {
	index int
	score float64
}

// results requires each item's index and the score field the vendor uses.
func (r *Reranker) results(list []rerankItem) ([]rerankResult, error) {
	out := make([]rerankResult, len(list))
	for i, it := range list {
		score := it.RelevanceScore
		if r.vendor.Score == "score" {
			score = it.Score
		}
		switch {
		case it.Index == nil:
			return nil, r.bad("result %d has no index", i)
		case score == nil:
			return nil, r.bad("result %d has no %s", i, r.vendor.Score)
		}
		out[i] = rerankResult{index: *it.Index, score: *score}
	}
	return out, nil
}

// bad reports what is wrong with a reply. A server that echoes the key
// back must not get it into an error: it would end up in logs.
func (r *Reranker) bad(format string, args ...any) *RerankReplyError {
	return &RerankReplyError{Provider: r.vendor.Provider, Problem: redact(fmt.Sprintf(format, args...), r.key)}
}

// RerankReplyError is a reply that arrived but cannot be trusted as a
// ranking: it says what was wrong with it.
//
//	jina rerank: bad reply: result 2 has index 7, outside 0-4
type RerankReplyError struct {
	Provider string
	Problem  string
}

func (e *RerankReplyError) Error() string {
	if e.Provider == "" {
		return "rerank: bad reply: " + e.Problem
	}
	return e.Provider + " rerank: bad reply: " + e.Problem
}

// checkResults validates results for n documents: every index is in
// 0..n-1 and appears once, and every score is finite. The count is checked
// by the caller. The error is a *RerankReplyError naming the first
// offending result.
func checkResults(results []rerankResult, n int) error {
	if len(results) > n {
		return &RerankReplyError{Problem: fmt.Sprintf("got %d results for %d documents", len(results), n)}
	}
	seen := make([]bool, n)
	for i, r := range results {
		switch {
		case r.index < 0 || r.index >= n:
			return &RerankReplyError{Problem: fmt.Sprintf("result %d has index %d, outside 0-%d", i, r.index, n-1)}
		case seen[r.index]:
			return &RerankReplyError{Problem: fmt.Sprintf("index %d appears twice", r.index)}
		case math.IsNaN(r.score) || math.IsInf(r.score, 0):
			return &RerankReplyError{Problem: fmt.Sprintf("result %d (index %d) has a non-finite score %v", i, r.index, r.score)}
		}
		seen[r.index] = true
	}
	return nil
}
