package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
)

// memory_store refuses noise and secrets, reports a repeat as duplicate
// (unless forced), and a new value of a preference or entity supersedes
// the old one in the same write.
func TestStoreChecks(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ text, want string }{
		{"hi", "refused (noise)"},
		{"Hello there!", "refused (noise)"},
		{"Do you remember what I said about the build?", "refused (noise)"},
		{"my key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", "refused (secret: "},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n-----END RSA PRIVATE KEY-----", "refused (secret: "},
	} {
		_, err := e.svc.Store(ctx, bot, service.StoreInput{Text: tc.text})
		if code(err) != service.CodeInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("store %q: %v, want %s", tc.text, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "sk-proj") {
			t.Errorf("the refusal repeats the secret: %v", err)
		}
	}
	allowed := newEnv(t, func(o *service.Options) { o.AllowSecrets = true })
	if _, err := allowed.svc.Store(ctx, bot, service.StoreInput{Text: "deploy key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"}); err != nil {
		t.Errorf("with secrets allowed by the operator: %v", err)
	}

	first, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "The release train leaves on Thursdays."})
	if err != nil || first.Outcome != service.StoreCreated {
		t.Fatalf("first store: %+v %v", first, err)
	}
	again, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "the release train leaves on thursdays"})
	if err != nil || again.Outcome != service.StoreDuplicate || again.ID != first.ID {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	forced, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "the release train leaves on thursdays", Force: true})
	if err != nil || forced.Outcome != service.StoreCreated || forced.ID == first.ID {
		t.Fatalf("forced: %+v %v", forced, err)
	}

	// A fact with a topic: the new value replaces the old, which stays as history.
	vim, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "Editor: vim", Category: "preference"})
	if err != nil || vim.Outcome != service.StoreCreated || vim.Metadata[memory.KeyFactKey] != "preferences:editor" {
		t.Fatalf("vim: %+v %v", vim, err)
	}
	zed, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "Editor: zed", Category: "preference"})
	if err != nil || zed.Outcome != service.StoreSuperseded || len(zed.Supersedes) != 1 || zed.Supersedes[0] != vim.ID {
		t.Fatalf("zed: %+v %v", zed, err)
	}
	old, err := e.svc.Get(ctx, bot, vim.ID)
	if err != nil || old.Inactive != "superseded" || old.Metadata[memory.KeySupersededBy] != zed.ID {
		t.Fatalf("the old value: %+v %v", old, err)
	}
	// Similar wording alone never supersedes: tea and coffee both stay.
	for _, text := range []string{"I like tea", "I like coffee"} {
		out, err := e.svc.Store(ctx, bot, service.StoreInput{Text: text, Category: "preference"})
		if err != nil || out.Outcome != service.StoreCreated {
			t.Fatalf("%s: %+v %v", text, out, err)
		}
	}
	list, err := e.svc.List(ctx, bot, service.ListInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Memories {
		if m.ID == vim.ID {
			t.Errorf("list returns the superseded value")
		}
	}
	all, err := e.svc.List(ctx, bot, service.ListInput{Validity: service.Validity{IncludeHistory: true}})
	if err != nil || len(all.Memories) != len(list.Memories)+1 {
		t.Fatalf("list with history: %d rows (without: %d), %v", len(all.Memories), len(list.Memories), err)
	}
}

// Updating the text of a preference or entity makes a new row and marks
// the old one superseded, in one transaction; other rows change in place.
func TestUpdateSupersedesAFact(t *testing.T) {
	e := newEnv(t)
	home, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "Home city: Berlin", Category: "entity"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: home.ID, UpdateFields: service.UpdateFields{Text: ptr("Home city: Paris")}})
	if err != nil {
		t.Fatal(err)
	}
	if up.ID == home.ID || up.Metadata[memory.KeySupersedes] != home.ID || up.Inactive != "" {
		t.Fatalf("update of a fact: %+v", up)
	}
	old, _ := e.svc.Get(ctx, bot, home.ID)
	if old.Inactive != "superseded" || old.Metadata[memory.KeySupersededBy] != up.ID {
		t.Fatalf("old value: %+v", old)
	}
	// A stale update of the old value is refused: it is no longer current.
	if _, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: home.ID, UpdateFields: service.UpdateFields{Text: ptr("Home city: Rome"), ExpectedRevision: home.Revision}}); code(err) != service.CodeConflict {
		t.Fatalf("stale update: %v", err)
	}
	note, _ := e.svc.Store(ctx, bot, service.StoreInput{Text: "The build uses make", Category: "fact"})
	up2, err := e.svc.Update(ctx, bot, service.UpdateInput{ID: note.ID, UpdateFields: service.UpdateFields{Text: ptr("The build uses bazel")}})
	if err != nil || up2.ID != note.ID {
		t.Fatalf("update of a plain fact: %+v %v", up2, err)
	}
}

