package service_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/extract"
	"github.com/trove-memory/trove/internal/extract/extracttest"
	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/service"
)

// smartEnv is a service whose capture talks to a scripted model.
func smartEnv(t *testing.T, script func(extracttest.Call) extracttest.Reply, mod ...func(*service.Options)) (*env, *extracttest.Server) {
	t.Helper()
	srv := extracttest.NewServer(t, script)
	chat, err := openaicompat.NewChat(openaicompat.Config{BaseURL: srv.URL, Model: "m", Timeout: 2 * time.Second,
		MaxRetries: 2, BackoffBase: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Provider: "llm"})
	if err != nil {
		t.Fatal(err)
	}
	mods := append([]func(*service.Options){func(o *service.Options) {
		o.LLM = func() (llm.Client, error) { return chat, nil }
	}}, mod...)
	return newEnv(t, mods...), srv
}

func cand(cat memory.SmartCategory, abstract string) extract.Candidate {
	return extract.Candidate{Category: cat, Abstract: abstract, Overview: "- " + abstract, Content: abstract + "."}
}

func say(texts ...string) []capture.Message {
	var ms []capture.Message
	for _, t := range texts {
		ms = append(ms, capture.Message{Role: "user", Content: t})
	}
	return ms
}

func capt(t *testing.T, e *env, c service.Caller, msgs ...string) service.CaptureOutput {
	t.Helper()
	out, err := e.svc.Capture(ctx, c, service.CaptureInput{Messages: say(msgs...)})
	if err != nil {
		t.Fatalf("capture %q: %v", msgs, err)
	}
	return out
}

func decisions(out service.CaptureOutput) string {
	var ds []string
	for _, a := range out.Actions {
		ds = append(ds, string(a.Decision))
	}
	return strings.Join(ds, ",")
}

// The Berlin → Paris story, offline: the model extracts a home city, then
// a new one; the decision sees the stored Berlin row (found through the
// fact key, though the hash embedder finds the two texts unalike) and
// supersedes it. Recall then answers Paris, as_of before the move Berlin,
// the fact query both; capturing the first conversation again adds nothing.
func TestSmartCaptureSupersedesAChangedFact(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, srv := smartEnv(t, func(c extracttest.Call) extracttest.Reply {
		switch c.Kind {
		case extracttest.Extract:
			var ms []extract.Candidate
			if strings.Contains(c.User, "Berlin") {
				ms = append(ms, cand(memory.SmartEntities, "Home city: Berlin"), cand(memory.SmartPreferences, "Drink: tea"))
			}
			if strings.Contains(c.User, "Paris") {
				ms = append(ms, cand(memory.SmartEntities, "Home city: Paris"))
			}
			return extracttest.Reply{Content: extracttest.ExtractReply(ms...)}
		case extracttest.Decide:
			return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(it extracttest.PromptItem) extracttest.Decided {
				// Supersede only when the stored Berlin row is in the prompt.
				if strings.Contains(it.Abstract, "Paris") && it.StoredContains(0, "Berlin") {
					return extracttest.Decided{Decision: extract.Supersede, Match: 1}
				}
				if len(it.Stored) > 0 && strings.Contains(it.Stored[0], it.Abstract) {
					return extracttest.Decided{Decision: extract.Skip, Match: 1}
				}
				return extracttest.Decided{Decision: extract.Create}
			})}
		}
		return extracttest.Reply{Status: 400, Content: "unexpected call"}
	}, func(o *service.Options) { o.Clock = clock })

	first := capt(t, e, bot, "I live in Berlin and I prefer tea.")
	if decisions(first) != "create,create" || first.Extractor != "llm" {
		t.Fatalf("first capture: %+v", first)
	}
	mu.Lock()
	now = now.Add(60 * 24 * time.Hour)
	mu.Unlock()
	second := capt(t, e, bot, "I moved to Paris last month.")
	if decisions(second) != "supersede" {
		t.Fatalf("second capture: %+v (calls %v)", second, srv.History())
	}
	rec, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "where does the user live, home city"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.Results {
		if strings.Contains(r.Memory.Text, "Berlin") {
			t.Errorf("recall returns the old home city: %+v", r.Memory)
		}
	}
	if len(rec.Results) == 0 || !strings.Contains(rec.Results[0].Memory.Text, "Paris") {
		t.Errorf("recall: %+v", rec.Results)
	}
	then, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "home city", Validity: service.Validity{AsOf: "2026-03-02"}})
	if err != nil || len(then.Results) == 0 || !strings.Contains(then.Results[0].Memory.Text, "Berlin") {
		t.Fatalf("as_of before the move: %+v %v", then.Results, err)
	}
	facts, err := e.svc.Facts(ctx, bot, service.FactsInput{FactKey: "entities:home city", IncludeHistory: true})
	if err != nil || len(facts.Facts) != 2 || !strings.Contains(facts.Facts[0].Memory.Text, "Paris") || !facts.Facts[0].Active {
		t.Fatalf("facts: %+v %v", facts, err)
	}
	again := capt(t, e, bot, "I live in Berlin and I prefer tea.")
	if len(again.Stored) != 0 {
		t.Fatalf("capturing the first conversation again stored %+v", again.Stored)
	}
}

