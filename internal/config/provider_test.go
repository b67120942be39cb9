package config

import (
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/provider"
)

func TestValidateProviderNames(t *testing.T) {
	base := func() Config { return Defaults(func(string) string { return "" }) }
	for _, name := range provider.Rerankers() {
		c := base()
		c.Rerank.Provider = name
		if err := c.Validate(); err != nil {
			t.Errorf("rerank provider %s: %v", name, err)
		}
	}
	c := base()
	c.Embedding.Provider = "cohere"
	c.Rerank.Provider = "cohere"
	err := c.Validate()
	for _, want := range []string{
		`embedding.provider: "cohere" is unknown: use hash, static, openai, jina, voyage, ollama or gemini (TROVE_EMBED_PROVIDER)`,
		`rerank.provider: "cohere" is unknown: use jina, siliconflow, voyage, pinecone or tei (TROVE_RERANK_PROVIDER)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v\nwant it to contain %s", err, want)
		}
	}
}
