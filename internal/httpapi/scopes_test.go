package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/service"
)

// A request naming more scopes than the service's table allows is a 400
// that names the limit, never a 500 from the database ("too many SQL
// variables"), and one at the limit works.
func TestManyScopesAreBounded(t *testing.T) {
	s := start(t, config{})
	scopes := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("custom:s%d", i)
		}
		return out
	}
	body := func(n int) string {
		b, _ := json.Marshal(map[string]any{"query": "anything", "scopes": scopes(n)})
		return string(b)
	}
	s.want(s.do("POST", "/v1/search", body(40000)), http.StatusBadRequest, "invalid_argument",
		fmt.Sprintf("40000 scopes given, over the limit of %d", service.MaxScopes))
	if r := s.do("POST", "/v1/search", body(service.MaxScopes)); r.status != http.StatusOK {
		t.Fatalf("search with %d scopes: %d %s", service.MaxScopes, r.status, r.raw)
	}
	q := "/v1/memories?scope=" + strings.Join(scopes(service.MaxScopes+1), "&scope=")
	s.want(s.do("GET", q, ""), http.StatusBadRequest, "invalid_argument", "over the limit")
}