// Each decision the model can make lands as the issue describes, and
// memory-lancedb-pro's category rules hold whatever the model says.
func TestSmartCaptureDecisions(t *testing.T) {
	type step struct {
		cand   extract.Candidate
		decide extracttest.Decided
		merged string
		want   string // the decision that must land
	}
	seedText := map[memory.SmartCategory]string{
		memory.SmartPreferences: "Coffee: dark roast",
		memory.SmartEvents:      "Shipped version 2 on Monday",
		memory.SmartPatterns:    "Release checklist: tag, build, publish",
		memory.SmartProfile:     "Profile: backend engineer",
	}
	cases := map[string]step{
		"merge": {cand: cand(memory.SmartPreferences, "Coffee: dark roast, no sugar"), decide: extracttest.Decided{Decision: extract.Merge, Match: 1},
			merged: "Coffee: dark roast, no sugar", want: "merge"},
		"skip":      {cand: cand(memory.SmartPreferences, "Coffee: dark"), decide: extracttest.Decided{Decision: extract.Skip, Match: 1}, want: "skip"},
		"supersede": {cand: cand(memory.SmartPreferences, "Coffee: green tea instead"), decide: extracttest.Decided{Decision: extract.Supersede, Match: 1}, want: "supersede"},
		"support":   {cand: cand(memory.SmartPreferences, "Coffee: still dark roast in the morning"), decide: extracttest.Decided{Decision: extract.Support, Match: 1, ContextLabel: "morning"}, want: "support"},
		"contextualize": {cand: cand(memory.SmartPreferences, "Coffee: decaf at night"), decide: extracttest.Decided{Decision: extract.Contextualize, Match: 1, ContextLabel: "night"},
			want: "contextualize"},
		"contradict": {cand: cand(memory.SmartPreferences, "Coffee: no coffee on weekends"), decide: extracttest.Decided{Decision: extract.Contradict, Match: 1, ContextLabel: "weekend"},
			want: "contradict"},
		"events are append-only": {cand: cand(memory.SmartEvents, "Shipped version 2 on Monday, late"), decide: extracttest.Decided{Decision: extract.Merge, Match: 1}, want: "create"},
		"patterns never supersede": {cand: cand(memory.SmartPatterns, "Release checklist: tag, build, sign, publish"), decide: extracttest.Decided{Decision: extract.Supersede, Match: 1},
			want: "create"},
		"profile always merges": {cand: cand(memory.SmartProfile, "Profile: backend engineer in Lisbon"), decide: extracttest.Decided{Decision: extract.Create},
			merged: "Profile: backend engineer in Lisbon", want: "merge"},
		"a wrong index creates": {cand: cand(memory.SmartPreferences, "Coffee: dark roast with oat milk"), decide: extracttest.Decided{Decision: extract.Merge, Match: 7}, want: "create"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e, srv := smartEnv(t, func(c extracttest.Call) extracttest.Reply {
				switch c.Kind {
				case extracttest.Extract:
					return extracttest.Reply{Content: extracttest.ExtractReply(tc.cand)}
				case extracttest.Decide:
					return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(it extracttest.PromptItem) extracttest.Decided {
						if len(it.Stored) == 0 {
							t.Errorf("the decision prompt shows no stored row:\n%s", c.User)
						}
						return tc.decide
					})}
				case extracttest.Merge:
					if !strings.Contains(c.User, seedText[tc.cand.Category]) {
						t.Errorf("the merge prompt lacks the stored row:\n%s", c.User)
					}
					return extracttest.Reply{Content: extracttest.MergeReply(extract.Merged{Abstract: tc.merged, Overview: "- " + tc.merged, Content: tc.merged})}
				}
				return extracttest.Reply{Status: 400}
			})
			cat := map[memory.SmartCategory]string{memory.SmartPreferences: "preference", memory.SmartEvents: "decision", memory.SmartPatterns: "other", memory.SmartProfile: "fact"}[tc.cand.Category]
			seed, err := e.svc.Store(ctx, bot, service.StoreInput{Text: seedText[tc.cand.Category], Category: cat,
				Metadata: map[string]any{memory.KeyMemoryCategory: string(tc.cand.Category), memory.KeyFactKey: extract.FactKey(tc.cand.Category, seedText[tc.cand.Category])}})
			if err != nil {
				t.Fatal(err)
			}
			out := capt(t, e, bot, "something about "+tc.cand.Abstract)
			if decisions(out) != tc.want {
				t.Fatalf("decided %q, want %q: %+v (calls %d)", decisions(out), tc.want, out, len(srv.History()))
			}
			got, _ := e.svc.Get(ctx, bot, seed.ID)
			switch tc.want {
			case "merge":
				if got.Text != tc.merged || got.ID != seed.ID || got.Metadata["merge_count"] != 1.0 {
					t.Errorf("merged row: %+v", got)
				}
			case "supersede":
				if got.Inactive != "superseded" || len(out.Stored) != 1 || out.Stored[0].Metadata[memory.KeySupersedes] != seed.ID {
					t.Errorf("superseded: old %+v new %+v", got, out.Stored)
				}
			case "support":
				if got.Metadata["support_info"] == nil || got.Metadata[memory.KeyConfidence] != 1.0 {
					t.Errorf("supported row: %+v", got.Metadata)
				}
			case "contextualize", "contradict":
				if len(out.Stored) != 1 || out.Stored[0].Metadata["related_to"] != seed.ID || out.Stored[0].Metadata["relation"] != tc.want {
					t.Errorf("linked row: %+v", out.Stored)
				}
				if got.Inactive != "" {
					t.Errorf("the %s target went inactive", tc.want)
				}
			case "skip":
				if len(out.Stored) != 0 || got.Revision != seed.Revision {
					t.Errorf("skip changed something: %+v %+v", out, got)
				}
			case "create":
				if len(out.Stored) != 1 || got.Revision != seed.Revision || got.Inactive != "" {
					t.Errorf("create: %+v, seed now %+v", out.Stored, got)
				}
			}
		})
	}
}