// Recall and list return what is true now by default, what was true at
// a time with as_of, and every version with include_history; the fact
// query returns the chain of values, newest first.
func TestAsOfAndFacts(t *testing.T) {
	e := newEnv(t)
	berlin, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "Home city: Berlin", Category: "entity"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Millisecond)
	between := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(3 * time.Millisecond)
	paris, err := e.svc.Store(ctx, bot, service.StoreInput{Text: "Home city: Paris", Category: "entity"})
	if err != nil || paris.Outcome != service.StoreSuperseded {
		t.Fatalf("paris: %+v %v", paris, err)
	}
	texts := func(rs []service.RecallResult) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Memory.Text)
		}
		return out
	}
	got, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "home city"})
	if err != nil || strings.Join(texts(got.Results), "|") != "Home city: Paris" {
		t.Fatalf("recall now: %v %v", texts(got.Results), err)
	}
	hist, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "home city", Validity: service.Validity{IncludeHistory: true}})
	if err != nil || len(hist.Results) != 2 {
		t.Fatalf("recall with history: %v %v", texts(hist.Results), err)
	}
	facts, err := e.svc.Facts(ctx, bot, service.FactsInput{FactKey: "entities:home city", IncludeHistory: true})
	if err != nil || len(facts.Facts) != 2 || facts.Facts[0].Memory.ID != paris.ID || !facts.Facts[0].Active ||
		facts.Facts[1].Memory.ID != berlin.ID || facts.Facts[1].Active {
		t.Fatalf("facts: %+v %v", facts, err)
	}
	byQuery, err := e.svc.Facts(ctx, bot, service.FactsInput{Query: "where is home"})
	if err != nil || len(byQuery.Facts) != 1 || byQuery.Facts[0].Memory.ID != paris.ID {
		t.Fatalf("facts by query: %+v %v", byQuery, err)
	}
	then, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "home city", Validity: service.Validity{AsOf: between}})
	if err != nil || strings.Join(texts(then.Results), "|") != "Home city: Berlin" {
		t.Fatalf("recall as of %s: %v %v", between, texts(then.Results), err)
	}
	atThen, err := e.svc.Facts(ctx, bot, service.FactsInput{FactKey: "entities:home city", At: between})
	if err != nil || len(atThen.Facts) != 1 || atThen.Facts[0].Memory.ID != berlin.ID || !atThen.Facts[0].Active {
		t.Fatalf("facts at %s: %+v %v", between, atThen, err)
	}
	if _, err := e.svc.Facts(ctx, bot, service.FactsInput{}); code(err) != service.CodeInvalid {
		t.Fatalf("facts without a selector: %v", err)
	}
	if _, err := e.svc.Recall(ctx, bot, service.RecallInput{Query: "home", Validity: service.Validity{AsOf: "last tuesday"}}); code(err) != service.CodeInvalid {
		t.Fatalf("bad as_of: %v", err)
	}
	// Another agent sees none of it.
	if f, err := e.svc.Facts(ctx, other, service.FactsInput{FactKey: "entities:home city", IncludeHistory: true}); err != nil || len(f.Facts) != 0 {
		t.Fatalf("other agent's facts: %+v %v", f, err)
	}
}

