package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/provider/providertest"
)

// Each vendor embedder can be chosen by configuration: the built binary
// stores and recalls through it, against a fake endpoint.
func TestVendorEmbeddersAreSelectable(t *testing.T) {
	for _, provider := range []string{"jina", "voyage", "ollama", "gemini"} {
		t.Run(provider, func(t *testing.T) {
			srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
			e := newEnv(t)
			e.extra = append(e.extra, "TROVE_EMBED_PROVIDER="+provider, "TROVE_EMBED_BASE_URL="+srv.URL,
				"TROVE_EMBED_API_KEY=test-key-0123456789")
			e.ok("store", "the billing service retries failed charges nightly", "--id", "billing")
			if out := e.ok("search", "billing retries", "--limit", "1"); !strings.Contains(out, "billing") {
				t.Fatalf("search through %s found nothing:\n%s", provider, out)
			}
			if n := len(reqs()); n < 2 {
				t.Fatalf("%s: %d embedding requests, want the store's and the query's", provider, n)
			}
		})
	}
}