// Bad replies never lose anything: an unusable extraction keeps the
// messages buffered for the next try; an unusable decision creates.
func TestSmartCaptureBadReplies(t *testing.T) {
	for name, bad := range map[string]extracttest.Reply{
		"garbage":   {Content: "I think you should remember tea"},
		"truncated": {Content: `{"memories":[{"category":"preferences","abstract":"Tea: gre`},
		"500":       {Status: 500, Content: "upstream exploded"},
		"429":       {Status: 429, Content: "slow down", Header: map[string]string{"Retry-After": "0"}},
		"timeout":   {Delay: 3 * time.Second, Content: "{}"},
	} {
		t.Run("extract "+name, func(t *testing.T) {
			broken := true
			var mu sync.Mutex
			e, _ := smartEnv(t, func(c extracttest.Call) extracttest.Reply {
				mu.Lock()
				defer mu.Unlock()
				if c.Kind == extracttest.Extract && broken {
					return bad
				}
				if c.Kind == extracttest.Extract {
					return extracttest.Reply{Content: "```json\n" + extracttest.ExtractReply(cand(memory.SmartPreferences, "Tea: green, no sugar")) + "\n```"}
				}
				return extracttest.Reply{Content: extracttest.DecideReply()}
			})
			_, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s", Flush: true, Messages: say("I drink green tea without sugar.")})
			if code(err) != service.CodeUnavailable {
				t.Fatalf("capture with a broken model: %v", err)
			}
			mu.Lock()
			broken = false
			mu.Unlock()
			out, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s", Flush: true})
			if err != nil || len(out.Stored) != 1 {
				t.Fatalf("the retry did not extract the kept messages: %+v %v", out, err)
			}
		})
	}
	for name, bad := range map[string]extracttest.Reply{
		"garbage":        {Content: "merge them I guess"},
		"unknown":        {Content: `{"decisions":[{"index":1,"decision":"obliterate","match_index":1}]}`},
		"<think> fenced": {Content: "<think>hmm</think>\n```json\n{\"decisions\":[{\"index\":1,\"decision\":\"create\"}]}\n```"},
		"500":            {Status: 500},
	} {
		t.Run("decide "+name, func(t *testing.T) {
			e, _ := smartEnv(t, func(c extracttest.Call) extracttest.Reply {
				if c.Kind == extracttest.Extract {
					return extracttest.Reply{Content: extracttest.ExtractReply(cand(memory.SmartPreferences, "Tea: green, no sugar"))}
				}
				return bad
			})
			if _, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "Tea: green", Category: "preference"}); err != nil {
				t.Fatal(err)
			}
			out := capt(t, e, bot, "I drink green tea without sugar.")
			if decisions(out) != "create" {
				t.Fatalf("a bad decision reply: %+v", out)
			}
		})
	}
}