// A session's messages wait in the buffer until there are enough user
// messages, an explicit "remember", or a flush; then they are extracted
// once, and the buffer is consumed in the same write.
func TestCaptureBuffersPerSession(t *testing.T) {
	e := newEnv(t, func(o *service.Options) { o.Capture.MinMessages = 3 })
	turn := func(content string) []capture.Message { return []capture.Message{{Role: "user", Content: content}} }
	out, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s1", Messages: turn("I prefer dark roast coffee.")})
	if err != nil || out.State != service.CaptureBuffered || out.Buffered != 1 || len(out.Stored) != 0 {
		t.Fatalf("first message: %+v %v", out, err)
	}
	// Secrets are redacted before they are buffered.
	out, err = e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s1", Messages: turn("my token is ghp_abcdefghijklmnopqrstuvwxyz0123456789")})
	if err != nil || out.State != service.CaptureBuffered || out.Buffered != 2 {
		t.Fatalf("second message: %+v %v", out, err)
	}
	out, err = e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s1", Messages: turn("We decided to ship on Fridays.")})
	if err != nil || out.State != service.CaptureDone || out.Buffered != 0 && out.State != service.CaptureDone {
		t.Fatalf("third message: %+v %v", out, err)
	}
	if len(out.Stored) != 2 {
		t.Fatalf("stored %d memories, want 2: %+v", len(out.Stored), out)
	}
	for _, m := range out.Stored {
		if strings.Contains(m.Text, "ghp_") {
			t.Errorf("a secret was stored: %q", m.Text)
		}
		if m.Metadata["session"] != "s1" || m.Metadata[memory.KeySource] != "auto-capture" {
			t.Errorf("provenance: %v", m.Metadata)
		}
	}
	// Flushing an emptied session extracts nothing again.
	out, err = e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s1", Flush: true})
	if err != nil || len(out.Stored) != 0 {
		t.Fatalf("flush after extraction: %+v %v", out, err)
	}
	// An explicit "remember" extracts at once, in German too.
	out, err = e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s2", Messages: turn("Merk dir, dass der Build auf atlas-3 läuft.")})
	if err != nil || out.State != service.CaptureDone || len(out.Stored) != 1 {
		t.Fatalf("explicit remember: %+v %v", out, err)
	}
	// Another agent cannot flush bot's session.
	out, err = e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s3", Messages: turn("I always write tests first.")})
	if err != nil || out.State != service.CaptureBuffered {
		t.Fatalf("s3: %+v %v", out, err)
	}
	out, err = e.svc.Capture(ctx, other, service.CaptureInput{Session: "s3", Flush: true})
	if err != nil || len(out.Stored) != 0 || out.Buffered != 0 {
		t.Fatalf("another agent's flush: %+v %v", out, err)
	}
	out, err = e.svc.Capture(ctx, bot, service.CaptureInput{Session: "s3", Flush: true})
	if err != nil || len(out.Stored) != 1 {
		t.Fatalf("flush: %+v %v", out, err)
	}
}

// Purging a captured memory erases the conversation it was captured from
// (the session's consumed buffer messages), in the same write; messages
// still waiting are kept.
func TestPurgeErasesTheCapturedConversation(t *testing.T) {
	e := newEnv(t, func(o *service.Options) { o.Capture.MinMessages = 2 })
	turn := func(content string) []capture.Message { return []capture.Message{{Role: "user", Content: content}} }
	if _, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "p", Messages: turn("I prefer green tea in the morning.")}); err != nil {
		t.Fatal(err)
	}
	out, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "p", Messages: turn("We decided to move the standup to ten.")})
	if err != nil || len(out.Stored) != 2 {
		t.Fatalf("capture: %+v %v", out, err)
	}
	if _, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "p", Messages: turn("still waiting in the buffer")}); err != nil {
		t.Fatal(err)
	}
	f, err := e.svc.Forget(ctx, owner, service.ForgetInput{ID: out.Stored[0].ID, Purge: true})
	if err != nil || !f.Purged || f.Messages != 2 {
		t.Fatalf("purge: %+v %v", f, err)
	}
	// The other memory of that conversation stays; its source is gone.
	if _, err := e.svc.Get(ctx, bot, out.Stored[1].ID); err != nil {
		t.Fatal(err)
	}
	// The message not yet extracted is still there.
	flushed, err := e.svc.Capture(ctx, bot, service.CaptureInput{Session: "p", Flush: true})
	if err != nil || flushed.State != service.CaptureDone {
		t.Fatalf("flush: %+v %v", flushed, err)
	}
	// A memory that was not captured erases no messages.
	m, _ := e.svc.Store(ctx, bot, service.StoreInput{Text: "the lab is on the third floor"})
	if f, err := e.svc.Forget(ctx, owner, service.ForgetInput{ID: m.ID, Purge: true}); err != nil || f.Messages != 0 {
		t.Fatalf("purge of a stored memory: %+v %v", f, err)
	}
}
