// Package provider names the model services trove can be configured to
// use. It is the one list of those names: configuration validation, its
// error messages and the composition root's switch all read it, and each
// vendor lives in a subpackage named after it (provider/jina,
// provider/openaicompat, ...).
//
//	if !slices.Contains(provider.Rerankers(), name) {
//		return fmt.Errorf("%q is unknown: use %s", name, provider.List(provider.Rerankers()))
//	}
package provider

import "strings"

// Provider names, as written in configuration (TROVE_EMBED_PROVIDER,
// TROVE_RERANK_PROVIDER).
const (
	Hash        = "hash" // the offline embedder built into trove
	OpenAI      = "openai"
	Static      = "static" // a model2vec model read from files, offline
	Jina        = "jina"
	Voyage      = "voyage"
	Ollama      = "ollama"
	Gemini      = "gemini"
	SiliconFlow = "siliconflow"
	Pinecone    = "pinecone"
	TEI         = "tei" // Hugging Face text-embeddings-inference
)

// Embedders lists the embedding providers, in the order messages name them.
func Embedders() []string { return []string{Hash, Static, OpenAI, Jina, Voyage, Ollama, Gemini} }

// Rerankers lists the reranking providers, in the order messages name them.
func Rerankers() []string { return []string{Jina, SiliconFlow, Voyage, Pinecone, TEI} }

// List writes names for a message: "jina, voyage or tei".
func List(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
