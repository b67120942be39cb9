package provider

import "testing"

func TestList(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"tei"}, "tei"},
		{[]string{"jina", "tei"}, "jina or tei"},
		{Rerankers(), "jina, siliconflow, voyage, pinecone or tei"},
		{Embedders(), "hash, static, openai, jina, voyage, ollama or gemini"},
	}
	for _, tt := range tests {
		if got := List(tt.names); got != tt.want {
			t.Errorf("List(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}
