package extract_test

import (
	"fmt"
	"time"

	"github.com/trove-memory/trove/internal/extract"
	"github.com/trove-memory/trove/internal/memory"
)

func Example() {
	msgs := []extract.Message{
		{Role: "user", Content: "<relevant-memories>\n- [entity] Home city: Paris\n</relevant-memories>\nI moved to Berlin."},
		{Role: "assistant", Content: "Welcome to Berlin!"},
	}
	transcript := extract.Transcript(msgs, extract.TranscriptOptions{})
	fmt.Println(transcript)
	req := extract.ExtractionRequest(transcript, extract.PromptOptions{})
	_ = req // reply, err := client.Complete(ctx, req)

	reply := "```json\n" + `{"memories": [{"category": "entities", "abstract": "Home city: Berlin", "grounding": "real"}, {"category": "events", "abstract": "Hi!"}]}` + "\n```"
	cands, rejected, err := extract.ParseExtraction(reply)
	if err != nil {
		return // keep the messages for a later try
	}
	c := cands[0]
	fmt.Println(c.Category, "|", c.Abstract, "|", c.Overview)
	fmt.Println(rejected[0].Reason)
	fmt.Println(extract.FactKey(c.Category, c.Abstract), extract.Importance(c.Category))
	typ, until := extract.Temporal("Flies to Rome tomorrow", time.UnixMilli(0))
	fmt.Println(typ, until)
	d := extract.ApplyRules(extract.Decision{Kind: extract.Merge, Match: 0}, extract.Candidate{Category: memory.SmartEvents}, make([]memory.Memory, 1))
	fmt.Println(d.Kind, d.Match)
	// Output:
	// <user_message>
	// I moved to Berlin.
	// </user_message>
	// entities | Home city: Berlin | - Home city: Berlin
	// abstract too short (3 characters, at least 5)
	// entities:home city 0.7
	// dynamic 86400000
	// create -1
}
