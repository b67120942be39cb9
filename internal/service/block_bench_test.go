package service

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/retrieve"
)

// The gate runs on every prompt a host sends, before any search: it must
// cost next to nothing, also on a long pasted prompt.
func BenchmarkNeedsRecall(b *testing.B) {
	for _, p := range []struct{ name, prompt string }{
		{"short", "ok thanks"},
		{"question", "what did we decide about the billing queue?"},
		{"paste-8KB", strings.Repeat("The deploy pipeline failed on step 4 with a timeout. ", 160)},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				NeedsRecall(p.prompt)
			}
		})
	}
}

// Rendering 60 candidates (3 × 20 items) into a block.
func BenchmarkContextBlock(b *testing.B) {
	rs := make([]retrieve.Result, 60)
	for i := range rs {
		rs[i] = retrieve.Result{Score: 0.5, Memory: memory.Memory{ID: fmt.Sprint(i), Category: "fact", Scope: "project:billing", CreatedAt: 1700000000000,
			Text:     strings.Repeat("billing deploys <b>on</b> Fridays\nafter review. ", 10),
			Metadata: map[string]any{memory.KeyTier: "working", memory.KeyMemoryCategory: "cases", memory.KeySource: "auto-capture"}}}
	}
	for b.Loop() {
		contextBlock(rs, blockLimits{items: 20, chars: 20000, itemChars: 1000})
	}
}