// An edit made to a merge target while its merge is at the model
// survives: the commit sees the new revision, decides again on the fresh
// row and merges into it.
func TestSmartCaptureMergeKeepsAConcurrentEdit(t *testing.T) {
	var e *env
	var seed service.StoreOutput
	var once sync.Once
	e, srv := smartEnv(t, func(c extracttest.Call) extracttest.Reply {
		switch c.Kind {
		case extracttest.Extract:
			return extracttest.Reply{Content: extracttest.ExtractReply(cand(memory.SmartPreferences, "Editor: neovim with lazy.nvim"))}
		case extracttest.Decide:
			return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(extracttest.PromptItem) extracttest.Decided {
				return extracttest.Decided{Decision: extract.Merge, Match: 1}
			})}
		case extracttest.Merge:
			once.Do(func() {
				// Someone edits the row while the model works.
				if _, err := e.svc.Update(ctx, owner, service.UpdateInput{ID: seed.ID, UpdateFields: service.UpdateFields{Metadata: map[string]any{"pinned": true}}}); err != nil {
					t.Error(err)
				}
			})
			stored := c.User[strings.Index(c.User, "neovim"):]
			_ = stored
			return extracttest.Reply{Content: extracttest.MergeReply(extract.Merged{Abstract: "Editor: neovim with lazy.nvim", Overview: "- neovim", Content: "neovim"})}
		}
		return extracttest.Reply{Status: 400}
	})
	var err error
	seed, err = e.svc.Store(ctx, bot, service.StoreInput{Text: "Editor: neovim", Category: "preference"})
	if err != nil {
		t.Fatal(err)
	}
	out := capt(t, e, bot, "I use neovim with lazy.nvim.")
	if decisions(out) != "merge" {
		t.Fatalf("%+v", out)
	}
	got, _ := e.svc.Get(ctx, bot, seed.ID)
	if got.Metadata["pinned"] != true || got.Text != "Editor: neovim with lazy.nvim" {
		t.Fatalf("the concurrent edit or the merge was lost: %+v", got)
	}
	if srv.Calls(extracttest.Merge) != 2 {
		t.Errorf("merge calls %d, want 2 (the stale merge is made again)", srv.Calls(extracttest.Merge))
	}
}

