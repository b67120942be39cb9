package main

import (
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/config"
	"github.com/trove-memory/trove/internal/provider"
)

// Every name in provider's lists is one the composition root can build, so
// the list that configuration validates against and this switch cannot
// drift apart.
func TestEveryListedProviderIsWired(t *testing.T) {
	for _, name := range provider.Embedders() {
		e := config.Embedding{Provider: name, APIKey: "k", Model: "m", BaseURL: "http://localhost:1/v1", Dimensions: 8, BatchSize: 8,
			ModelPath: t.TempDir()}
		_, err := newEmbedder(e)
		// static reads a model from files: reaching its loader (which
		// finds no model in an empty directory) is being wired.
		if err != nil && (name != provider.Static || strings.Contains(err.Error(), "unknown")) {
			t.Errorf("embedder %s: %v", name, err)
		}
	}
	for _, name := range provider.Rerankers() {
		if _, err := newReranker(config.Rerank{Provider: name, APIKey: "k"}); err != nil {
			t.Errorf("reranker %s: %v", name, err)
		}
	}
}

func TestUnknownProviderNamesTheList(t *testing.T) {
	_, err := newEmbedder(config.Embedding{Provider: "cohere"})
	if want := `embedding provider "cohere" is unknown: use hash, static, openai, jina, voyage, ollama or gemini`; err == nil || err.Error() != want {
		t.Errorf("newEmbedder: %v\nwant %s", err, want)
	}
	_, err = newReranker(config.Rerank{Provider: "cohere"})
	if want := `rerank provider "cohere" is unknown: use jina, siliconflow, voyage, pinecone or tei`; err == nil || err.Error() != want {
		t.Errorf("newReranker: %v\nwant %s", err, want)
	}
}

func TestRerankerKeyHintNamesTheVariable(t *testing.T) {
	_, err := newReranker(config.Rerank{Provider: provider.Pinecone})
	if err == nil || !strings.Contains(err.Error(), "TROVE_RERANK_API_KEY") {
		t.Fatalf("err = %v; want the hint to name TROVE_RERANK_API_KEY", err)
	}
}
