package openaicompat

import (
	"errors"
	"math"
	"testing"
)

func TestCheckRerankResults(t *testing.T) {
	tests := []struct {
		name    string
		results []rerankResult
		want    string // "" = valid
	}{
		{"valid, any order", []rerankResult{{2, 0.1}, {0, 0.9}}, ""},
		{"none", nil, ""},
		{"negative scores are fine", []rerankResult{{0, -3.2}}, ""},
		{"out of range", []rerankResult{{3, 0.5}}, "rerank: bad reply: result 0 has index 3, outside 0-2"},
		{"duplicate", []rerankResult{{1, 0.5}, {0, 0.4}, {1, 0.3}}, "rerank: bad reply: index 1 appears twice"},
		{"NaN", []rerankResult{{0, math.NaN()}}, "rerank: bad reply: result 0 (index 0) has a non-finite score NaN"},
		{"infinite", []rerankResult{{1, 0}, {2, math.Inf(1)}}, "rerank: bad reply: result 1 (index 2) has a non-finite score +Inf"},
		{"too many", []rerankResult{{0, 1}, {1, 1}, {2, 1}, {0, 1}}, "rerank: bad reply: got 4 results for 3 documents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkResults(tt.results, 3)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("checkResults = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("checkResults = %v\nwant %s", err, tt.want)
			}
			var re *RerankReplyError
			if err != nil && !errors.As(err, &re) {
				t.Fatalf("err %T, want *RerankReplyError", err)
			}
		})
	}
}
