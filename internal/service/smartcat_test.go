package service_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/service"
)

// memory_category (the six-category vocabulary) filters list and recall:
// aliases are accepted, an unknown value names the six, and a listing
// pages through exactly the matching rows with full pages.
func TestListMemoryCategory(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := range 23 {
		in := service.StoreInput{Text: fmt.Sprintf("we chose plan %d for the rollout", i), Category: "fact", Force: true}
		if i%3 == 0 {
			in.Category = "decision" // legacy decision -> events
		}
		out, err := e.svc.Store(ctx, owner, in)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			want = append(want, out.Memory.ID)
		}
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		in := service.ListInput{Limit: 3, Cursor: cursor}
		if cursor == "" {
			in.MemoryCategories = []string{"Event"} // alias
		}
		out, err := e.svc.List(ctx, owner, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Memories {
			got = append(got, m.ID)
		}
		if out.NextCursor == "" {
			break
		}
		if len(out.Memories) != 3 {
			t.Fatalf("page %d: %d rows with a next cursor", pages, len(out.Memories))
		}
		cursor = out.NextCursor
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}

	// The cursor carries the filter: another one with it is refused, the same one is fine.
	first, err := e.svc.List(ctx, owner, service.ListInput{Limit: 3, MemoryCategories: []string{"events"}})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %+v %v", first, err)
	}
	_, err = e.svc.List(ctx, owner, service.ListInput{Limit: 3, Cursor: first.NextCursor, MemoryCategories: []string{"cases"}})
	wantCode(t, err, service.CodeInvalid, "memory_category events")
	if _, err := e.svc.List(ctx, owner, service.ListInput{Limit: 3, Cursor: first.NextCursor, MemoryCategories: []string{"event"}}); err != nil {
		t.Fatalf("same filter with the cursor: %v", err)
	}

	_, err = e.svc.List(ctx, owner, service.ListInput{MemoryCategories: []string{"fact"}})
	wantCode(t, err, service.CodeInvalid, "profile, preferences, entities, events, cases, patterns")
	_, err = e.svc.Recall(ctx, owner, service.RecallInput{Query: "rollout", MemoryCategories: []string{"nope"}})
	wantCode(t, err, service.CodeInvalid, "memory_category \"nope\" is unknown")

	rec, err := e.svc.Recall(ctx, owner, service.RecallInput{Query: "plan rollout", Limit: 20, MemoryCategories: []string{"events"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Results) == 0 {
		t.Fatal("recall of events found nothing")
	}
	for _, r := range rec.Results {
		if r.Memory.Category != "decision" {
			t.Fatalf("recall of events returned %s (%s)", r.Memory.ID, r.Memory.Category)
		}
	}
}