// An asynchronous capture answers at once with a capture id; the worker
// extracts it, and its outcome is then readable by id.
func TestAsyncCapture(t *testing.T) {
	e, _ := smartEnv(t, func(c extracttest.Call) extracttest.Reply {
		if c.Kind == extracttest.Extract {
			return extracttest.Reply{Content: extracttest.ExtractReply(cand(memory.SmartPreferences, "Shell: fish"))}
		}
		return extracttest.Reply{Content: extracttest.DecideReply()}
	})
	out, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "a", Flush: true, Async: true, Messages: say("I use the fish shell.")})
	if err != nil || out.State != service.CapturePending || out.CaptureID == "" {
		t.Fatalf("async: %+v %v", out, err)
	}
	if err := e.svc.RunCaptureJobs(ctx); err != nil {
		t.Fatal(err)
	}
	done, err := e.svc.CaptureStatus(ctx, bot, out.CaptureID)
	if err != nil || done.State != service.CaptureDone || len(done.Stored) != 1 {
		t.Fatalf("status: %+v %v", done, err)
	}
	if _, err := e.svc.CaptureStatus(ctx, other, out.CaptureID); code(err) != service.CodeNotFound {
		t.Fatalf("another agent reads the job: %v", err)
	}
}

// Two captures of one session race, and the first to commit consumed only
// the message it saw: the second, which read both, must still capture the
// message the first never saw, not leave it buffered behind a "captured
// by another request" warning.
func TestSmartCaptureTakenKeepsTheRest(t *testing.T) {
	aAtModel, bAtModel, aDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	wait := func(ch chan struct{}) {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Error("a capture never reached its step")
		}
	}
	e, _ := smartEnv(t, func(c extracttest.Call) extracttest.Reply {
		switch c.Kind {
		case extracttest.Extract:
			switch c.N {
			case 1: // A read only its message: answer once B read both
				close(aAtModel)
				wait(bAtModel)
			case 2: // B read both: answer once A committed
				close(bAtModel)
				wait(aDone)
			}
			var ms []extract.Candidate
			if strings.Contains(c.User, "Berlin") {
				ms = append(ms, cand(memory.SmartEntities, "Home city: Berlin"))
			}
			if strings.Contains(c.User, "neovim") {
				ms = append(ms, cand(memory.SmartPreferences, "Editor: neovim"))
			}
			return extracttest.Reply{Content: extracttest.ExtractReply(ms...)}
		case extracttest.Decide:
			return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(extracttest.PromptItem) extracttest.Decided {
				return extracttest.Decided{Decision: extract.Create}
			})}
		}
		return extracttest.Reply{Status: 400}
	})
	var a service.CaptureOutput
	var aErr error
	go func() {
		defer close(aDone)
		a, aErr = e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s", Flush: true, Messages: say("I live in Berlin.")})
	}()
	wait(aAtModel)
	b, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s", Flush: true, Messages: say("I use neovim for everything.")})
	<-aDone
	if err != nil || aErr != nil {
		t.Fatalf("captures: %v / %v", aErr, err)
	}
	if decisions(a) != "create" || decisions(b) != "create" || len(b.Stored) != 1 || !strings.Contains(b.Stored[0].Text, "neovim") {
		t.Fatalf("A %+v\nB %+v", a, b)
	}
	left, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s", Flush: true})
	if err != nil || left.State != service.CaptureBuffered || left.Buffered != 0 {
		t.Fatalf("left buffered: %+v %v", left, err)
	}
}
