package rerank

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// ReplyError is a reply that arrived but cannot be trusted as a ranking:
// it says what was wrong with it.
//
//	jina rerank: bad reply: result 2 has index 7, outside 0-4
type ReplyError struct {
	Provider string // "" when the check ran outside a provider
	Problem  string
}

func (e *ReplyError) Error() string {
	if e.Provider == "" {
		return "rerank: bad reply: " + e.Problem
	}
	return e.Provider + " rerank: bad reply: " + e.Problem
}

// CheckResults validates results for n documents: every index is in
// 0..n-1 and appears once, and every score is finite. It does not check
// the order (Rerank sorts) or the count (that depends on topN). The error
// is a *ReplyError naming the first offending result.
func CheckResults(results []Result, n int) error {
	if len(results) > n {
		return &ReplyError{Problem: fmt.Sprintf("got %d results for %d documents", len(results), n)}
	}
	seen := make([]bool, n)
	for i, r := range results {
		switch {
		case r.Index < 0 || r.Index >= n:
			return &ReplyError{Problem: fmt.Sprintf("result %d has index %d, outside 0-%d", i, r.Index, n-1)}
		case seen[r.Index]:
			return &ReplyError{Problem: fmt.Sprintf("index %d appears twice", r.Index)}
		case math.IsNaN(r.Score) || math.IsInf(r.Score, 0):
			return &ReplyError{Problem: fmt.Sprintf("result %d (index %d) has a non-finite score %v", i, r.Index, r.Score)}
		}
		seen[r.Index] = true
	}
	return nil
}

// item is one scored document in any provider's reply. Pointers tell a
// missing field from a zero one: a result without a score is not a zero
// score.
type item struct {
	Index          *int     `json:"index"`
	RelevanceScore *float64 `json:"relevance_score"`
	Score          *float64 `json:"score"`
}

// results turns a reply's list into Results, requiring each item's index
// and the score field the provider uses ("relevance_score" or "score").
// list is nil when the reply had no such list; errField is the reply's
// "error" member, if any, to say why.
func (r *reranker) results(list []item, listName, scoreField string, errField json.RawMessage) ([]Result, error) {
	if list == nil {
		if len(errField) > 0 && string(errField) != "null" {
			return nil, r.bad("the reply is an error: %s", clip(string(errField), 300))
		}
		return nil, r.bad("the reply has no %q list", listName)
	}
	out := make([]Result, len(list))
	for i, it := range list {
		score := it.RelevanceScore
		if scoreField == "score" {
			score = it.Score
		}
		switch {
		case it.Index == nil:
			return nil, r.bad("result %d has no index", i)
		case score == nil:
			return nil, r.bad("result %d has no %s", i, scoreField)
		}
		out[i] = Result{Index: *it.Index, Score: *score}
	}
	return out, nil
}

// clip collapses whitespace and cuts s to n bytes on a character boundary.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}
